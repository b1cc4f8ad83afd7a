// Starts a throw-away shangji for the browser tests: a fresh SQLite database in a temp
// directory, prepared with the CLI (team, a rep, their manager and an admin, API token) and a
// few records made through the JSON API, then `shangji serve` on a free loopback port. Builds
// nothing: expects `cargo build` to have made target/debug/shangji (or set SHANGJI_BIN).

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const E2E_DIR = path.resolve(here, '..');
export const REPO_ROOT = path.resolve(E2E_DIR, '..');
export const SCREENSHOTS = path.join(E2E_DIR, 'screenshots');

export const BIN = process.env.SHANGJI_BIN || path.join(REPO_ROOT, 'target', 'debug', 'shangji');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

/** The person the tests sign in as. */
export const REP = { login: 'rep.e2e', password: 'sales1234', name: '王磊', team: '华东' };

/** The manager of REP's team, who approves REP's moves. */
export const MANAGER = { login: 'mgr.e2e', password: 'manager1234', name: '李娜' };

/** The administrator who configures the sales process. */
export const ADMIN = { login: 'admin.e2e', password: 'admin1234', name: '陈静' };

export const ACCOUNTS = ['华为技术有限公司', '招商银行股份有限公司'];

// ---- Dates, relative to today in China ----
// The app dates everything in China time (UTC+8), so the tests do too. Fixture dates are
// derived from today, never written as calendar days, so that the tests pass on any date
// (and under `faketime`, which both node and the shangji binary honour).

const DAY_MS = 86_400_000;

function ymd(y, m0, d) {
  return new Date(Date.UTC(y, m0, d)).toISOString().slice(0, 10);
}

function parts(date) {
  const m = /^(\d{4})-(\d\d)-(\d\d)$/.exec(date);
  if (!m) throw new Error(`not a YYYY-MM-DD date: ${date}`);
  return { y: Number(m[1]), m0: Number(m[2]) - 1, d: Number(m[3]) };
}

/** Today in China (YYYY-MM-DD). */
export function chinaToday() {
  return new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
}

/** The day `n` days from today in China (YYYY-MM-DD); `n` may be negative. */
export function chinaDay(n) {
  return new Date(Date.now() + 8 * 3600_000 + n * DAY_MS).toISOString().slice(0, 10);
}

/** The number of days in the month of `date` (YYYY-MM-DD). */
export function daysInMonth(date) {
  const { y, m0 } = parts(date);
  return new Date(Date.UTC(y, m0 + 1, 0)).getUTCDate();
}

/**
 * `date` moved by `n` months: the same day of the month, clamped to the month's last day
 * (2027-01-31 + 1 → 2027-02-28), which is also how the forecast board re-dates a dropped deal.
 */
export function addMonths(date, n) {
  const { y, m0, d } = parts(date);
  const first = ymd(y, m0 + n, 1);
  return ymd(y, m0 + n, Math.min(d, daysInMonth(first)));
}

/** The first day of the month `n` months from this one (China time). */
export function monthStart(n = 0) {
  const { y, m0 } = parts(chinaToday());
  return ymd(y, m0 + n, 1);
}

/** The last day of the month `n` months from this one (China time). */
export function lastDayOfMonth(n = 0) {
  const { y, m0 } = parts(chinaToday());
  return ymd(y, m0 + n + 1, 0);
}

/** The month of `date` as the forecast board's `start=` and move take it (`YYYY-MM`). */
export function monthKey(date) {
  return date.slice(0, 7);
}

/** The forecast board's column heading for the month of `date`, e.g. `2027年6月`. */
export function monthLabel(date) {
  const { y, m0 } = parts(date);
  return `${y}年${m0 + 1}月`;
}

/** The quarter of `date` as the forecast page labels it, e.g. `2027-Q1`. */
export function quarterLabel(date) {
  const { y, m0 } = parts(date);
  return `${y}-Q${Math.floor(m0 / 3) + 1}`;
}

/** How many calendar quarters `date` lies after the quarter of `from` (today by default). */
export function quartersAhead(date, from = chinaToday()) {
  const q = (x) => {
    const { y, m0 } = parts(x);
    return y * 4 + Math.floor(m0 / 3);
  };
  return q(date) - q(from);
}

/**
 * Opportunities of REP: title, account (index into ACCOUNTS), amount in fen, close date.
 * 华为云迁移项目 closes at the end of next month: never in this month (the manager's roll-up
 * of this month must not count it), always within this quarter and the next three (the
 * forecast by quarter lists it). 华为园区网络改造 closes at the end of the month 7 months
 * ahead, well after the other two, so that the forecast board can show its month and the
 * months around it with nothing else in them.
 */
export const OPPORTUNITIES = [
  { title: '华为云迁移项目', account: 0, amount_minor: 12_300_000, close_date: lastDayOfMonth(1) },
  { title: '招行零售 CRM 升级', account: 1, amount_minor: 4_560_000, close_date: `${monthKey(monthStart(4))}-15` },
  { title: '华为园区网络改造', account: 0, amount_minor: 78_900_000, close_date: lastDayOfMonth(7) },
];

const STARTUP_TIMEOUT_MS = 60_000;
const CLI_TIMEOUT_MS = 300_000;

/** Environment for the app: our own database only, nothing inherited that could redirect it. */
function appEnv(dir) {
  const env = { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn', NO_COLOR: '1' };
  for (const k of ['SHANGJI_CONFIG', 'SHANGJI_LISTEN', 'SHANGJI_DATABASE_URL', 'SHANGJI_DATA_DIR']) delete env[k];
  return env;
}

function dbArgs(dir) {
  return ['--database-url', `sqlite://${path.join(dir, 'shangji.db')}`, '--data-dir', dir];
}

function cli(dir, args, input) {
  const r = spawnSync(BIN, [...dbArgs(dir), ...args], {
    env: appEnv(dir),
    input: input ?? '',
    encoding: 'utf8',
    timeout: CLI_TIMEOUT_MS,
  });
  if (r.error) throw new Error(`shangji ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`shangji ${args.join(' ')} exited with ${r.status}:\n${r.stdout}\n${r.stderr}`);
  }
  return r.stdout.trim();
}

/** A port nobody listens on right now (the OS picks it). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Spawns `shangji serve` and resolves with its base URL once it prints the serving line. */
function serve(dir, port) {
  const child = spawn(BIN, [...dbArgs(dir), 'serve', '--listen', `127.0.0.1:${port}`], {
    env: appEnv(dir),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`shangji serve did not start within ${STARTUP_TIMEOUT_MS} ms:\n${out}\n${err}`));
    }, STARTUP_TIMEOUT_MS);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/shangji is serving (http:\/\/\S+?)\/?\s/);
      if (m) {
        clearTimeout(timer);
        resolve({ child, baseURL: m[1], stderr: () => err });
      }
    });
    child.stderr.on('data', (chunk) => {
      err += chunk;
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`shangji serve exited (${code ?? signal}) before serving:\n${out}\n${err}`), { exited: true, output: out + err }));
    });
  });
}

/** A JSON API call with a bearer token; throws unless it succeeds. */
export async function api(baseURL, token, method, pathname, body) {
  const res = await fetch(baseURL + pathname, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${pathname} → ${res.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

/**
 * Prepares the database and starts the server. Returns { baseURL, stop }.
 * `stop()` shuts the server down and removes the temp directory.
 */
/**
 * Runs `prepare(cli)` in a new temporary directory, then serves it. `cli(args, input)` runs the
 * shangji command line on that directory. Returns { baseURL, dir, cli, stop, ...what prepare
 * returned }; `stop()` shuts the server down gracefully and removes the directory.
 */
async function startWith(name, prepare) {
  if (!fs.existsSync(BIN)) {
    throw new Error(`${BIN} does not exist: run \`cargo build\` at the repository root first (or set SHANGJI_BIN)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `shangji-e2e-${name}-`));
  const run = (args, input) => cli(dir, args, input);
  let server;
  try {
    const prepared = (await prepare(run)) ?? {};
    // The port may be taken between choosing and binding: try a few.
    for (let attempt = 1; ; attempt++) {
      try {
        server = await serve(dir, await freePort());
        break;
      } catch (e) {
        if (attempt >= 5 || !e.exited || !/already in use/.test(e.output || '')) throw e;
      }
    }
    const { child, baseURL } = server;
    // Keep the child from outliving this process if a test run is killed half-way.
    const reap = () => child.kill('SIGKILL');
    process.once('exit', reap);
    const stop = async () => {
      process.removeListener('exit', reap);
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGINT'); // graceful shutdown on Ctrl-C
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    };
    return { ...prepared, baseURL, dir, cli: run, stop };
  } catch (e) {
    if (server) server.child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Prepares the database (REP's team, REP, MANAGER, ADMIN, REP's API token) and starts the
 * server, then makes ACCOUNTS and OPPORTUNITIES through the API. Returns
 * { baseURL, token, dir, cli, stop }.
 */
export async function startApp() {
  const app = await startWith('app', (run) => {
    run(['team', 'add', REP.team]);
    run(['user', 'add', REP.login, '--role', 'rep', '--team', REP.team, '--name', REP.name, '--password-stdin'], `${REP.password}\n`);
    run(['user', 'add', MANAGER.login, '--role', 'manager', '--team', REP.team, '--name', MANAGER.name, '--password-stdin'], `${MANAGER.password}\n`);
    run(['user', 'add', ADMIN.login, '--role', 'admin', '--name', ADMIN.name, '--password-stdin'], `${ADMIN.password}\n`);
    const token = run(['token', 'create', REP.login]);
    if (!token || /\s/.test(token)) throw new Error(`unexpected token output: ${JSON.stringify(token)}`);
    return { token };
  });
  try {
    const accounts = [];
    for (const name of ACCOUNTS) accounts.push(await api(app.baseURL, app.token, 'POST', '/api/v1/accounts', { name }));
    for (const o of OPPORTUNITIES) {
      await api(app.baseURL, app.token, 'POST', '/api/v1/opportunities', {
        title: o.title,
        account_id: accounts[o.account].id,
        amount_minor: o.amount_minor,
        close_date: o.close_date,
      });
    }
  } catch (e) {
    await app.stop();
    throw e;
  }
  return app;
}

/** The sign-ins of the generated company (`shangji seed`). */
export const SEEDED = {
  admin: { login: 'admin', password: 'admin1234' },
  manager: { login: 'mgr.east', password: 'manager123' },
  rep: { login: 'rep.east1', password: 'sales1234' },
};

/**
 * Serves generated history: `shangji seed --opportunities N` in a new directory, then
 * `prepare(cli)` for further command-line steps (snapshots, a token…), then the server.
 * Returns { baseURL, dir, cli, stop, ...what prepare returned }.
 */
export function startSeededApp(name, opportunities, prepare = () => ({})) {
  return startWith(name, (run) => {
    run(['seed', '--opportunities', String(opportunities)]);
    return prepare(run);
  });
}

/**
 * The environment for the browser: ours without libfaketime. The tests may run under
 * `faketime` to check them on chosen dates; the app and node honour it, and Chromium is kept
 * out of it: it gains nothing from it (no page's script reads the browser's clock, and the
 * app's cookies carry Max-Age, not Expires) and with faketime's `-f "@…"` form each of its
 * many processes would start its own fake clock.
 */
function browserEnv() {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('FAKETIME')) delete env[k];
  if (env.LD_PRELOAD) {
    const kept = env.LD_PRELOAD.split(/[:\s]+/).filter((lib) => lib && !/faketime/i.test(lib));
    if (kept.length) env.LD_PRELOAD = kept.join(':');
    else delete env.LD_PRELOAD;
  }
  return env;
}

/** Headless Debian Chromium; never a downloaded browser. */
export function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} does not exist: apt-get install chromium (or set CHROMIUM_BIN)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    env: browserEnv(),
    timeout: 60_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
    ],
  });
}

export function screenshotPath(name) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  return path.join(SCREENSHOTS, name);
}

export const WAIT = 30_000;
export const PHONE = { viewport: { width: 375, height: 812 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
export const DESKTOP = { viewport: { width: 1280, height: 800 } };

/**
 * Content-Security-Policy violations the browser reported on any page (a refused inline script
 * or style, a script from elsewhere): a page that breaks the policy is broken for users, so a
 * test file that saw one fails when it ends.
 */
const cspViolations = [];
process.on('exit', () => {
  if (cspViolations.length) {
    console.error(`Content-Security-Policy violations:\n${cspViolations.join('\n')}`);
    process.exitCode = 1;
  }
});

/** Records the CSP violations of every page of `context`. */
export function watchCsp(context) {
  context.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) {
      cspViolations.push(`${msg.location()?.url || ''}: ${msg.text()}`);
    }
  });
  return context;
}

/** A new browser context on the app (Chinese, desktop size unless told) and its page. */
export async function newPage(browser, app, options = {}) {
  const context = watchCsp(await browser.newContext({ baseURL: app.baseURL, locale: 'zh-CN', ...DESKTOP, ...options }));
  context.setDefaultTimeout(WAIT);
  context.setDefaultNavigationTimeout(WAIT);
  return { context, page: await context.newPage() };
}

/** Signs in through the Chinese sign-in page and waits for the home page. */
export async function signIn(page, who) {
  await page.goto('/login');
  await page.getByLabel('账号', { exact: true }).fill(who.login);
  await page.getByLabel('密码', { exact: true }).fill(who.password);
  await Promise.all([page.waitForURL((u) => u.pathname === '/'), page.getByRole('button', { name: '登录', exact: true }).click()]);
}

export async function text(locator) {
  return (await locator.innerText()).trim();
}

/**
 * Opens a menu of the header navigation by the name it shows (销售, 客户, 跟进, 分析 or, in
 * English, Sales…), as a person does, and returns it: its links are then on screen.
 */
export async function openNavMenu(page, name) {
  const menu = page.locator('header nav details').filter({ has: page.locator(':scope > summary', { hasText: new RegExp(`^${name}$`) }) });
  if (!(await menu.evaluate((d) => d.open))) await menu.locator(':scope > summary').click();
  await menu.locator('a, button').first().waitFor();
  return menu;
}

/** Nothing wider than the screen. */
export async function assertFits(page, width) {
  const widths = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, body: document.body.scrollWidth }));
  if (!(widths.doc <= width && widths.body <= width)) {
    throw new Error(`horizontal overflow at ${width} px: ${JSON.stringify(widths)}`);
  }
}
