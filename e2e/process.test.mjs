// The sales process in the browser: an admin configures a pipeline, a rep moves an
// opportunity through a stage gate. Headless Chromium against a real `shangji serve` on a fresh
// database. Run with `npm test` in e2e/ after `cargo build` at the repository root.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ADMIN, REP, api, DESKTOP, PHONE, WAIT, assertFits, lastDayOfMonth, launchBrowser, newPage as openPage, screenshotPath, signIn, startApp, text } from './support/app.mjs';

const TEST_TIMEOUT = 120_000;

/** The checklist item the admin adds to the tender pipeline's second stage. */
const ITEM = { key: 'site_survey', zh: '已完成现场勘察', en: 'Site survey done' };

let app;
let browser;
const newPage = (options) => openPage(browser, app, options);
/** The pipeline the admin creates (the tests run in order). */
let pipelineId;

before(async () => {
  app = await startApp();
  browser = await launchBrowser();
}, { timeout: 180_000 });

after(async () => {
  await browser?.close();
  await app?.stop();
});


/** A stage's card on the pipeline page, by its Chinese name. */
function stageCard(page, name) {
  return page.locator('article.stage').filter({ has: page.locator('h3', { hasText: name }) });
}

/** An opportunity of REP in the admin's pipeline, made through the API. */
async function opportunity(title) {
  const account = await api(app.baseURL, app.token, 'POST', '/api/v1/accounts', { name: `${title} 客户` });
  return api(app.baseURL, app.token, 'POST', '/api/v1/opportunities', {
    title,
    account_id: account.id,
    pipeline_id: pipelineId,
    amount_minor: 800_000_000,
    close_date: lastDayOfMonth(6),
  });
}

describe('sales process pages', () => {
  test('an admin creates a pipeline from the tender template and adds a checklist item to a stage', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, ADMIN);
      await Promise.all([page.waitForURL((u) => u.pathname === '/admin/pipelines'), page.getByRole('link', { name: '设置' }).click()]);
      assert.equal(await text(page.getByRole('heading', { level: 1 })), '销售流程');
      assert.ok((await text(page.locator('#pipeline-list'))).includes('B2B 标准流程'));

      await page.getByLabel('名称', { exact: true }).fill('政府项目');
      await page.getByLabel('项目招投标流程（MEDDIC，按顺序推进）').check();
      await Promise.all([page.waitForURL(/\/admin\/pipelines\/\d+/), page.getByRole('button', { name: '创建', exact: true }).click()]);
      pipelineId = Number(new URL(page.url()).pathname.split('/').pop());
      assert.equal(await text(page.getByRole('heading', { level: 1 })), '政府项目');
      const names = await page.locator('article.stage h3').allInnerTexts();
      assert.deepEqual(
        names.map((n) => n.replace(/^\d+\s*/, '').trim()),
        ['立项', '关键人拜访', '方案', '投标', '商务谈判', '赢单', '输单'],
      );
      // Tender stages go in order: no skipping.
      assert.equal(await page.getByLabel('允许跳过阶段').isChecked(), false);

      // A checklist item on "关键人拜访", typed into the empty row, saved.
      let card = stageCard(page, '关键人拜访');
      await card.locator('summary').click();
      const row = card.locator('.checklist-rows .new-row');
      await row.getByLabel('键', { exact: true }).fill(ITEM.key);
      await row.getByLabel('中文', { exact: true }).fill(ITEM.zh);
      await row.getByLabel('英文', { exact: true }).fill(ITEM.en);
      await Promise.all([page.waitForURL(/saved=\d+/), card.getByRole('button', { name: '保存阶段' }).click()]);
      card = stageCard(page, '关键人拜访');
      assert.equal(await text(card.locator('.notice')), '已保存。');
      assert.ok((await text(card.locator('.stage-summary'))).includes('清单 3 项'), 'two MEDDIC items and ours');
      await card.locator('summary').click();
      assert.equal(await card.locator(`input[name="ck_key"][value="${ITEM.key}"]`).count(), 1);
      await page.screenshot({ path: screenshotPath('pipeline-desktop.png'), fullPage: true });

      // A wrong probability is refused beside the field, in Chinese, and what was typed stays.
      await card.getByLabel('赢率（%）').fill('150');
      await card.getByLabel('中文名称', { exact: true }).first().fill('拜访关键人');
      await card.getByRole('button', { name: '保存阶段' }).click();
      card = stageCard(page, '关键人拜访');
      const probability = card.getByLabel('赢率（%）');
      await probability.waitFor();
      assert.equal(await probability.inputValue(), '150');
      assert.equal(await text(probability.locator('xpath=following-sibling::p[1]')), '赢率须在 0 到 100 之间。');
      assert.equal(await card.getByLabel('中文名称', { exact: true }).first().inputValue(), '拜访关键人');
      await card.screenshot({ path: screenshotPath('stage-error-desktop.png') });

      const list = await page.goto('/admin/pipelines');
      assert.equal(list.status(), 200);
      assert.ok((await text(page.locator('#pipeline-list'))).includes('政府项目'));
      await page.screenshot({ path: screenshotPath('pipelines-desktop.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('on a 375 px phone the settings pages fit', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage(PHONE);
    try {
      await signIn(page, ADMIN);
      await page.goto(`/admin/pipelines/${pipelineId}`);
      await stageCard(page, '关键人拜访').locator('summary').click();
      await assertFits(page, 375);
      await page.screenshot({ path: screenshotPath('pipeline-375.png'), fullPage: true });
      await page.goto('/admin/loss-reasons');
      assert.equal(await page.locator('#loss-reasons .reason').count(), 8);
      await assertFits(page, 375);
      await page.screenshot({ path: screenshotPath('loss-reasons-375.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('a rep sees what the gate misses in Chinese, ticks it and moves; the history shows the move', { timeout: TEST_TIMEOUT }, async () => {
    const opp = await opportunity('智慧水务项目');
    const { context, page } = await newPage();
    try {
      await signIn(page, REP);
      await Promise.all([page.waitForURL((u) => u.pathname === `/opportunities/${opp.id}`), page.getByRole('link', { name: '智慧水务项目' }).first().click()]);
      assert.equal(await text(page.locator('#opp-title')), '智慧水务项目');
      assert.equal(await text(page.locator('#opp-amount')), '¥8,000,000.00');
      assert.equal(await text(page.locator('#stage-path [aria-current="step"]')), '立项');

      await page.locator('#move-stage').selectOption({ label: '关键人拜访' });
      await page.getByRole('button', { name: '移动', exact: true }).click();
      const panel = page.locator('#gate-panel');
      await panel.waitFor();
      const missing = await panel.locator('li.missing').allInnerTexts();
      assert.deepEqual(missing.map((m) => m.trim()), ['请确认：痛点已识别', '请确认：已接触经济决策人', `请确认：${ITEM.zh}`]);
      assert.equal(await text(page.locator('#stage-path [aria-current="step"]')), '立项', 'not moved');
      await page.screenshot({ path: screenshotPath('opportunity-gate-desktop.png'), fullPage: true });

      // Only ours ticked: the other two are still missing, ours stays ticked for the next submit.
      await page.getByLabel(`请确认：${ITEM.zh}`).check();
      await page.getByRole('button', { name: '移动', exact: true }).click();
      await page.locator('#gate-panel li.met').waitFor();
      assert.equal(await page.locator('#gate-panel li.missing').count(), 2);
      assert.equal(await page.locator('#gate-panel li.met').getByLabel(ITEM.zh).isChecked(), true);
      assert.equal(await page.locator('#move-stage option:checked').innerText(), '关键人拜访');

      await page.getByLabel('请确认：痛点已识别').check();
      await page.getByLabel('请确认：已接触经济决策人').check();
      await Promise.all([page.waitForURL(/moved=1/), page.getByRole('button', { name: '移动', exact: true }).click()]);
      assert.equal(await text(page.locator('#opp-notice')), '已移动到“关键人拜访”。');
      assert.equal(await text(page.locator('#stage-path [aria-current="step"]')), '关键人拜访');
      assert.ok((await text(page.locator('#stage-checklist'))).includes(ITEM.zh));

      const latest = await text(page.locator('#timeline > li').first());
      assert.ok(latest.includes(REP.name), latest);
      assert.ok(latest.includes('阶段：立项 → 关键人拜访'), latest);
      assert.ok(latest.includes(ITEM.zh), latest);
      assert.ok(latest.includes('赢率：10% → 20%'), latest);
      assert.ok((await text(page.locator('#timeline > li').last())).includes('创建商机，阶段：立项'));
      await page.screenshot({ path: screenshotPath('opportunity-moved-desktop.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('on a 375 px phone the opportunity page and its gate panel fit', { timeout: TEST_TIMEOUT }, async () => {
    const opp = await opportunity('智慧园区项目');
    const { context, page } = await newPage(PHONE);
    try {
      await signIn(page, REP);
      await page.goto(`/opportunities/${opp.id}`);
      await assertFits(page, 375);
      await page.locator('#move-stage').selectOption({ label: '输单' });
      assert.equal(await page.locator('#lost-fields').isVisible(), true, 'loss fields for a lost stage');
      await page.locator('#move-stage').selectOption({ label: '关键人拜访' });
      assert.equal(await page.locator('#lost-fields').isVisible(), false);
      await page.getByRole('button', { name: '移动', exact: true }).click();
      await page.locator('#gate-panel').waitFor();
      await assertFits(page, 375);
      await page.screenshot({ path: screenshotPath('opportunity-375.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });
});
