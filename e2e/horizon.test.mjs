// Horizons, forecast snapshots and accuracy in the browser, on generated history: the
// company's three years, a team's year and a rep's three months chosen from the form; a
// snapshot taken on demand with the button; the accuracy page over snapshots replayed from
// the history. Laptop and phone widths, Chinese and English. Headless Chromium against a real
// `shangji serve` on a fresh seeded database.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { PHONE, SEEDED, assertFits, launchBrowser, monthStart, newPage as openPage, screenshotPath, signIn, startSeededApp, text } from './support/app.mjs';

const TEST_TIMEOUT = 180_000;

const { admin: ADMIN, manager: MANAGER, rep: REP } = SEEDED;

let app;
let browser;
const newPage = (options) => openPage(browser, app, options);

before(async () => {
  // Snapshots replayed from the history just before each of the last three months began.
  app = await startSeededApp('horizon', 800, (cli) => {
    for (const n of [-3, -2, -1]) cli(['forecast', 'snapshot', '--at', monthStart(n)]);
  });
  browser = await launchBrowser();
}, { timeout: 600_000 });

after(async () => {
  await browser?.close();
  await app?.stop();
});

async function chartDrawn(page) {
  await page.locator('#hz-chart[data-chart-ready="1"] svg').first().waitFor();
}

describe('horizon', () => {
  test('the company, a team and a rep, chosen from the form', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, ADMIN);
      await page.goto('/analytics/horizon');
      await assert.doesNotReject(chartDrawn(page));
      assert.match(await text(page.locator('h1')), /全公司 · 未来 3 年/);
      assert.equal(await page.locator('#hz-table tbody tr').count(), 12, '12 quarters');
      assert.match(await text(page.locator('#hz-table tbody tr').first()), /Q\d/);
      await page.screenshot({ path: screenshotPath('horizon-company.png'), fullPage: true });

      await page.getByLabel('层级').selectOption({ label: '团队（1 年）' });
      await page.getByLabel('团队', { exact: true }).selectOption({ label: '华东大区' });
      await Promise.all([page.waitForURL(/level=team/), page.getByRole('button', { name: '查看' }).click()]);
      await chartDrawn(page);
      assert.match(await text(page.locator('h1')), /华东大区 · 未来 1 年/);
      assert.equal(await page.locator('#hz-table tbody tr').count(), 12, '12 months');
      await page.screenshot({ path: screenshotPath('horizon-team.png'), fullPage: true });

      await page.getByLabel('层级').selectOption({ label: '销售（3 个月）' });
      const owner = page.getByLabel('负责人');
      const options = await owner.locator('option').allInnerTexts();
      const someone = options.find((o) => o !== '本人');
      await owner.selectOption({ label: someone });
      await Promise.all([page.waitForURL(/level=rep/), page.getByRole('button', { name: '查看' }).click()]);
      await chartDrawn(page);
      assert.match(await text(page.locator('h1')), new RegExp(`${someone} · 未来 3 个月`));
      assert.equal(await page.locator('#hz-table tbody tr').count(), 3, '3 months');
    } finally {
      await context.close();
    }
  });

  test('a rep sees their own three months on a phone', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage(PHONE);
    try {
      await signIn(page, REP);
      await page.goto('/analytics/horizon');
      await chartDrawn(page);
      assert.match(await text(page.locator('h1')), /未来 3 个月/);
      assert.equal(await page.locator('#hz-table tbody tr').count(), 3);
      await assertFits(page, 375);
      await page.screenshot({ path: screenshotPath('horizon-rep-phone.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });
});

describe('snapshots and accuracy', () => {
  test('a manager takes a snapshot with the button and reads it', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, MANAGER);
      await page.goto('/analytics/snapshots');
      const before = await page.locator('#hz-snapshots tbody tr').count();
      await Promise.all([
        page.waitForURL(/\/analytics\/snapshots\/\d+$/, { timeout: 120_000 }),
        page.getByRole('button', { name: '立即生成快照' }).click(),
      ]);
      const rows = page.locator('#hz-snapshot-rows tbody tr');
      assert.ok((await rows.count()) > 0);
      const all = await rows.allInnerTexts();
      assert.ok(all.some((r) => r.includes('华东')), 'the team is in it');
      assert.ok(!all.some((r) => r.includes('全公司')), 'not the whole company: a manager sees their team');
      await page.screenshot({ path: screenshotPath('snapshot-taken.png'), fullPage: true });
      await page.getByRole('link', { name: '预测快照' }).click();
      assert.equal(await page.locator('#hz-snapshots tbody tr').count(), before + 1);
      assert.match(await text(page.locator('#hz-snapshots tbody tr').first()), /手动/);
      await page.screenshot({ path: screenshotPath('snapshots.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('a rep has no snapshot button', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage(PHONE);
    try {
      await signIn(page, REP);
      await page.goto('/analytics/snapshots');
      assert.equal(await text(page.locator('h1')), '预测快照');
      assert.equal(await page.getByRole('button', { name: '立即生成快照' }).count(), 0);
      await assertFits(page, 375);
    } finally {
      await context.close();
    }
  });

  test('accuracy per period against what was won, in both languages', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, ADMIN);
      await page.goto('/analytics/accuracy');
      await chartDrawn(page);
      assert.match(await text(page.locator('#hz-mean')), /已结束期间的平均准确率：\d+\.\d%/);
      const company = page.locator('#hz-accuracy tbody tr').filter({ hasText: '全公司' });
      // Snapshots at the start of each of the last three months: those three months (ended)
      // and this one (running, from the latest) have a forecast.
      assert.equal(await company.count(), 4, 'four months with a snapshot at or before their start');
      assert.equal(await company.filter({ hasText: '进行中' }).count(), 1, 'this month is running');
      await page.screenshot({ path: screenshotPath('accuracy.png'), fullPage: true });
      await page.getByLabel('预测口径').selectOption({ label: '蒙特卡洛 P50' });
      await Promise.all([page.waitForURL(/method=p50/), page.getByRole('button', { name: '查看' }).click()]);
      await chartDrawn(page);

      await page.getByLabel('语言').selectOption('en');
      await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: '切换' }).click()]);
      await page.goto('/analytics/accuracy');
      await chartDrawn(page);
      assert.match(await text(page.locator('#hz-mean')), /Mean accuracy of the periods that have ended: \d+\.\d%/);
      await page.screenshot({ path: screenshotPath('accuracy-en.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('accuracy on a phone', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage(PHONE);
    try {
      await signIn(page, MANAGER);
      await page.goto('/analytics/accuracy');
      await chartDrawn(page);
      await assertFits(page, 375);
      await page.screenshot({ path: screenshotPath('accuracy-phone.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });
});
