// Browser test of a farm's alert settings and alerts pages: a dairy operator adds a rule and a
// mail channel through the forms (a bad entry is named in Japanese), both pages pass axe-core
// at phone width, and the navigation's last link leads there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  freshEnv, cli as run, startServer, launchBrowser, axeCheck, shots, signIn,
} from './lib.mjs';

const { dataDir, env } = freshEnv('agriops-alerts-');
const cli = (args, input) => run(env, args, input);
let server, base, browser, farmId;

before(async () => {
  cli(['farm', 'add', 'nasu-alerts', '--district', 'kuroiso', '--kind', 'dairy']);
  farmId = cli(['farm', 'list']).split('\n').find((l) => l.includes('nasu-alerts')).split('\t')[0];
  cli(['user', 'add', 'operator', '--role', 'dairy', '--farm', farmId, '--display-name', '搾乳担当', '--password-stdin'], 'operator-pass\n');
  // One rule from a file, as `agriops alerts import` takes it.
  const file = join(dataDir, 'alerts.toml');
  writeFileSync(file, '[[rule]]\nkind = "parlor_stopped"\nminutes = 5\ncritical = true\n');
  assert.match(cli(['alerts', 'import', '--farm', farmId, file]), /1 rules and 0 channels/);
  ({ server, base } = await startServer(env, ['--alert-interval-s', '0']));
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
