// The day-one usability pass, on the demo company (`shangji seed` at the demo's size): the
// manager lands on the team's day, and the today and review pages stay a few screens long
// (lists fold their tail, sections fold, decision forms open on demand) while a decision is
// still made; report charts give amounts in 万 / 亿; the forecast and roll-up pages fit at
// 1280 px; at 375 px the header's search finds a customer and opens it; a close date decades
// ago is asked about before the deal is saved. Headless Chromium against `shangji serve`.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  DESKTOP, PHONE, SEEDED, addMonths, api, assertFits, chinaToday, launchBrowser, newPage as openPage, screenshotPath, signIn,
  startSeededApp, text,
} from './support/app.mjs';

const TEST_TIMEOUT = 180_000;
/** The demo's size (`shangji demo`): 8,000 deals, about 200 of them in the East team's review. */
const DEMO_OPPORTUNITIES = 8000;
/** A few screens: what "not a very long page" means here. */
const SANE_HEIGHT = 8000;

let app;
let browser;
const newPage = (options) => openPage(browser, app, options);

before(async () => {
  app = await startSeededApp('ux', DEMO_OPPORTUNITIES, (run) => ({ token: run(['token', 'create', SEEDED.rep.login]) }));
  browser = await launchBrowser();
}, { timeout: 900_000 });

after(async () => {
  await browser?.close();
  await app?.stop();
});

const height = (page) => page.evaluate(() => document.body.scrollHeight);

/** The table is whole within its box: nothing cut off, nothing to scroll to. */
async function tableFits(table) {
  const [width, room] = await table.evaluate((t) => [t.scrollWidth, t.parentElement.clientWidth]);
  assert.ok(width <= room, `table ${width} px in a ${room} px box`);
}

describe('day-one usability', () => {
  test('the manager lands on the team view; today and review stay short, and a decision is still made', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, SEEDED.manager);
      assert.equal(await page.locator('#view-team').getAttribute('aria-current'), 'page', 'the team view');
      const today = await height(page);
      assert.ok(today < SANE_HEIGHT, `today is ${today} px tall`);
      await page.screenshot({ path: screenshotPath('ux-today-manager.png'), fullPage: true });
      // The tail of a long list is one click away.
      const more = page.locator('#today-alerts details.today-more');
      if (await more.count()) {
        await more.locator('summary').click();
        assert.ok(await more.locator('li.deal').first().isVisible());
      }

      await page.goto('/review');
      const review = await height(page);
      assert.ok(review < SANE_HEIGHT, `the review is ${review} px tall`);
      const stuck = Number((await text(page.locator('#sec-stuck h2 .muted'))).replace(/[()]/g, ''));
      assert.ok(stuck > 10, `${stuck} stuck deals`);
      assert.equal(await page.locator('#sec-stuck tbody tr').count(), 10, 'the first ten, the rest a click away');
      assert.equal(await page.locator('form.review-decide').count(), 0, 'no form until one is asked for');
      await page.screenshot({ path: screenshotPath('ux-review-manager.png'), fullPage: true });

      // A decision on a deal: its form opens under its row.
      const row = page.locator('#sec-stuck tbody tr').first();
      const title = await text(row.locator('td').first());
      await row.getByRole('link', { name: '记录决定' }).click();
      const card = page.locator('#sec-stuck article.review-deal');
      await card.waitFor();
      assert.equal(await text(card.getByRole('heading', { level: 3 })), title);
      await card.getByLabel('决定').fill('本周内由经理陪同拜访，确认预算。');
      await card.screenshot({ path: screenshotPath('ux-review-form.png') });
      await Promise.all([page.waitForURL(/#deal-\d+$/), card.getByRole('button', { name: '记录' }).click()]);
      const decided = page.locator('#sec-decisions article.review-deal').filter({ has: page.getByRole('heading', { name: title, exact: true }) });
      assert.match(await text(decided.locator('.review-decisions')), /确认预算/);

      // "Show all" opens a whole section.
      await page.locator('#sec-stuck .review-more a').click();
      await page.waitForURL(/all=stuck/);
      assert.equal(await page.locator('#sec-stuck tbody tr').count(), stuck);
    } finally {
      await context.close();
    }
  });

  test('report charts give amounts in 万 / 亿, and the forecast and roll-up fit at 1280 px', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage(DESKTOP);
    try {
      await signIn(page, SEEDED.manager);
      for (const path of ['/analytics/leaderboard', '/analytics/forecast']) {
        await page.goto(path);
        const chart = page.locator('[data-chart-ready]').first();
        await chart.waitFor();
        const labels = await chart.evaluate((el) => {
          const option = echarts.getInstanceByDom(el).getOption();
          const axis = option.yAxis[0];
          return { big: axis.axisLabel.formatter(500000000), small: axis.axisLabel.formatter(12345), drawn: el.textContent };
        });
        assert.equal(labels.big, '¥5亿', path);
        assert.equal(labels.small, '¥1.23万', path);
        assert.match(labels.drawn, /[万亿]/, `${path}: the axis is drawn in 万 / 亿`);
        assert.doesNotMatch(labels.drawn, /\d{7,}/, `${path}: no raw yuan`);
      }
      await page.screenshot({ path: screenshotPath('ux-forecast-1280.png'), fullPage: true });
      await assertFits(page, 1280);
      await tableFits(page.locator('#fc-table'));
      await page.goto('/analytics/forecast/rollup');
      await page.locator('#fc-rollup').waitFor();
      await assertFits(page, 1280);
      await tableFits(page.locator('#fc-rollup'));
      await page.screenshot({ path: screenshotPath('ux-rollup-1280.png'), fullPage: true });
      // Time in stage: days, on the chart and in the tables alike.
      await page.goto('/analytics/time-in-stage');
      const heads = await page.locator('table th').allInnerTexts();
      assert.ok(heads.some((h) => h.includes('（天）')), heads.join(' | '));
      assert.ok(!heads.some((h) => h.includes('小时')), heads.join(' | '));
    } finally {
      await context.close();
    }
  });

  test('at 375 px the header search finds a customer and opens it', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage(PHONE);
    try {
      await signIn(page, SEEDED.rep);
      // A customer of the rep's, as the accounts list shows it.
      const accounts = await api(app.baseURL, app.token, 'GET', '/api/v1/accounts?per_page=1');
      const name = accounts.items[0].name;
      // Search and the bell come first in the navigation: in sight without scrolling.
      const search = page.locator('#nav-search');
      assert.ok(await search.isVisible(), 'the search box is there');
      for (const el of [search, page.locator('#nav-bell')]) {
        const box = await el.boundingBox();
        assert.ok(box.x >= 0 && box.x + box.width <= 375, `within the screen: ${JSON.stringify(box)}`);
      }
      await page.screenshot({ path: screenshotPath('ux-header-375.png') });
      await search.fill(name);
      await Promise.all([page.waitForURL(/\/search\?q=/), search.press('Enter')]);
      const hit = page.locator('main').getByRole('link', { name, exact: true }).first();
      await hit.waitFor();
      await page.screenshot({ path: screenshotPath('ux-search-375.png'), fullPage: true });
      await assertFits(page, 375);
      await Promise.all([page.waitForURL(/\/accounts\/\d+$/), hit.click()]);
      assert.equal(await text(page.locator('h1')), name);
    } finally {
      await context.close();
    }
  });

  test('a close date decades ago is asked about before the deal is saved', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, SEEDED.rep);
      const accounts = await api(app.baseURL, app.token, 'GET', '/api/v1/accounts?per_page=1');
      const long_ago = addMonths(chinaToday(), -12 * 30);
      await page.goto('/board?quick=1#quick');
      const quick = page.locator('#quick');
      await quick.getByLabel('商机名称').fill('三十年前的老单');
      await quick.getByLabel('客户').fill(accounts.items[0].name);
      await quick.getByLabel('金额').fill('50000');
      await quick.getByLabel('预计成交日期').fill(long_ago);
      await quick.getByRole('button', { name: '新建到第一个阶段' }).click();
      await page.locator('#q-date-ok').waitFor();
      assert.match(await text(page.locator('#quick')), new RegExp(`预计成交日期 ${long_ago} 在一年多以前`));
      let found = await api(app.baseURL, app.token, 'GET', `/api/v1/opportunities?q=${encodeURIComponent('三十年前的老单')}`);
      assert.equal(found.items.length, 0, 'not saved yet');
      await page.locator('#quick').screenshot({ path: screenshotPath('ux-close-date-warning.png') });
      await page.locator('#q-date-ok').check();
      await Promise.all([page.waitForURL((u) => u.pathname === '/board'), page.locator('#quick').getByRole('button', { name: '新建到第一个阶段' }).click()]);
      found = await api(app.baseURL, app.token, 'GET', `/api/v1/opportunities?q=${encodeURIComponent('三十年前的老单')}`);
      assert.equal(found.items[0].close_date, long_ago, 'saved once confirmed');
    } finally {
      await context.close();
    }
  });
});
