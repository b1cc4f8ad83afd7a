// The record pages in headless Chromium: the today page on a phone, logging a follow-up in
// at most three taps, the language of every label, visibility by URL, an inline edit.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  ACCOUNTS, ADMIN, DESKTOP, MANAGER, OPPORTUNITIES, PHONE, REP, api, assertFits, chinaDay, launchBrowser, newPage,
  screenshotPath, signIn, startApp, text,
} from './support/app.mjs';

const TEST_TIMEOUT = 180_000;

let app;
let browser;
let opportunities;

before(async () => {
  app = await startApp();
  browser = await launchBrowser();
  opportunities = (await api(app.baseURL, app.token, 'GET', '/api/v1/opportunities?per_page=50')).items;
}, { timeout: 240_000 });

after(async () => {
  await browser?.close();
  await app?.stop();
});

function opp(title) {
  return opportunities.find((o) => o.title === title);
}

/** Chinese characters. */
const CJK = /[\u3400-\u9fff]/;

describe('record pages', () => {
  test('on a phone, a follow-up is logged from the today page in three taps and shows on the deal', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage(browser, app, PHONE);
    try {
      await signIn(page, REP);
      await assertFits(page, 375);
      await page.screenshot({ path: screenshotPath('records-today-375.png'), fullPage: true });
      const target = opp(OPPORTUNITIES[0].title);
      // Tap 1: the deal's "记跟进" on the today page (every new deal is listed as never followed up).
      const row = page.locator('#today-unfollowed li', { hasText: OPPORTUNITIES[0].title });
      await Promise.all([page.waitForURL(`**/opportunities/${target.id}/follow-up`), row.getByRole('link', { name: '记跟进' }).tap()]);
      await assertFits(page, 375);
      // Typing (the type defaults to a call).
      await page.getByLabel('跟进内容').fill('电话沟通了迁移计划，客户希望下周看方案');
      await page.getByLabel('下一步', { exact: true }).fill('发送迁移方案');
      await page.getByLabel('下一步日期').fill(chinaDay(2));
      await page.screenshot({ path: screenshotPath('records-follow-up-375.png'), fullPage: true });
      // Tap 2: save. Lands on the deal's timeline.
      await Promise.all([page.waitForURL(`**/opportunities/${target.id}?logged=1**`), page.getByRole('button', { name: '保存跟进' }).tap()]);
      const timeline = await text(page.locator('#timeline'));
      assert.ok(timeline.includes('电话：电话沟通了迁移计划'), timeline);
      const tasks = await text(page.locator('#opp-tasks'));
      assert.ok(tasks.includes('发送迁移方案') && tasks.includes(chinaDay(2)), tasks);
      assert.ok((await text(page.locator('#opp-next-step'))).includes('发送迁移方案'));
      await assertFits(page, 375);
      await page.screenshot({ path: screenshotPath('records-opportunity-375.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('switching language changes every label of the today page', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage(browser, app, DESKTOP);
    const labels = 'main h1, main h2, main th, main .stat .label, main a.button, main button, main .toggle a, main p.muted:not(.small)';
    try {
      await signIn(page, MANAGER);
      await page.screenshot({ path: screenshotPath('records-today-zh-desktop.png'), fullPage: true });
      const zh = await page.locator(labels).allInnerTexts();
      for (const t of zh) assert.ok(!/[A-Za-z]{3,}/.test(t), `English left in Chinese mode: ${t}`);
      await page.locator('#lang-select').selectOption('en');
      await Promise.all([page.waitForURL((u) => u.pathname === '/'), page.getByRole('button', { name: '切换' }).click()]);
      await page.getByRole('heading', { name: `Hello, ${MANAGER.name}` }).waitFor();
      // The team view too (the rep's deals, titles in Chinese, are data, not labels).
      await page.getByRole('link', { name: 'My team' }).click();
      await page.waitForURL('**/?team=1');
      const en = await page.locator(labels).allInnerTexts();
      for (const t of en) {
        const label = t.replace(MANAGER.name, '');
        assert.ok(!CJK.test(label), `Chinese left in English mode: ${t}`);
      }
      await page.screenshot({ path: screenshotPath('records-today-en-desktop.png'), fullPage: true });
      await page.locator('#lang-select').selectOption('zh-CN');
      await Promise.all([page.waitForURL((u) => u.pathname === '/'), page.locator('form.lang button').click()]);
    } finally {
      await context.close();
    }
  });

  test('a rep opening another rep\'s opportunity by its address sees not found', { timeout: TEST_TIMEOUT }, async () => {
    // Another rep with an opportunity of their own.
    const other = await api(app.baseURL, app.token, 'GET', '/api/v1/users/me');
    assert.ok(other.id);
    const { context, page } = await newPage(browser, app, PHONE);
    try {
      await signIn(page, ADMIN);
      const account = await page.evaluate(async () => {
        const csrf = document.querySelector('meta[name=csrf-token]').content;
        const post = (path, body) => fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: JSON.stringify(body) }).then((r) => r.json());
        const a = await post('/api/v1/accounts', { name: '管理员的客户' });
        const o = await post('/api/v1/opportunities', { title: '管理员的商机', account_id: a.id, amount_minor: 100 });
        return { account: a.id, opp: o.id };
      });
      await context.clearCookies();
      await signIn(page, REP);
      let res = await page.goto(`/opportunities/${account.opp}`);
      assert.equal(res.status(), 404);
      assert.ok(!(await page.content()).includes('管理员的商机'));
      await page.screenshot({ path: screenshotPath('records-not-found-375.png'), fullPage: true });
      res = await page.goto(`/accounts/${account.account}`);
      assert.equal(res.status(), 404);
      // Their own account opens, whole.
      const mine = await api(app.baseURL, app.token, 'GET', '/api/v1/accounts?per_page=10');
      const huawei = mine.items.find((a) => a.name === ACCOUNTS[0]);
      res = await page.goto(`/accounts/${huawei.id}`);
      assert.equal(res.status(), 200);
      assert.ok((await text(page.locator('#account-open'))).includes(OPPORTUNITIES[2].title));
      await assertFits(page, 375);
      await page.screenshot({ path: screenshotPath('records-account-375.png'), fullPage: true });
      await page.setViewportSize(DESKTOP.viewport);
      await page.screenshot({ path: screenshotPath('records-account-desktop.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('the amount is edited in place', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage(browser, app, DESKTOP);
    try {
      await signIn(page, REP);
      const target = opp(OPPORTUNITIES[1].title);
      await page.goto(`/opportunities/${target.id}`);
      await page.getByRole('link', { name: '修改: 金额' }).click();
      const input = page.locator('#edit-amount');
      await input.waitFor();
      await input.fill('88,000');
      await page.locator('#f-amount').getByRole('button', { name: '保存' }).click();
      await page.locator('#opp-amount').waitFor();
      assert.equal(await text(page.locator('#opp-amount')), '¥88,000.00');
      // A bad amount stays in the box with the reason beside it.
      await page.getByRole('link', { name: '修改: 金额' }).click();
      await page.locator('#edit-amount').fill('八万');
      await page.locator('#f-amount').getByRole('button', { name: '保存' }).click();
      await page.locator('#edit-amount-error').waitFor();
      assert.equal(await page.locator('#edit-amount').inputValue(), '八万');
      await page.screenshot({ path: screenshotPath('records-inline-edit-desktop.png'), fullPage: true });
      await page.reload();
      assert.equal(await text(page.locator('#opp-amount')), '¥88,000.00');
      await page.setViewportSize(PHONE.viewport);
      await assertFits(page, 375);
      await page.screenshot({ path: screenshotPath('records-inline-edit-375.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });
});
