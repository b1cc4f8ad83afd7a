// Merging duplicates in headless Chromium: a rep entered one company twice; from the account
// page the duplicate is offered, the two are compared field by field, and after the merge the
// account's page shows the contact and the follow-up that were on the other one; the admin's
// merge log names who merged what.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ADMIN, REP, api, launchBrowser, newPage, screenshotPath, signIn, startApp, text } from './support/app.mjs';

const TEST_TIMEOUT = 180_000;

let app;
let browser;

before(async () => {
  app = await startApp();
  browser = await launchBrowser();
}, { timeout: 240_000 });

after(async () => {
  await browser?.close();
  await app?.stop();
});

describe('merge', () => {
  test('two accounts of one company become one and its page shows everything of both', { timeout: TEST_TIMEOUT }, async () => {
    const keep = await api(app.baseURL, app.token, 'POST', '/api/v1/accounts', { name: '宁德精工机械有限公司', notes: '老客户' });
    const other = await api(app.baseURL, app.token, 'POST', '/api/v1/accounts', {
      name: '宁德精工机械股份有限公司', industry: '机械制造', allow_duplicate: true,
    });
    await api(app.baseURL, app.token, 'POST', '/api/v1/contacts', { name: '林工', account_id: other.id, mobile: '13600000077' });
    await api(app.baseURL, app.token, 'POST', '/api/v1/activities', { kind: 'visit', summary: '上门看产线', account_id: other.id });

    const { context, page } = await newPage(browser, app);
    try {
      page.on('dialog', (d) => d.accept());
      await signIn(page, REP);
      await page.goto(`${app.baseURL}/accounts/${keep.id}`);
      await Promise.all([page.waitForURL(`**/accounts/${keep.id}/merge`), page.locator('#merge-link').click()]);
      await Promise.all([
        page.waitForURL(`**/accounts/${keep.id}/merge?with=${other.id}`),
        page.locator('#merge-candidates a', { hasText: '宁德精工机械股份有限公司' }).click(),
      ]);
      // Take the full legal name; the empty industry is taken by default.
      await page.locator('#take-name').check();
      assert.ok(await page.locator('#take-industry').isChecked());
      await page.screenshot({ path: screenshotPath('merge-compare.png'), fullPage: true });
      await Promise.all([page.waitForURL(`**/accounts/${keep.id}?merged=1`), page.locator('#merge-submit').click()]);
      assert.equal(await text(page.locator('#account-name')), '宁德精工机械股份有限公司');
      const body = await text(page.locator('main'));
      assert.ok(body.includes('林工'), 'the contact moved');
      assert.ok(body.includes('上门看产线'), 'the follow-up moved');
      await page.screenshot({ path: screenshotPath('merge-done.png'), fullPage: true });
    } finally {
      await context.close();
    }

    const admin = await newPage(browser, app);
    try {
      await signIn(admin.page, ADMIN);
      await admin.page.goto(`${app.baseURL}/admin/merges`);
      const log = await text(admin.page.locator('#merges'));
      assert.ok(log.includes(REP.name), log);
      assert.ok(log.includes('宁德精工机械股份有限公司'), log);
    } finally {
      await admin.context.close();
    }
  });
});
