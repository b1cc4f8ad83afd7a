// The public pool of leads in the browser: an admin gives the teams their regions; a rep returns
// a lead to the pool from its page with a reason, finds it on the pool's lead tab and claims
// it back, its owner history telling both; a lead of another region, once returned, is out
// of the rep's sight. Headless Chromium against a real `shangji serve` on a fresh database.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ADMIN, REP, WAIT, api, assertFits, launchBrowser, newPage as openPage, openNavMenu, screenshotPath, signIn, text } from './support/app.mjs';
import { startApp } from './support/app.mjs';

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

describe('the pool of leads', () => {
  test('a team sees the pool of its region; a rep returns a lead and claims it back', { timeout: TEST_TIMEOUT }, async () => {
    const east = await api(app.baseURL, app.token, 'POST', '/api/v1/leads', { company_name: '苏州恒达精密机械有限公司', region: '华东' });
    const south = await api(app.baseURL, app.token, 'POST', '/api/v1/leads', { company_name: '东莞华达电子有限公司', region: '华南' });

    // The admin says which region the rep's team covers.
    const a = await newPage();
    try {
      await signIn(a.page, ADMIN);
      await a.page.goto(`${app.baseURL}/admin/teams`);
      await Promise.all([a.page.waitForURL((u) => /\/admin\/teams\/\d+$/.test(u.pathname)), a.page.locator('#team-tree').getByRole('link', { name: REP.team, exact: true }).click()]);
      await a.page.locator('#t-regions').fill('华东，上海');
      await Promise.all([a.page.waitForURL((u) => u.search.includes('saved=1')), a.page.getByRole('button', { name: '保存' }).click()]);
      assert.equal(await a.page.locator('#t-regions').inputValue(), '华东, 上海');
      assert.match(await text(a.page.locator('#team-tree')), /华东、上海/);
      // A team for 华南, so that 华南's pool is theirs (a region no team covers is everyone's).
      await a.page.goto(`${app.baseURL}/admin/teams`);
      await a.page.locator('#t-name').fill('华南大区');
      await a.page.locator('#t-regions').fill('华南');
      await Promise.all([a.page.waitForURL((u) => u.search.includes('saved=1')), a.page.getByRole('button', { name: '保存' }).click()]);
      assert.match(await text(a.page.locator('#team-tree')), /华南大区/);
    } finally {
      await a.context.close();
    }

    const { context, page } = await newPage();
    try {
      await signIn(page, REP);
      // Another region's lead, returned: out of the rep's sight from then on.
      await page.goto(`${app.baseURL}/leads/${south.id}`);
      await page.locator('#pool-release summary').click();
      await Promise.all([page.waitForURL((u) => u.pathname === '/pool/leads'), page.locator('#pool-release-submit').click()]);
      assert.match(await text(page.locator('#pool-notice')), /已退回公海/);
      assert.equal(await page.locator('#pool-list tbody tr').filter({ hasText: '东莞华达电子有限公司' }).count(), 0, 'another region\'s lead is not listed');
      const gone = await page.goto(`${app.baseURL}/leads/${south.id}`);
      assert.equal(gone.status(), 404);

      // Their own region's lead, returned with a reason, waits on the lead tab.
      await page.goto(`${app.baseURL}/leads/${east.id}`);
      await page.locator('#pool-release summary').click();
      await page.locator('#pool-release-reason').fill('客户下季度再采购');
      await Promise.all([page.waitForURL((u) => u.pathname === '/pool/leads'), page.locator('#pool-release-submit').click()]);
      await openNavMenu(page, '销售');
      await Promise.all([page.waitForURL((u) => u.pathname === '/pool'), page.locator('#nav-pool').click()]);
      await Promise.all([page.waitForURL((u) => u.pathname === '/pool/leads'), page.locator('#pool-tab-leads').click()]);
      const rows = page.locator('#pool-list tbody tr').filter({ hasText: '苏州恒达精密机械有限公司' });
      assert.equal(await rows.count(), 1);
      assert.match(await text(rows.first()), /华东/);
      assert.equal(await page.locator('#pool-list tbody tr').filter({ hasText: '东莞华达电子有限公司' }).count(), 0);
      assert.match(await text(page.locator('#pool-claims-left')), /今天还可领取 20 个/);
      await page.screenshot({ path: screenshotPath('lead-pool-desktop.png'), fullPage: true });

      await Promise.all([page.waitForURL((u) => u.pathname === `/leads/${east.id}`), rows.first().getByRole('button', { name: '领取' }).click()]);
      assert.equal(await page.locator('#pool-claim').count(), 0, 'claimed: no longer in the pool');
      await page.locator('#pool-history summary').click();
      const history = await text(page.locator('#pool-history'));
      assert.match(history, new RegExp(`${REP.name} 退回公海 · 客户下季度再采购`));
      assert.match(history, new RegExp(`${REP.name} 接手（从公海领取）`));
      const lead = await api(app.baseURL, app.token, 'GET', `/api/v1/leads/${east.id}`);
      assert.equal(lead.pool_since, null);
      await page.screenshot({ path: screenshotPath('lead-claimed-desktop.png'), fullPage: true });

      // On a phone the pool's lead tab fits the screen.
      await page.setViewportSize({ width: 375, height: 740 });
      await page.goto(`${app.baseURL}/pool/leads`);
      await assertFits(page, 375);
      await page.screenshot({ path: screenshotPath('lead-pool-375.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });
});
