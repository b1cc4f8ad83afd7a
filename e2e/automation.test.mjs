// Automation settings in the browser: an admin finds the shipped rule templates (in Chinese and
// in English), builds a rule in the form by choosing from selects and typing values, runs its
// dry run, switches it off and on, is told in the page's language which condition row is wrong,
// and edits a shipped template, which saves unchanged when nothing is edited; edits the working
// calendar; is refused a webhook the allow-list does not admit; a rep reads rule notifications,
// marks them all read and saves the email preferences. Headless Chromium against a real
// `shangji serve` on a fresh database. Run with `npm test` in e2e/ after `cargo build` at the
// repository root.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { ADMIN, BIN, OPPORTUNITIES, PHONE, REPO_ROOT, REP, api, assertFits, lastDayOfMonth, launchBrowser, newPage as openPage, screenshotPath, signIn, startApp, text } from './support/app.mjs';

const TEST_TIMEOUT = 120_000;

/** The shipped templates' names, as the pages word them. */
function templateNames(lang) {
  const file = path.join(REPO_ROOT, 'crates', 'shangji', 'locales', `automation.${lang}.json`);
  const all = JSON.parse(fs.readFileSync(file, 'utf8'));
  return Object.entries(all).filter(([k]) => k.startsWith('auto.template.')).map(([, v]) => v);
}

/** The rule the admin builds: open deals of ¥100,000 or more whose grade changes tell the manager. */
const RULE = { name: '大单评级变化提醒', message: '请关注大单评级' };
/** The deals at or above ¥100,000, and the one below. */
const BIG = OPPORTUNITIES.filter((o) => o.amount_minor >= 10_000_000).map((o) => o.title);
const SMALL = OPPORTUNITIES.filter((o) => o.amount_minor < 10_000_000).map((o) => o.title);

let app;
let browser;
/** An API token of the admin (the app's own token is the rep's). */
let adminToken;
const newPage = (options) => openPage(browser, app, options);

/** A token for `login`, made with the command line on the test's database. */
function tokenFor(login) {
  const env = { ...process.env, NO_COLOR: '1' };
  for (const k of ['SHANGJI_CONFIG', 'SHANGJI_LISTEN', 'SHANGJI_DATABASE_URL', 'SHANGJI_DATA_DIR']) delete env[k];
  const args = ['--database-url', `sqlite://${path.join(app.dir, 'shangji.db')}`, '--data-dir', app.dir, 'token', 'create', login];
  const r = spawnSync(BIN, args, { env, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`token create ${login}: ${r.error?.message ?? ''}${r.stdout}${r.stderr}`);
  return r.stdout.trim();
}

before(async () => {
  app = await startApp();
  adminToken = tokenFor(ADMIN.login);
  browser = await launchBrowser();
}, { timeout: 180_000 });

after(async () => {
  await browser?.close();
  await app?.stop();
});

/** Switches the signed-in user's language from the header; the page stays where it is. */
async function switchLanguage(page, lang) {
  const here = new URL(page.url()).pathname;
  await page.locator('#lang-select').selectOption(lang);
  await Promise.all([page.waitForURL((u) => u.pathname === here), page.locator('form.lang button').click()]);
  await page.waitForFunction((l) => document.documentElement.lang === l, lang === 'en' ? 'en' : 'zh-CN');
  assert.equal(new URL(page.url()).pathname, here, 'the page stays where it is');
}

/** Keys of the locale files left on a page instead of their text. */
async function untranslated(page) {
  const body = await page.locator('body').innerText();
  return body.match(/\b(auto|delivery|notifications|err|nav|settings)\.[a-z_]+(\.[a-z_]+)*/g) ?? [];
}

/** The names in the rules list, in order. */
async function ruleNames(page) {
  return (await page.locator('#rule-list tbody tr td:first-child').allInnerTexts()).map((t) => t.trim());
}

describe('automation settings and notifications', () => {
  test('an admin finds the shipped templates in both languages, writes a rule, dry-runs it and switches it off and on', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, ADMIN);
      await Promise.all([page.waitForURL((u) => u.pathname === '/admin/pipelines'), page.locator('#nav-settings').click()]);
      await Promise.all([page.waitForURL((u) => u.pathname === '/admin/rules'), page.getByRole('link', { name: '自动化规则' }).click()]);
      assert.equal(await text(page.getByRole('heading', { level: 1 })), '自动化规则');
      const zh = await ruleNames(page);
      for (const name of templateNames('zh-CN')) assert.ok(zh.includes(name), `${name} in ${JSON.stringify(zh)}`);
      const row = page.locator('#rule-list tbody tr').filter({ hasText: '3 个工作日未有效跟进' });
      assert.equal(await text(row.locator('td').nth(1)), '商机');
      assert.equal(await text(row.locator('td').nth(2)), '定时检查');
      assert.equal(await text(row.getByRole('button')), '已启用');
      assert.deepEqual(await untranslated(page), []);

      // The same list in English.
      await switchLanguage(page, 'en');
      try {
        assert.equal(await text(page.getByRole('heading', { level: 1 })), 'Automation rules');
        const en = await ruleNames(page);
        for (const name of templateNames('en')) assert.ok(en.includes(name), `${name} in ${JSON.stringify(en)}`);
        const enRow = page.locator('#rule-list tbody tr').filter({ hasText: 'No meaningful follow-up for 3 working days' });
        assert.equal(await text(enRow.locator('td').nth(2)), 'Scheduled check');
        assert.equal(await text(enRow.getByRole('button')), 'On');
        assert.deepEqual(await untranslated(page), []);
        await page.screenshot({ path: screenshotPath('automation-rules-en-desktop.png'), fullPage: true });
      } finally {
        await switchLanguage(page, 'zh-CN');
      }

      // A new rule, built in the form: selects and typed values, no JSON.
      await Promise.all([page.waitForURL((u) => u.pathname === '/admin/rules/new'), page.getByRole('link', { name: '新建规则' }).click()]);
      assert.equal(await text(page.getByRole('heading', { level: 1 })), '新建规则');
      const form = page.locator('#rule-form');
      assert.equal(await form.locator('textarea').count(), 0, 'no JSON to write');
      await form.locator('select[name="trigger_kind"]').selectOption({ label: '字段变化时' });
      await form.locator('select[name="trigger_field"]').selectOption({ label: '等级' });
      assert.equal(await form.locator('select[name="trigger_stage"]').isVisible(), false, 'no stage for a field change');
      await Promise.all([page.waitForURL((u) => u.pathname === '/admin/rules'), form.getByRole('button', { name: '＋ 添加条件' }).click()]);
      const first = page.locator('#condition-1');
      await first.locator('.c-field').selectOption({ label: '阶段类型' });
      // Only the comparisons of an option field, and its options to choose from.
      assert.deepEqual(await first.locator('.c-op').locator('option').allInnerTexts(), ['=', '≠', '属于', '不属于', '已填写', '未填写']);
      await first.locator('.c-value select').selectOption({ label: '进行中' });
      await page.locator('#rule-form').getByRole('button', { name: '＋ 添加条件' }).click();
      const second = page.locator('#condition-2');
      await second.waitFor();
      assert.equal(await page.locator('#condition-1 .c-value select').inputValue(), 'open', 'the first row stays as chosen');
      await second.locator('.c-field').selectOption({ label: '金额' });
      await second.locator('.c-op').selectOption({ label: '≥' });
      await second.locator('.c-value input').fill('100000');
      // Rows are added before the rule has a name; the name is typed last.
      await page.locator('#rule-form').getByRole('textbox', { name: '名称' }).fill(RULE.name);
      const action = page.locator('#action-1');
      assert.equal(await action.locator('.a-kind').inputValue(), 'notify');
      await action.locator('.a-who').selectOption({ label: '负责人的经理' });
      await action.locator('input[name="a0_message"]').fill(RULE.message);
      assert.equal(await action.locator('input[name="a0_title"]').isVisible(), false, 'only the inputs of the kind');
      assert.deepEqual(await untranslated(page), []);
      await page.screenshot({ path: screenshotPath('automation-rule-new-desktop.png'), fullPage: true });
      await Promise.all([page.waitForURL(/\/admin\/rules\/\d+\?saved=\d+/), page.locator('#rule-form').getByRole('button', { name: '保存' }).click()]);
      const id = Number(new URL(page.url()).pathname.split('/').pop());
      assert.equal(await text(page.getByRole('heading', { level: 1 })), RULE.name);
      assert.equal(await text(page.locator('p.notice')), '已保存。');
      assert.equal(await text(page.locator('#firing-log .muted')), '尚未触发。');
      assert.equal(await page.locator('#rule-form').getByRole('checkbox', { name: '启用' }).isChecked(), true);
      // Saved as built, and shown again as rows.
      const saved = await api(app.baseURL, adminToken, 'GET', `/api/v1/rules/${id}`);
      assert.deepEqual(saved.trigger, { kind: 'field_changed', field: 'grade' });
      assert.deepEqual(saved.conditions, { all: [{ field: 'stage_kind', op: 'eq', value: 'open' }, { field: 'amount', op: 'ge', value: 10000000 }] });
      assert.deepEqual(saved.actions, [{ kind: 'notify', to: { kind: 'manager' }, message: RULE.message }]);
      assert.equal(await page.locator('#condition-2 .c-value input').inputValue(), '100000');
      assert.equal(await page.locator('#action-1 .a-who').inputValue(), 'manager');

      // Its dry run: the two big deals would fire, with the amount as the reason; the small one not.
      await page.getByRole('button', { name: '试运行' }).click();
      const dry = page.locator('#dry-run-result');
      await dry.waitFor();
      assert.equal(await text(dry.getByRole('heading', { level: 2 })), '试运行：现在会触发的商机');
      const fired = (await dry.locator('tbody tr td:first-child').allInnerTexts()).map((t) => t.trim()).sort();
      assert.deepEqual(fired, [...BIG].sort());
      for (const title of SMALL) assert.ok(!(await text(dry)).includes(title));
      const why = await text(dry.locator('tbody tr').filter({ hasText: BIG[0] }).locator('td').nth(1));
      // Money reads as money, the deal's status by its name.
      assert.ok(why.includes('金额 ≥ ¥100,000.00（实际 ¥123,000.00）'), why);
      assert.ok(why.includes('阶段类型 = 进行中（实际 进行中）'), why);
      assert.deepEqual(await untranslated(page), []);
      await page.screenshot({ path: screenshotPath('automation-rule-dry-run-desktop.png'), fullPage: true });
      // The dry run saved nothing and fired nothing.
      assert.deepEqual(await api(app.baseURL, adminToken, 'GET', `/api/v1/rules/${id}/firings`), []);

      // In the list: switch it off, then on again.
      await Promise.all([page.waitForURL((u) => u.pathname === '/admin/rules'), page.getByRole('link', { name: '← 自动化规则' }).click()]);
      const mine = page.locator(`#rule-${id}`);
      assert.equal(await text(mine.getByRole('link')), RULE.name);
      assert.equal(await text(mine.locator('td').nth(2)), '字段变化时: 等级');
      assert.equal(await text(mine.locator('td').nth(4)), '从未触发');
      await mine.getByRole('button', { name: '已启用' }).click();
      await mine.getByRole('button', { name: '已停用' }).waitFor();
      assert.equal(await mine.getByRole('button').getAttribute('aria-pressed'), 'false');
      assert.match((await mine.getAttribute('class')) ?? '', /archived/);
      assert.equal((await api(app.baseURL, adminToken, 'GET', `/api/v1/rules/${id}`)).enabled, false);
      await page.screenshot({ path: screenshotPath('automation-rules-desktop.png'), fullPage: true });
      await mine.getByRole('button', { name: '已停用' }).click();
      await mine.getByRole('button', { name: '已启用' }).waitFor();
      assert.equal(await mine.getByRole('button').getAttribute('aria-pressed'), 'true');
      assert.equal((await api(app.baseURL, adminToken, 'GET', `/api/v1/rules/${id}`)).enabled, true);
    } finally {
      await context.close();
    }
  });

  test('a wrong value is refused naming its condition row, in the page language, and nothing is saved', { timeout: TEST_TIMEOUT }, async () => {
    const before = (await api(app.baseURL, adminToken, 'GET', '/api/v1/rules')).length;
    const { context, page } = await newPage();
    /** A new rule whose second condition compares the creation time with `when`. */
    async function fill(name, fieldLabel, created, when, add, save) {
      const form = page.locator('#rule-form');
      await form.getByRole('textbox', { name: fieldLabel }).fill(name);
      await form.getByRole('button', { name: add }).click();
      await page.locator('#condition-1').waitFor();
      await page.locator('#condition-1 .c-field').selectOption('stage_kind');
      await page.locator('#condition-1 .c-value select').selectOption('open');
      await page.locator('#rule-form').getByRole('button', { name: add }).click();
      await page.locator('#condition-2').waitFor();
      await page.locator('#condition-2 .c-field').selectOption({ label: created });
      await page.locator('#condition-2 .c-op').selectOption('ge');
      await page.locator('#condition-2 .c-value input').fill(when);
      await page.locator('#rule-form').getByRole('button', { name: save }).click();
      await page.locator('#rule-errors').waitFor();
    }
    try {
      await signIn(page, ADMIN);
      await page.goto('/admin/rules/new');
      await fill('错值规则', '名称', '创建时间', '昨天', '＋ 添加条件', '保存');
      assert.equal(new URL(page.url()).pathname, '/admin/rules', 'the form came back, no redirect to a saved rule');
      const errors = page.locator('#rule-errors');
      assert.equal(await text(errors.locator('p')), '规则未保存：');
      const zh = await errors.locator('li').allInnerTexts();
      assert.deepEqual(zh, ['条件 2：值的类型与字段不符。']);
      // Beside the row too; what was typed stays, to be corrected.
      assert.equal(await text(page.locator('#condition-2 .field-error')), '值的类型与字段不符。');
      assert.match((await page.locator('#condition-2').getAttribute('class')) ?? '', /invalid/);
      assert.equal(await page.locator('#rule-form').getByRole('textbox', { name: '名称' }).inputValue(), '错值规则');
      assert.equal(await page.locator('#condition-2 .c-value input').inputValue(), '昨天');
      assert.equal(await page.locator('#condition-1 .c-value select').inputValue(), 'open');
      await page.screenshot({ path: screenshotPath('automation-rule-error-desktop.png'), fullPage: true });

      // A value the form cannot read is named by its row as well.
      await page.locator('#condition-2 .c-field').selectOption({ label: '金额' });
      await page.locator('#condition-2 .c-value input').fill('十万');
      await page.locator('#rule-form').getByRole('button', { name: '保存' }).click();
      await page.locator('#rule-errors').waitFor();
      assert.deepEqual(await page.locator('#rule-errors li').allInnerTexts(), ['条件 2：值不是金额（元，最多两位小数）']);

      // In English, the same refusal in English.
      await page.goto('/admin/rules/new');
      await switchLanguage(page, 'en');
      try {
        await fill('Wrong value', 'Name', 'Created at', 'yesterday', '+ Add a condition', 'Save');
        assert.equal(await text(page.locator('#rule-errors p')), 'The rule was not saved:');
        const en = await text(page.locator('#rule-errors li'));
        assert.ok(en.startsWith("Condition 2: The value is not of the field's type."), en);
        assert.deepEqual(await untranslated(page), []);
        await page.screenshot({ path: screenshotPath('automation-rule-error-en-desktop.png'), fullPage: true });
      } finally {
        await page.goto('/admin/rules');
        await switchLanguage(page, 'zh-CN');
      }

      const names = await ruleNames(page);
      assert.ok(!names.includes('错值规则') && !names.includes('Wrong value'), JSON.stringify(names));
      assert.equal((await api(app.baseURL, adminToken, 'GET', '/api/v1/rules')).length, before);
    } finally {
      await context.close();
    }
  });

  test('a shipped template shows its conditions as rows, saves unchanged, and saves an edit', { timeout: TEST_TIMEOUT }, async () => {
    const id = (await api(app.baseURL, adminToken, 'GET', '/api/v1/rules')).find((r) => r.template_key === 'stuck_in_stage_7').id;
    const before = await api(app.baseURL, adminToken, 'GET', `/api/v1/rules/${id}`);
    const { context, page } = await newPage();
    try {
      await signIn(page, ADMIN);
      await page.goto('/admin/rules');
      await Promise.all([page.waitForURL((u) => u.pathname === `/admin/rules/${id}`), page.getByRole('link', { name: '同一阶段停留 7 天' }).click()]);
      const form = page.locator('#rule-form');
      assert.equal(await form.locator('textarea').count(), 0, 'rows, not JSON');
      assert.equal(await form.locator('select[name="trigger_kind"]').inputValue(), 'schedule');
      assert.equal(await form.locator('#rule-match').inputValue(), 'all');
      const row = (n) => page.locator(`#condition-${n}`);
      assert.equal(await row(1).locator('.c-field option:checked').innerText(), '阶段类型');
      assert.equal(await row(1).locator('.c-value option:checked').innerText(), '进行中');
      assert.equal(await row(2).locator('.c-field option:checked').innerText(), '在当前阶段天数');
      assert.equal(await row(2).locator('.c-op option:checked').innerText(), '≥');
      assert.equal(await row(2).locator('.c-value input').inputValue(), '7');
      assert.equal(await page.locator('#action-1 .a-who').inputValue(), 'owner');
      await page.screenshot({ path: screenshotPath('automation-rule-template-desktop.png'), fullPage: true });

      // Saved with nothing edited: the same rule.
      await Promise.all([page.waitForURL(/saved=/), form.getByRole('button', { name: '保存' }).click()]);
      const same = await api(app.baseURL, adminToken, 'GET', `/api/v1/rules/${id}`);
      for (const k of ['name', 'enabled', 'trigger', 'conditions', 'actions', 'template_key']) assert.deepEqual(same[k], before[k], k);

      // The dry run of the template runs from its rows.
      await page.locator('#rule-form').getByRole('button', { name: '试运行' }).click();
      await page.locator('#dry-run-result').waitFor();

      // An edit: 8 days, and a message for the owner.
      await row(2).locator('.c-value input').fill('8');
      await page.locator('#action-1 input[name="a0_message"]').fill('请推进到下一阶段');
      await Promise.all([page.waitForURL(/saved=/), page.locator('#rule-form').getByRole('button', { name: '保存' }).click()]);
      const edited = await api(app.baseURL, adminToken, 'GET', `/api/v1/rules/${id}`);
      assert.deepEqual(edited.conditions.all[1], { field: 'days_in_stage', op: 'ge', value: 8 });
      assert.deepEqual(edited.actions, [{ kind: 'notify', to: { kind: 'owner' }, message: '请推进到下一阶段' }]);
      assert.equal(edited.template_key, 'stuck_in_stage_7');
      assert.equal(await row(2).locator('.c-value input').inputValue(), '8');
    } finally {
      await context.close();
    }
  });

  test('the working calendar shows the 2026 holidays; a valid edit is saved, a wrong one is refused with its place', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, ADMIN);
      await page.goto('/admin/rules');
      await Promise.all([page.waitForURL((u) => u.pathname === '/admin/calendar'), page.getByRole('link', { name: '工作日历' }).click()]);
      if ((await text(page.locator('nav.tabs [aria-current="page"]').last())) !== '2026') {
        await Promise.all([page.waitForURL(/year=2026/), page.getByRole('link', { name: '2026', exact: true }).click()]);
      }
      assert.equal(await text(page.getByRole('heading', { level: 1 })), '工作日历');
      const holidays = page.locator('#holidays');
      assert.equal(await text(holidays.getByRole('heading', { level: 2 })), '节假日 2026');
      const spring = await text(holidays.locator('tr').filter({ hasText: '春节' }));
      assert.ok(spring.includes('2026-02-15 – 2026-02-23'), spring);
      for (const name of ['元旦', '清明节', '劳动节', '端午节', '中秋节', '国庆节']) {
        assert.ok((await text(holidays)).includes(name), `${name} in 2026`);
      }
      assert.ok((await text(page.locator('#make-up-days'))).includes('2026-02-14'));
      assert.deepEqual(await untranslated(page), []);
      await page.screenshot({ path: screenshotPath('automation-calendar-desktop.png'), fullPage: true });

      // A valid edit: the working day ends at 18:30.
      const editor = page.getByRole('textbox', { name: '编辑日历（JSON）' });
      const json = await editor.inputValue();
      assert.ok(json.includes('"end": "18:00"'), 'the shipped hours');
      await editor.fill(json.replace('"end": "18:00"', '"end": "18:30"'));
      await Promise.all([page.waitForURL(/saved=1/), page.locator('#calendar-editor').getByRole('button', { name: '保存' }).click()]);
      assert.equal(await text(page.locator('p.notice')), '已保存。');
      assert.ok((await editor.inputValue()).includes('"end": "18:30"'));
      assert.equal((await api(app.baseURL, adminToken, 'GET', '/api/v1/settings/calendar')).hours.end, '18:30');

      // A wrong edit: the Spring Festival ends before it begins.
      const saved = await editor.inputValue();
      const wrong = saved.replace('"to": "2026-02-23"', '"to": "2026-02-10"');
      assert.notEqual(wrong, saved);
      await editor.fill(wrong);
      await page.locator('#calendar-editor').getByRole('button', { name: '保存' }).click();
      const error = page.locator('#calendar-error');
      await error.waitFor();
      const message = await text(error);
      assert.match(message, /^holidays\[\d+\]\.to: 结束日期早于开始日期$/, 'the place, in Chinese only');
      assert.equal(await editor.inputValue(), wrong, 'what was typed stays');
      assert.equal(await page.locator('p.notice').count(), 0);
      await page.locator('#calendar-editor').screenshot({ path: screenshotPath('automation-calendar-error-desktop.png') });
      // Nothing of it was saved.
      const cal = await api(app.baseURL, adminToken, 'GET', '/api/v1/settings/calendar');
      assert.equal(cal.holidays.find((h) => h.name_zh === '春节' && h.from === '2026-02-15').to, '2026-02-23');
      assert.equal(cal.hours.end, '18:30');
    } finally {
      await context.close();
    }
  });

  test('an admin is refused a webhook the allow-list does not admit; the delivery log renders', { timeout: TEST_TIMEOUT }, async () => {
    await api(app.baseURL, adminToken, 'PUT', '/api/v1/settings/webhook-allow-list', { entries: ['qyapi.weixin.qq.com'] });
    const { context, page } = await newPage();
    try {
      await signIn(page, ADMIN);
      await page.goto('/admin/rules');
      await Promise.all([page.waitForURL((u) => u.pathname === '/admin/notification-channels'), page.getByRole('link', { name: '通知通道' }).click()]);
      assert.equal(await page.locator('#allow-entries').inputValue(), 'qyapi.weixin.qq.com');
      const form = page.locator('#channel-form');
      assert.equal(await text(form.getByRole('heading', { level: 2 })), '添加通道');
      await form.getByLabel('名称').fill('销售群 Webhook');
      await form.getByLabel('类型').selectOption({ label: 'Webhook（签名 JSON）' });
      await form.getByLabel('地址').fill('https://hooks.example.org/shangji');
      await form.getByLabel('密钥').fill('s3cret-s3cret-s3cret');
      await form.getByRole('button', { name: '保存' }).click();
      const refusal = page.locator('#url-error');
      await refusal.waitFor();
      assert.equal(await text(refusal), '该主机不在 Webhook 白名单中。');
      assert.equal(await form.getByLabel('名称').inputValue(), '销售群 Webhook', 'what was typed stays');
      assert.equal(await form.getByLabel('地址').inputValue(), 'https://hooks.example.org/shangji');
      assert.equal(await page.locator('#channels').count(), 0, 'no channel saved');
      assert.ok((await text(page.locator('main'))).includes('还没有通道。'));
      assert.deepEqual(await api(app.baseURL, adminToken, 'GET', '/api/v1/notification-channels'), []);
      assert.deepEqual(await untranslated(page), []);
      await page.screenshot({ path: screenshotPath('notification-channels-refused-desktop.png'), fullPage: true });

      await Promise.all([page.waitForURL((u) => u.pathname === '/admin/deliveries'), page.getByRole('link', { name: '投递日志' }).click()]);
      assert.equal(await text(page.getByRole('heading', { level: 2 })), '投递日志');
      assert.equal(await text(page.locator('nav.filters [aria-current="page"]')), '全部');
      assert.deepEqual(await page.locator('nav.filters a').allInnerTexts(), ['全部', '等待发送', '等待重试', '已送达', '失败', '等待每日摘要', '已并入摘要']);
      assert.deepEqual(await untranslated(page), []);
      await page.screenshot({ path: screenshotPath('deliveries-desktop.png'), fullPage: true });
      await Promise.all([page.waitForURL(/status=failed/), page.getByRole('link', { name: '失败', exact: true }).click()]);
      assert.equal(await text(page.locator('nav.filters [aria-current="page"]')), '失败');
    } finally {
      await context.close();
    }
  });

  test('a rep reads rule notifications with the unread count in the top bar, marks all read, and saves the email settings', { timeout: TEST_TIMEOUT }, async () => {
    // A rule that tells the owner of every new deal; the rep adds two.
    const rule = await api(app.baseURL, adminToken, 'POST', '/api/v1/rules', {
      name: '新商机提醒',
      trigger: { kind: 'created' },
      conditions: { all: [] },
      actions: [{ kind: 'notify', to: { kind: 'owner' }, message: '请在当天联系客户' }],
    });
    const accounts = await api(app.baseURL, app.token, 'GET', '/api/v1/accounts');
    const accountId = (accounts.items ?? accounts)[0].id;
    const titles = ['国家电网智能巡检', '平安保险理赔平台'];
    for (const title of titles) {
      await api(app.baseURL, app.token, 'POST', '/api/v1/opportunities', { title, account_id: accountId, amount_minor: 2_000_000, close_date: lastDayOfMonth(2) });
    }
    const { context, page } = await newPage();
    try {
      await signIn(page, REP);
      const bell = page.locator('#nav-bell');
      assert.equal(await text(bell.locator('.count')), '2');
      assert.equal(await bell.getAttribute('aria-label'), '通知: 2 条未读');
      await Promise.all([page.waitForURL((u) => u.pathname === '/notifications'), bell.click()]);
      assert.equal(await text(page.getByRole('heading', { level: 1 })), '通知');
      const notes = page.locator('#notification-list > li');
      assert.equal(await notes.count(), 2);
      for (const title of titles) {
        const note = notes.filter({ hasText: title });
        assert.equal(await text(note.getByRole('button', { name: `规则「新商机提醒」：${title}` })), `规则「新商机提醒」：${title}`);
        assert.equal(await text(note.locator('.badge')), '未读');
        assert.ok((await text(note.locator('.note-reasons'))).includes('请在当天联系客户'));
      }
      assert.equal(await page.locator('#notification-list li.unread').count(), 2);
      // The rules the rep may mute here include the new one.
      assert.ok((await page.locator('#preferences').innerText()).includes('新商机提醒'));
      assert.deepEqual(await untranslated(page), []);
      await page.screenshot({ path: screenshotPath('automation-notifications-desktop.png'), fullPage: true });

      await Promise.all([page.waitForURL((u) => u.pathname === '/notifications'), page.getByRole('button', { name: '全部标为已读' }).click()]);
      await page.locator('#notification-list li.unread').first().waitFor({ state: 'detached' });
      assert.equal(await bell.locator('.count').count(), 0, 'no count once all is read');
      assert.equal(await bell.getAttribute('aria-label'), '通知');
      assert.equal(await notes.count(), 2, 'read notifications stay listed');
      assert.equal(await page.locator('#notification-list .badge').count(), 0);

      // Muting the rule in the app.
      await page.locator('#preferences').getByLabel('新商机提醒').check();
      await Promise.all([page.waitForURL((u) => u.pathname === '/notifications'), page.getByRole('button', { name: '保存设置' }).click()]);
      assert.equal(await page.locator('#preferences').getByLabel('新商机提醒').isChecked(), true);
      assert.deepEqual((await api(app.baseURL, app.token, 'GET', '/api/v1/notification-preferences')).muted_rules, [rule.id]);

      // The email settings: every notification by email, to an address typed here.
      await Promise.all([page.waitForURL((u) => u.pathname === '/settings/notifications'), page.getByRole('link', { name: '邮件设置' }).click()]);
      assert.equal(await text(page.getByRole('heading', { level: 1 })), '邮件通知');
      await page.getByLabel('每条通知都发邮件给我').check();
      await page.getByLabel('发送到（留空则用个人资料中的邮箱）').fill('wang.lei@example.com');
      await Promise.all([page.waitForURL(/saved=1/), page.getByRole('button', { name: '保存' }).click()]);
      assert.equal(await text(page.locator('p.notice')), '邮件设置已保存。');
      assert.equal(await page.getByLabel('每条通知都发邮件给我').isChecked(), true);
      assert.equal(await page.getByLabel('改为每天一封邮件，汇总当天的通知（每日摘要）').isChecked(), false);
      assert.equal(await page.getByLabel('发送到（留空则用个人资料中的邮箱）').inputValue(), 'wang.lei@example.com');
      assert.deepEqual(await untranslated(page), []);
      await page.screenshot({ path: screenshotPath('notification-email-settings-desktop.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('on a 375 px phone the automation, channel and notification pages fit', { timeout: TEST_TIMEOUT }, async () => {
    const admin = await newPage(PHONE);
    const rep = await newPage(PHONE);
    try {
      await signIn(admin.page, ADMIN);
      const rules = await api(app.baseURL, adminToken, 'GET', '/api/v1/rules');
      const id = rules.find((r) => r.name === RULE.name).id;
      const template = rules.find((r) => r.template_key === 'no_follow_up_3_working_days');
      /** Each page, its screenshot, and a heading that shows it is that page. */
      for (const [where, shot, heading] of [
        ['/admin/rules', 'automation-rules-375.png', '自动化规则'],
        [`/admin/rules/${id}`, 'automation-rule-375.png', RULE.name],
        ['/admin/rules/new', 'automation-rule-new-375.png', '新建规则'],
        [`/admin/rules/${template.id}`, 'automation-rule-template-375.png', template.name],
        ['/admin/calendar?year=2026', 'automation-calendar-375.png', '节假日 2026'],
        ['/admin/notification-channels', 'notification-channels-375.png', '通知通道'],
        ['/admin/deliveries', 'deliveries-375.png', '投递日志'],
      ]) {
        await admin.page.goto(where);
        const headings = (await admin.page.locator('h1, h2').allInnerTexts()).map((t) => t.trim());
        assert.ok(headings.includes(heading), `${where}: ${heading} in ${JSON.stringify(headings)}`);
        await assertFits(admin.page, 375);
        await admin.page.screenshot({ path: screenshotPath(shot), fullPage: true });
      }
      await signIn(rep.page, REP);
      for (const [where, shot, heading] of [
        ['/notifications', 'automation-notifications-375.png', '通知'],
        ['/settings/notifications', 'notification-email-settings-375.png', '邮件通知'],
      ]) {
        await rep.page.goto(where);
        assert.equal(await text(rep.page.getByRole('heading', { level: 1 })), heading, where);
        await assertFits(rep.page, 375);
        await rep.page.screenshot({ path: screenshotPath(shot), fullPage: true });
      }
    } finally {
      await admin.context.close();
      await rep.context.close();
    }
  });
});
