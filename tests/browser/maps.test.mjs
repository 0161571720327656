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
