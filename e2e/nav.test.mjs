// The header navigation: one row on a laptop in both languages and for every role, menus that
// open, lead to their pages and mark the current one, and on a phone search and the bell in
// sight and every menu on screen.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ADMIN, MANAGER, PHONE, REP, assertFits, launchBrowser, newPage as openPage, openNavMenu, screenshotPath, signIn, startApp, text } from './support/app.mjs';

const TEST_TIMEOUT = 120_000;

let app;
let browser;

before(async () => {
  app = await startApp();
  browser = await launchBrowser();
}, { timeout: 180_000 });

after(async () => {
  await browser?.close();
  await app?.stop();
});

function newPage(options = {}) {
  return openPage(browser, app, options);
}

/** The header's height and the vertical extent of everything in it. */
async function headerRows(page) {
  return page.locator('header.bar').evaluate((header) => {
    const items = [...header.querySelectorAll(':scope > a, :scope > form, nav > *')].filter((e) => e.getClientRects().length);
    return {
      height: header.getBoundingClientRect().height,
      items: items.map((e) => {
        const r = e.getBoundingClientRect();
        return { what: e.id || e.className || e.tagName, top: r.top, bottom: r.bottom };
      }),
    };
  });
}

async function inViewport(page, locator) {
  const box = await locator.boundingBox();
  const { width, height } = page.viewportSize();
  assert.ok(box && box.x >= 0 && box.y >= 0 && box.x + box.width <= width && box.y + box.height <= height, `in sight: ${JSON.stringify(box)}`);
}

describe('header navigation', () => {
  const ROLE = {
    'zh-CN': { admin: '管理员', manager: '销售经理', rep: '销售' },
    en: { admin: 'Administrator', manager: 'Sales manager', rep: 'Sales rep' },
  };
  for (const [who, user] of [
    ['admin', ADMIN],
    ['manager', MANAGER],
    ['rep', REP],
  ]) {
    for (const lang of ['zh-CN', 'en']) {
      test(`at 1280 px the header is one row: ${who}, ${lang}`, { timeout: TEST_TIMEOUT }, async () => {
        const { context, page } = await newPage({ locale: lang });
        try {
          // The sign-in page in the browser's language; the user has not chosen another.
          await page.goto('/login');
          await page.locator('#login').fill(user.login);
          await page.locator('#password').fill(user.password);
          await Promise.all([page.waitForURL((u) => u.pathname === '/'), page.locator('main button[type=submit]').click()]);
          assert.equal(await page.locator('html').getAttribute('lang'), lang);
          const rows = await headerRows(page);
          const first = rows.items[0];
          for (const item of rows.items) {
            assert.ok(item.top >= first.top - 12 && item.bottom <= first.bottom + 12, `${item.what} on the brand's row: ${JSON.stringify(rows)}`);
          }
          assert.ok(rows.height <= 64, `one row: ${rows.height} px`);
          // The top level: links, four menus, approvals (and settings for an admin).
          assert.equal(await page.locator('header nav > a:not(.bell)').count(), who === 'admin' ? 4 : 3);
          assert.equal(await page.locator('header nav > details.nav-group:not(.user-menu)').count(), 4);
          assert.equal(await page.locator('#nav-settings').count(), who === 'admin' ? 1 : 0);
          // Who is signed in stays in sight; search and the bell too.
          for (const el of ['header .who', '#nav-search', '#nav-bell']) await inViewport(page, page.locator(el));
          assert.equal(await text(page.locator('header .who')), `${user.name} · ${ROLE[lang][who]}`);
          await assertFits(page, 1280);
          if (who === 'admin') await page.screenshot({ path: screenshotPath(`nav-1280-${lang}-admin.png`) });
        } finally {
          await context.close();
        }
      });
    }
  }

  test('a menu opens, leads to its page, and the page marks its menu', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, REP);
      // Nothing is open at first; on the home page no menu is current.
      assert.equal(await page.locator('header details[open]').count(), 0);
      assert.equal(await page.locator('header summary[aria-current]').count(), 0);
      assert.equal(await page.locator('header nav > a[aria-current="page"]').innerText(), '首页');

      const customers = await openNavMenu(page, '客户');
      assert.deepEqual(await customers.locator('a').allInnerTexts(), ['客户', '联系人']);
      await page.screenshot({ path: screenshotPath('nav-1280-menu.png') });
      // Another menu closes the first.
      const sales = await openNavMenu(page, '销售');
      assert.equal(await customers.evaluate((d) => d.open), false);
      assert.deepEqual(await sales.locator('a').allInnerTexts(), ['商机', '线索', '公海']);
      // Escape closes it, a click elsewhere too.
      await page.keyboard.press('Escape');
      assert.equal(await sales.evaluate((d) => d.open), false);
      await openNavMenu(page, '销售');
      await page.locator('main h1').click();
      assert.equal(await page.locator('header details[open]').count(), 0);

      await openNavMenu(page, '客户');
      await Promise.all([page.waitForURL((u) => u.pathname === '/contacts'), customers.getByRole('link', { name: '联系人', exact: true }).click()]);
      assert.equal(await text(page.getByRole('heading', { level: 1 })), '联系人');
      // The page's menu is marked, and in it the page's link; no other menu, no top link.
      const current = page.locator('header summary[aria-current="true"]');
      assert.equal(await current.count(), 1);
      assert.equal(await text(current), '客户');
      assert.equal(await page.locator('header nav > a[aria-current]').count(), 0);
      await openNavMenu(page, '客户');
      assert.equal(await text(page.locator('#nav-customers a[aria-current="page"]')), '联系人');
      // Marked like a current link: bold and underlined.
      const style = await current.evaluate((s) => ({ weight: getComputedStyle(s).fontWeight, line: getComputedStyle(s).textDecorationLine }));
      assert.equal(style.weight, '700');
      assert.equal(style.line, 'underline');

      // The analytics menu: the forecast board is there, and it marks the menu.
      await openNavMenu(page, '分析');
      await Promise.all([page.waitForURL((u) => u.pathname === '/forecast'), page.getByRole('link', { name: '预测看板', exact: true }).click()]);
      assert.equal(await text(page.locator('header summary[aria-current="true"]')), '分析');
    } finally {
      await context.close();
    }
  });

  test('a menu opens above the page, not under it', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, REP);
      const menu = await openNavMenu(page, '跟进');
      const link = menu.getByRole('link', { name: '任务', exact: true });
      const box = await link.boundingBox();
      // What is drawn at the link's middle is the link itself.
      const hit = await page.evaluate(({ x, y }) => document.elementFromPoint(x, y)?.closest('a')?.textContent, { x: box.x + box.width / 2, y: box.y + box.height / 2 });
      assert.equal(hit, '任务');
      await Promise.all([page.waitForURL((u) => u.pathname === '/tasks'), link.click()]);
    } finally {
      await context.close();
    }
  });

  test('at 375 px search and the bell are in sight and a menu opens on screen', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage(PHONE);
    try {
      await signIn(page, REP);
      await assertFits(page, 375);
      for (const el of ['#nav-search', '#nav-bell', 'header .who']) await inViewport(page, page.locator(el));
      const menu = await openNavMenu(page, '销售');
      for (const link of await menu.locator('a').all()) await inViewport(page, link);
      await page.screenshot({ path: screenshotPath('nav-375-zh-rep-menu.png') });
      await Promise.all([page.waitForURL((u) => u.pathname === '/pool'), menu.locator('#nav-pool').tap()]);
      assert.equal(await text(page.locator('header summary[aria-current="true"]')), '销售');
      // The user's menu: the role and the way out, on screen.
      const user = await openNavMenu(page, `${REP.name} · 销售`);
      const out = user.getByRole('button', { name: '退出登录' });
      await inViewport(page, out);
      await Promise.all([page.waitForURL((u) => u.pathname === '/login'), out.tap()]);
    } finally {
      await context.close();
    }
  });
});
