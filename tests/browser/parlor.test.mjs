// Browser tests of the parlor ring of bails (live over SSE), the account page and the admin
// user editor, in real Chromium with axe-core and screenshots at phone and desktop widths.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  freshEnv, cli as runCli, startServer, launchBrowser, axeCheck, shots, signIn,
} from './lib.mjs';

const { env } = freshEnv('agriops-parlor-');
let server, browser, base, token, parlorId;

function cli(args, input) {
  return runCli(env, args, input);
}

let batchNo = 0;
async function send(records, version = 2) {
  batchNo += 1;
  const body = { version, bridge_id: 'ring-test', batch_key: `ring-${batchNo}`, records };
  const r = await fetch(`${base}/api/v1/ingest/parlor`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  assert.equal(r.status, 200, await r.text());
}

/** A snapshot of 30 bails: the first `occupied` milking, bail 4 kicked off, entrance at bail 1. */
function snapshot(occupied, firstState) {
  const t = new Date();
  const bails = [];
  for (let b = 1; b <= 30; b += 1) {
    let state = b <= occupied ? 'milking' : 'empty';
    if (b === 1) state = firstState;
    if (b === 4) state = 'kicked_off';
    bails.push({
      bail: b, state, cow_id: state === 'empty' ? 0 : 1000 + b,
      current_yield_kg: state === 'milking' ? 5.5 : null, alarm: state === 'kicked_off',
    });
  }
  return {
    type: 'bails', key: `east-rotary/${t.getTime()}`, parlor: 'east-rotary', farm: 'nasu', unit: 1,
    t: t.toISOString(), entrance_bail: 1, bails,
  };
}

before(async () => {
  cli(['farm', 'add', 'nasu', '--district', 'kuroiso', '--kind', 'dairy']);
  const farms = cli(['farm', 'list']);
  const farmId = farms.split('\n').find((l) => l.includes('nasu')).split('\t')[0];
  cli(['user', 'add', 'admin', '--role', 'admin', '--display-name', '管理者', '--password-stdin'], 'browser-pass\n');
  cli(['user', 'add', 'milker', '--role', 'dairy', '--farm', farmId, '--display-name', '搾乳係', '--password-stdin'], 'milker-pass\n');
  const out = cli(['token', 'add', '--farm', farmId, '--name', 'ring']);
  token = out.match(/: ([0-9a-f]{64})/)[1];
  ({ server, base } = await startServer(env));
  await send([snapshot(20, 'prep')]);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.kill('SIGINT');
});

test('the ring shows every bail and a bail changes state live', async () => {
  const page = await signIn(browser, base, 'milker', 'milker-pass');
  await page.goto(`${base}/parlors`);
  await page.getByRole('link', { name: 'east-rotary' }).click();
  parlorId = page.url().split('/').pop();
  const ring = page.locator('#bail-ring');
  await assert.doesNotReject(ring.getByRole('img', { name: 'ストールの状態' }).waitFor());
  assert.equal(await ring.locator('path[data-bail]').count(), 30);
  assert.equal(await ring.locator('path[data-bail="1"]').getAttribute('data-state'), 'prep');
  assert.match(await ring.locator('p[data-occupied]').textContent(), /20 \/ 30/);
  // The table alternative opens from the keyboard.
  await ring.locator('summary').focus();
  await page.keyboard.press('Enter');
  assert.equal(await ring.getByRole('row', { name: /^4 / }).getByText('ミルカー脱落').count(), 1);
  await axeCheck(page, 'parlor ring');
  await shots(page, 'parlor-ring');
  // The bridge reports bail 1 milking now: the segment changes without a reload, the table stays open.
  await send([snapshot(20, 'milking')]);
  await page.waitForFunction(
    () => document.querySelector('#bail-ring path[data-bail="1"]')?.getAttribute('data-state') === 'milking',
    null, { timeout: 15_000 },
  );
  assert.equal(await ring.locator('details').getAttribute('open'), '');
  await axeCheck(page, 'parlor ring after a live update');
  await page.close();
});

test('an old bridge batch (wire version 1, no snapshot) is still taken', async () => {
  const end = new Date();
  await send([{
    type: 'gap', key: 'east-rotary/gap1', parlor: 'east-rotary', farm: 'nasu',
    start: new Date(end.getTime() - 120_000).toISOString(), end: end.toISOString(), controller_restarted: false,
  }], 1);
});

test('the account page changes the password', async () => {
  const page = await signIn(browser, base, 'milker', 'milker-pass');
  await page.getByRole('link', { name: 'アカウント' }).click();
  await page.getByRole('heading', { name: 'パスワードの変更' }).waitFor();
  await axeCheck(page, 'account');
  await shots(page, 'account');
  await page.getByLabel('現在のパスワード').fill('wrong-pass');
  await page.getByLabel('新しいパスワード', { exact: true }).fill('milker-pass-2');
  await page.getByLabel('新しいパスワード（確認）').fill('milker-pass-2');
  await page.getByRole('button', { name: 'パスワードの変更' }).click();
  await assert.doesNotReject(page.getByRole('alert').filter({ hasText: '現在のパスワードが正しくありません' }).waitFor());
  await axeCheck(page, 'account with an error');
  await page.getByLabel('現在のパスワード').fill('milker-pass');
  await page.getByLabel('新しいパスワード', { exact: true }).fill('milker-pass-2');
  await page.getByLabel('新しいパスワード（確認）').fill('milker-pass-2');
  await page.getByRole('button', { name: 'パスワードの変更' }).click();
  await assert.doesNotReject(page.getByRole('status').filter({ hasText: 'パスワードを変更しました' }).waitFor());
  await page.close();
  const again = await signIn(browser, base, 'milker', 'milker-pass-2');
  await again.close();
});

test('the admin edits and disables a user', async () => {
  const page = await signIn(browser, base, 'admin', 'browser-pass');
  await page.goto(`${base}/admin`);
  await page.getByRole('link', { name: /編集.*milker/ }).click();
  await page.getByRole('heading', { name: /ユーザーの編集/ }).waitFor();
  await axeCheck(page, 'admin user editor');
  await shots(page, 'admin-user');
  await page.getByLabel('表示名').fill('搾乳係（東）');
  await page.getByRole('button', { name: '保存' }).click();
  await page.getByRole('status').filter({ hasText: '保存しました' }).waitFor();
  await page.getByRole('button', { name: '利用を停止' }).click();
  await page.getByRole('status').filter({ hasText: '利用を停止しました' }).waitFor();
  await page.goto(`${base}/admin`);
  await assert.doesNotReject(page.getByRole('cell', { name: '停止中' }).waitFor());
  await assert.doesNotReject(page.getByRole('heading', { name: '変更履歴' }).waitFor());
  await axeCheck(page, 'admin with the change log');
  await shots(page, 'admin-audit');
  await page.close();
  assert.ok(parlorId);
});
