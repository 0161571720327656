// Browser tests of the regional reports and the open-data page in real Chromium: charts are SVG
// with Japanese text, CSV downloads carry a BOM and Japanese headers, axe-core finds no serious
// or critical violation, print media keeps the Japanese text, screenshots at phone and desktop.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  artifacts, freshEnv, cli as runCli, startServer, launchBrowser, axeCheck, shots, signIn,
} from './lib.mjs';

const { env } = freshEnv('agriops-reports-');
let server, browser, base;
const tokens = [];
const year = Number(new Intl.DateTimeFormat('en', { timeZone: 'Asia/Tokyo', year: 'numeric' }).format(new Date()));

function cli(args, input) {
  return runCli(env, args, input);
}

let batchNo = 0;
/** One hour of milking for farm `i` starting at `start`. */
async function sendHour(i, start) {
  batchNo += 1;
  const end = new Date(start.getTime() + 3_600_000);
  const body = {
    version: 1, bridge_id: `reports-${i}`, batch_key: `r${batchNo}`,
    records: [{
      type: 'interval', key: `p${i}/${batchNo}`, parlor: `rotary-${i}`, farm: `f${i}`, unit: 1,
      start: start.toISOString(), end: end.toISOString(), online_s: 3600, cows: 200 + 10 * i, kg: 2500,
      cows_per_hour: 200, kg_per_hour: 2500, cows_per_hour_rolling: 200,
      milkings: 200, rotation_s: 540, occupancy: 0.85, idle_bails: 0, kickoffs: 1, reattaches: 0,
      stops: 0, washes: 0, high_conductivity_alerts: i, state: 'running',
    }],
  };
  const r = await fetch(`${base}/api/v1/ingest/parlor`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[i]}` },
    body: JSON.stringify(body),
  });
  assert.equal(r.status, 200, await r.text());
}

before(async () => {
  for (const name of ['kita', 'minami', 'higashi']) {
    cli(['farm', 'add', name, '--district', 'kuroiso', '--kind', 'dairy']);
  }
  cli(['user', 'add', 'staff', '--role', 'staff', '--display-name', '市職員', '--password-stdin'], 'staff-pass\n');
  const farms = cli(['farm', 'list']).split('\n');
  for (const name of ['kita', 'minami', 'higashi']) {
    const id = farms.find((l) => l.includes(name)).split('\t')[0];
    tokens.push(cli(['token', 'add', '--farm', id, '--name', name]).match(/: ([0-9a-f]{64})/)[1]);
  }
  ({ server, base } = await startServer(env));
  // Two milking hours a month for each farm, from January up to now (this year, Tokyo time).
  const now = Date.now();
  for (let m = 0; m < 12; m += 1) {
    const start = new Date(Date.UTC(year, m, 3, 20, 0, 0)); // 05:00 JST on the 4th
    if (start.getTime() + 2 * 3_600_000 > now) break;
    for (let i = 0; i < 3; i += 1) {
      await sendHour(i, start);
      await sendHour(i, new Date(start.getTime() + 3_600_000));
    }
  }
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.kill('SIGINT');
});

test('staff report: SVG charts in Japanese, tables, CSV, drill-down, print', async () => {
  const page = await signIn(browser, base, 'staff', 'staff-pass');
  await page.getByRole('link', { name: '地域レポート' }).click();
  await page.waitForURL(`${base}/reports`);
  await assert.doesNotReject(page.getByRole('heading', { level: 1, name: /地域レポート/ }).waitFor());
  const charts = page.locator('figure svg[role=img]');
  assert.equal(await charts.count(), 2);
  assert.match(await charts.first().locator('title').textContent(), /月別の散布面積/);
  assert.match(await charts.nth(1).locator('title').textContent(), /月別の乳量/);
  // Japanese text is drawn in the SVG itself (the bundled font), not only in <title>.
  assert.match(await charts.nth(1).innerHTML(), /<text[^>]*>[^<]*月別の乳量/);
  const row = page.getByRole('row', { name: /黒磯/ }).first();
  await assert.doesNotReject(row.waitFor());
  await axeCheck(page, 'reports');
  await shots(page, 'reports');

  // CSV of the district × month table.
  const href = await page.getByRole('link', { name: /CSVでダウンロード.*地区・月別/ }).getAttribute('href');
  const csv = await page.request.get(`${base}${href}`);
  assert.equal(csv.status(), 200);
  assert.equal(csv.headers()['content-type'], 'text/csv; charset=utf-8');
  assert.match(csv.headers()['content-disposition'], /attachment; filename="agriops-report-\d{4}-year-months\.csv"/);
  const body = new TextDecoder('utf-8', { ignoreBOM: true }).decode(await csv.body());
  assert.equal(body.charCodeAt(0), 0xfeff, 'UTF-8 BOM');
  assert.ok(body.slice(1).startsWith('地区,月,散布農家数,飛行回数,散布面積 (ha),薬液量 (L),搾乳農家数,搾乳頭数'), body.slice(0, 120));

  // Print keeps the Japanese text and drops the navigation and the chooser.
  await page.emulateMedia({ media: 'print' });
  assert.ok(await page.getByRole('heading', { level: 1, name: /地域レポート/ }).isVisible());
  assert.ok(await page.getByRole('columnheader', { name: '搾乳頭数' }).first().isVisible());
  assert.equal(await page.locator('header.site').isVisible(), false);
  await page.screenshot({ path: join(artifacts, 'reports-print.png'), fullPage: true });
  await page.emulateMedia({ media: 'screen' });

  // Drill down: district → farm.
  await page.getByRole('link', { name: '黒磯' }).first().click();
  await assert.doesNotReject(page.getByRole('heading', { level: 1, name: /黒磯/ }).waitFor());
  await assert.doesNotReject(page.getByRole('row', { name: /kita/ }).waitFor());
  await axeCheck(page, 'reports district');
  await shots(page, 'reports-district');
  await page.getByRole('link', { name: 'minami' }).click();
  await assert.doesNotReject(page.getByRole('heading', { level: 1, name: /minami/ }).waitFor());
  assert.equal(await page.locator('figure svg[role=img]').count(), 2);
  await axeCheck(page, 'reports farm');
  await shots(page, 'reports-farm');

  // A season and a month are chosen with the form.
  await page.goto(`${base}/reports`);
  await page.getByLabel('期間').selectOption('spring');
  await page.getByRole('button', { name: '表示' }).click();
  await assert.doesNotReject(page.getByRole('heading', { level: 1, name: /春（3〜5月）/ }).waitFor());
  await page.close();
});

test('open data: public page, JSON with the three dairy farms of Kuroiso, CSV with x', async () => {
  const page = await browser.newPage({ locale: 'ja-JP' });
  await page.goto(`${base}/opendata`);
  await assert.doesNotReject(page.getByRole('heading', { level: 1, name: 'オープンデータ' }).waitFor());
  await axeCheck(page, 'opendata');
  await shots(page, 'opendata');
  const json = await (await fetch(`${base}/opendata/district-month.json?year=${year}`)).json();
  const kuroiso = json.records.filter((r) => r.district_code === 'kuroiso' && r.dairy_farms === 3);
  assert.ok(kuroiso.length >= 1, JSON.stringify(json.records.slice(0, 3)));
  assert.equal(kuroiso[0].dairy_suppressed, false);
  assert.equal(kuroiso[0].alerts, 2 * (0 + 1 + 2));
  const empty = json.records.find((r) => r.district_code === 'shiobara' && r.month === kuroiso[0].month);
  assert.equal(empty.dairy_farms, 0);
  const bytes = new Uint8Array(await (await fetch(`${base}/opendata/district-month.csv?year=${year}`)).arrayBuffer());
  assert.deepEqual([...bytes.slice(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 BOM');
  const csv = new TextDecoder().decode(bytes);
  assert.ok(csv.startsWith('地区コード,地区名,'), csv.slice(0, 60));
  const schema = await (await fetch(`${base}/opendata/schema.json`)).json();
  assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  await page.close();
});
