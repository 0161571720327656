// Browser test of a farm's alert settings and alerts pages: a dairy operator adds a rule and a
// mail channel through the forms (a bad entry is named in Japanese), both pages pass axe-core
// at phone width, and the navigation's last link leads there. The Web Push section: with
// script it registers the service worker and says this browser is not subscribed (and that
// notifications are blocked when permission is refused); without script it says push needs
// JavaScript. (Subscribing itself needs the browser's push service, which this machine
// cannot reach; the server's side of it is tested against a push service peer in Rust.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  freshEnv, cli as run, startServer, launchBrowser, axeCheck, shots, signIn, phoneSignIn, setLang, journeyStep,
} from './lib.mjs';

const { dataDir, env } = freshEnv('agriops-alerts-');
const cli = (args, input) => run(env, args, input);
let server, base, browser, farmId, token;

before(async () => {
  cli(['farm', 'add', 'nasu-alerts', '--district', 'kuroiso', '--kind', 'dairy']);
  farmId = cli(['farm', 'list']).split('\n').find((l) => l.includes('nasu-alerts')).split('\t')[0];
  cli(['user', 'add', 'operator', '--role', 'dairy', '--farm', farmId, '--display-name', '搾乳担当', '--password-stdin'], 'operator-pass\n');
  // One rule from a file, as `agriops alerts import` takes it.
  const file = join(dataDir, 'alerts.toml');
  writeFileSync(file, '[[rule]]\nkind = "parlor_stopped"\nminutes = 5\ncritical = true\n');
  assert.match(cli(['alerts', 'import', '--farm', farmId, file]), /1 rules and 0 channels/);
  token = cli(['token', 'add', '--farm', farmId, '--name', 'east-bridge']).match(/: ([0-9a-f]{64})/)[1];
  // The alert service looks every second, so the journey's alarm opens while the page is watched.
  ({ server, base } = await startServer(env, ['--alert-interval-s', '1']));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.kill('SIGINT');
});

test('an operator edits the farm\'s alert rules and channels and reads its alerts', async () => {
  const page = await signIn(browser, base, 'operator', 'operator-pass');
  await page.setViewportSize({ width: 360, height: 740 });
  // On a phone the links wait behind the menu button.
  await page.locator('#site-menu > summary').click();
  await Promise.all([page.waitForURL(`${base}/farms/${farmId}/alerts`), page.getByRole('link', { name: 'アラート', exact: true }).click()]);
  await assert.doesNotReject(page.getByText('アラートはまだありません。').waitFor());
  await axeCheck(page, 'alerts');
  await page.getByRole('link', { name: /アラートの条件/ }).click();
  await page.waitForURL(`${base}/farms/${farmId}/alerts/settings`);
  await assert.doesNotReject(page.getByRole('cell', { name: /停止中/ }).waitFor());
  await axeCheck(page, 'alert settings');
  await shots(page, 'alert-settings');

  // A throughput rule without its floor: refused, the field named in Japanese.
  await page.getByLabel('種類').selectOption('low_throughput');
  await page.getByLabel('分', { exact: true }).fill('15');
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: '追加' }).first().click()]);
  await assert.doesNotReject(page.getByText('この種類にはしきい値が必要です').waitFor());
  await page.goBack();
  await page.getByLabel('種類').selectOption('low_throughput');
  await page.getByLabel('分', { exact: true }).fill('15');
  await page.getByLabel('しきい値（上限・倍率）').fill('250');
  await Promise.all([page.waitForURL(`${base}/farms/${farmId}/alerts/settings`), page.getByRole('button', { name: '追加' }).first().click()]);
  await assert.doesNotReject(page.getByRole('cell', { name: /処理頭数低下/ }).waitFor());

  await page.getByLabel('宛先（メールアドレスまたはURL）').fill('operator@nasu.example.jp');
  await page.getByLabel('通知しない時間帯の開始（時:分）').fill('22:00');
  await page.getByLabel('通知しない時間帯の終了（時:分）').fill('05:30');
  await Promise.all([page.waitForURL(`${base}/farms/${farmId}/alerts/settings`), page.getByRole('button', { name: '追加' }).last().click()]);
  await assert.doesNotReject(page.getByRole('cell', { name: '22:00–05:30' }).waitFor());
  await axeCheck(page, 'alert settings with a channel');
  const exported = cli(['alerts', 'export', '--farm', farmId]);
  assert.match(exported, /kind = "low_throughput"/);
  assert.match(exported, /quiet = "22:00-05:30"/);
});

test('the push section says what this browser can do, with and without script', async () => {
  const page = await signIn(browser, base, 'operator', 'operator-pass');
  await page.goto(`${base}/farms/${farmId}/alerts/settings`);
  const status = page.locator('#push-status');
  await assert.doesNotReject(status.getByText('この端末は登録されていません。').waitFor());
  assert.equal(await status.getAttribute('aria-live'), 'polite');
  const on = page.getByRole('button', { name: 'この端末で受け取る' });
  await assert.doesNotReject(on.waitFor());
  assert.ok(await page.evaluate(async () => !!(await navigator.serviceWorker.getRegistration('/'))));
  await axeCheck(page, 'alert settings, push section');
  // Permission refused: said in the live region, the button usable again.
  await page.context().clearPermissions();
  await on.focus();
  await page.keyboard.press('Enter');
  await assert.doesNotReject(status.getByText('通知が許可されていません', { exact: false }).waitFor());
  assert.equal(await on.isEnabled(), true);
  await page.close();

  const plain = await browser.newPage({ locale: 'ja-JP', javaScriptEnabled: false });
  await plain.goto(`${base}/login`);
  await plain.getByLabel('ユーザー名').fill('operator');
  await plain.getByLabel('パスワード').fill('operator-pass');
  await Promise.all([plain.waitForURL(`${base}/`), plain.getByRole('button', { name: 'ログイン' }).click()]);
  await plain.goto(`${base}/farms/${farmId}/alerts/settings`);
  // (With script switched off by the DevTools protocol, Chromium still parses <noscript> as
  // if script ran, so its sentence is read from the element rather than waited for as text.)
  assert.match(await plain.locator('#push noscript').textContent(), /プッシュ通知の登録には JavaScript が必要です/);
  assert.equal(await plain.locator('#push-controls').isVisible(), false);
  assert.equal(await plain.getByRole('button', { name: 'この端末で受け取る' }).isVisible(), false);
  await plain.close();
});

/** Ten minutes of the platform standing stopped, up to now, as the bridge sends them (one a minute). */
async function sendStopped() {
  const now = Date.now();
  const records = [];
  for (let m = 10; m >= 1; m -= 1) {
    const start = new Date(now - m * 60_000);
    const end = new Date(now - (m - 1) * 60_000);
    records.push({
      type: 'interval', key: `east/stop-${m}`, parlor: 'east', farm: 'nasu-alerts', unit: 1,
      start: start.toISOString(), end: end.toISOString(), online_s: 60, cows: 0, kg: 0,
      cows_per_hour: 0, kg_per_hour: 0, cows_per_hour_rolling: 0,
      milkings: 0, rotation_s: 540, occupancy: 0, idle_bails: 0, kickoffs: 0, reattaches: 0,
      stops: m === 10 ? 1 : 0, washes: 0, high_conductivity_alerts: 0, state: 'stopped',
    });
  }
  const r = await fetch(`${base}/api/v1/ingest/parlor`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ version: 1, bridge_id: 'east-bridge', batch_key: 'east-stopped', records }),
  });
  assert.equal(r.status, 200, await r.text());
}

test('dairy journey on a phone: the parlor stops, its alarm opens and is acknowledged from the page', async () => {
  const page = await phoneSignIn(browser, base, 'operator', 'operator-pass', 'ja');
  await sendStopped();
  await page.goto(`${base}/parlors`);
  await journeyStep(page, 'dairy-1-parlors');
  await Promise.all([page.waitForURL(/\/parlors\/\d+$/), page.getByRole('link', { name: 'east' }).first().click()]);
  await assert.doesNotReject(page.getByText('一時停止').first().waitFor());
  // The two charts fill the phone's column at about the size they are drawn (their text
  // stays readable), each with its figures as a table.
  const charts = await page.locator('figure img.chart').evaluateAll((imgs) => imgs.map((i) => ({
    shown: i.getBoundingClientRect().width, drawn: i.naturalWidth, right: i.getBoundingClientRect().right,
  })));
  assert.equal(charts.length, 2);
  for (const c of charts) {
    assert.ok(c.right <= 360 && c.shown >= 0.85 * c.drawn, `chart drawn ${c.drawn} px wide, shown ${c.shown} px`);
  }
  assert.equal(await page.locator('figure:has(img.chart) details table').count(), 2);
  await journeyStep(page, 'dairy-2-parlor');

  // The stopped-platform rule (5 minutes) opens an alert within a few evaluations.
  await page.locator('#site-menu > summary').click();
  await Promise.all([page.waitForURL(`${base}/farms/${farmId}/alerts`), page.getByRole('link', { name: 'アラート', exact: true }).click()]);
  const open = page.locator('article.card').filter({ has: page.locator('.badge', { hasText: '発生中' }) });
  for (let i = 0; i < 20 && (await open.count()) === 0; i += 1) {
    await page.waitForTimeout(500);
    await page.reload();
  }
  assert.equal(await open.count(), 1, 'one open alert for the stopped parlor');
  assert.match(await open.locator('h2').innerText(), /停止/);
  await journeyStep(page, 'dairy-3-alert-open');
  await Promise.all([page.waitForLoadState('load'), open.getByRole('button', { name: '確認済みにする' }).click()]);
  const card = page.locator('article.card').first();
  await assert.doesNotReject(card.locator('dt', { hasText: '確認' }).waitFor());
  assert.equal(await card.getByRole('button', { name: '確認済みにする' }).count(), 0, 'no button once acknowledged');
  await journeyStep(page, 'dairy-4-alert-acknowledged');

  // The same page in English shows the acknowledgement.
  await setLang(page, base, 'en');
  await page.reload();
  await assert.doesNotReject(page.locator('article.card').first().locator('dt', { hasText: 'Acknowledged' }).waitFor());
  await journeyStep(page, 'dairy-5-alert-acknowledged-en');
  await page.context().close();
});
