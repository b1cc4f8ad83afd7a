// The report pages in the browser, on generated history (`shangji seed`): the hub and every
// report from it (funnel, time in stage, 4S, waterfall, win/loss, leaderboard, sources,
// calibration), each with its chart drawn and its table filled; a quick period, a team and a
// source chosen and the chart and table following; the waterfall listing a deal whose close
// date slipped out of the window by its title; the CSV and Excel downloads; laptop and phone
// widths, Chinese and English. Headless Chromium against a real `shangji serve`.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { PHONE, SEEDED, api, assertFits, chinaDay, chinaToday, launchBrowser, newPage as openPage, openNavMenu, screenshotPath, signIn, startSeededApp, text } from './support/app.mjs';

const TEST_TIMEOUT = 240_000;

/** The reports as the hub lists them: URL part, Chinese and English titles. */
const REPORTS = [
  ['funnel', '漏斗转化', 'Funnel conversion'],
  ['time-in-stage', '阶段停留时间', null],
  ['4s', '4S 驾驶舱', null],
  ['waterfall', '管道变化瀑布', 'Pipeline waterfall'],
  ['win-loss', '赢单/输单分析', null],
  ['leaderboard', null, null],
  ['sources', '来源分析', null],
  ['calibration', '阶段概率校准', null],
];

const { admin: ADMIN, manager: MANAGER, rep: REP } = SEEDED;

let app;
let browser;
/** The deal whose expected close date we push out of this quarter before the tests. */
let slipped;
const newPage = (options) => openPage(browser, app, options);

/** Today in China, and this quarter's first and last day (YYYY-MM-DD). */
function thisQuarter() {
  const now = new Date(Date.now() + 8 * 3600_000);
  const q = Math.floor(now.getUTCMonth() / 3) * 3;
  const first = new Date(Date.UTC(now.getUTCFullYear(), q, 1));
  const last = new Date(Date.UTC(now.getUTCFullYear(), q + 3, 0));
  return { today: now.toISOString().slice(0, 10), first: first.toISOString().slice(0, 10), last: last.toISOString().slice(0, 10) };
}

before(async () => {
  // The seed's standard size: late in a quarter few generated deals are still open that were
  // open when it began (with 800, on some days none), and the waterfall test needs one.
  app = await startSeededApp('analytics', 8000, (cli) => ({ token: cli(['token', 'create', ADMIN.login]) }));
  const { baseURL, token } = app;
  // An open deal expected to close this quarter, already in the pipeline when the quarter
  // began, is pushed to next year: the quarter's waterfall counts it as slipped.
  const q = thisQuarter();
  const open = await api(baseURL, token, 'GET', `/api/v1/opportunities?status=open&close_from=${q.first}&close_to=${q.last}&sort=created_at&per_page=50`);
  // One the quarter's waterfall counted at its start: in CNY, created before the quarter, and
  // its close date not moved, nor the deal closed or reopened, since the quarter began.
  const since = new Date(`${q.first}T00:00:00+08:00`).toISOString();
  let deal;
  for (const o of open.items.filter((o) => o.created_at < since && o.amount.currency === 'CNY')) {
    const events = await api(baseURL, token, 'GET', `/api/v1/opportunities/${o.id}/events`);
    const moved = events.some((e) => e.at >= since && ['close_date_changed', 'won', 'lost', 'reopened', 'archived'].includes(e.kind));
    if (!moved) {
      deal = o;
      break;
    }
  }
  assert.ok(deal, 'an open deal of this quarter, unchanged since it began');
  const nextYear = `${Number(q.last.slice(0, 4)) + 1}-03-31`;
  await api(baseURL, token, 'PATCH', `/api/v1/opportunities/${deal.id}`, { close_date: nextYear, version: deal.version });
  slipped = deal.title;
  browser = await launchBrowser();
}, { timeout: 600_000 });

after(async () => {
  await browser?.close();
  await app?.stop();
});

/** The report body's charts are drawn (ECharts put an SVG in each). */
async function chartsDrawn(page) {
  const charts = page.locator('#report-body [data-chart]');
  // Right after an htmx response its swap may not have happened yet.
  await charts.first().waitFor({ timeout: 10_000 }).catch(() => {});
  const n = await charts.count();
  assert.ok(n > 0, 'the report has a chart');
  for (let i = 0; i < n; i++) await charts.nth(i).locator('svg').first().waitFor();
  assert.equal(await page.locator('#report-body [data-chart]:not([data-chart-ready])').count(), 0);
}

async function chartOption(page, i = 0) {
  return JSON.parse(await page.locator('#report-body [data-chart]').nth(i).getAttribute('data-chart'));
}

/** No message key shows instead of its text. */
async function assertTranslated(page) {
  const body = await page.locator('body').innerText();
  const keys = body.match(/\b(analytics|rv|fc|hz)\.[a-z_]+(\.[a-z_]+)*\b/g);
  assert.equal(keys, null, `untranslated: ${keys}`);
}

/** The first cell values of the table's body rows, and the table's row count. */
async function firstTable(page) {
  const rows = page.locator('#report-body .report-table table').first().locator('tbody tr');
  return { count: await rows.count(), texts: await rows.allInnerTexts() };
}

/** Waits for the htmx request that a filter change makes, and the redrawn charts. */
async function afterFilter(page, change) {
  await Promise.all([
    page.waitForResponse((r) => r.request().headers()['hx-request'] === 'true' && r.url().includes('/analytics/')),
    change(),
  ]);
  await chartsDrawn(page);
}

describe('reports', () => {
  test('every report from the hub, with chart and table, at laptop width', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, ADMIN);
      await openNavMenu(page, '分析');
      await page.getByRole('link', { name: '销售分析', exact: true }).click();
      await page.waitForURL((u) => u.pathname === '/analytics');
      assert.equal(await text(page.locator('h1')), '销售分析');
      await assertTranslated(page);
      await page.screenshot({ path: screenshotPath('analytics-hub.png'), fullPage: true });
      for (const [slug, title] of REPORTS) {
        await page.goto('/analytics');
        const link = page.locator(`.analytics-cards a[href="/analytics/${slug}"]`);
        if (title) assert.equal(await text(link), title);
        await Promise.all([page.waitForURL((u) => u.pathname === `/analytics/${slug}`), link.click()]);
        await chartsDrawn(page);
        assert.equal(await page.locator('#report-empty').count(), 0, `${slug} has data`);
        const table = await firstTable(page);
        assert.ok(table.count > 0, `${slug}: the table has rows`);
        assert.match(await text(page.locator('#report-period')), /\d{4}-\d\d-\d\d – \d{4}-\d\d-\d\d/);
        await assertTranslated(page);
        await page.screenshot({ path: screenshotPath(`analytics-${slug}.png`), fullPage: true });
      }
    } finally {
      await context.close();
    }
  });

  test('the funnel follows a quick period, a team and a source', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, ADMIN);
      await page.goto('/analytics/funnel');
      await chartsDrawn(page);
      const entered = async () => (await chartOption(page)).series[0].data.map((d) => d.value);
      const total = (xs) => xs.reduce((a, b) => a + b, 0);
      const ninety = await entered();

      // This year. From April on it is a longer period than the default 90 days (which lie
      // within it): at least as many entered. Before, the year so far lies within the 90 days:
      // at most as many.
      await Promise.all([page.waitForURL(/range=year/), page.getByRole('link', { name: '今年', exact: true }).click()]);
      await chartsDrawn(page);
      const year = await entered();
      const jan1 = `${chinaToday().slice(0, 4)}-01-01`;
      assert.equal(await page.getByLabel('开始日期').inputValue(), jan1);
      assert.match(await text(page.locator('#report-period')), new RegExp(`^期间: ${jan1} – `));
      const yearIsLonger = chinaDay(-89) >= jan1;
      if (yearIsLonger) assert.ok(total(year) >= total(ninety), `this year ${year} ≥ 90 days ${ninety}`);
      else assert.ok(total(year) <= total(ninety), `this year so far ${year} ≤ 90 days ${ninety}`);

      // The team and the source narrow the longer of the two periods (early in the year, the
      // year so far may hold too few deals to narrow): back to the last 90 days then.
      let all = year;
      if (!yearIsLonger) {
        await Promise.all([page.waitForURL(/range=90d/), page.getByRole('link', { name: '近 90 天', exact: true }).click()]);
        await chartsDrawn(page);
        all = await entered();
        assert.deepEqual(all, ninety, 'the quick 90 days are the default period');
      }
      const allTable = await firstTable(page);

      // One team of three: fewer deals; chart and table change together, the URL keeps it.
      await afterFilter(page, () => page.getByLabel('团队', { exact: true }).selectOption({ label: '华东大区' }));
      await page.waitForURL(/team=\d+/);
      const east = await entered();
      assert.ok(total(east) > 0 && total(east) < total(all), `east ${east} < all ${all}`);
      const eastTable = await firstTable(page);
      assert.notDeepEqual(eastTable.texts, allTable.texts);
      assert.equal(Number(eastTable.texts[0].split('\t')[1]), east[0], 'the table says what the chart draws');
      await page.screenshot({ path: screenshotPath('analytics-funnel-team.png'), fullPage: true });

      // And one source channel on top.
      await afterFilter(page, () => page.getByLabel('来源', { exact: true }).selectOption({ label: '官网' }));
      await page.waitForURL(/source=website/);
      const web = await entered();
      assert.ok(total(web) > 0 && total(web) < total(east), `website ${web} < east ${east}`);
      assert.equal(Number((await firstTable(page)).texts[0].split('\t')[1]), web[0]);

      // The exports carry the filters and download.
      const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: '导出 CSV' }).click()]);
      assert.match(csv.suggestedFilename(), /\.csv$/);
      const csvText = fs.readFileSync(await csv.path(), 'utf8');
      assert.match(csvText, /线索确认/);
      assert.ok(csvText.includes(`,${web[0]},`), `the CSV has the filtered count ${web[0]}`);
      const [xlsx] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: '导出 Excel' }).click()]);
      assert.match(xlsx.suggestedFilename(), /\.xlsx$/);
      const bytes = fs.readFileSync(await xlsx.path());
      assert.equal(bytes.subarray(0, 2).toString(), 'PK', 'a spreadsheet (zip) file');
      await page.screenshot({ path: screenshotPath('analytics-funnel-filtered.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('the waterfall lists the deal that slipped out of the quarter by title', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, ADMIN);
      const q = thisQuarter();
      await page.goto('/analytics/waterfall?range=quarter');
      await chartsDrawn(page);
      // Half a window is refused, in words, until the other end is there.
      await Promise.all([
        page.waitForResponse((r) => r.request().headers()['hx-request'] === 'true'),
        page.getByLabel('预计成交从').fill(q.first),
      ]);
      assert.match(await text(page.locator('#report-body [role=alert]')), /^预计成交至：期间不正确/);
      assert.equal(await page.locator('#report-body [data-chart]').count(), 0, 'no chart that looks like an answer');
      await afterFilter(page, () => page.getByLabel('预计成交至').fill(q.last));
      await page.waitForURL(/close_to=/);
      const moved = (await chartOption(page)).series[2].data[8];
      assert.ok(moved > 0, `moved out of the window: ${moved}`);
      const list = page.locator('#report-body ul.slipped');
      // The list comes with the chart in the same swap; wait for it rather than read at once.
      await list.getByRole('link', { name: slipped, exact: true }).waitFor({ timeout: 10_000 }).catch(() => {});
      const listed = await list.allInnerTexts();
      assert.equal(await list.getByRole('link', { name: slipped, exact: true }).count(), 1, `${slipped} is listed: ${listed}`);
      assert.doesNotMatch(await text(list), /#\d+/, 'titles, not ids');
      await page.screenshot({ path: screenshotPath('analytics-waterfall-slipped.png'), fullPage: true });
      await Promise.all([page.waitForURL(/\/opportunities\/\d+$/), list.getByRole('link', { name: slipped, exact: true }).click()]);
      assert.equal(await text(page.locator('h1')), slipped);
    } finally {
      await context.close();
    }
  });

  test('a manager reads every report on a phone', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage(PHONE);
    try {
      await signIn(page, MANAGER);
      await page.goto('/analytics');
      assert.equal(await text(page.locator('h1')), '销售分析');
      await assertFits(page, 375);
      await page.screenshot({ path: screenshotPath('analytics-hub-phone.png'), fullPage: true });
      for (const [slug] of REPORTS) {
        await page.goto(`/analytics/${slug}`);
        await chartsDrawn(page);
        await assertFits(page, 375);
        await assertTranslated(page);
        // Wide tables scroll inside their box instead of widening the page.
        for (const box of await page.locator('#report-body .table-scroll').all()) {
          const w = await box.evaluate((el) => el.getBoundingClientRect().width);
          assert.ok(w <= 375, `${slug}: table box ${w} px`);
        }
        await page.screenshot({ path: screenshotPath(`analytics-${slug}-phone.png`), fullPage: true });
      }
    } finally {
      await context.close();
    }
  });

  test('in English', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, REP);
      await page.getByLabel('语言').selectOption('en');
      await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: '切换' }).click()]);
      await page.goto('/analytics');
      assert.equal(await text(page.locator('h1')), 'Sales analytics');
      await assertTranslated(page);
      await page.screenshot({ path: screenshotPath('analytics-hub-en.png'), fullPage: true });
      for (const [slug, , title] of REPORTS) {
        await page.goto(`/analytics/${slug}`);
        if (title) assert.equal(await text(page.locator('h1')), title);
        if ((await page.locator('#report-empty').count()) === 0) await chartsDrawn(page);
        await assertTranslated(page);
        const chrome = [...(await page.locator('h1, .analytics-filters label, .report-bar, .report-table h2, .report-table th').allInnerTexts())].join(' ');
        assert.doesNotMatch(chrome, /[\u4e00-\u9fff]/, `${slug}: headings, labels and columns in English`);
        await page.screenshot({ path: screenshotPath(`analytics-${slug}-en.png`), fullPage: true });
      }
    } finally {
      await context.close();
    }
  });
});
