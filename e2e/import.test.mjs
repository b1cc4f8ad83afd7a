// Importing in the browser, as an admin moving a customer list in from a spreadsheet: a
// Chinese-header xlsx of 1,000 accounts with their contacts is uploaded, its columns are
// recognised, an unknown 规模 value is mapped on the page, the preview shows the two bad rows
// by row and column and the three duplicates (two stored accounts, one repeated row), one
// duplicate is set to update, the valid rows are imported while the progress bar moves, and
// the whole batch is rolled back — the stored account gets its earlier values back. Also: the
// template downloads and imports as it is, the page fits a phone, a rep has no import.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import ExcelJS from 'exceljs';

import { ACCOUNTS, ADMIN, DESKTOP, PHONE, REP, WAIT, api, assertFits, launchBrowser, newPage as openPage, openNavMenu, screenshotPath, signIn, startApp, text } from './support/app.mjs';

const TEST_TIMEOUT = 240_000;
const ROWS = 1000;

let app;
let browser;
let dir;
const newPage = (options) => openPage(browser, app, options);

/** Writes an xlsx of `rows` (arrays) under `headers`; returns its path. */
async function workbook(name, headers, rows) {
  const book = new ExcelJS.Workbook();
  const sheet = book.addWorksheet('客户');
  sheet.addRow(headers);
  for (const r of rows) sheet.addRow(r);
  const file = path.join(dir, name);
  await book.xlsx.writeFile(file);
  return file;
}

/** The customer list: 1,000 rows, 2 with problems, 3 duplicates, 5 with an unknown 规模. */
function customerRows() {
  const rows = [];
  for (let i = 1; i <= ROWS; i++) {
    rows.push([
      `测试精密机械${i}号有限公司`,
      i % 2 ? '制造业' : '汽车零部件',
      i % 200 === 7 ? '超大' : '大型',
      REP.login,
      `联系人${i}`,
      `139${String(10000000 + i).padStart(8, '0')}`,
      `buyer${i}@example.com`,
      `第 ${i} 行`,
    ]);
  }
  // Two rows with problems: an owner nobody is, an e-mail that is none.
  rows[99][3] = '查无此人';
  rows[499][6] = 'not-an-email';
  // Three duplicates: two accounts stored already, one row repeating row 11 (data row 10).
  rows[199][0] = ACCOUNTS[0];
  rows[299][0] = ACCOUNTS[1];
  rows[399][0] = rows[9][0];
  return rows;
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shangji-e2e-import-'));
  app = await startApp();
  browser = await launchBrowser();
}, { timeout: 180_000 });

after(async () => {
  await browser?.close();
  await app?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('import', () => {
  test('1,000 accounts with contacts: map, preview, import with progress, roll back', { timeout: TEST_TIMEOUT }, async () => {
    const file = await workbook('客户名单.xlsx', ['客户名称*', '所属行业', '企业规模', '负责人', '联系人', '手机号', '邮箱', '备注'], customerRows());
    const { context, page } = await newPage(DESKTOP);
    page.on('dialog', (d) => d.accept());
    try {
      await signIn(page, ADMIN);
      const menu = await openNavMenu(page, '客户');
      await Promise.all([page.waitForURL('**/imports'), menu.getByRole('link', { name: '导入' }).click()]);
      await page.getByLabel('导入内容').selectOption({ label: '客户（含联系人）' });
      await page.getByLabel('文件').setInputFiles(file);
      await Promise.all([page.waitForURL(/\/imports\/\d+$/), page.getByRole('button', { name: '上传并预览' }).click()]);
      const importUrl = page.url();
      assert.equal(await text(page.locator('#import-title')), '客户名单.xlsx');

      // Every Chinese header was recognised.
      const mapped = async (header) => page.locator(`select[data-header="${header}"] option:checked`).innerText();
      assert.equal(await mapped('客户名称*'), '客户名称');
      assert.equal(await mapped('企业规模'), '规模');
      assert.equal(await mapped('手机号'), '联系人 · 手机');
      assert.equal(await mapped('邮箱'), '联系人 · 邮箱');
      assert.equal(await mapped('负责人'), '负责人');

      // The unknown size is asked for, and is a problem in its five rows until mapped.
      assert.equal(await text(page.locator('#count-failed')), '7');
      await page.locator('select[data-value="超大"]').selectOption({ label: '集团' });
      await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: '保存并刷新预览' }).click()]);
      await page.locator('#import-summary').waitFor();
      assert.equal(await page.locator('select[data-value="超大"]').count(), 0);

      // Two bad rows, by row and column, in Chinese; three duplicates.
      assert.equal(await text(page.locator('#count-failed')), '2');
      assert.equal(await text(page.locator('#count-duplicates')), '3');
      assert.equal(await text(page.locator('#count-created')), String(ROWS - 5));
      assert.equal(await text(page.locator('#count-skipped')), '3');
      const problems = page.locator('#import-problems tr.problem');
      assert.equal(await problems.count(), 2);
      assert.deepEqual(
        (await problems.nth(0).locator('td').allInnerTexts()).map((t) => t.trim()),
        ['101', '负责人', '找不到这个负责人（按姓名、登录名或手机号查找）。'],
      );
      assert.equal(await text(problems.nth(1).locator('td').nth(0)), '501');
      assert.equal(await text(problems.nth(1).locator('td').nth(1)), '邮箱');
      // The duplicates name what they repeat; the stored one links to it.
      assert.equal(await text(page.locator('#row-201 td').nth(2)), ACCOUNTS[0]);
      assert.match(await page.locator('#row-201 td a').getAttribute('href'), /^\/accounts\/\d+$/);
      assert.equal(await text(page.locator('#row-401 td').nth(2)), '文件第 11 行');
      // The first rows as they will be stored: the owner by name, the mapped size.
      const first = (await page.locator('#row-2 td').allInnerTexts()).map((t) => t.trim());
      assert.ok(first.includes('测试精密机械1号有限公司') && first.includes(REP.name) && first.includes('大型'), first.join('|'));
      await page.screenshot({ path: screenshotPath('import-preview.png'), fullPage: false });

      // Importing while rows have problems is refused with the reason.
      await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: '开始导入' }).click()]);
      assert.match(await text(page.locator('#import-error')), /只导入没有问题的行/);

      // The stored 华为 row updates it; only the valid rows go in.
      await page.locator('#row-decision-201').selectOption({ label: '用文件中的值更新' });
      await page.getByLabel('只导入没有问题的行（有问题的行跳过）').check();
      await Promise.all([page.waitForURL(importUrl), page.getByRole('button', { name: '开始导入' }).click()]);
      await page.locator('#import-progress progress').waitFor({ timeout: WAIT });
      await page.screenshot({ path: screenshotPath('import-progress.png') });
      await page.locator('#import-status', { hasText: '已完成' }).waitFor({ timeout: 180_000 });
      assert.equal(await text(page.locator('#count-created')), String(ROWS - 5));
      assert.equal(await text(page.locator('#count-updated')), '1');
      assert.equal(await text(page.locator('#count-skipped')), '2');
      assert.equal(await text(page.locator('#count-failed')), '2');
      await page.screenshot({ path: screenshotPath('import-done.png'), fullPage: true });

      const found = await api(app.baseURL, app.token, 'GET', `/api/v1/accounts?q=${encodeURIComponent('测试精密机械1号有限公司')}`);
      const items = found.items ?? found;
      assert.equal(items.length, 1);
      const huawei = (await api(app.baseURL, app.token, 'GET', `/api/v1/accounts?q=${encodeURIComponent(ACCOUNTS[0])}`));
      assert.equal((huawei.items ?? huawei)[0].industry, '汽车零部件');

      // Roll back: the created accounts go, 华为 has its earlier (empty) industry again.
      await Promise.all([page.waitForURL(/rolled=1/), page.getByRole('button', { name: '撤销这次导入' }).click()]);
      assert.match(await text(page.locator('#import-notice')), /已撤销/);
      assert.equal(await text(page.locator('#import-status')), '已撤销');
      const gone = await api(app.baseURL, app.token, 'GET', `/api/v1/accounts?q=${encodeURIComponent('测试精密机械1号有限公司')}`);
      assert.equal((gone.items ?? gone).length, 0);
      const back = await api(app.baseURL, app.token, 'GET', `/api/v1/accounts?q=${encodeURIComponent(ACCOUNTS[0])}`);
      assert.ok(!(back.items ?? back)[0].industry);
      await page.goto('/imports');
      assert.match(await text(page.locator('#imports tbody tr').first()), /客户名单\.xlsx.*已撤销/s);
      // Both the import and its rollback are in the audit log, with who did them.
      await page.goto('/admin/audit');
      await page.getByLabel('操作', { exact: true }).selectOption({ label: '撤销导入' });
      await Promise.all([page.waitForURL(/action=import_rollback/), page.getByRole('button', { name: '筛选' }).click()]);
      const entry = page.locator('#audit tbody tr').first();
      assert.match(await text(entry), new RegExp(`${ADMIN.name}.*撤销导入.*客户名单\\.xlsx: ${2 * (ROWS - 5) + 1} records removed, 1 restored`, 's'));
      await page.goto('/admin/audit?action=import');
      assert.match(await text(page.locator('#audit tbody tr').first()), /导入.*客户名单\.xlsx \(accounts\): done; rows 995 created, 1 updated, 2 skipped, 2 failed/s);
    } finally {
      await context.close();
    }
  });

  test('deals from another CRM with their stage history: a history problem is placed, the corrected file imports, reports see it', { timeout: TEST_TIMEOUT }, async () => {
    // Dates a few weeks back, as China days.
    const day = (n) => new Date(Date.now() + 8 * 3600_000 - n * 86_400_000).toISOString().slice(0, 10);
    const deals = path.join(dir, '旧系统商机.csv');
    fs.writeFileSync(deals, [
      '外部编号,商机名称,客户名称,负责人,阶段,金额,创建时间,成交日期,输单原因',
      `OLD-1,迁移商机甲,${ACCOUNTS[0]},${REP.login},赢单,12万,${day(60)},,`,
      `OLD-2,迁移商机乙,${ACCOUNTS[1]},${REP.login},输单,8万,${day(50)},${day(20)},价格`,
      `OLD-3,迁移商机丙,${ACCOUNTS[0]},${REP.login},方案报价,30万,${day(40)},,`,
    ].join('\n'));
    const history = (rows) => {
      const file = path.join(dir, `阶段历史${rows.length}.csv`);
      fs.writeFileSync(file, ['外部编号,阶段,进入时间', ...rows].join('\n'));
      return file;
    };
    const good = [
      `OLD-1,线索确认,${day(60)}`, `OLD-1,需求分析,${day(45)}`, `OLD-1,赢单,${day(10)}`,
      `OLD-3,线索确认,${day(40)}`, `OLD-3,方案报价,${day(5)}`,
    ];
    // Out of order: OLD-3 reaches 方案报价 before it was created.
    const bad = [...good.slice(0, 4), `OLD-3,方案报价,${day(70)}`, 'OLD-9,需求分析,' + day(3)];
    const { context, page } = await newPage(DESKTOP);
    try {
      await signIn(page, ADMIN);
      await page.goto('/imports');
      await page.getByLabel('导入内容').selectOption({ label: '商机（含阶段历史）' });
      await page.getByLabel('文件').setInputFiles(deals);
      await Promise.all([page.waitForURL(/\/imports\/\d+$/), page.getByRole('button', { name: '上传并预览' }).click()]);
      const importUrl = page.url();
      assert.match(await text(page.locator('#import-history')), /不重新执行阶段门和审批/);
      // Without history, the won deal has nothing saying when it closed.
      assert.equal(await text(page.locator('#count-failed')), '1');

      await page.getByLabel('选择阶段历史文件').setInputFiles(history(bad));
      await Promise.all([page.waitForURL(importUrl), page.getByRole('button', { name: '上传阶段历史' }).click()]);
      assert.match(await text(page.locator('#import-history-name')), /阶段历史6\.csv/);
      const problems = page.locator('#import-problems tr.problem');
      const rows = await problems.evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.innerText.trim())));
      assert.deepEqual(rows.map((r) => r.slice(0, 2)), [
        ['4', '阶段'],
        ['6', '阶段历史文件 · entered_at'],
        ['7', '阶段历史文件 · opportunity'],
      ], JSON.stringify(rows));
      assert.equal(rows[1][2], '时间早于商机的创建时间。');
      await page.screenshot({ path: screenshotPath('import-deals-history-problems.png'), fullPage: true });

      await page.getByLabel('选择阶段历史文件').setInputFiles(history(good));
      await Promise.all([page.waitForURL(importUrl), page.getByRole('button', { name: '上传阶段历史' }).click()]);
      assert.equal(await page.locator('#import-problems').count(), 0);
      assert.equal(await text(page.locator('#count-created')), '3');
      await Promise.all([page.waitForURL(importUrl), page.getByRole('button', { name: '开始导入' }).click()]);
      await page.locator('#import-status', { hasText: '已完成' }).waitFor({ timeout: 60_000 });
      assert.equal(await text(page.locator('#count-created')), '3');

      // The lost deal carries its reason into win/loss; the won one closed at its history's time.
      const found = await api(app.baseURL, app.token, 'GET', `/api/v1/opportunities?q=${encodeURIComponent('迁移商机')}`);
      const byTitle = Object.fromEntries((found.items ?? found).map((o) => [o.title, o]));
      assert.equal(byTitle['迁移商机甲'].status, 'won');
      assert.equal(byTitle['迁移商机乙'].loss_reason, 'price');
      assert.equal(byTitle['迁移商机丙'].status, 'open');
      const from = day(120);
      const wl = await api(app.baseURL, app.token, 'GET', `/api/v1/analytics/win-loss?from=${from}&to=${day(0)}`);
      assert.ok(wl.rows.by_reason.some((r) => r.value === 'price' && r.lost >= 1), JSON.stringify(wl.rows.by_reason));
      await page.goto(`/opportunities/${byTitle['迁移商机甲'].id}`);
      await page.screenshot({ path: screenshotPath('import-deal-timeline.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('a template downloads and imports as it is; the page fits a phone; a rep has no import', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage(PHONE);
    try {
      await signIn(page, ADMIN);
      await page.goto('/imports');
      const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#template-leads').click()]);
      assert.match(download.suggestedFilename(), /^导入模板-线索\.xlsx$/);
      const file = path.join(dir, download.suggestedFilename());
      await download.saveAs(file);
      const book = new ExcelJS.Workbook();
      await book.xlsx.readFile(file);
      const header = book.worksheets[0].getRow(1).values.slice(1);
      assert.ok(header.includes('公司名称') || header.includes('客户名称'), header.join('|'));
      assert.equal(book.worksheets[1].name, '填写说明');
      await page.getByLabel('导入内容').selectOption({ label: '线索' });
      await page.getByLabel('文件').setInputFiles(file);
      await Promise.all([page.waitForURL(/\/imports\/\d+$/), page.getByRole('button', { name: '上传并预览' }).click()]);
      assert.equal(await text(page.locator('#count-created')), '1');
      assert.equal(await text(page.locator('#count-failed')), '0');
      await assertFits(page, 375);
      await page.screenshot({ path: screenshotPath('import-375.png'), fullPage: true });
      // A file that is not a workbook is refused, in Chinese, beside the upload.
      await page.goto('/imports');
      const fake = path.join(dir, '假的.xlsx');
      fs.writeFileSync(fake, '名称,手机\n甲,1\n');
      await page.getByLabel('文件').setInputFiles(fake);
      await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: '上传并预览' }).click()]);
      assert.match(await text(page.locator('#upload-error')), /不是 Excel 工作簿/);
    } finally {
      await context.close();
    }
    const rep = await newPage(DESKTOP);
    try {
      await signIn(rep.page, REP);
      const menu = await openNavMenu(rep.page, '客户');
      assert.equal(await menu.getByRole('link', { name: '导入' }).count(), 0);
      const res = await rep.page.goto('/imports');
      assert.equal(res.status(), 403);
    } finally {
      await rep.context.close();
    }
  });
});
