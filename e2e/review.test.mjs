// The funnel review meeting in the browser, on generated history (`shangji seed`): a manager
// opens /review for their team, opens a deal's decision form from its row, is refused an empty
// decision, records a decision and an action item on a deal (the task then shows on the deal's page, the decision on its timeline), marks
// the review held, and the next review starts from then. Laptop, phone (375 px) and print,
// Chinese and English. Headless Chromium against a real `shangji serve`.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { PHONE, SEEDED, assertFits, chinaDay, launchBrowser, newPage as openPage, openNavMenu, screenshotPath, signIn, startSeededApp, text } from './support/app.mjs';

const TEST_TIMEOUT = 180_000;

const { manager: MANAGER, rep: REP } = SEEDED;

let app;
let browser;
const newPage = (options) => openPage(browser, app, options);

before(async () => {
  app = await startSeededApp('review', 800);
  browser = await launchBrowser();
}, { timeout: 600_000 });

after(async () => {
  await browser?.close();
  await app?.stop();
});

/** The number shown beside a section's heading. */
async function sectionCount(page, key) {
  return Number((await text(page.locator(`#sec-${key} h2 .muted`))).replace(/[()]/g, ''));
}

describe('review meeting', () => {
  test('a manager decides on a deal, the task and the decision land on it, the review is held', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, MANAGER);
      await openNavMenu(page, '分析');
      await page.getByRole('link', { name: '回顾会议', exact: true }).click();
      await page.waitForURL((u) => u.pathname === '/review');
      assert.equal(await text(page.locator('h1')), '漏斗回顾会议');
      assert.match(await text(page.locator('.review-window')), /^首次回顾：最近 14 天/);
      // Generated history: deals stuck past their stage's limit and deals moved forward.
      assert.ok((await sectionCount(page, 'stuck')) > 0, 'stuck deals');
      assert.ok((await sectionCount(page, 'advanced')) > 0, 'advanced deals');
      await page.screenshot({ path: screenshotPath('review-laptop.png'), fullPage: true });

      // The first stuck deal: jump to its decision form from the table.
      const row = page.locator('#sec-stuck tbody tr').first();
      const title = await text(row.locator('td').first());
      const owner = await text(row.locator('td').nth(1));
      // Its decision form opens under its row (the page holds no form until then).
      assert.equal(await page.locator('form.review-decide').count(), 0);
      await row.getByRole('link', { name: '记录决定' }).click();
      const card = page.locator('article.review-deal').filter({ has: page.getByRole('heading', { name: title, exact: true }) });
      await card.first().waitFor();
      assert.equal(await card.count(), 1);
      assert.equal(await text(card.locator('p.muted').first()), '尚无决定。');

      // Nothing written: refused in words, beside the form.
      await card.getByRole('button', { name: '记录' }).click();
      const again = page.locator('article.review-deal').filter({ has: page.getByRole('heading', { name: title, exact: true }) });
      assert.equal(await text(again.getByRole('alert')), '请填写决定或行动项。');

      const decision = '客户预算冻结到下季度，先保持阶段，王磊陪同拜访 CIO。';
      const action = '周五前发送修订报价';
      const due = chinaDay(5);
      await again.getByLabel('决定').fill(decision);
      await again.getByLabel('行动项（生成任务）').fill(action);
      assert.equal(await again.getByLabel('执行人').locator('option:checked').innerText(), owner, 'the deal owner by default');
      await again.getByLabel('截止日期').fill(due);
      await Promise.all([page.waitForURL(/#deal-\d+$/), again.getByRole('button', { name: '记录' }).click()]);
      const decided = page.locator('article.review-deal').filter({ has: page.getByRole('heading', { name: title, exact: true }) });
      assert.match(await text(decided.locator('.review-decisions')), new RegExp(decision));
      await decided.screenshot({ path: screenshotPath('review-decided.png') });

      // On the deal's page: the owner's task and the decision in the history.
      await Promise.all([page.waitForURL(/\/opportunities\/\d+$/), decided.getByRole('link', { name: title, exact: true }).click()]);
      const task = page.locator('#opp-tasks li').filter({ hasText: action });
      assert.equal(await task.count(), 1, 'the action item is a task of the deal');
      assert.match(await text(task), new RegExp(due));
      assert.match(await text(page.locator('#timeline')), new RegExp(`回顾会议决定：${decision}`));
      await page.locator('#tasks').screenshot({ path: screenshotPath('review-task-on-deal.png') });

      // Mark the review held: the next one starts from now.
      await page.goto('/review');
      const stuck = await sectionCount(page, 'stuck');
      await page.getByLabel('会议备注').fill('华东周会：3 个停滞商机已指定负责人跟进。');
      await Promise.all([page.waitForURL(/held=1/), page.getByRole('button', { name: '标记回顾已召开' }).click()]);
      assert.equal(await text(page.locator('#review-held')), '已记录本次回顾。下次回顾从现在开始。');
      const window = await text(page.locator('.review-window'));
      assert.match(window, /^自上次回顾 (\d{4}-\d\d-\d\d \d\d:\d\d) 至 \1$/, `starts now: ${window}`);
      // Nothing has advanced since a moment ago; being stuck is a state and stays.
      assert.equal(await sectionCount(page, 'advanced'), 0);
      assert.equal(await sectionCount(page, 'new_large'), 0);
      assert.equal(await sectionCount(page, 'stuck'), stuck);
      const past = page.locator('#sec-past tbody tr');
      assert.equal(await past.count(), 1);
      assert.match(await text(past.first()), /华东周会/);
      await page.screenshot({ path: screenshotPath('review-held.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('on a phone', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage(PHONE);
    try {
      await signIn(page, MANAGER);
      await page.goto('/review');
      assert.equal(await text(page.locator('h1')), '漏斗回顾会议');
      await assertFits(page, 375);
      await page.screenshot({ path: screenshotPath('review-phone.png'), fullPage: false });
      await page.locator('#sec-stuck tbody tr').first().getByRole('link', { name: '记录决定' }).click();
      const card = page.locator('#sec-stuck article.review-deal').first();
      await card.waitFor();
      await assertFits(page, 375);
      await card.screenshot({ path: screenshotPath('review-phone-decide.png') });
    } finally {
      await context.close();
    }
  });

  test('printed: no navigation, no forms, tables within the page', { timeout: TEST_TIMEOUT }, async () => {
    // A4 at 96 dpi is about 794 px wide.
    const { context, page } = await newPage({ viewport: { width: 794, height: 1123 } });
    try {
      await signIn(page, MANAGER);
      await page.goto('/review');
      assert.equal(await text(page.locator('h1')), '漏斗回顾会议');
      await page.emulateMedia({ media: 'print' });
      assert.equal(await page.locator('header.bar').isVisible(), false, 'no navigation bar');
      assert.equal(await page.locator('.review-page form:visible').count(), 0, 'no forms');
      assert.equal(await page.locator('.review-page button:visible').count(), 0, 'no buttons');
      const tables = await page.locator('.review-table').evaluateAll((ts) => ts.map((t) => [t.scrollWidth, t.parentElement.clientWidth]));
      assert.ok(tables.length > 0);
      for (const [w, room] of tables) assert.ok(w <= room, `table ${w} px in ${room} px`);
      await assertFits(page, 794);
      await page.screenshot({ path: screenshotPath('review-print.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('a rep sees their own deals, in English', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, REP);
      await page.getByLabel('语言').selectOption('en');
      await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: '切换' }).click()]);
      await page.goto('/review');
      assert.equal(await text(page.locator('h1')), 'Funnel review meeting');
      // The team's review was held in the first test: the rep's window starts there too.
      assert.match(await text(page.locator('.review-window')), /^Since the last review, .* · your deals only$/);
      const body = await page.locator('body').innerText();
      assert.equal(body.match(/\brv\.[a-z_.]+/g), null, 'no untranslated keys');
      assert.equal(await page.getByRole('button', { name: /held/i }).count(), 0, 'only managers mark a review held');
      await page.screenshot({ path: screenshotPath('review-rep-en.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });
});
