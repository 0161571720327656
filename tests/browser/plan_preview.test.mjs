// The plan form's live preview on an old phone (360×740) with `agriops demo`'s farmer: the
// estimate panel (an aria-live region) fills in, changing the swath width changes the
// estimate and redraws the route (spray legs solid, pump-off legs dashed), the heading is set
// by dragging the handle on the map and by the number input, nothing scrolls sideways, and
// axe-core finds nothing serious. Nothing is stored by any of it. Screenshots go to
// tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  freshEnv, freePort, waitHealthy, launchBrowser, axeCheck, artifacts, bin,
} from './lib.mjs';

const { dataDir, env } = freshEnv('agriops-preview-');
const PHONE = { width: 360, height: 740 };
let demo, browser, base;

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  demo = spawn(bin, ['demo', '--listen', `127.0.0.1:${port}`, '--data-dir', join(dataDir, 'demo')],
    { env, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitHealthy(`${base}/healthz`, 60_000);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  demo?.kill('SIGINT');
});

/** The estimate panel's figure `key` as shown. */
function figure(page, key) {
  return page.locator(`#preview-estimate [data-estimate="${key}"]`).innerText();
}

/** Waits until figure `key` shows something other than `old` (and not the placeholder). */
async function figureChanges(page, key, old) {
  await page.waitForFunction(([k, o]) => {
    const dd = document.querySelector(`#preview-estimate [data-estimate="${k}"]`);
    const t = dd && dd.textContent.trim();
    return t && t !== '—' && t !== o;
  }, [key, old], { timeout: 20_000 });
  return figure(page, key);
}

/** No sideways scrolling. */
async function noSideScroll(page, when) {
  const [scroll, width] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(scroll <= width, `${when}: the page is ${scroll} px wide on a ${width} px screen`);
}

test('the plan form previews the route and the estimate as it changes, heading dragged on the map', async () => {
  const context = await browser.newContext({ viewport: PHONE, locale: 'ja-JP' });
  await context.addCookies([{ name: 'lang', value: 'ja', url: base }]);
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.locator('#username').fill('farmer');
  await page.locator('#password').fill('demo-farmer');
  await Promise.all([page.waitForURL(`${base}/`), page.locator('form[action="/login"] button').click()]);

  const fields = await (await page.request.get(`${base}/api/v1/fields`)).json();
  assert.ok(fields.length > 0, 'the demo farmer has a field');
  const field = fields[0].id;
  const plansBefore = await page.request.get(`${base}/fields/${field}`).then((r) => r.text())
    .then((t) => (t.match(/href="\/plans\/\d+"/g) || []).length);
  const previews = [];
  page.on('request', (r) => { if (r.url().endsWith(`/fields/${field}/preview`)) previews.push(r.method()); });

  await page.goto(`${base}/fields/${field}`);
  // The panel appears with the script and fills in once.
  const panel = page.locator('#plan-preview');
  await panel.waitFor({ state: 'visible' });
  assert.equal(await page.locator('#preview-estimate').getAttribute('aria-live'), 'polite');
  const time5 = await figureChanges(page, 'flight_time', '—');
  assert.match(time5, /^\d+:\d\d$/);
  assert.match(await figure(page, 'heading'), /^\d+° \(自動\)$/);
  // The route on the field's map: spray legs solid, legs with the pump off dashed.
  await page.waitForFunction(() => document.querySelectorAll('#map path[stroke-dasharray="6 6"]').length > 0,
    null, { timeout: 10_000 });
  const solid = await page.locator('#map path:not([stroke-dasharray])').count();
  assert.ok(solid > 0, 'spray legs drawn solid');
  await noSideScroll(page, 'field page with its preview');
  await axeCheck(page, 'field page with the plan preview');

  // A wider swath: fewer passes, a shorter flight.
  const swath = page.getByLabel('散布幅 (m)');
  await swath.fill('8');
  const time8 = await figureChanges(page, 'flight_time', time5);
  const secs = (t) => t.split(':').reduce((m, s) => m * 60 + Number(s), 0);
  assert.ok(secs(time8) < secs(time5), `8 m swaths fly ${time8}, 5 m ${time5}`);
  // (Not full-page: that resizes the viewport, and the map, under the drag below.)
  await page.screenshot({ path: join(artifacts, 'plan-preview-phone.png') });

  // The heading dragged on the map, as in QGroundControl's survey.
  const handle = page.locator('.heading-handle');
  await handle.scrollIntoViewIfNeeded();
  const box = await handle.boundingBox();
  assert.ok(box, 'the heading handle is on the map');
  const before = await page.locator('#heading_deg').inputValue();
  const headingShown = await figure(page, 'heading');
  const [cx, cy] = [box.x + box.width / 2, box.y + box.height / 2];
  await page.mouse.move(cx, cy);
  await page.mouse.down();
  await page.mouse.move(cx + 40, cy + 60, { steps: 8 });
  await page.mouse.up();
  assert.ok(await page.locator('#heading-set').isChecked(), 'dragging sets the heading');
  const dragged = await page.locator('#heading_deg').inputValue();
  assert.notEqual(dragged, before);
  const shown = await figureChanges(page, 'heading', headingShown);
  assert.match(shown, /\(指定\)$/);
  assert.equal(parseInt(shown, 10), Number(dragged) % 180, `${shown} after dragging to ${dragged}°`);

  // The keyboard's way: the number input.
  await page.locator('#heading_deg').fill('45');
  assert.equal(await figureChanges(page, 'heading', shown), '45° (指定)');
  await noSideScroll(page, 'after the heading was set');
  await axeCheck(page, 'field page after the heading was set');
  await page.screenshot({ path: join(artifacts, 'plan-preview-heading-phone.png'), fullPage: true });

  // A value the planner refuses: said in the panel, in Japanese, no figures left standing.
  await swath.fill('0');
  await page.locator('#preview-status.alert').waitFor({ timeout: 20_000 });
  assert.match(await page.locator('#preview-status').innerText(), /散布幅 \(m\)/);
  assert.equal(await figure(page, 'flight_time'), '—');
  await axeCheck(page, 'field page with a refused preview');

  assert.ok(previews.length >= 4 && previews.every((m) => m === 'POST'), `previews: ${previews}`);
  const plansAfter = await page.request.get(`${base}/fields/${field}`).then((r) => r.text())
    .then((t) => (t.match(/href="\/plans\/\d+"/g) || []).length);
  assert.equal(plansAfter, plansBefore, 'previews store no plan');
  await context.close();
});
