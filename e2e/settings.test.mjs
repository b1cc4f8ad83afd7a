// Custom fields, gates that ask for them, approval policies and the approvals inbox in the
// browser: an admin defines an opportunity field and makes a stage require it, a rep supplies
// it in the gate panel; a policy holds a big deal's move until the rep's manager approves it
// in the inbox. Headless Chromium against a real `shangji serve` on a fresh database. Run with
// `npm test` in e2e/ after `cargo build` at the repository root.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ADMIN, MANAGER, OPPORTUNITIES, REP, api, DESKTOP, PHONE, WAIT, assertFits, launchBrowser, newPage as openPage, screenshotPath, signIn, startApp, text } from './support/app.mjs';

const TEST_TIMEOUT = 120_000;

/** The field the admin adds, and the stage that will require it. */
const FIELD = { key: 'budget_source', zh: '资金来源', en: 'Budget source' };
const STAGE = '需求分析';
/** A deal below the policy's amount, and one above it (¥789,000). */
const SMALL = OPPORTUNITIES[0].title;
const BIG = OPPORTUNITIES[2].title;

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


/** The id of one of REP's opportunities, by title. */
async function opportunityId(title) {
  const page = await api(app.baseURL, app.token, 'GET', `/api/v1/opportunities?q=${encodeURIComponent(title)}`);
  const found = page.items.find((o) => o.title === title);
  assert.ok(found, `opportunity ${title}`);
  return found.id;
}

/** Moves an opportunity to STAGE through the page, supplying the gate: held or moved. */
async function moveWithGate(page, id, expect) {
  await page.goto(`/opportunities/${id}`);
  await page.locator('#move-stage').selectOption({ label: STAGE });
  await page.getByRole('button', { name: '移动', exact: true }).click();
  const panel = page.locator('#gate-panel');
  await panel.waitFor();
  const missing = (await panel.locator('li.missing').allInnerTexts()).map((m) => m.trim());
  assert.ok(missing.some((m) => m.startsWith(`请填写：${FIELD.zh}`)), JSON.stringify(missing));
  await panel.getByLabel(`请填写：${FIELD.zh}`).selectOption({ label: '银行贷款' });
  await panel.getByLabel('请确认：需求已确认').check();
  await Promise.all([page.waitForURL(expect), page.getByRole('button', { name: '移动', exact: true }).click()]);
}

describe('custom fields, gates and approvals', () => {
  test('an admin adds an opportunity field; a bad key is refused beside it; a stage requires the field', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, ADMIN);
      await Promise.all([page.waitForURL((u) => u.pathname === '/admin/pipelines'), page.getByRole('link', { name: '设置' }).click()]);
      await Promise.all([page.waitForURL((u) => u.pathname === '/admin/custom-fields'), page.getByRole('link', { name: '自定义字段' }).click()]);
      assert.equal(await text(page.getByRole('heading', { level: 1 })), '自定义字段');
      assert.equal(await text(page.locator('.subtabs [aria-current="page"]')), '商机 0');

      const form = page.locator('#new-field');
      await form.getByLabel('键', { exact: true }).fill('Budget Source');
      await form.getByLabel('中文名称', { exact: true }).fill(FIELD.zh);
      await form.getByLabel('英文名称', { exact: true }).fill(FIELD.en);
      await form.getByLabel('类型', { exact: true }).selectOption({ label: '单选' });
      await form.getByLabel('选项，每行一个（可写“值 | English”）').fill('自有资金\n银行贷款 | Bank loan\n政府补贴 | Subsidy');
      await form.getByRole('button', { name: '添加字段' }).click();
      const key = page.locator('#cf-key');
      await page.locator('#cf-key-error').waitFor();
      assert.equal(await text(page.locator('#cf-key-error')), '键只能用小写英文字母、数字和下划线，并以字母开头。');
      assert.equal(await key.getAttribute('aria-invalid'), 'true');
      assert.equal(await page.locator('#cf-label_zh').inputValue(), FIELD.zh, 'what was typed stays');
      assert.ok((await page.locator('#cf-new-options').inputValue()).includes('银行贷款 | Bank loan'));
      await page.locator('#new-field').screenshot({ path: screenshotPath('custom-field-error-desktop.png') });

      await key.fill(FIELD.key);
      await Promise.all([page.waitForURL(/saved=\d+/), page.getByRole('button', { name: '添加字段' }).click()]);
      const row = page.locator('#field-list li').first();
      assert.ok((await text(row)).includes(FIELD.zh) && (await text(row)).includes(FIELD.key) && (await text(row)).includes('单选'));
      await page.screenshot({ path: screenshotPath('custom-fields-desktop.png'), fullPage: true });
      await Promise.all([page.waitForURL(/\/admin\/custom-fields\/\d+/), row.getByRole('link', { name: FIELD.zh }).click()]);
      assert.equal(await page.locator('input[name="opt_value"]').count(), 3);
      await page.screenshot({ path: screenshotPath('custom-field-edit-desktop.png'), fullPage: true });

      // The B2B pipeline's "需求分析" now asks for it.
      await page.getByRole('link', { name: '销售流程' }).click();
      await Promise.all([page.waitForURL(/\/admin\/pipelines\/\d+/), page.getByRole('link', { name: 'B2B 标准流程' }).click()]);
      let card = page.locator('article.stage').filter({ has: page.locator('h3', { hasText: STAGE }) });
      await card.locator('summary').click();
      await card.getByLabel(FIELD.zh, { exact: true }).check();
      await Promise.all([page.waitForURL(/saved=\d+/), card.getByRole('button', { name: '保存阶段' }).click()]);
      card = page.locator('article.stage').filter({ has: page.locator('h3', { hasText: STAGE }) });
      assert.equal(await text(card.locator('.notice')), '已保存。');
      await card.locator('summary').click();
      assert.equal(await card.getByLabel(FIELD.zh, { exact: true }).isChecked(), true);
    } finally {
      await context.close();
    }
  });

  test('a rep moves a deal and picks the field in the gate panel; the page shows the value', { timeout: TEST_TIMEOUT }, async () => {
    const id = await opportunityId(SMALL);
    const { context, page } = await newPage();
    try {
      await signIn(page, REP);
      await page.goto(`/opportunities/${id}`);
      assert.equal(await text(page.locator(`#opp-cf-${FIELD.key}`)), '未设置');
      await page.locator('#move-stage').selectOption({ label: STAGE });
      await page.getByRole('button', { name: '移动', exact: true }).click();
      const input = page.locator(`#gate-custom-${FIELD.key}`);
      await input.waitFor();
      assert.deepEqual(await input.locator('option').allInnerTexts(), ['请选择', '自有资金', '银行贷款', '政府补贴']);
      await page.screenshot({ path: screenshotPath('opportunity-custom-gate-desktop.png'), fullPage: true });
      await moveWithGate(page, id, /moved=1/);
      assert.equal(await text(page.locator('#stage-path [aria-current="step"]')), STAGE);
      assert.equal(await text(page.locator(`#opp-cf-${FIELD.key}`)), '银行贷款');
      assert.ok((await text(page.locator('#timeline > li').first())).includes(`${FIELD.zh}：未设置 → 银行贷款`));
    } finally {
      await context.close();
    }
  });

  test('an admin adds an approval policy: deals of ¥500,000 or more entering the stage need the manager', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, ADMIN);
      await page.goto('/admin/pipelines');
      await Promise.all([page.waitForURL((u) => u.pathname === '/admin/approval-policies'), page.getByRole('link', { name: '审批规则' }).click()]);
      const form = page.locator('#new-policy');
      await form.getByLabel('名称', { exact: true }).fill('大单审批');
      await form.getByLabel('进入阶段').selectOption({ label: STAGE });
      const row = form.locator('.condition-rows .row').first();
      await row.getByLabel('字段').selectOption('amount_minor');
      await row.getByLabel('比较').selectOption('gte');
      await row.getByLabel('值').fill('500,000');
      assert.equal(await form.locator('#pol-approver-1').inputValue(), 'owner_manager');
      await Promise.all([page.waitForURL(/saved=\d+/), form.getByRole('button', { name: '添加规则' }).click()]);
      const listed = await text(page.locator('#policy-list li').first());
      assert.ok(listed.includes('大单审批') && listed.includes('金额（元） ≥ ¥500,000.00') && listed.includes('负责人的经理'), listed);
      await page.screenshot({ path: screenshotPath('approval-policies-desktop.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('the policy holds a big move; the manager sees the counts, approves in the inbox, and the deal moves', { timeout: TEST_TIMEOUT }, async () => {
    const id = await opportunityId(BIG);
    const rep = await newPage();
    const manager = await newPage();
    const phone = await newPage(PHONE);
    try {
      await signIn(rep.page, REP);
      await moveWithGate(rep.page, id, /approval=1/);
      assert.equal(await text(rep.page.locator('#opp-notice')), '已提交审批：审批通过后，商机自动进入目标阶段。');
      assert.equal(await text(rep.page.locator('#stage-path [aria-current="step"]')), '线索确认', 'not moved yet');
      const pending = rep.page.locator('#approval');
      assert.ok((await text(pending.locator('#approval-waiting'))).includes(MANAGER.name));
      assert.ok((await text(pending)).includes(`线索确认 → ${STAGE}`));
      assert.equal(await pending.getByRole('button', { name: '撤回申请' }).count(), 1, 'the requester may withdraw');
      await rep.page.screenshot({ path: screenshotPath('opportunity-approval-pending-desktop.png'), fullPage: true });

      // The manager on a phone: the counts in the header, the inbox fits.
      await signIn(phone.page, MANAGER);
      assert.equal(await text(phone.page.locator('#nav-bell .count')), '1');
      assert.equal(await text(phone.page.locator('#nav-approvals .count')), '1');
      await phone.page.goto('/approvals');
      assert.equal(await text(phone.page.getByRole('heading', { level: 1 })), '审批');
      assert.ok((await text(phone.page.locator('article.approval').filter({ hasText: BIG }))).includes('大单审批'));
      await assertFits(phone.page, 375);
      await phone.page.screenshot({ path: screenshotPath('approvals-inbox-375.png'), fullPage: true });
      await phone.page.goto(`/opportunities/${id}`);
      assert.equal(await text(phone.page.locator('#opp-title')), BIG);
      await assertFits(phone.page, 375);
      await phone.page.screenshot({ path: screenshotPath('opportunity-approval-pending-375.png'), fullPage: true });

      // The manager at the desk: the bell, the inbox, approve with a comment.
      const page = manager.page;
      await signIn(page, MANAGER);
      assert.equal(await text(page.locator('#nav-bell .count')), '1');
      await Promise.all([page.waitForURL((u) => u.pathname === '/approvals'), page.locator('#nav-approvals').click()]);
      const card = page.locator('article.approval').filter({ hasText: BIG });
      const facts = await text(card);
      for (const t of [REP.name, `线索确认 → ${STAGE}`, '¥789,000.00', '大单审批']) assert.ok(facts.includes(t), `${t} in ${facts}`);
      await card.getByLabel('审批意见（可选）').fill('同意，尽快推进');
      await page.screenshot({ path: screenshotPath('approvals-inbox-desktop.png'), fullPage: true });
      await Promise.all([page.waitForURL(/done=\d+/), card.getByRole('button', { name: '批准', exact: true }).click()]);
      assert.equal(await text(page.locator('#approvals-notice')), `已批准，商机已移动到“${STAGE}”。`);
      assert.equal(await page.locator('#nav-approvals .count').count(), 0, 'nothing waits any more');
      await page.goto(`/opportunities/${id}`);
      assert.equal(await text(page.locator('#stage-path [aria-current="step"]')), STAGE);
      assert.equal(await text(page.locator(`#opp-cf-${FIELD.key}`)), '银行贷款', 'the value sent with the move');
      assert.equal(await page.locator('#approval').count(), 0);

      // The rep is told: the bell, the notification, and it leads to the deal.
      await rep.page.goto('/');
      assert.equal(await text(rep.page.locator('#nav-bell .count')), '1');
      await Promise.all([rep.page.waitForURL((u) => u.pathname === '/notifications'), rep.page.locator('#nav-bell').click()]);
      const note = rep.page.locator('#notification-list li').first();
      assert.ok((await text(note)).includes(`${MANAGER.name} 批准了“${BIG}”移动到“${STAGE}”`), await text(note));
      assert.ok((await text(note)).includes('同意，尽快推进'));
      await rep.page.screenshot({ path: screenshotPath('notifications-desktop.png'), fullPage: true });
      await Promise.all([rep.page.waitForURL((u) => u.pathname === `/opportunities/${id}`), note.getByRole('button').click()]);
      assert.equal(await rep.page.locator('#nav-bell .count').count(), 0, 'read now');
      await rep.page.goto('/approvals?box=sent');
      assert.ok((await text(rep.page.locator('#approval-list'))).includes('已批准'));
    } finally {
      await rep.context.close();
      await manager.context.close();
      await phone.context.close();
    }
  });

  test('on a 375 px phone the settings and notification pages fit', { timeout: TEST_TIMEOUT }, async () => {
    const admin = await newPage(PHONE);
    const rep = await newPage(PHONE);
    try {
      await signIn(admin.page, ADMIN);
      for (const [path, shot, heading] of [
        ['/admin/custom-fields', 'custom-fields-375.png', '自定义字段'],
        ['/admin/approval-policies', 'approval-policies-375.png', '审批规则'],
      ]) {
        await admin.page.goto(path);
        assert.equal(await text(admin.page.getByRole('heading', { level: 1 })), heading, path);
        await assertFits(admin.page, 375);
        await admin.page.screenshot({ path: screenshotPath(shot), fullPage: true });
      }
      await admin.page.goto('/admin/custom-fields');
      await admin.page.locator('#field-list a').first().click();
      await admin.page.waitForURL(/\/admin\/custom-fields\/\d+/);
      assert.ok((await text(admin.page.getByRole('heading', { level: 1 }))).startsWith(FIELD.zh));
      await assertFits(admin.page, 375);
      await admin.page.screenshot({ path: screenshotPath('custom-field-edit-375.png'), fullPage: true });
      await signIn(rep.page, REP);
      await rep.page.goto('/notifications');
      assert.equal(await text(rep.page.getByRole('heading', { level: 1 })), '通知');
      await assertFits(rep.page, 375);
      await rep.page.screenshot({ path: screenshotPath('notifications-375.png'), fullPage: true });
      await rep.page.goto('/approvals?box=sent');
      assert.ok((await text(rep.page.locator('#approval-list'))).includes('已批准'));
      await assertFits(rep.page, 375);
      await rep.page.screenshot({ path: screenshotPath('approvals-sent-375.png'), fullPage: true });
    } finally {
      await admin.context.close();
      await rep.context.close();
    }
  });
});
