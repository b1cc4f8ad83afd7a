// Entering a customer from scratch in headless Chromium, as a new rep would: the header's New
// menu, the account form, a contact from the account page, a deal from the account page, and
// an edit of the contact; then the form on a phone.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  ADMIN, PHONE, REP, assertFits, launchBrowser, newPage, screenshotPath, signIn, startApp, text,
} from './support/app.mjs';

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

describe('intake', () => {
  test('a rep creates an account, its contact and a deal from scratch, then edits the contact', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage(browser, app);
    try {
      await signIn(page, REP);
      // The header's New menu.
      await page.locator('#quick-new summary').click();
      await Promise.all([page.waitForURL('**/accounts/new'), page.locator('#new-account').click()]);
      await page.getByRole('heading', { name: '新建客户' }).waitFor();
      // Saving without a name: the error stands beside the name, what was typed stays.
      await page.locator('#f-industry').fill('汽车零部件');
      await page.locator('#form-save').click();
      await page.locator('#f-name-error').waitFor();
      assert.equal(await page.locator('#f-industry').inputValue(), '汽车零部件');
      await page.locator('#f-name').fill('苏州恒远精密制造有限公司');
      await page.locator('#f-size').selectOption('medium');
      await page.locator('#f-tags').fill('重点, 华东');
      await page.screenshot({ path: screenshotPath('intake-account-form.png'), fullPage: true });
      await Promise.all([page.waitForURL(/\/accounts\/\d+$/), page.locator('#form-save').click()]);
      assert.equal(await text(page.locator('#account-name')), '苏州恒远精密制造有限公司');
      const accountUrl = page.url();

      // A contact from the account page starts on that account.
      await Promise.all([page.waitForURL('**/contacts/new?account_id=*'), page.locator('#add-contact-link').click()]);
      const chosen = await page.locator('#f-account_id option:checked').innerText();
      assert.equal(chosen.trim(), '苏州恒远精密制造有限公司');
      await page.locator('#f-name').fill('陈思远');
      await page.locator('#f-title').fill('采购主管');
      await page.locator('#f-mobile').fill('13912345678');
      await Promise.all([page.waitForURL(/\/contacts\/\d+$/), page.locator('#form-save').click()]);
      assert.equal(await text(page.locator('#contact-name')), '陈思远');
      assert.ok((await text(page.locator('#contact-account'))).includes('苏州恒远精密制造有限公司'));
      const contactUrl = page.url();

      // A deal from the account page: the quick-create form opens with the account filled in.
      await page.goto(accountUrl);
      await Promise.all([page.waitForURL('**/board?quick=1**'), page.locator('#new-deal-link').click()]);
      assert.equal(await page.locator('#q-account').inputValue(), '苏州恒远精密制造有限公司');
      await page.locator('#q-title').fill('恒远-检测线升级');
      await page.locator('#q-amount').fill('380000');
      await Promise.all([page.waitForURL('**/board**'), page.locator('#quick button[type=submit]').click()]);
      await page.locator('.board-card', { hasText: '恒远-检测线升级' }).first().waitFor();
      await page.goto(accountUrl);
      assert.ok((await text(page.locator('#account-open'))).includes('恒远-检测线升级'));
      await page.screenshot({ path: screenshotPath('intake-account-page.png'), fullPage: true });

      // Editing the contact.
      await page.goto(contactUrl);
      await Promise.all([page.waitForURL('**/contacts/*/edit'), page.locator('#edit-link').click()]);
      assert.equal(await page.locator('#f-mobile').inputValue(), '13912345678');
      await page.locator('#f-title').fill('副总经理');
      await page.locator('#f-email').fill('chen.sy@hengyuan.example');
      await Promise.all([page.waitForURL(/\/contacts\/\d+$/), page.locator('#form-save').click()]);
      const facts = await text(page.locator('#contact-facts'));
      assert.ok(facts.includes('副总经理') && facts.includes('chen.sy@hengyuan.example'), facts);
      await page.screenshot({ path: screenshotPath('intake-contact-page.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('a rep entering a name variant of a colleague\'s customer is told who has it, without seeing it', { timeout: TEST_TIMEOUT }, async () => {
    const admin = await newPage(browser, app);
    const rep = await newPage(browser, app);
    try {
      // A colleague (the admin here) has the customer.
      await signIn(admin.page, ADMIN);
      await admin.page.goto('/accounts/new');
      await admin.page.locator('#f-name').fill('北京字节跳动科技有限公司');
      await admin.page.locator('#f-notes').fill('年框客户，勿动');
      await Promise.all([admin.page.waitForURL(/\/accounts\/\d+$/), admin.page.locator('#form-save').click()]);

      // The rep enters the same company spelt another way.
      await signIn(rep.page, REP);
      await rep.page.goto('/accounts/new');
      await rep.page.locator('#f-name').fill('字节跳动（北京）科技有限公司');
      await rep.page.locator('#form-save').click();
      const warning = rep.page.locator('#duplicates');
      await warning.waitFor();
      const said = await text(warning);
      assert.ok(said.includes(ADMIN.name) && said.includes('名称相近'), said);
      const page = await rep.page.content();
      assert.ok(!page.includes('北京字节跳动科技有限公司') && !page.includes('年框客户'), 'the colleague\'s record stays hidden');
      await rep.page.screenshot({ path: screenshotPath('intake-duplicate-warning.png'), fullPage: true });
      // Checked: it is another company after all; saving anyway.
      await rep.page.locator('#allow-duplicate').check();
      await Promise.all([rep.page.waitForURL(/\/accounts\/\d+$/), rep.page.locator('#form-save').click()]);
      assert.equal(await text(rep.page.locator('#account-name')), '字节跳动（北京）科技有限公司');
    } finally {
      await admin.context.close();
      await rep.context.close();
    }
  });

  test('on a phone, the New menu and the contact form fit the screen', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage(browser, app, PHONE);
    try {
      await signIn(page, REP);
      await page.locator('#quick-new summary').tap();
      await Promise.all([page.waitForURL('**/contacts/new'), page.locator('#new-contact').tap()]);
      await page.getByRole('heading', { name: '新建联系人' }).waitFor();
      await assertFits(page, 375);
      await page.screenshot({ path: screenshotPath('intake-contact-form-375.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });
});
