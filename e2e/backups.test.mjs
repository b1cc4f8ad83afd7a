// Backups in the browser: an admin opens Settings → 备份, presses 立即备份 and sees the new
// backup listed as verified, with its archive to download; a rep is turned away. Headless
// Chromium against a real `shangji serve` on a fresh database. Run with `npm test` in e2e/
// after `cargo build` at the repository root.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ADMIN, DESKTOP, PHONE, REP, WAIT, assertFits, launchBrowser, newPage as openPage, screenshotPath, signIn, startApp, text } from './support/app.mjs';

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

describe('backups', () => {
  test('an admin backs up now and sees the backup verified', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage(DESKTOP);
    try {
      await signIn(page, ADMIN);
      await page.goto('/admin/backups');
      await page.locator('h1', { hasText: '备份' }).waitFor({ timeout: WAIT });
      const rows = page.locator('#backups tbody tr');
      const before = await rows.count();
      await Promise.all([
        page.waitForURL(/\/admin\/backups\?taken=\d+/, { timeout: WAIT }),
        page.getByRole('button', { name: '立即备份' }).click(),
      ]);
      assert.equal(await text(page.locator('#backup-notice')), '备份完成，已验证。');
      assert.equal(await rows.count(), before + 1);
      const id = new URL(page.url()).searchParams.get('taken');
      const row = page.locator(`#backup-${id}`);
      assert.equal(await text(row.locator('.backup-status')), '已验证');
      assert.match(await text(row.locator('td').nth(1)), /手动/);
      const link = row.locator('a[download]');
      assert.match(await text(link), /^shangji-\d{8}-\d{6}(-\d+)?\.zip$/);
      const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
      assert.equal(download.suggestedFilename(), await text(link));
      await page.screenshot({ path: screenshotPath('backups-laptop.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('the backups page fits a phone; a rep may not open it', { timeout: TEST_TIMEOUT }, async () => {
    const phone = await newPage(PHONE);
    try {
      await signIn(phone.page, ADMIN);
      await phone.page.goto('/admin/backups');
      await phone.page.locator('#backup-now').waitFor({ timeout: WAIT });
      await assertFits(phone.page, 375);
      await phone.page.screenshot({ path: screenshotPath('backups-375.png'), fullPage: true });
    } finally {
      await phone.context.close();
    }
    const { context, page } = await newPage(DESKTOP);
    try {
      await signIn(page, REP);
      const res = await page.goto('/admin/backups');
      assert.equal(res.status(), 403);
      assert.equal(await page.locator('#backup-now').count(), 0);
    } finally {
      await context.close();
    }
  });
});
