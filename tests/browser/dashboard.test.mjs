// Browser tests of the dashboard in real Chromium (Debian's package) driven by playwright-core,
// with axe-core on every page and screenshots at phone and desktop widths (tests/artifacts/).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  root, freshEnv, cli as runCli, startServer, launchBrowser, axeCheck, shots, signIn,
} from './lib.mjs';

const { env } = freshEnv();
let server, browser, base, token, parlorId;

function cli(args, input) {
  return runCli(env, args, input);
}

let batchNo = 0;
async function sendInterval(cowsPerHourRolling) {
  batchNo += 1;
  const end = new Date();
  const start = new Date(end.getTime() - 60_000);
  const body = {
    version: 1, bridge_id: 'browser-test', batch_key: `b${batchNo}`,
    records: [{
      type: 'interval', key: `east/${batchNo}`, parlor: 'east-rotary', farm: 'nasu', unit: 1,
      start: start.toISOString(), end: end.toISOString(), online_s: 60, cows: 5, kg: 62.5,
      cows_per_hour: 300, kg_per_hour: 3750, cows_per_hour_rolling: cowsPerHourRolling,
      milkings: 5, rotation_s: 540, occupancy: 0.85, idle_bails: 0, kickoffs: 0, reattaches: 0,
      stops: 0, washes: 0, high_conductivity_alerts: 0, state: 'running',
    }],
  };
  const r = await fetch(`${base}/api/v1/ingest/parlor`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  assert.equal(r.status, 200, await r.text());
}

before(async () => {
  cli(['farm', 'add', 'nasu', '--district', 'kuroiso', '--kind', 'dairy']);
  cli(['farm', 'add', 'takabayashi', '--district', 'nishinasuno', '--kind', 'crop']);
  cli(['user', 'add', 'admin', '--role', 'admin', '--display-name', '管理者', '--password-stdin'], 'browser-pass\n');
  const farms = cli(['farm', 'list']);
  const farmId = farms.split('\n').find((l) => l.includes('nasu')).split('\t')[0];
  const cropFarm = farms.split('\n').find((l) => l.includes('takabayashi')).split('\t')[0];
  cli(['user', 'add', 'farmer', '--role', 'farmer', '--farm', cropFarm, '--display-name', '農家さん', '--password-stdin'], 'farmer-pass\n');
  const out = cli(['token', 'add', '--farm', farmId, '--name', 'browser']);
  token = out.match(/: ([0-9a-f]{64})/)[1];
  ({ server, base } = await startServer(env));
  await sendInterval(280);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.kill('SIGINT');
});

async function signedInPage(user = 'admin', password = 'browser-pass') {
  const login = await browser.newPage({ locale: 'ja-JP' });
  await login.goto(`${base}/login`);
  await axeCheck(login, 'login');
  await shots(login, 'login');
  await login.close();
  return signIn(browser, base, user, password);
}

test('wrong password shows a Japanese error and keeps the form usable', async () => {
  const page = await browser.newPage({ locale: 'ja-JP' });
  await page.goto(`${base}/login`);
  await page.getByLabel('ユーザー名').fill('admin');
  await page.getByLabel('パスワード').fill('not-the-password');
  await page.keyboard.press('Enter');
  await assert.doesNotReject(page.getByRole('alert').filter({ hasText: 'パスワードが違います' }).waitFor());
  await axeCheck(page, 'login error');
  await page.close();
});

test('sign in, see the parlor live, watch a value change, switch to English', async () => {
  const page = await signedInPage();
  assert.equal(await page.getAttribute('html', 'lang'), 'ja');
  await axeCheck(page, 'home');
  await shots(page, 'home');

  await page.getByRole('link', { name: 'ロータリーパーラー' }).click();
  await axeCheck(page, 'parlors');
  await shots(page, 'parlors');
  await page.getByRole('link', { name: 'east-rotary' }).click();
  parlorId = page.url().split('/').pop();
  const cph = page.locator('[data-field="cows_per_hour"]');
  await assert.doesNotReject(cph.filter({ hasText: '280' }).waitFor({ timeout: 10_000 }));
  await axeCheck(page, 'parlor');
  await shots(page, 'parlor');

  // A new interval reaches the open page through server-sent events, without a reload.
  await sendInterval(333);
  await assert.doesNotReject(cph.filter({ hasText: '333' }).waitFor({ timeout: 15_000 }));

  // The charts are real SVG drawings.
  const svg = await (await page.request.get(`${base}/parlors/${parlorId}/today.svg`)).text();
  assert.match(svg, /^<svg/);
  assert.match(svg, /本日の時間別搾乳頭数/);

  // Switch language with the keyboard only.
  await page.getByRole('button', { name: /English/ }).focus();
  await page.keyboard.press('Enter');
  // The switch posts a form and redirects back: wait for the English page itself.
  await page.locator('html[lang="en"]').waitFor({ state: 'attached', timeout: 10_000 });
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  await assert.doesNotReject(page.getByRole('button', { name: 'Sign out' }).waitFor());
  await axeCheck(page, 'parlor (en)');
  await shots(page, 'parlor-en');

  await page.goto(`${base}/admin`);
  await axeCheck(page, 'admin (en)');
  await shots(page, 'admin-en');
  await page.close();
});

test('a farmer imports a field, plans it and sees the flight path on the map', async () => {
  const page = await signedInPage('farmer', 'farmer-pass');
  await page.getByRole('link', { name: 'ほ場' }).click();
  await axeCheck(page, 'fields');
  const paddy = readFileSync(join(root, 'samples', 'fields', 'paddy_with_zones.geojson'));
  await page.getByLabel(/ファイル/).setInputFiles({ name: 'paddy.geojson', mimeType: 'application/geo+json', buffer: paddy });
  await page.getByLabel('作物').fill('水稲');
  await page.getByRole('button', { name: 'ほ場を取り込む' }).click();
  await assert.doesNotReject(page.getByRole('status').filter({ hasText: 'ほ場を取り込みました' }).waitFor());
  await axeCheck(page, 'fields after import');
  await shots(page, 'fields');
  await page.getByRole('status').getByRole('link').first().click();
  await axeCheck(page, 'field');
  await page.getByLabel('散布幅 (m)').fill('4');
  await page.getByRole('button', { name: '計画を作る' }).click();
  await page.waitForURL(/\/plans\/\d+$/);
  // Leaflet draws the field, the sprayable area and the path as SVG paths.
  await page.locator('#map path.leaflet-interactive').nth(5).waitFor({ timeout: 10_000 });
  const coverage = await page.locator('tr', { hasText: '散布カバー率' }).locator('td').innerText();
  assert.ok(parseFloat(coverage) >= 99, `coverage ${coverage}`);
  await axeCheck(page, 'plan');
  await shots(page, 'plan');
  const download = await page.request.get(page.url() + '/download/plan');
  assert.equal((await download.json()).fileType, 'Plan');
  await page.close();
});
