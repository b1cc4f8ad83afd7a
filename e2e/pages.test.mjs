// The pages as a person uses them, in headless Chromium against a real `shangji serve`.
// Run with `npm test` in e2e/ after `cargo build` at the repository root.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { OPPORTUNITIES, REP, launchBrowser, openNavMenu, screenshotPath, startApp, watchCsp } from './support/app.mjs';

const TEST_TIMEOUT = 120_000;
const WAIT = 30_000;

let app;
let browser;

before(async () => {
  app = await startApp();
  browser = await launchBrowser();
}, { timeout: 180_000 });

after(async () => {
  await browser?.close();
  await app?.stop();
});

/** A fresh browser profile (no cookies). Chinese unless another locale is asked for. */
async function newPage(options = {}) {
  const context = watchCsp(await browser.newContext({ baseURL: app.baseURL, locale: 'zh-CN', ...options }));
  context.setDefaultTimeout(WAIT);
  context.setDefaultNavigationTimeout(WAIT);
  const page = await context.newPage();
  return { context, page };
}

function pathOf(page) {
  const u = new URL(page.url());
  return u.pathname + u.search;
}

/** Signs in through the login form as a person does; ends on the home page. */
async function signIn(page, { password = REP.password, loginLabel = '账号', passwordLabel = '密码', submit = '登录' } = {}) {
  await page.goto('/login');
  await page.getByLabel(loginLabel, { exact: true }).fill(REP.login);
  await page.getByLabel(passwordLabel, { exact: true }).fill(password);
  await Promise.all([page.waitForURL((u) => u.pathname === '/'), page.getByRole('button', { name: submit, exact: true }).click()]);
}

async function text(locator) {
  return (await locator.innerText()).trim();
}

describe('shangji pages', () => {
  test('visiting / sends a stranger to sign in; a wrong password is refused in Chinese', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      const res = await page.goto('/');
      assert.equal(res.status(), 200);
      assert.equal(pathOf(page), '/login?next=/');
      assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
      assert.equal(await text(page.getByRole('heading', { level: 1 })), '登录');
      assert.equal(await page.locator('#login-error').count(), 0);
      await page.screenshot({ path: screenshotPath('login-desktop.png'), fullPage: true });

      await page.getByLabel('账号', { exact: true }).fill(REP.login);
      await page.getByLabel('密码', { exact: true }).fill('not-the-password');
      await page.getByRole('button', { name: '登录', exact: true }).click();
      const error = page.locator('#login-error');
      await error.waitFor();
      assert.equal(await text(error), '账号或密码不正确。');
      assert.equal(new URL(page.url()).pathname, '/login');
      // The login stays filled in, the password does not.
      assert.equal(await page.getByLabel('账号', { exact: true }).inputValue(), REP.login);
      assert.equal(await page.getByLabel('密码', { exact: true }).inputValue(), '');
      await page.screenshot({ path: screenshotPath('login-error.png'), fullPage: true });
      // Still not signed in.
      await page.goto('/');
      assert.equal(pathOf(page), '/login?next=/');
    } finally {
      await context.close();
    }
  });

  test('signing in lands on the home page with the greeting, the count and the opportunities', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await page.goto('/');
      assert.equal(pathOf(page), '/login?next=/');
      await page.getByLabel('账号', { exact: true }).fill(REP.login);
      await page.getByLabel('密码', { exact: true }).fill(REP.password);
      await Promise.all([page.waitForURL((u) => u.pathname === '/'), page.getByRole('button', { name: '登录', exact: true }).click()]);

      assert.equal(await text(page.getByRole('heading', { level: 1 })), `你好，${REP.name}`);
      assert.equal(await text(page.locator('#open-count')), String(OPPORTUNITIES.length));
      const rows = page.locator('table tbody tr');
      assert.equal(await rows.count(), OPPORTUNITIES.length);
      const table = await text(page.locator('table'));
      for (const o of OPPORTUNITIES) assert.ok(table.includes(o.title), `${o.title} is in the table:\n${table}`);
      assert.ok(table.includes('¥123,000.00'), `amount shown as money:\n${table}`);
      assert.ok(table.includes(REP.name), `owner shown:\n${table}`);
      // Open amount: the sum of the three.
      const total = OPPORTUNITIES.reduce((s, o) => s + o.amount_minor, 0) / 100;
      const expected = '¥' + total.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
      assert.ok((await text(page.locator('.stats'))).includes(expected), `open amount ${expected}`);
      // The header shows who is signed in; their menu, the role and the way out.
      assert.ok((await text(page.locator('header'))).includes(`${REP.name} · 销售`));
      assert.ok(await page.locator('header .who').isVisible());
      await openNavMenu(page, `${REP.name} · 销售`);
      assert.equal(await text(page.locator('#user-menu .menu-note')), '销售');
      assert.ok(await page.getByRole('button', { name: '退出登录' }).isVisible());
    } finally {
      await context.close();
    }
  });

  test('switching to English from the header sticks after reload and on the next sign-in', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    const other = await newPage();
    try {
      await signIn(page);
      assert.equal(await text(page.getByRole('heading', { level: 1 })), `你好，${REP.name}`);

      await page.locator('#lang-select').selectOption('en');
      await Promise.all([page.waitForURL((u) => u.pathname === '/'), page.getByRole('button', { name: '切换' }).click()]);
      await page.getByRole('heading', { name: `Hello, ${REP.name}` }).waitFor();
      assert.equal(await page.locator('html').getAttribute('lang'), 'en');
      assert.ok((await text(page.locator('.stats'))).includes('Open opportunities'));
      assert.equal(await page.locator('#lang-select').inputValue(), 'en');

      await page.reload();
      assert.equal(await text(page.getByRole('heading', { level: 1 })), `Hello, ${REP.name}`);
      assert.ok((await text(page.locator('.stats'))).includes('Open opportunities'));
      await openNavMenu(page, `${REP.name} · Sales rep`);
      assert.ok(await page.getByRole('button', { name: 'Sign out' }).isVisible());

      // Another browser (Chinese, no cookies): the sign-in page is Chinese, but the
      // user's saved choice applies once signed in.
      await signIn(other.page);
      assert.equal(await text(other.page.getByRole('heading', { level: 1 })), `Hello, ${REP.name}`);
    } finally {
      // Back to Chinese, so that the choice does not leak into the other tests.
      if (!page.isClosed() && new URL(page.url()).pathname === '/') {
        await page.locator('#lang-select').selectOption('zh-CN');
        await Promise.all([page.waitForURL((u) => u.pathname === '/'), page.locator('form.lang button').click()]);
      }
      await other.context.close();
    }
    try {
      assert.equal(await text(page.getByRole('heading', { level: 1 })), `你好，${REP.name}`);
      assert.ok((await text(page.locator('.stats'))).includes('进行中的商机'));
    } finally {
      await context.close();
    }
  });

  test('on a 375 px phone the home page fits the screen', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage({
      viewport: { width: 375, height: 812 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    try {
      await page.goto('/login');
      await page.screenshot({ path: screenshotPath('login-375.png'), fullPage: true });
      await signIn(page);
      assert.equal(await text(page.locator('#open-count')), String(OPPORTUNITIES.length));
      const widths = await page.evaluate(() => ({
        doc: document.documentElement.scrollWidth,
        body: document.body.scrollWidth,
        inner: window.innerWidth,
      }));
      assert.ok(widths.doc <= 375, `no horizontal overflow: ${JSON.stringify(widths)}`);
      assert.ok(widths.body <= 375, `no horizontal overflow: ${JSON.stringify(widths)}`);
      // The brand, the language switch and the navigation are on screen, nothing to scroll
      // sideways to; each menu opens on screen with all its links and buttons.
      const inside = async (locator) => {
        const box = await locator.boundingBox();
        assert.ok(box && box.x >= -0.5 && box.x + box.width <= 375.5, `inside the screen: ${JSON.stringify(box)}`);
      };
      for (const item of await page.locator('header > a, header .lang select, header .lang button').all()) await inside(item);
      for (const item of await page.locator('header nav > a, header nav summary, header nav input:visible, header nav .who').all()) await inside(item);
      const menus = page.locator('header nav details');
      for (let i = 0; i < (await menus.count()); i++) {
        const menu = menus.nth(i);
        await menu.locator(':scope > summary').tap();
        const items = menu.locator('a, button');
        assert.ok((await items.count()) > 0);
        for (const item of await items.all()) {
          assert.ok(await item.isVisible(), `${await item.textContent()} shown`);
          await inside(item);
        }
        if (i === 1) await page.screenshot({ path: screenshotPath('home-375-menu.png') });
        await menu.locator(':scope > summary').tap();
      }
      await page.screenshot({ path: screenshotPath('home-375.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('on a desktop the home page is laid out and captured', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage({ viewport: { width: 1280, height: 800 } });
    try {
      await signIn(page);
      assert.equal(await page.locator('table tbody tr').count(), OPPORTUNITIES.length);
      const widths = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(widths <= 1280, `no horizontal overflow: ${widths}`);
      await page.screenshot({ path: screenshotPath('home-desktop.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('signing out returns to the login page and / asks to sign in again', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page);
      assert.ok((await context.cookies()).some((c) => c.name === 'sj_session'));
      await openNavMenu(page, `${REP.name} · 销售`);
      await Promise.all([page.waitForURL((u) => u.pathname === '/login'), page.getByRole('button', { name: '退出登录' }).click()]);
      assert.equal(await text(page.getByRole('heading', { level: 1 })), '登录');
      assert.ok(!(await context.cookies()).some((c) => c.name === 'sj_session'), 'session cookie removed');

      await page.goto('/');
      assert.equal(pathOf(page), '/login?next=/');
      // The browser's back button does not bring the signed-in page back either.
      await page.goBack();
      await page.reload();
      assert.equal(new URL(page.url()).pathname, '/login');
    } finally {
      await context.close();
    }
  });

  test('a browser that prefers English sees the login page in English', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage({ locale: 'en-US' });
    try {
      await page.goto('/');
      assert.equal(pathOf(page), '/login?next=/');
      assert.equal(await page.locator('html').getAttribute('lang'), 'en');
      assert.equal(await text(page.getByRole('heading', { level: 1 })), 'Sign in');
      assert.equal(await page.locator('#lang-select').inputValue(), 'en');
      assert.match(await page.title(), /^Sign in · /);

      await page.getByLabel('Login', { exact: true }).fill('nobody.e2e');
      await page.getByLabel('Password', { exact: true }).fill('wrong-password');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      const error = page.locator('#login-error');
      await error.waitFor();
      assert.equal(await text(error), 'Wrong login or password.');
    } finally {
      await context.close();
    }
  });
});
