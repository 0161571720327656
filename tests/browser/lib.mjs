// Shared helpers of the browser tests: a server on a fresh data directory, the agriops CLI,
// Debian's Chromium through playwright-core, sign-in, axe-core checks and screenshots.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root. */
export const root = join(here, '..', '..');
/** The agriops binary under test. */
export const bin = process.env.AGRIOPS_BIN || join(root, 'target', 'debug', 'agriops');
/** Where screenshots go. */
export const artifacts = join(root, 'tests', 'artifacts');
const axeSource = readFileSync(join(here, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

/** A fresh data directory and the environment that points agriops at it. */
export function freshEnv(prefix = 'agriops-browser-') {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  return { dataDir, env: { ...process.env, AGRIOPS_DATA_DIR: dataDir, AGRIOPS_TILE_URL: '', RUST_LOG: 'warn' } };
}

/** Runs the agriops CLI with `env`, optionally feeding `input` on stdin; returns stdout. */
export function cli(env, args, input) {
  return execFileSync(bin, args, { env, input, encoding: 'utf8' });
}

/** A TCP port nobody listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

/** Waits until `url` answers 2xx. */
export async function waitHealthy(url, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try { if ((await fetch(url)).ok) return; } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server did not answer ${url}`);
}

/** Starts `agriops serve` (plus `extraArgs`) on a free port; returns { server, base }. */
export async function startServer(env, extraArgs = []) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, ...extraArgs], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitHealthy(`${base}/healthz`, 20_000);
  return { server, base };
}

/** Debian's Chromium, headless. */
export async function launchBrowser() {
  mkdirSync(artifacts, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
}

/** Fails on any serious or critical axe-core violation of the page as it is now. */
export async function axeCheck(page, name) {
  // Evaluated through the DevTools protocol, not as a <script> tag: the pages' CSP forbids
  // inline scripts, and the check must not need the policy loosened.
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => await window.axe.run(document));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.length})`), [], `axe on ${name}`);
}

/** Full-page screenshots at phone and desktop widths, as tests/artifacts/<name>-{phone,desktop}.png. */
export async function shots(page, name) {
  for (const [label, size] of [['phone', { width: 390, height: 844 }], ['desktop', { width: 1280, height: 800 }]]) {
    await page.setViewportSize(size);
    await page.screenshot({ path: join(artifacts, `${name}-${label}.png`), fullPage: true });
  }
}

/** A new Japanese-locale page signed in as `user`. */
export async function signIn(browser, base, user, password) {
  const page = await browser.newPage({ locale: 'ja-JP' });
  await page.goto(`${base}/login`);
  await page.getByLabel('ユーザー名').fill(user);
  await page.getByLabel('パスワード').fill(password);
  await page.getByRole('button', { name: 'ログイン' }).click();
  await page.waitForURL(`${base}/`);
  return page;
}

/** The old phone every journey is walked on. */
export const PHONE = { width: 360, height: 740 };

/** A new 360×740 touch page signed in as `user`, showing pages in `lang` ('ja' or 'en'). */
export async function phoneSignIn(browser, base, user, password, lang = 'ja') {
  const context = await browser.newContext({ viewport: PHONE, hasTouch: true, locale: lang === 'ja' ? 'ja-JP' : 'en-GB', acceptDownloads: true });
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.locator('#username').fill(user);
  await page.locator('#password').fill(password);
  await Promise.all([page.waitForURL(`${base}/`), page.locator('form[action="/login"] button').click()]);
  // Signing in sets the language the account keeps; the cookie then asks for `lang`.
  await setLang(page, base, lang);
  return page;
}

/** Shows the following pages in `lang`, as the header's language switch does. */
export async function setLang(page, base, lang) {
  await page.context().addCookies([{ name: 'lang', value: lang, url: base }]);
}

/**
 * One step of a journey, on the page as it is now: axe-core finds no violation of any impact,
 * nothing scrolls sideways, and a full-page screenshot is kept as tests/artifacts/journey-<name>.png.
 */
export async function journeyStep(page, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => await window.axe.run(document));
  assert.deepEqual(result.violations.map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')})`), [], `axe on ${name}`);
  const [scroll, width] = await page.evaluate(() => [document.scrollingElement.scrollWidth, window.innerWidth]);
  assert.ok(scroll <= width, `${name}: the page is ${scroll} px wide on a ${width} px screen`);
  await page.screenshot({ path: join(artifacts, `journey-${name}.png`), fullPage: true });
}

/**
 * Starts `agriops demo` in `dir`; returns { demo, base, fly } where `fly` holds the simulated
 * drone's address (`connect`) and the demo plan's file (`plan`) as its output names them.
 */
export async function startDemo(env, dir) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // The simulated drone at 20× its real pace: a sortie flies in seconds, not minutes.
  const demo = spawn(bin, ['demo', '--listen', `127.0.0.1:${port}`, '--data-dir', dir, '--drone-speed', '20'],
    { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const fly = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo did not start:\n${out}`)), 60_000);
    demo.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/agriops fly --connect (\S+) (\S+) --sortie 1/);
      if (m) { clearTimeout(timer); resolve({ connect: m[1], plan: m[2] }); }
    });
  });
  await waitHealthy(`${base}/healthz`, 20_000);
  return { demo, base, fly };
}
