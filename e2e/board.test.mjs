// The pipeline board and the forecast board in the browser: real drag and drop (mouse down,
// move, up over SortableJS), the gate dialog, Lost with its reason, a custom field an admin
// makes required, re-dating on the forecast board, and the board on a phone. Headless
// Chromium against a real `shangji serve` on a fresh database.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  ADMIN, MANAGER, OPPORTUNITIES, REP, addMonths, lastDayOfMonth, api, PHONE, assertFits, chinaToday, launchBrowser, monthKey, monthLabel, newPage as openPage,
  screenshotPath, signIn, startApp, text,
} from './support/app.mjs';

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

/** A board column (the section) by its heading. */
function column(page, name) {
  return page.locator('section.board-col').filter({ has: page.getByRole('heading', { level: 2, name, exact: true }) });
}

function card(page, title) {
  return page.locator('li.board-card').filter({ has: page.getByRole('link', { name: title, exact: true }) });
}

/** Drags `item` onto `target` with the mouse, in small steps, as a person does. */
async function drag(page, item, target) {
  await item.scrollIntoViewIfNeeded();
  const from = await item.locator('.board-card-quiet').boundingBox();
  const x = from.x + from.width / 2;
  const y = from.y + from.height / 2;
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x + 8, y + 8, { steps: 4 });
  const to = await target.boundingBox();
  await page.mouse.move(to.x + to.width / 2, to.y + Math.min(to.height / 2, 30), { steps: 25 });
  await page.mouse.move(to.x + to.width / 2 + 2, to.y + Math.min(to.height / 2, 30) + 2, { steps: 2 });
  await page.mouse.up();
}

/**
 * The forecast board test: 华为园区网络改造 closes 7 months ahead; the board starts two months
 * before its month (the other deals close earlier, in the first column), and the deal is
 * dragged two months later, to a month the board shows too (it shows 6).
 */
const CAMPUS = OPPORTUNITIES.find((o) => o.title === '华为园区网络改造');
const FORECAST_START = monthKey(addMonths(CAMPUS.close_date, -2));
const FROM_MONTH = monthLabel(CAMPUS.close_date);
const TO_MONTH = monthLabel(addMonths(CAMPUS.close_date, 2));
/** Dropped on another month, a deal keeps its day of the month, clamped to that month's end. */
const REDATED = addMonths(CAMPUS.close_date, 2);

/**
 * Confirms the won dialog after a drop on Won; the stages skipped on the way ask for their
 * checklists, which are ticked.
 */
async function confirmWon(page) {
  const dialog = page.locator('dialog#board-dialog');
  await dialog.waitFor({ state: 'visible' });
  await dialog.locator('#board-dialog-won').waitFor();
  await dialog.getByRole('button', { name: '保存并移动' }).click();
  const boxes = page.locator('dialog#board-dialog .gate-list input[type=checkbox]');
  // Either the move is made (the dialog goes) or the dialog comes back with the checklists.
  for (let i = 0; i < 150 && (await dialog.count()) && !(await boxes.count()); i++) await page.waitForTimeout(100);
  if (await boxes.count()) {
    for (const box of await boxes.all()) await box.check();
    await dialog.getByRole('button', { name: '保存并移动' }).click();
  }
  await dialog.waitFor({ state: 'detached' });
}

async function count(page, name) {
  return Number(await text(column(page, name).locator('.board-count')));
}

describe('pipeline board', () => {
  test('a rep drags a deal into a gated stage, answers the dialog, and the totals follow', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, REP);
      await Promise.all([page.waitForURL((u) => u.pathname === '/board'), page.getByRole('link', { name: '漏斗看板', exact: true }).click()]);
      assert.equal(await text(page.getByRole('heading', { level: 1 })), '漏斗看板');
      assert.equal(await count(page, '线索确认'), 3);
      assert.equal(await count(page, '需求分析'), 0);
      const before = await text(column(page, '需求分析').locator('.board-amount'));

      await drag(page, card(page, '华为云迁移项目'), column(page, '需求分析').locator('ol.board-cards'));
      const dialog = page.locator('dialog#board-dialog');
      await dialog.waitFor({ state: 'visible' });
      assert.equal(await text(dialog.getByRole('heading', { level: 2 })), '移到「需求分析」还需要：');
      // Exactly what the gate asks: the need confirmed.
      assert.equal(await dialog.locator('.gate-list > li').count(), 1);
      await dialog.getByLabel('请确认：需求已确认').check();
      await page.screenshot({ path: screenshotPath('board-dialog-laptop.png') });
      await dialog.getByRole('button', { name: '保存并移动' }).click();
      await dialog.waitFor({ state: 'detached' });

      await card(page, '华为云迁移项目').and(column(page, '需求分析').locator('li.board-card')).waitFor();
      assert.equal(await count(page, '需求分析'), 1);
      assert.equal(await count(page, '线索确认'), 2);
      assert.notEqual(await text(column(page, '需求分析').locator('.board-amount')), before);
      assert.equal(await text(column(page, '需求分析').locator('.board-amount')), '¥12.3万');
      assert.equal(await text(page.locator('#board-message')), '已移动，合计已更新。');
      await page.screenshot({ path: screenshotPath('board-laptop.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('a deal dropped on Lost asks for the reason and leaves the board', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, REP);
      await page.goto('/board');
      const open = await count(page, '线索确认');
      await drag(page, card(page, '招行零售 CRM 升级'), page.locator('#drop-lost'));
      const dialog = page.locator('dialog#board-dialog');
      await dialog.waitFor({ state: 'visible' });
      // Escape puts it back.
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      await card(page, '招行零售 CRM 升级').and(column(page, '线索确认').locator('li.board-card')).waitFor();

      await drag(page, card(page, '招行零售 CRM 升级'), page.locator('#drop-lost'));
      await dialog.waitFor({ state: 'visible' });
      await dialog.getByLabel('输单原因').selectOption({ index: 1 });
      await dialog.getByLabel('竞争对手').fill('某友商');
      await dialog.getByRole('button', { name: '保存并移动' }).click();
      await dialog.waitFor({ state: 'detached' });
      await card(page, '招行零售 CRM 升级').waitFor({ state: 'detached' });
      assert.equal(await count(page, '线索确认'), open - 1);
    } finally {
      await context.close();
    }
  });

  test('a deal dropped on Won asks to confirm with its amount and the day; cancelling leaves it where it was', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, REP);
      await page.goto('/board');
      await drag(page, card(page, '华为园区网络改造'), page.locator('#drop-won'));
      const dialog = page.locator('dialog#board-dialog');
      await dialog.waitFor({ state: 'visible' });
      const asked = await text(dialog.locator('#board-dialog-won'));
      assert.ok(asked.includes('¥789,000.00') && asked.includes(chinaToday()), asked);
      await page.screenshot({ path: screenshotPath('board-confirm-won.png'), fullPage: true });
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      await card(page, '华为园区网络改造').and(column(page, '线索确认').locator('li.board-card')).waitFor();
    } finally {
      await context.close();
    }
  });

  test('a manager confirms a drop on Won, and 撤销 puts the deal back in its stage, open again', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, MANAGER);
      await page.goto('/board');
      const open = await count(page, '线索确认');
      await drag(page, card(page, '华为园区网络改造'), page.locator('#drop-won'));
      const dialog = page.locator('dialog#board-dialog');
      await confirmWon(page);
      await card(page, '华为园区网络改造').waitFor({ state: 'detached' });
      assert.equal(await count(page, '线索确认'), open - 1);
      const bar = page.locator('#undo-bar');
      await bar.waitFor({ state: 'visible' });
      assert.equal(await text(bar.locator('[data-text]')), '已赢单');
      await page.screenshot({ path: screenshotPath('board-won-undo.png') });

      await bar.getByRole('button', { name: '撤销', exact: true }).click();
      await card(page, '华为园区网络改造').and(column(page, '线索确认').locator('li.board-card')).waitFor();
      assert.equal(await count(page, '线索确认'), open);
      assert.equal(await text(page.locator('#board-message')), '已撤销：商机回到原阶段');
      assert.equal(await bar.isVisible(), false);
      const opps = await api(app.baseURL, app.token, 'GET', '/api/v1/opportunities?q=%E5%9B%AD%E5%8C%BA');
      assert.equal(opps.items[0].status, 'open');
      // Both moves are in the deal's history: won, then reopened by the manager.
      const events = await api(app.baseURL, app.token, 'GET', `/api/v1/opportunities/${opps.items[0].id}/events`);
      const kinds = (events.items ?? events).map((e) => e.kind);
      assert.ok(kinds.includes('won') && kinds.includes('reopened'), kinds.join(','));
    } finally {
      await context.close();
    }
  });

  test('a rep who may not reopen is told so instead of offered 撤销', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, REP);
      // Where the other tests do not look: a deal of its own, made for this.
      const account = (await api(app.baseURL, app.token, 'GET', '/api/v1/accounts?q=%E6%8B%9B%E5%95%86')).items[0];
      await api(app.baseURL, app.token, 'POST', '/api/v1/opportunities', { title: '招行分行网点改造', account_id: account.id, amount_minor: 100_000_000, close_date: lastDayOfMonth(1) });
      await page.goto('/board');
      await drag(page, card(page, '招行分行网点改造'), page.locator('#drop-won'));
      await confirmWon(page);
      const bar = page.locator('#undo-bar');
      await bar.waitFor({ state: 'visible' });
      assert.equal(await text(bar.locator('[data-text]')), '已赢单 · 如需撤销，请经理重新打开');
      assert.equal(await bar.getByRole('button', { name: '撤销' }).isVisible(), false);
    } finally {
      await context.close();
    }
  });

  test('a custom field an admin makes required is asked for when a deal is dragged into that stage', { timeout: TEST_TIMEOUT }, async () => {
    const admin = await newPage();
    try {
      await signIn(admin.page, ADMIN);
      await admin.page.evaluate(async () => {
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        const call = async (method, path, body) => {
          const r = await fetch(path, { method, headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: JSON.stringify(body) });
          if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
          return r.json();
        };
        await call('POST', '/api/v1/custom-fields', { record_kind: 'opportunity', key: 'contract_no', label_zh: '合同编号', label_en: 'Contract number', field_type: 'text' });
        const pipelines = await (await fetch('/api/v1/pipelines')).json();
        const p = pipelines.find((x) => x.is_default);
        const stage = p.stages.find((s) => s.name_zh === '商务谈判');
        await call('PATCH', `/api/v1/pipelines/${p.id}/stages/${stage.id}`, {
          gate: { required_fields: ['custom.contract_no'], checklist: [], allowed_roles: [], requires_approval: false },
        });
      });
    } finally {
      await admin.context.close();
    }
    const { context, page } = await newPage();
    try {
      await signIn(page, REP);
      await page.goto('/board');
      await drag(page, card(page, '华为云迁移项目'), column(page, '商务谈判').locator('ol.board-cards'));
      const dialog = page.locator('dialog#board-dialog');
      await dialog.waitFor({ state: 'visible' });
      const field = dialog.getByLabel('请填写：合同编号');
      await field.fill('HT-2026-001');
      for (const box of await dialog.locator('.gate-list input[type=checkbox]').all()) await box.check();
      await page.screenshot({ path: screenshotPath('board-custom-field-dialog.png') });
      await dialog.getByRole('button', { name: '保存并移动' }).click();
      await dialog.waitFor({ state: 'detached' });
      await card(page, '华为云迁移项目').and(column(page, '商务谈判').locator('li.board-card')).waitFor();
      const opps = await api(app.baseURL, app.token, 'GET', '/api/v1/opportunities?q=%E5%8D%8E%E4%B8%BA%E4%BA%91');
      assert.equal(opps.items[0].custom.contract_no, 'HT-2026-001');
    } finally {
      await context.close();
    }
  });

  test('the forecast board re-dates a deal dragged to another month', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, REP);
      await page.goto(`/forecast?start=${FORECAST_START}`);
      assert.equal(await text(page.getByRole('heading', { level: 1 })), '预测看板');
      assert.equal(await count(page, FROM_MONTH), 1);
      await drag(page, card(page, '华为园区网络改造'), column(page, TO_MONTH).locator('ol.board-cards'));
      await page.locator('#board-message', { hasText: '已改期，合计已更新。' }).waitFor();
      await card(page, '华为园区网络改造').and(column(page, TO_MONTH).locator('li.board-card')).waitFor();
      assert.equal(await count(page, FROM_MONTH), 0);
      assert.equal(await count(page, TO_MONTH), 1);
      assert.equal(await text(column(page, TO_MONTH).locator('.board-amount')), '¥78.9万');
      const opps = await api(app.baseURL, app.token, 'GET', '/api/v1/opportunities?q=%E5%9B%AD%E5%8C%BA');
      // The same day two months later, clamped to that month's end (e.g. the 30th of June
      // becomes the 30th of August, the 31st of July the 30th of September).
      assert.equal(opps.items[0].close_date, REDATED);
      await page.screenshot({ path: screenshotPath('forecast-laptop.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('on a phone the columns scroll sideways and the page fits', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage(PHONE);
    try {
      await signIn(page, REP);
      await page.goto('/board');
      await assertFits(page, 375);
      const cols = await page.locator('.board-columns').evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
      assert.ok(cols.scroll > cols.client, `columns scroll sideways: ${JSON.stringify(cols)}`);
      await page.locator('.board-columns').evaluate((el) => { el.scrollLeft = el.clientWidth; });
      await column(page, '需求分析').getByRole('heading').waitFor();
      await page.screenshot({ path: screenshotPath('board-phone.png'), fullPage: true });
      await page.goto(`/forecast?start=${FORECAST_START}`);
      assert.equal(await text(page.getByRole('heading', { level: 1 })), '预测看板');
      assert.equal(await count(page, FROM_MONTH) + await count(page, TO_MONTH), 1);
      await assertFits(page, 375);
      await page.screenshot({ path: screenshotPath('forecast-phone.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });
});
