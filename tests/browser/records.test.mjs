// Browser tests of spray records and the flight logbook: `agriops demo` serves a farm with a
// plan and a simulated drone; `agriops fly` flies it and keeps the .tlog; the farmer uploads
// it, edits and signs the record, prints it (A4, Japanese, no navigation) and downloads the CSV.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  freshEnv, cli, launchBrowser, axeCheck, shots, signIn, artifacts, root, startDemo, phoneSignIn, setLang, journeyStep,
} from './lib.mjs';

const { dataDir, env } = freshEnv('agriops-records-');
let demo, browser, base, tlogPath, flightId, flyCmd;

before(async () => {
  let fly;
  ({ demo, base, fly } = await startDemo(env, join(dataDir, 'demo')));
  flyCmd = fly;
  tlogPath = join(dataDir, 'flight.tlog');
  cli(env, ['fly', '--connect', fly.connect, fly.plan, '--sortie', '1', '--yes', '--enable-fence', '--tlog', tlogPath]);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  demo?.kill('SIGINT');
});

test('a farmer records a flight, edits and signs its record and logbook, prints and exports', async () => {
  const page = await signIn(browser, base, 'farmer', 'demo-farmer');
  // The demo's only plan (on the farmer's farm) takes the flown .tlog.
  await page.goto(`${base}/plans/1`);
  await page.setInputFiles('#tlog', tlogPath);
  await Promise.all([page.waitForURL(/\/flights\/\d+$/), page.locator('form[action$="/flights"] button[type=submit]').click()]);
  flightId = page.url().match(/\/flights\/(\d+)$/)[1];

  await page.getByRole('link', { name: '農薬使用記録' }).click();
  await page.waitForURL(`${base}/flights/${flightId}/record`);
  await assert.doesNotReject(page.getByRole('heading', { name: /農薬使用記録/ }).waitFor());
  // Prefilled from the flight: the as-applied area and the date (the demo plan has no rate,
  // so the litres are the operator's to fill in).
  assert.ok(Number(await page.getByLabel('散布面積（m²）').inputValue()) > 100);
  assert.match(await page.getByLabel('散布日').inputValue(), /^\d{4}-\d{2}-\d{2}$/);
  await axeCheck(page, 'spray record');
  await shots(page, 'record-draft');

  await page.getByLabel('農薬名').fill('スタークル粒剤');
  await page.getByLabel('農林水産省登録番号（数字）').fill('20887');
  await page.getByLabel('希釈倍数（倍）').fill('1000');
  await page.getByLabel('10a当たり使用量（L）').fill('0.8');
  await page.getByLabel('使用総量（L）').fill('1.2');
  await page.getByLabel('備考').fill('北風 弱');
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: '保存' }).click()]);
  await assert.doesNotReject(page.getByRole('cell', { name: '農林水産省登録第20887号' }).waitFor());
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: '確認して署名する' }).click()]);
  await assert.doesNotReject(page.getByRole('status').filter({ hasText: '署名済み' }).waitFor());
  assert.equal(await page.getByRole('button', { name: '保存' }).count(), 0, 'a signed record has no edit form');
  await axeCheck(page, 'signed record');
  await shots(page, 'record-signed');

  // Print: Japanese text stays, navigation and forms go, and a PDF comes out.
  await page.emulateMedia({ media: 'print' });
  assert.equal(await page.locator('header.site').isVisible(), false, 'navigation hidden in print');
  assert.equal(await page.getByRole('button', { name: '訂正版を作る' }).isVisible(), false);
  assert.ok(await page.getByRole('heading', { name: /農薬使用記録/ }).isVisible());
  assert.ok(await page.getByRole('cell', { name: 'スタークル粒剤' }).isVisible());
  const pdf = await page.pdf({ format: 'A4', path: join(artifacts, 'record-print.pdf') });
  assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
  // The record's text is set in Mincho (the font the print stylesheet asks for is installed).
  assert.ok(pdf.includes('IPAexMincho'), 'the PDF embeds IPAexMincho');
  await page.emulateMedia({ media: 'screen' });

  // The logbook draft: takeoff and landing from the .tlog, notes editable, then signed.
  await page.goto(`${base}/flights/${flightId}/logbook`);
  await assert.doesNotReject(page.getByRole('heading', { name: /飛行日誌/ }).waitFor());
  const takeoff = await page.getByRole('row', { name: /離陸時刻/ }).innerText();
  assert.match(takeoff, /\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/);
  assert.match(await page.getByRole('row', { name: /飛行目的/ }).innerText(), /農薬散布/);
  await page.getByLabel('備考').fill('異常なし');
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: '保存' }).click()]);
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: '確認して署名する' }).click()]);
  await assert.doesNotReject(page.getByRole('status').filter({ hasText: '署名済み' }).waitFor());
  await axeCheck(page, 'logbook');
  await shots(page, 'logbook-signed');

  // The farm list and its CSV (UTF-8 with BOM, Japanese header).
  await page.getByRole('link', { name: '散布記録・飛行日誌の一覧' }).click();
  await assert.doesNotReject(page.getByRole('link', { name: /^\d{4}-\d{2}-\d{2}$/ }).first().waitFor());
  await axeCheck(page, 'farm records');
  await shots(page, 'farm-records');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: '農薬使用記録CSV' }).click(),
  ]);
  const csv = readFileSync(await download.path());
  assert.deepEqual([...csv.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 BOM');
  const header = csv.toString('utf8').slice(1).split('\r\n')[0];
  assert.ok(header.startsWith('散布日,圃場,筆ポリゴンID,住所,作物,農薬名,農林水産省登録番号'), header);
  assert.match(csv.toString('utf8'), /スタークル粒剤,20887,1000/);
  await page.close();
});

test('farmer journey on a phone: import a field, plan it, fly, record the flight, sign the spray record', async () => {
  const page = await phoneSignIn(browser, base, 'farmer', 'demo-farmer', 'ja');
  await journeyStep(page, 'farmer-1-home');
  await page.locator('#site-menu > summary').click();
  await Promise.all([page.waitForURL(`${base}/fields`), page.locator('#site-menu nav a[href="/fields"]').click()]);
  await journeyStep(page, 'farmer-2-fields');

  // The demo's paddy again (the simulated drone stands at it), imported under a name of our own.
  await page.setInputFiles('#field-file', join(root, 'samples', 'fields', 'paddy_with_zones.geojson'));
  await page.locator('#field-name').fill('北の田んぼ');
  await Promise.all([page.waitForLoadState('load'), page.locator('form[action="/fields/import"] button[type=submit]').click()]);
  await journeyStep(page, 'farmer-3-imported');
  await Promise.all([page.waitForURL(/\/fields\/\d+$/), page.getByRole('link', { name: '北の田んぼ' }).first().click()]);
  await journeyStep(page, 'farmer-4-field');

  // The plan form's defaults make a plan.
  await Promise.all([page.waitForURL(/\/plans\/\d+$/), page.getByRole('button', { name: '計画を作る' }).click()]);
  const planUrl = page.url();
  await journeyStep(page, 'farmer-5-plan');
  const [planDownload] = await Promise.all([
    page.waitForEvent('download'), page.getByRole('link', { name: 'QGroundControl (.plan)' }).click(),
  ]);
  const planFile = join(dataDir, 'journey.plan');
  await planDownload.saveAs(planFile);

  // The farmer flies it (the CLI, as from the field) and uploads the .tlog from the phone.
  const journeyTlog = join(dataDir, 'journey.tlog');
  cli(env, ['fly', '--connect', flyCmd.connect, planFile, '--sortie', '1', '--yes', '--enable-fence', '--tlog', journeyTlog]);
  await page.goto(planUrl);
  await page.setInputFiles('#tlog', journeyTlog);
  await Promise.all([page.waitForURL(/\/flights\/\d+$/), page.locator('form[action$="/flights"] button[type=submit]').click()]);
  const flight = page.url().match(/\/flights\/(\d+)$/)[1];
  await journeyStep(page, 'farmer-6-flight');

  // The draft record, once in English: it says what signing still needs.
  await setLang(page, base, 'en');
  await page.goto(`${base}/flights/${flight}/record`);
  await assert.doesNotReject(page.getByRole('heading', { name: /Pesticide use record/ }).waitFor());
  assert.ok(Number(await page.locator('#area_m2').inputValue()) > 100, 'the sprayed area comes from the flight');
  await journeyStep(page, 'farmer-7-record-draft-en');
  await setLang(page, base, 'ja');
  await page.reload();
  await page.getByLabel('農薬名').fill('スタークル粒剤');
  await page.getByLabel('農林水産省登録番号（数字）').fill('20887');
  await page.getByLabel('希釈倍数（倍）').fill('1000');
  await page.getByLabel('10a当たり使用量（L）').fill('0.8');
  await page.getByLabel('使用総量（L）').fill('3.2');
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: '保存' }).click()]);
  // The field was imported without a crop: signing waits for it, and the page says so.
  const reason = page.locator('div.alert[role=status]').filter({ hasText: '署名の前に' });
  await assert.doesNotReject(reason.waitFor());
  assert.match(await reason.innerText(), /作物/);
  assert.equal(await page.getByRole('button', { name: '確認して署名する' }).count(), 0, 'no signing with the crop missing');
  await journeyStep(page, 'farmer-8-record-needs-crop');
  await page.getByLabel('作物', { exact: true }).fill('水稲');
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: '保存' }).click()]);
  await journeyStep(page, 'farmer-9-record-saved');
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: '確認して署名する' }).click()]);
  await assert.doesNotReject(page.getByRole('status').filter({ hasText: '署名済み' }).waitFor());
  assert.equal(await page.getByRole('button', { name: '保存' }).count(), 0, 'a signed record has no edit form');
  await assert.doesNotReject(page.getByRole('cell', { name: '農林水産省登録第20887号' }).waitFor());
  await journeyStep(page, 'farmer-10-record-signed');
  await page.context().close();
});
