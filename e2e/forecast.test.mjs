// The forecast pages in the browser: the forecast by quarter with its chart, a change of
// weighting redrawing the chart, a rep changing a deal's forecast category in place, and a
// manager recording an adjustment on the roll-up (refused without a reason, then kept in the
// history); at laptop and phone width. Headless Chromium against a real `shangji serve`.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { MANAGER, OPPORTUNITIES, REP, PHONE, api, assertFits, chinaToday, launchBrowser, newPage as openPage, quarterLabel, quartersAhead, screenshotPath, signIn, text } from './support/app.mjs';
import { startApp } from './support/app.mjs';

const TEST_TIMEOUT = 120_000;

let app;
let browser;
const newPage = (options) => openPage(browser, app, options);

before(async () => {
  app = await startApp();
  browser = await launchBrowser();
  // A deal of REP expected to close today, committed.
  const account = await api(app.baseURL, app.token, 'POST', '/api/v1/accounts', { name: '中国平安保险' });
  await api(app.baseURL, app.token, 'POST', '/api/v1/opportunities', {
    title: '平安数据中台',
    account_id: account.id,
    amount_minor: 50_000_000,
    close_date: chinaToday(),
    forecast_category: 'commit',
  });
}, { timeout: 180_000 });

after(async () => {
  await browser?.close();
  await app?.stop();
});

async function chartOption(page) {
  await page.locator('#fc-chart[data-chart-ready]').waitFor();
  return JSON.parse(await page.locator('#fc-chart').getAttribute('data-chart'));
}

describe('forecast', () => {
  test('a rep reads the forecast by quarter, changes the weighting and a category', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, REP);
      await page.goto('/analytics/forecast');
      assert.equal(await text(page.getByRole('heading', { level: 1 })), '销售预测');
      await page.getByLabel('周期').selectOption({ label: '季度' });
      await page.getByLabel('期数').fill('4');
      await Promise.all([page.waitForURL(/grain=quarter/), page.getByRole('button', { name: '查看', exact: true }).click()]);
      const configured = await chartOption(page);
      assert.equal(configured.xAxis.data.length, 4);
      const weighted = configured.series.find((s) => s.name === '加权金额').data;
      assert.ok(weighted[0] > 0, `weighted this quarter: ${weighted}`);
      // The chart is drawn (ECharts renders SVG into it).
      assert.ok(await page.locator('#fc-chart svg').count() > 0);
      assert.equal(await page.locator('#fc-table tbody tr').count(), 4);
      await page.screenshot({ path: screenshotPath('forecast-laptop.png'), fullPage: true });

      // Empirical weighting: no deal was ever won, so nothing is weighted; the chart follows.
      await page.getByLabel('加权方式').selectOption({ label: '历史赢率' });
      await Promise.all([page.waitForURL(/weighting=empirical/), page.getByRole('button', { name: '查看', exact: true }).click()]);
      const empirical = await chartOption(page);
      assert.deepEqual(empirical.series.find((s) => s.name === '加权金额').data, [0, 0, 0, 0]);
      assert.equal(await page.getByLabel('加权方式').inputValue(), 'empirical');

      // The rep moves 华为云迁移项目 to commit in place. It closes at the end of next month:
      // this quarter's row or the next one's (the first row is this quarter) gets its amount.
      const cloud = OPPORTUNITIES.find((o) => o.title === '华为云迁移项目');
      const quarter = quartersAhead(cloud.close_date);
      assert.ok(quarter >= 0 && quarter < 4, `${cloud.close_date} is within the 4 quarters shown`);
      const quarterRow = () => page.locator('#fc-table tbody tr').nth(quarter);
      assert.equal(await text(quarterRow().locator('th')), quarterLabel(cloud.close_date));
      const commitCell = () => quarterRow().locator('td').nth(1);
      const row = page.locator('#fc-deals tr').filter({ has: page.getByRole('link', { name: '华为云迁移项目', exact: true }) });
      assert.equal(await row.getByLabel('预测类别').inputValue(), 'pipeline');
      const commitBefore = await text(commitCell());
      await row.getByLabel('预测类别').selectOption({ label: '承诺' });
      await Promise.all([page.waitForURL(/saved=1/), row.getByRole('button', { name: '保存', exact: true }).click()]);
      assert.equal(await text(page.locator('p.notice')), '预测类别已更新。');
      const again = page.locator('#fc-deals tr').filter({ has: page.getByRole('link', { name: '华为云迁移项目', exact: true }) });
      assert.equal(await again.getByLabel('预测类别').inputValue(), 'commit');
      assert.notEqual(await text(commitCell()), commitBefore);
      // The filters were kept.
      assert.equal(await page.getByLabel('加权方式').inputValue(), 'empirical');
    } finally {
      await context.close();
    }
  });

  test('a manager records an adjustment with a reason on the roll-up', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, MANAGER);
      await page.goto('/analytics/forecast');
      await Promise.all([page.waitForURL((u) => u.pathname === '/analytics/forecast/rollup'), page.locator('#fc-rollup-link').click()]);
      assert.equal(await text(page.getByRole('heading', { level: 1 })), '预测汇总（经理）');
      const team = page.locator('#fc-rollup tbody tr.fc-team').first();
      assert.equal(await text(team.locator('th')), REP.team);
      // The rep's commit closing today (¥500,000.00) is the team's call and total for this
      // month; 华为云迁移项目, committed by the first test, closes next month.
      assert.equal(await text(team.locator('td.fc-total')), '¥500,000.00');
      await page.screenshot({ path: screenshotPath('forecast-rollup-laptop.png'), fullPage: true });

      // Without a reason: refused beside the form, nothing recorded.
      await team.getByText('调整', { exact: true }).click();
      await team.getByLabel('调整后金额（元）').fill('450000');
      await team.getByRole('button', { name: '记录调整' }).click();
      const refused = page.locator('#fc-rollup tbody tr.fc-team').first();
      assert.equal(await text(refused.locator('.field-error')), '请说明调整原因。');
      assert.equal(await refused.getByLabel('调整后金额（元）').inputValue(), '450000');
      assert.equal(await text(page.locator('#fc-history p.muted')), '本期还没有调整。');

      await refused.getByLabel('原因（必填）').fill('平安项目预算可能下调');
      await Promise.all([page.waitForURL(/saved=1/), refused.getByRole('button', { name: '记录调整' }).click()]);
      assert.equal(await text(page.locator('#fc-notice')), '调整已记录。');
      const adjusted = page.locator('#fc-rollup tbody tr.fc-team').first();
      assert.equal(await text(adjusted.locator('td.fc-total')), '¥450,000.00');
      assert.match(await text(adjusted.locator('td.fc-adj')), /¥450,000\.00（李娜，/);
      const history = page.locator('#fc-history tbody tr');
      assert.equal(await history.count(), 1);
      assert.match(await text(history.first()), /李娜.*华东.*¥450,000\.00.*平安项目预算可能下调/s);
      await page.screenshot({ path: screenshotPath('forecast-rollup-adjusted-laptop.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('both pages fit a phone, in Chinese and in English', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage(PHONE);
    try {
      await signIn(page, MANAGER);
      await page.goto('/analytics/forecast?grain=quarter&periods=4');
      await chartOption(page);
      await assertFits(page, 375);
      await page.screenshot({ path: screenshotPath('forecast-phone.png'), fullPage: true });
      await page.goto('/analytics/forecast/rollup');
      assert.equal(await text(page.getByRole('heading', { level: 1 })), '预测汇总（经理）');
      await assertFits(page, 375);
      await page.screenshot({ path: screenshotPath('forecast-rollup-phone.png'), fullPage: true });
      await page.getByLabel('语言').selectOption('en');
      await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: '切换' }).click()]);
      await page.goto('/analytics/forecast/rollup');
      assert.equal(await text(page.getByRole('heading', { level: 1 })), 'Forecast roll-up (managers)');
      await assertFits(page, 375);
      await page.screenshot({ path: screenshotPath('forecast-rollup-phone-en.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });
});
