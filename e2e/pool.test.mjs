// The public pool (公海) in the browser: a rep returns a deal to the pool from its page with a
// reason, finds it on the pool page and claims it back with a click; an admin writes an
// assignment rule in the form (and is told, in the page's language, what is wrong with a bad
// one); the manager hands a pool deal over by the rules. Headless Chromium against a real
// `shangji serve` on a fresh database. Run with `npm test` in e2e/ after `cargo build`.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ADMIN, MANAGER, OPPORTUNITIES, REP, WAIT, api, assertFits, launchBrowser, newPage as openPage, openNavMenu, screenshotPath, signIn, text } from './support/app.mjs';
import { startApp } from './support/app.mjs';

const TEST_TIMEOUT = 120_000;
const DEAL = OPPORTUNITIES[1].title;

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

async function dealId(title) {
  const page = await api(app.baseURL, app.token, 'GET', `/api/v1/opportunities?q=${encodeURIComponent(title)}`);
  return page.items.find((o) => o.title === title).id;
}

describe('the public pool', () => {
  test('a rep returns a deal to the pool and claims it back; the pool page shows it waiting', { timeout: TEST_TIMEOUT }, async () => {
    const id = await dealId(DEAL);
    const { context, page } = await newPage();
    try {
      await signIn(page, REP);
      await page.goto(`${app.baseURL}/opportunities/${id}`);
      await page.locator('#pool-release summary').click();
      await page.locator('#pool-reason').fill('客户项目暂停，交给其他同事跟进');
      await Promise.all([page.waitForURL((u) => u.pathname === `/opportunities/${id}`), page.locator('#pool-release-submit').click()]);
      await page.locator('#opp-in-pool').waitFor({ timeout: WAIT });
      assert.equal(await text(page.locator('#opp-in-pool')), '在公海中');
      assert.match(await text(page.locator('#timeline')), /放入公海：客户项目暂停/);

      // The pool from the header: the deal waits, with the rep's claims left.
      await openNavMenu(page, '销售');
      await Promise.all([page.waitForURL((u) => u.pathname === '/pool'), page.locator('#nav-pool').click()]);
      assert.equal(await text(page.getByRole('heading', { level: 1 })), '公海');
      const row = page.locator('#pool-list tbody tr').filter({ hasText: DEAL });
      assert.equal(await row.count(), 1);
      assert.match(await text(row), new RegExp(REP.name));
      assert.match(await text(page.locator('#pool-claims-left')), /今天还可领取 5 个/);
      await page.screenshot({ path: screenshotPath('pool-desktop.png'), fullPage: true });

      await Promise.all([page.waitForURL((u) => u.pathname === `/opportunities/${id}`), row.getByRole('button', { name: '领取' }).click()]);
      assert.equal(await page.locator('#opp-in-pool').count(), 0);
      assert.equal(await text(page.locator('#opp-owner')), REP.name);
      assert.match(await text(page.locator('#timeline')), /分配给 王磊（从公海领取）/);
      const opp = await api(app.baseURL, app.token, 'GET', `/api/v1/opportunities/${id}`);
      assert.equal(opp.pool_since, null);
    } finally {
      await context.close();
    }
  });

  test('an admin writes assignment rules and the manager hands a pool deal over by them', { timeout: TEST_TIMEOUT }, async () => {
    const id = await dealId(OPPORTUNITIES[0].title);
    await api(app.baseURL, app.token, 'POST', `/api/v1/opportunities/${id}/release`, { reason: '测试' });
    const { context, page } = await newPage();
    try {
      await signIn(page, ADMIN);
      await page.goto(`${app.baseURL}/admin/assignment`);
      assert.equal(await text(page.getByRole('heading', { level: 1 })), '分配规则');
      // A condition on a field that does not exist: refused, said in Chinese, nothing saved.
      await page.locator('#assignment-name').fill('华东按产能');
      await page.locator('#assignment-team').selectOption({ label: REP.team });
      await page.locator('#assignment-method').selectOption('capacity');
      await page.locator('#assignment-conditions').fill('{"field": "no_such_field", "op": "eq", "value": 1}');
      await page.locator('#assignment-save').click();
      await page.locator('#assignment-errors').waitFor({ timeout: WAIT });
      assert.match(await text(page.locator('#assignment-errors')), /no_such_field/);
      assert.equal(await page.locator('#assignment-list').count(), 0);
      assert.equal(await page.locator('#assignment-name').inputValue(), '华东按产能', 'what was typed stays');

      await page.locator('#assignment-conditions').fill('{"field": "stage_kind", "op": "eq", "value": "open"}');
      await page.locator(`input[name="member"]`).first().waitFor();
      await page.locator('#assignment-save').click();
      await page.locator('#assignment-list').waitFor({ timeout: WAIT });
      const row = page.locator('#assignment-list tbody tr').first();
      assert.match(await text(row), /华东按产能/);
      assert.match(await text(row), /按产能/);
      assert.match(await text(row), new RegExp(`${REP.name} \\(10\\)`));
      await assertFits(page, 1280);
      await page.screenshot({ path: screenshotPath('assignment-admin-desktop.png'), fullPage: true });
    } finally {
      await context.close();
    }

    const m = await newPage();
    try {
      await signIn(m.page, MANAGER);
      await m.page.goto(`${app.baseURL}/pool`);
      assert.equal(await m.page.locator('#pool-sla').count(), 1, 'the manager sees the SLA');
      const row = m.page.locator('#pool-list tbody tr').filter({ hasText: OPPORTUNITIES[0].title });
      await Promise.all([m.page.waitForURL((u) => u.search.includes('assigned=')), row.getByRole('button', { name: '按规则分配' }).click()]);
      assert.match(await text(m.page.locator('#pool-notice')), /已按分配规则分配/);
      const opp = await api(app.baseURL, app.token, 'GET', `/api/v1/opportunities/${id}`);
      assert.equal(opp.pool_since, null);
      await m.page.screenshot({ path: screenshotPath('pool-manager-desktop.png'), fullPage: true });
    } finally {
      await m.context.close();
    }
  });
});
