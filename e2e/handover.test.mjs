// Handover in headless Chromium: a rep leaves; the admin opens the rep's page in Settings →
// Users, chooses "Hand over", picks a colleague, sees the preview counts, runs it and reads
// the report; the colleague signs in and finds the accounts and deals in their lists. At
// laptop width for the admin, phone width for the receiver and the report.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  ACCOUNTS, ADMIN, DESKTOP, OPPORTUNITIES, PHONE, REP, launchBrowser, newPage, screenshotPath, signIn, startApp, text,
} from './support/app.mjs';

const TEST_TIMEOUT = 180_000;
const RECEIVER = { login: 'rep.next', password: 'sales5678', name: '赵敏' };

let app;
let browser;

before(async () => {
  app = await startApp();
  app.cli(
    ['user', 'add', RECEIVER.login, '--role', 'rep', '--team', REP.team, '--name', RECEIVER.name, '--password-stdin'],
    `${RECEIVER.password}\n`,
  );
  browser = await launchBrowser();
}, { timeout: 240_000 });

after(async () => {
  await browser?.close();
  await app?.stop();
});

describe('handover', () => {
  test('an admin hands a leaving rep\'s book to a colleague, who then has it', { timeout: TEST_TIMEOUT }, async () => {
    const admin = await newPage(browser, app, DESKTOP);
    let reportURL;
    try {
      await signIn(admin.page, ADMIN);
      await admin.page.goto(`${app.baseURL}/admin/users`);
      await Promise.all([
        admin.page.waitForURL('**/admin/users/*'),
        admin.page.locator('a', { hasText: REP.login }).first().click(),
      ]);
      await Promise.all([
        admin.page.waitForURL('**/handovers/new?from=*'),
        admin.page.locator('#user-hand-over').click(),
      ]);
      await admin.page.locator('label', { hasText: RECEIVER.name }).locator('input').check();
      await admin.page.locator('#handover-preview-button').click();
      const preview = admin.page.locator('#handover-preview');
      await preview.waitFor();
      const row = await text(preview.locator('tbody tr').first());
      assert.ok(row.includes(RECEIVER.name), row);
      const cells = await preview.locator('tbody tr').first().locator('td').allTextContents();
      // Accounts, contacts, leads, deals, tasks… in the catalogue's order.
      assert.equal(Number(cells[0]), ACCOUNTS.length, `accounts: ${cells}`);
      assert.equal(Number(cells[3]), OPPORTUNITIES.length, `deals: ${cells}`);
      await admin.page.screenshot({ path: screenshotPath('handover-preview.png'), fullPage: true });
      await Promise.all([
        admin.page.waitForURL(/\/handovers\/\d+$/),
        admin.page.locator('#handover-run').click(),
      ]);
      reportURL = admin.page.url();
      const status = await text(admin.page.locator('#handover-status'));
      assert.ok(/已完成|Done/.test(status), status);
      const report = await text(admin.page.locator('main'));
      for (const o of OPPORTUNITIES) assert.ok(report.includes(o.title), `${o.title} in the report`);
      await admin.page.screenshot({ path: screenshotPath('handover-report.png'), fullPage: true });
    } finally {
      await admin.context.close();
    }

    const receiver = await newPage(browser, app, PHONE);
    try {
      await signIn(receiver.page, RECEIVER);
      await receiver.page.goto(`${app.baseURL}/accounts`);
      const accounts = await text(receiver.page.locator('main'));
      for (const name of ACCOUNTS) assert.ok(accounts.includes(name), `${name} in ${accounts}`);
      await receiver.page.goto(`${app.baseURL}/opportunities`);
      const deals = await text(receiver.page.locator('main'));
      for (const o of OPPORTUNITIES) assert.ok(deals.includes(o.title), `${o.title} in the receiver's deals`);
      await receiver.page.screenshot({ path: screenshotPath('handover-receiver-phone.png'), fullPage: true });
    } finally {
      await receiver.context.close();
    }

    const phone = await newPage(browser, app, PHONE);
    try {
      await signIn(phone.page, ADMIN);
      await phone.page.goto(reportURL);
      const width = await phone.page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 380, `the report fits a phone (${width}px)`);
      await phone.page.screenshot({ path: screenshotPath('handover-report-phone.png'), fullPage: true });
    } finally {
      await phone.context.close();
    }
  });
});
