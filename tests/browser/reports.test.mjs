// Browser tests of the regional reports and the open-data page in real Chromium: charts are SVG
// with Japanese text, CSV downloads carry a BOM and Japanese headers, axe-core finds no serious
// or critical violation, print media keeps the Japanese text, screenshots at phone and desktop.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  artifacts, freshEnv, cli as runCli, startServer, launchBrowser, axeCheck, shots, signIn,
  phoneSignIn, setLang, journeyStep,
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

/**
 * Each chart of the page fits the phone's width, and its text is inside the chart, at least
 * `minPx` tall as shown, and overlaps no other text of it; returns how many charts there were.
 */
async function chartsReadable(page, minPx = 9) {
  const problems = await page.locator('figure svg[role=img]').evaluateAll((svgs, min) => svgs.flatMap((svg, k) => {
    const box = svg.getBoundingClientRect();
    const out = [];
    if (box.left < 0 || box.right > window.innerWidth + 0.5) out.push(`chart ${k} spans ${box.left}..${box.right} px`);
    // The drawing's pixels per screen pixel: the text is shown at its font size times this.
    const drawn = svg.viewBox.baseVal && svg.viewBox.baseVal.width ? svg.viewBox.baseVal.width : svg.width.baseVal.value;
    const scale = box.width / drawn;
    const texts = [...svg.querySelectorAll('text')].filter((t) => t.textContent.trim())
      .map((t) => ({ s: t.textContent.trim(), r: t.getBoundingClientRect(), px: parseFloat(getComputedStyle(t).fontSize) * scale }));
    for (const { s, r, px } of texts) {
      if (px < min) out.push(`chart ${k}: "${s}" is shown at ${px.toFixed(1)} px`);
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1) {
        out.push(`chart ${k}: "${s}" is cut at the chart's edge`);
      }
    }
    for (let i = 0; i < texts.length; i += 1) {
      for (let j = i + 1; j < texts.length; j += 1) {
        const a = texts[i].r; const b = texts[j].r;
        const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (w > 1 && h > 1) out.push(`chart ${k}: "${texts[i].s}" overlaps "${texts[j].s}"`);
      }
    }
    return out;
  }), minPx);
  assert.deepEqual(problems, [], 'charts readable at this width');
  return page.locator('figure svg[role=img]').count();
}

test('staff journey on a phone: the regional report, readable charts, its CSV with the figures shown', async () => {
  const page = await phoneSignIn(browser, base, 'staff', 'staff-pass', 'ja');
  await journeyStep(page, 'staff-1-home');
  await page.locator('#site-menu > summary').click();
  await Promise.all([page.waitForURL(`${base}/reports`), page.getByRole('link', { name: '地域レポート' }).click()]);
  await assert.doesNotReject(page.getByRole('heading', { level: 1, name: /地域レポート/ }).waitFor());
  await journeyStep(page, 'staff-2-report');
  assert.equal(await chartsReadable(page), 2);
  // Each chart keeps its figures as a table on the page (the district × month table).
  assert.ok(await page.locator('section table').count() >= 2);

  // The district × month table: one figure shown, then found in its CSV.
  const section = page.locator('section').filter({ has: page.getByRole('heading', { name: /地区・月別/ }) });
  const row = section.locator('tbody tr').filter({ hasText: '黒磯' }).first();
  const district = (await row.locator('th').first().innerText()).trim();
  const month = (await row.locator('th').nth(1).innerText()).trim();
  const figure = (await row.locator('td').nth(5).innerText()).trim();
  assert.match(figure, /^[\d,.]+$/, `a milked-cow figure, not ${figure}`);
  const [download] = await Promise.all([
    page.waitForEvent('download'), section.getByRole('link', { name: /CSVでダウンロード/ }).click(),
  ]);
  const bytes = readFileSync(await download.path());
  assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 BOM');
  const lines = bytes.toString('utf8').slice(1).split('\r\n');
  assert.ok(lines[0].startsWith('地区,月,散布農家数,飛行回数,散布面積 (ha),薬液量 (L),搾乳農家数,搾乳頭数'), lines[0]);
  const csvRow = lines.find((l) => l.startsWith(`${district},${month},`));
  assert.ok(csvRow, `no CSV row for ${district}`);
  assert.ok(csvRow.includes(figure) || csvRow.includes(`"${figure}"`), `${figure} not in ${csvRow}`);

  // The same report in English, charts still readable.
  await setLang(page, base, 'en');
  await page.reload();
  await assert.doesNotReject(page.getByRole('heading', { level: 1, name: /Regional report/i }).waitFor());
  assert.equal(await chartsReadable(page), 2);
  await journeyStep(page, 'staff-3-report-en');
  await page.context().close();
});
