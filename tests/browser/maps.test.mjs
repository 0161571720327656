// The maps' background without a network: with the tile server unreachable the field map says
// so in the page's language (not a silent grey square); with the tiles imported into the
// server's own cache (`agriops tiles import`, served at /tiles/{z}/{x}/{y}) the same map draws
// them and says nothing. Screenshots go to tests/artifacts/.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  freshEnv, freePort, waitHealthy, launchBrowser, axeCheck, artifacts, bin, cli, root, signIn,
  startServer, phoneSignIn, setLang, journeyStep,
} from './lib.mjs';

const { dataDir, env } = freshEnv('agriops-maps-');
const running = [];
let browser;

after(async () => {
  await browser?.close();
  for (const p of running) p.kill('SIGINT');
});

async function demo(dir, tileUrl) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const p = spawn(bin, ['demo', '--listen', `127.0.0.1:${port}`, '--data-dir', dir, '--tile-url', tileUrl],
    { env, stdio: ['ignore', 'ignore', 'inherit'] });
  running.push(p);
  await waitHealthy(`${base}/healthz`, 60_000);
  return base;
}

/** The farmer's field list with its map, and the tile requests it made as [z, x, y]. */
async function fieldMap(base, tilePattern) {
  const page = await signIn(browser, base, 'farmer', 'demo-farmer');
  const tiles = [];
  page.on('request', (r) => {
    const m = r.url().match(tilePattern);
    if (m) tiles.push([m[1], m[2], m[3]]);
  });
  await page.setViewportSize({ width: 360, height: 740 });
  await page.goto(`${base}/fields`);
  await page.locator('#map.leaflet-container').waitFor();
  return { page, tiles };
}

test('an unreachable tile server is said, and imported tiles are drawn from the cache', async () => {
  browser = await launchBrowser();
  // Nothing listens on this port: every tile fails at once.
  const dead = await freePort();
  const base = await demo(join(dataDir, 'offline'), `http://127.0.0.1:${dead}/xyz/{z}/{x}/{y}.png`);
  const { page, tiles } = await fieldMap(base, /\/xyz\/(\d+)\/(\d+)\/(\d+)\.png$/);
  const note = page.locator('#map + .map-note');
  await note.waitFor({ timeout: 20_000 });
  assert.match(await note.textContent(), /背景の地図を読み込めません/);
  assert.equal(await note.getAttribute('role'), 'status');
  assert.ok(tiles.length >= 4, `the map asked for ${tiles.length} tiles`);
  await axeCheck(page, 'fields map without tiles');
  await page.screenshot({ path: join(artifacts, 'map-no-tiles-phone.png'), fullPage: true });
  await page.close();

  // The same tiles as an XYZ folder (any real PNG will do), imported into a fresh server.
  const folder = join(dataDir, 'xyz');
  const png = join(root, 'web', 'static', 'vendor', 'leaflet', 'images', 'layers-2x.png');
  for (const [z, x, y] of tiles) {
    mkdirSync(join(folder, z, x), { recursive: true });
    copyFileSync(png, join(folder, z, x, `${y}.png`));
  }
  const cached = join(dataDir, 'cached');
  const out = cli(env, ['tiles', 'import', folder, '--data-dir', cached, '--bbox', '36.84,139.76,37.15,140.12']);
  assert.match(out, /tiles written/);
  const base2 = await demo(cached, '/tiles/{z}/{x}/{y}');
  const second = await fieldMap(base2, /\/tiles\/(\d+)\/(\d+)\/(\d+)$/);
  await second.page.waitForFunction(() => document.querySelectorAll('img.leaflet-tile-loaded').length >= 4,
    null, { timeout: 20_000 });
  // Give a failing tile time to be counted before saying nothing failed.
  await second.page.waitForTimeout(500);
  assert.equal(await second.page.locator('.map-note').count(), 0, 'no note over a drawn background');
  await second.page.screenshot({ path: join(artifacts, 'map-cached-tiles-phone.png'), fullPage: true });
  await second.page.close();
});

/** A square paddy of about 60 m a side whose south-west corner is at (lat, lon), named `id`. */
function paddy(id, lat, lon) {
  const d = 0.0006;
  return {
    type: 'Feature', properties: { id },
    geometry: { type: 'Polygon', coordinates: [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]] },
  };
}

test('a field 30 km from the others leaves the list map on the main group, with a button to it', async () => {
  browser = browser || await launchBrowser();
  const far = freshEnv('agriops-farfield-');
  cli(far.env, ['farm', 'add', 'kita-farm', '--district', 'kuroiso', '--kind', 'crop']);
  const farmId = cli(far.env, ['farm', 'list']).split('\n').find((l) => l.includes('kita-farm')).split('\t')[0];
  cli(far.env, ['user', 'add', 'kita', '--role', 'farmer', '--farm', farmId, '--display-name', '北さん', '--password-stdin'], 'kita-pass\n');
  const { server, base } = await startServer(far.env);
  running.push(server);
  const page = await phoneSignIn(browser, base, 'kita', 'kita-pass', 'ja');
  // Three paddies side by side near Kuroiso and one about 30 km north-east of them.
  const near = [[36.970, 139.980], [36.971, 139.982], [36.969, 139.983]];
  const fc = {
    type: 'FeatureCollection',
    features: [...near.map(([la, lo], i) => paddy(`near-${i + 1}`, la, lo)), paddy('yama-no-ta', 37.16, 140.22)],
  };
  await page.goto(`${base}/fields`);
  await page.locator('#field-geojson').fill(JSON.stringify(fc));
  await Promise.all([page.waitForLoadState('load'), page.locator('form[action="/fields/import"] button[type=submit]').click()]);
  await page.goto(`${base}/fields`);
  const box = page.locator('.map-far');
  await box.waitFor({ timeout: 20_000 });
  assert.match(await box.locator('p').innerText(), /離れている/);
  assert.deepEqual(await box.getByRole('button').allInnerTexts(), ['yama-no-ta', 'すべてのほ場を表示']);

  /** Which of the fields the map shows now, and its zoom. */
  const view = () => page.evaluate(([pts, farPt]) => {
    const m = window.agriopsMaps.map;
    const b = m.getBounds();
    return { zoom: m.getZoom(), near: pts.map(([la, lo]) => b.contains([la + 0.0003, lo + 0.0003])), far: b.contains([farPt[0] + 0.0003, farPt[1] + 0.0003]) };
  }, [near, [37.16, 140.22]]);
  let v = await view();
  assert.deepEqual(v.near, [true, true, true], 'the main group is in view');
  assert.equal(v.far, false, 'the far field is left out');
  assert.ok(v.zoom >= 15, `the main group is readable (zoom ${v.zoom})`);
  await journeyStep(page, 'fields-far-main-group');

  await box.getByRole('button', { name: 'yama-no-ta' }).click();
  await page.waitForTimeout(400);
  v = await view();
  assert.equal(v.far, true, 'the far field\'s button brings it into view');
  assert.ok(v.zoom >= 15, `zoomed to the far field (zoom ${v.zoom})`);
  await box.getByRole('button', { name: 'すべてのほ場を表示' }).click();
  await page.waitForTimeout(400);
  v = await view();
  assert.deepEqual([...v.near, v.far], [true, true, true, true], 'show all fits every field');

  // In English the same controls speak English.
  await setLang(page, base, 'en');
  await page.reload();
  await page.locator('.map-far').waitFor({ timeout: 20_000 });
  assert.deepEqual(await page.locator('.map-far').getByRole('button').allInnerTexts(), ['yama-no-ta', 'Show all fields']);
  await journeyStep(page, 'fields-far-main-group-en');
  await page.context().close();
});
