// Browser tests of flights launched from the web, on `agriops demo` (its simulated spray drone is
// registered as the demo farm's vehicle): the launch page with the go/no-go checklist, the live
// page following the flight over SSE, the abort, the flight record page and the offer to resume
// the interrupted sortie; axe-core on every
// page and screenshots at phone and desktop widths (tests/artifacts/flights-*).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  bin, freshEnv, freePort, waitHealthy, launchBrowser, axeCheck, shots, signIn,
} from './lib.mjs';

const { env, dataDir } = freshEnv('agriops-flights-');
let server, browser, base;

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(bin, ['demo', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir],
    { env, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitHealthy(`${base}/healthz`, 30_000);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.kill('SIGINT');
});

test('vehicles, pilot credentials and flight history pages are accessible', async () => {
  const page = await signIn(browser, base, 'farmer', 'demo-farmer');
  await page.goto(`${base}/vehicles`);
  await assert.doesNotReject(page.getByRole('link', { name: 'JU-DEMO-0001' }).waitFor());
  await axeCheck(page, 'vehicles');
  await shots(page, 'flights-vehicles');
  await page.getByRole('link', { name: '自分の操縦者資格' }).click();
  assert.equal(await page.getByLabel('技能証明の番号').inputValue(), 'DEMO-L-0001');
  await axeCheck(page, 'pilot credentials');
  await page.goto(`${base}/flights`);
  await axeCheck(page, 'flight history');
  await page.close();
});

test('launch with the go/no-go, follow it live, abort, and read the record', async () => {
  const page = await signIn(browser, base, 'farmer', 'demo-farmer');
  await page.goto(`${base}/fields`);
  // The demo's plan: the first plan link of the first field that has one.
  await page.goto(`${base}/plans/1`);
  await page.getByRole('link', { name: '飛行を開始する' }).click();
  await page.waitForURL(/\/plans\/\d+\/launch$/);
  await axeCheck(page, 'launch');
  await shots(page, 'flights-launch');

  // Too much wind: the checklist says no-go and the server refuses.
  await page.getByLabel('風速 (m/s、高さ 1.5 m)').fill('4.5');
  await page.getByLabel('作物上の散布高度 (m)').fill('2');
  await page.getByRole('button', { name: 'チェックする' }).click();
  const wind = page.locator('tr[data-check="wind"]');
  await assert.doesNotReject(wind.filter({ hasText: '不可' }).waitFor());
  assert.ok(await page.getByRole('button', { name: 'アップロードして検証' }).isDisabled());
  await axeCheck(page, 'launch blocked');
  await shots(page, 'flights-launch-blocked');

  // Calm enough, neighbours told: go.
  await page.getByLabel('風速 (m/s、高さ 1.5 m)').fill('1.5');
  const notified = page.getByLabel('周辺住民への周知を済ませました');
  await notified.check();
  await page.getByRole('button', { name: 'チェックする' }).click();
  await assert.doesNotReject(wind.filter({ hasText: '可' }).waitFor());
  const ack = page.getByLabel('注意の項目を確認し、了承しました');
  if (await ack.count()) await ack.check();
  await page.getByRole('button', { name: 'アップロードして検証' }).click();
  await page.waitForURL(/\/flights\/\d+\/live$/);
  const flightUrl = page.url().replace(/\/live$/, '');

  // Read back and verified: the start form appears.
  const phase = page.locator('[data-live="phase"]');
  await assert.doesNotReject(phase.filter({ hasText: '検証済み・開始待ち' }).waitFor({ timeout: 30_000 }));
  await axeCheck(page, 'live verified');
  await shots(page, 'flights-live-verified');
  await page.getByLabel('機体の周囲に人がいないことを確認しました').check();
  await page.getByRole('button', { name: 'アームして開始' }).click();
  await page.waitForURL(/\/live$/);
  await assert.doesNotReject(phase.filter({ hasText: '飛行中' }).waitFor({ timeout: 30_000 }));
  await assert.doesNotReject(
    page.locator('[data-live="spray"]').filter({ hasText: '散布中' }).waitFor({ timeout: 60_000 }));
  await axeCheck(page, 'live flying');
  await shots(page, 'flights-live-flying');

  // Keyboard: the abort button is reachable and works.
  const abort = page.getByRole('button', { name: '中止（散布停止・帰還）' });
  await abort.focus();
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/live$/);
  await assert.doesNotReject(page.getByRole('link', { name: '飛行記録を見る' }).waitFor({ timeout: 90_000 }));
  await assert.doesNotReject(phase.filter({ hasText: '中止' }).waitFor());
  await axeCheck(page, 'live ended');

  await page.getByRole('link', { name: '飛行記録を見る' }).click();
  await page.waitForURL(flightUrl);
  await assert.doesNotReject(page.getByRole('heading', { name: '記録された飛行前チェック' }).waitFor());
  await axeCheck(page, 'flight record');
  await shots(page, 'flights-record');

  // The sortie was cut short while spraying: the launch page offers to resume it, by default.
  await page.goto(`${base}/plans/1/launch`);
  const group = page.getByRole('group', { name: '開始位置' });
  await assert.doesNotReject(group.waitFor());
  assert.ok(await group.getByRole('radio', { name: /中断した地点から再開する/ }).isChecked());
  assert.ok(!(await group.getByRole('radio', { name: '最初から全部飛行する' }).isChecked()));
  await axeCheck(page, 'launch with resume');
  await shots(page, 'flights-launch-resume');
  await page.close();
});
