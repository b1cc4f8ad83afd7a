// Web-to-lead as it happens on a customer's website, in headless Chromium: an anonymous
// visitor on another site's landing page (with UTM parameters in its address) fills in the
// embedded form; the lead appears for the team the form routes to, scored, with its reasons
// in words and where it came from. Then an admin's view of the form and its submission log.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import { SEEDED, launchBrowser, newPage, screenshotPath, signIn, startSeededApp, text, watchCsp } from './support/app.mjs';

const TEST_TIMEOUT = 180_000;

let app;
let browser;
let site;
let siteURL;

before(async () => {
  app = await startSeededApp('webform', 800);
  browser = await launchBrowser();
  // The customer's own website, on another origin, with the snippet the admin page gives.
  site = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html><head><meta charset="utf-8"><title>精工机械 · 春季展</title></head>
<body><h1>春季新品发布</h1><p>预约工程师上门演示：</p>
<script src="${app.baseURL}/f/demo/embed.js" async></script></body></html>`);
  });
  await new Promise((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteURL = `http://127.0.0.1:${site.address().port}`;
}, { timeout: 300_000 });

after(async () => {
  site?.close();
  await browser?.close();
  await app?.stop();
});

describe('web-to-lead', () => {
  test('a visitor submits the embedded form and the lead appears routed, scored and explained', { timeout: TEST_TIMEOUT }, async () => {
    const visitor = watchCsp(await browser.newContext({ viewport: { width: 1280, height: 900 } }));
    try {
      const page = await visitor.newPage();
      await page.goto(`${siteURL}/landing?utm_source=baidu&utm_campaign=spring-expo`);
      const frame = page.frameLocator('iframe[data-shangji-form]');
      await frame.getByRole('heading', { name: '预约产品演示' }).waitFor();
      await frame.locator('#w-contact_name').fill('赵工');
      await frame.locator('#w-company').fill('无锡新能源装备有限公司');
      await frame.locator('#w-mobile').fill('139 1234 0001');
      await frame.locator('#w-email').fill('zhao@wx-newenergy.com.cn');
      await frame.locator('#w-title').fill('设备部部长');
      await frame.locator('#w-notes').fill('想了解数控机床的交期');
      // A person takes a few seconds; a robot does not.
      await page.waitForTimeout(3500);
      await page.screenshot({ path: screenshotPath('web-form-embedded.png'), fullPage: true });
      await frame.locator('#form-send').click();
      await frame.locator('#form-thanks').waitFor();
      assert.match(await text(frame.locator('#form-thanks')), /谢谢/);
    } finally {
      await visitor.close();
    }

    const { context, page } = await newPage(browser, app);
    try {
      await signIn(page, SEEDED.admin);
      await page.goto(`${app.baseURL}/leads?q=${encodeURIComponent('无锡新能源装备')}`);
      await Promise.all([page.waitForURL(/\/leads\/\d+$/), page.getByRole('link', { name: /无锡新能源装备/ }).first().click()]);
      // Where it came from: the form and the landing page's campaign.
      const origin = await text(page.locator('#lead-origin'));
      assert.ok(origin.includes('官网预约演示'), origin);
      assert.ok(origin.includes('utm_source=baidu'), origin);
      assert.ok(origin.includes('utm_campaign=spring-expo'), origin);
      // Routed to the form's team (华东大区), not left in the pool.
      const facts = await text(page.locator('dl.facts'));
      assert.ok(!facts.includes('公海'), facts);
      // Scored, with its reasons in words: the submission itself counts.
      const score = Number(await text(page.locator('#lead-score-value')));
      assert.ok(score > 0 && score <= 100, String(score));
      assert.match(await text(page.locator('#lead-grade')), /^[ABCD]$/);
      const factors = await text(page.locator('#lead-factors'));
      assert.ok(factors.includes('今天提交表单 +8'), factors);
      assert.ok(factors.includes('预测：'), factors);
      await page.screenshot({ path: screenshotPath('web-form-lead.png'), fullPage: true });

      // The admin's form page: the snippet and the log, with the accepted submission.
      await page.goto(`${app.baseURL}/admin/web-forms`);
      await Promise.all([page.waitForURL(/\/admin\/web-forms\/\d+$/), page.getByRole('link', { name: '官网预约演示' }).click()]);
      assert.ok((await page.locator('#wf-script-snippet').inputValue()).includes('/f/demo/embed.js'));
      const log = await text(page.locator('#wf-log'));
      assert.ok(log.includes('已成为线索'), log);
      await page.screenshot({ path: screenshotPath('web-form-admin.png'), fullPage: true });

      // Scoring settings: the model's measured quality is shown to the admin.
      await page.goto(`${app.baseURL}/admin/scoring`);
      const auc = await text(page.locator('#model-auc'));
      assert.match(auc, /0\.\d{3}/);
      await page.screenshot({ path: screenshotPath('scoring-admin.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });
});
