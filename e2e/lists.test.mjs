// The list pages in the browser: filters and columns refresh the table in place, a saved view
// reopens, two rows are reassigned at once, the view downloads as XLSX, the header's search box
// finds a deal, and a lead is qualified. Headless Chromium against a real `shangji serve` on a
// fresh database. Run with `npm test` in e2e/ after `cargo build` at the repository root.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { MANAGER, OPPORTUNITIES, PHONE, REP, api, assertFits, launchBrowser, newPage as openPage, openNavMenu, screenshotPath, signIn, startApp, text } from './support/app.mjs';

const TEST_TIMEOUT = 120_000;

let app;
let browser;
const newPage = (options) => openPage(browser, app, options);

before(async () => {
  app = await startApp();
  browser = await launchBrowser();
}, { timeout: 180_000 });

after(async () => {
  await browser?.close();
  await app?.stop();
});

/** Row titles of the list's table. */
async function rowTitles(page) {
  return page.locator('#list-table tbody tr td:nth-child(2)').allInnerTexts();
}

describe('list pages', () => {
  test('a filter and chosen columns refresh the table without reloading the page; a saved view reopens', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, REP);
      const nav = page.getByRole('navigation', { name: '主导航' });
      await openNavMenu(page, '销售');
      await Promise.all([page.waitForURL((u) => u.pathname === '/opportunities'), nav.getByRole('link', { name: '商机', exact: true }).click()]);
      assert.equal(await text(page.getByRole('heading', { level: 1 })), '商机');
      assert.equal((await rowTitles(page)).length, OPPORTUNITIES.length);
      // A mark that a full page load would wipe.
      await page.evaluate(() => { window.__sameDocument = true; });

      await page.getByLabel('关键词').fill('华为');
      await page.waitForFunction(() => document.querySelectorAll('#list-table tbody tr').length === 2);
      assert.deepEqual((await rowTitles(page)).sort(), ['华为云迁移项目', '华为园区网络改造']);
      assert.ok(new URL(page.url()).searchParams.get('q') === '华为', page.url());
      assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no full reload');

      // Sorting by a column header, then a column chosen: still the same document.
      await page.locator('#list-table thead').getByRole('link', { name: /金额/ }).click();
      await page.waitForFunction(() => document.querySelector('#list-table th[aria-sort=ascending]'));
      assert.deepEqual(await rowTitles(page), ['华为云迁移项目', '华为园区网络改造']);
      await page.locator('#column-chooser summary').click();
      await page.getByLabel('赢率 %').check();
      await page.waitForFunction(() => document.querySelector('#list-table thead').innerText.includes('赢率'));
      assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no full reload');
      const url = new URL(page.url());
      assert.ok(url.searchParams.getAll('cols').includes('probability'), page.url());
      assert.equal(url.searchParams.get('sort'), 'amount_minor');

      await page.getByPlaceholder('视图名称').fill('华为的单');
      await Promise.all([page.waitForURL(/view=\d+/), page.getByRole('button', { name: '保存视图' }).click()]);
      await page.goto('/opportunities');
      assert.equal((await rowTitles(page)).length, OPPORTUNITIES.length);
      await Promise.all([page.waitForURL(/view=\d+/), page.locator('#saved-views').getByRole('link', { name: '华为的单' }).click()]);
      assert.deepEqual(await rowTitles(page), ['华为云迁移项目', '华为园区网络改造']);
      assert.ok((await text(page.locator('#list-table thead'))).includes('赢率'));

      await page.screenshot({ path: screenshotPath('lists-opportunities-1280.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('a manager reassigns two rows at once and downloads the view as XLSX', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, MANAGER);
      await page.goto('/opportunities?sort=title');
      const rows = page.locator('#list-table tbody tr');
      assert.equal(await rows.count(), OPPORTUNITIES.length);
      await rows.nth(0).locator('input[name=ids]').check();
      await rows.nth(1).locator('input[name=ids]').check();
      assert.equal(await text(page.locator('#selected-count')), '(2)');
      await page.getByLabel('新负责人').selectOption({ label: MANAGER.name });
      await page.getByRole('button', { name: '转移' }).click();
      await page.locator('#bulk-report').waitFor();
      const report = page.locator('#bulk-report li');
      assert.equal(await report.count(), 2);
      assert.equal(await page.locator('#bulk-report li.yes').count(), 2, await text(page.locator('#bulk-report')));
      const owners = await page.locator('#list-table tbody tr').allInnerTexts();
      assert.equal(owners.filter((r) => r.includes(MANAGER.name)).length, 2, owners.join('\n'));

      const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#export-xlsx').click()]);
      assert.equal(download.suggestedFilename(), 'opportunities.xlsx');
      const file = await download.path();
      const bytes = fs.readFileSync(file);
      assert.equal(bytes.subarray(0, 2).toString(), 'PK', 'an XLSX (zip) file');
      assert.ok(bytes.length > 2000);
    } finally {
      await context.close();
    }
  });

  test('the header search box finds a deal; a lead is qualified into account, contact and deal', { timeout: TEST_TIMEOUT }, async () => {
    const lead = await api(app.baseURL, app.token, 'POST', '/api/v1/leads', {
      company_name: '苏州某某精密机械',
      contact_name: '周敏',
      mobile: '13912345678',
      source: 'exhibition',
    });
    const { context, page } = await newPage();
    try {
      await signIn(page, REP);
      await page.locator('#nav-search').fill('招行');
      await Promise.all([page.waitForURL(/\/search\?q=/), page.locator('#nav-search').press('Enter')]);
      await Promise.all([
        page.waitForURL(/\/opportunities\/\d+/),
        page.locator('#hits-opportunities').getByRole('link', { name: '招行零售 CRM 升级' }).click(),
      ]);

      await page.goto('/leads');
      await Promise.all([page.waitForURL(`**/leads/${lead.id}`), page.locator('#list-table').getByRole('link', { name: '苏州某某精密机械' }).click()]);
      assert.equal(await text(page.locator('#lead-status')), '新线索');
      await page.getByLabel('同时创建商机').check();
      await page.getByLabel('金额（元）').fill('350,000');
      await page.screenshot({ path: screenshotPath('lists-lead-1280.png'), fullPage: true });
      await Promise.all([page.waitForURL(/done=qualified/), page.getByRole('button', { name: '转化', exact: true }).click()]);
      assert.equal(await text(page.locator('#lead-status')), '已转化');
      assert.ok((await text(page.locator('#lead-notice'))).includes('线索已转化'));
      const outcome = page.locator('#lead-outcomes');
      assert.ok((await outcome.getByRole('link', { name: '商机' }).count()) === 1);

      const found = await api(app.baseURL, app.token, 'GET', '/api/v1/search?q=13912345678');
      assert.deepEqual(found.contacts.map((c) => c.title), ['周敏']);
      assert.equal(found.leads.length, 1);
    } finally {
      await context.close();
    }
  });

  test('the list fits a phone', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage(PHONE);
    try {
      await signIn(page, REP);
      await page.goto('/opportunities');
      assert.equal(await text(page.getByRole('heading', { level: 1 })), '商机');
      await page.screenshot({ path: screenshotPath('lists-opportunities-375.png'), fullPage: true });
      await assertFits(page, 375);
      await page.goto(`/search?q=${encodeURIComponent('华为')}`);
      assert.equal(await text(page.getByRole('heading', { level: 1 })), '搜索');
      // The rep's account is found (their 华为 deals were handed to the manager above).
      assert.equal(await page.locator('.lists-hits').getByRole('link', { name: '华为技术有限公司', exact: true }).count(), 1);
      await assertFits(page, 375);
    } finally {
      await context.close();
    }
  });
});
