// The dashboard on an old phone (360×740), in Japanese and English, for each role of
// `agriops demo`: the header is one menu button that opens by keyboard and by touch, every
// target in it is at least 44 px tall, the header takes at most 15 % of the screen, and
// axe-core finds nothing serious. Screenshots go to tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  freshEnv, freePort, waitHealthy, launchBrowser, axeCheck, artifacts, bin,
} from './lib.mjs';

const { dataDir, env } = freshEnv('agriops-phone-');
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

/** A phone-sized page signed in as `user`, in `lang` (the `lang` cookie, as the switch sets). */
async function phonePage(user, password, lang) {
  const context = await browser.newContext({ viewport: PHONE, hasTouch: true, locale: lang === 'ja' ? 'ja-JP' : 'en-GB' });
  await context.addCookies([{ name: 'lang', value: lang, url: base }]);
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.locator('#username').fill(user);
  await page.locator('#password').fill(password);
  await Promise.all([page.waitForURL(`${base}/`), page.locator('form[action="/login"] button').click()]);
  // Signing in sets the language the account keeps; the test then asks for `lang`.
  await context.addCookies([{ name: 'lang', value: lang, url: base }]);
  await page.goto(`${base}/`);
  return page;
}

/** The menu button's `expanded` state as Chromium's accessibility tree gives it to a screen reader. */
async function menuExpanded(page, name) {
  const cdp = await page.context().newCDPSession(page);
  const { nodes } = await cdp.send('Accessibility.getFullAXTree');
  await cdp.detach();
  const button = nodes.find((n) => !n.ignored && (n.name?.value || '').includes(name)
    && ['DisclosureTriangle', 'button'].includes(n.role?.value));
  assert.ok(button, `no menu button named ${name} in the accessibility tree`);
  const prop = (button.properties || []).find((p) => p.name === 'expanded');
  return prop ? prop.value.value === true : false;
}

const MENU = { ja: 'メニュー', en: 'Menu' };
const ROLES = [
  ['farmer', 'demo-farmer'],
  ['dairy', 'demo-dairy'],
  ['staff', 'demo-staff'],
];

for (const lang of ['ja', 'en']) {
  for (const [user, password] of ROLES) {
    test(`${user} (${lang}): one menu button, large targets, a small header`, async () => {
      const page = await phonePage(user, password, lang);
      const summary = page.locator('#site-menu > summary');
      const nav = page.locator('#site-menu nav');

      // Closed: one button, a small header.
      assert.equal(await summary.isVisible(), true, 'the menu button shows on a phone');
      assert.equal(await nav.isVisible(), false, 'the links wait behind the button');
      const header = await page.locator('header.site').boundingBox();
      assert.ok(header.height <= PHONE.height * 0.15,
        `header is ${header.height} px of ${PHONE.height} (more than 15 %)`);
      assert.equal(await summary.innerText().then((t) => t.includes(MENU[lang])), true);
      await page.screenshot({ path: join(artifacts, `phone-${user}-${lang}-home.png`), fullPage: true });

      // Keyboard: Tab reaches the button, Enter opens it, and assistive technology hears it.
      await summary.focus();
      await page.keyboard.press('Enter');
      assert.equal(await nav.isVisible(), true, 'Enter opens the menu');
      assert.equal(await menuExpanded(page, MENU[lang]), true, 'the accessibility tree says expanded');
      for (const target of await page.locator('header.site a, header.site button, header.site summary').all()) {
        if (!(await target.isVisible())) continue;
        const box = await target.boundingBox();
        const label = (await target.innerText()).trim();
        assert.ok(box.height >= 44, `"${label}" is ${box.height} px tall (under 44)`);
      }
      await axeCheck(page, `${user} ${lang} menu open`);
      await page.screenshot({ path: join(artifacts, `phone-${user}-${lang}-menu.png`) });
      await page.keyboard.press('Enter');
      assert.equal(await nav.isVisible(), false, 'Enter closes it again');
      assert.equal(await menuExpanded(page, MENU[lang]), false, 'and says collapsed');

      // Touch opens it too.
      await summary.tap();
      assert.equal(await nav.isVisible(), true, 'a tap opens the menu');
      await page.context().close();
    });
  }
}

test('on a wide screen the menu stands inline, with no button', async () => {
  const page = await phonePage('farmer', 'demo-farmer', 'ja');
  await page.setViewportSize({ width: 1280, height: 800 });
  assert.equal(await page.locator('#site-menu > summary').isVisible(), false);
  assert.equal(await page.locator('#site-menu nav').isVisible(), true);
  const header = await page.locator('header.site').boundingBox();
  assert.ok(header.height <= 120, `header is ${header.height} px tall at 1280 px`);
  await axeCheck(page, 'wide header');
  await page.screenshot({ path: join(artifacts, 'wide-farmer-ja-home.png') });
  await page.context().close();
});

test('the larger-text setting is kept past sign-out, and 200 % zoom keeps the menu whole', async () => {
  const page = await phonePage('farmer', 'demo-farmer', 'ja');
  await page.locator('#site-menu > summary').click();
  await Promise.all([page.waitForLoadState('load'),
    page.locator('#site-menu form.textsize button[value=larger]').click()]);
  await page.waitForFunction(() => document.documentElement.classList.contains('text-larger'));
  const root = await page.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize));
  assert.ok(root >= 22, `root font size ${root} px with the largest text`);
  // At half again the size the brand and the button take two rows: still a fifth at most.
  const header = await page.locator('header.site').boundingBox();
  assert.ok(header.height <= PHONE.height * 0.2, `header is ${header.height} px with larger text`);
  await axeCheck(page, 'larger text');
  await page.screenshot({ path: join(artifacts, 'phone-farmer-ja-larger-text.png'), fullPage: true });

  // The account page shows the same choice pressed.
  await page.goto(`${base}/account`);
  assert.equal(await page.locator('main form.textsize button[value=larger]').getAttribute('aria-pressed'), 'true');
  await axeCheck(page, 'account with larger text');

  // Signing out keeps it: the sign-in page is large too.
  await page.locator('#site-menu > summary').click();
  await Promise.all([page.waitForURL(`${base}/login`),
    page.locator('#site-menu form[action="/logout"] button').click()]);
  assert.equal(await page.evaluate(() => document.documentElement.className), 'text-larger');

  // Browser zoom to 200 % on a 1280 px screen leaves 640 CSS px: the menu and page still fit.
  await page.goto(`${base}/login`);
  await page.locator('#username').fill('farmer');
  await page.locator('#password').fill('demo-farmer');
  await Promise.all([page.waitForURL(`${base}/`), page.locator('form[action="/login"] button').click()]);
  await page.context().clearCookies({ name: 'textsize' });
  await page.setViewportSize({ width: 640, height: 400 });
  await page.goto(`${base}/`);
  for (const link of await page.locator('header.site a, header.site button').all()) {
    if (!(await link.isVisible())) {
      await page.locator('#site-menu > summary').click();
    }
    const box = await link.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 640, `${await link.innerText()} is off screen at 200 %`);
  }
  const width = await page.evaluate(() => document.scrollingElement.scrollWidth);
  assert.ok(width <= 640, `home is ${width} px wide at 200 %`);
  await page.screenshot({ path: join(artifacts, 'zoom200-farmer-ja-home.png'), fullPage: true });
  await page.context().close();
});

/** Same-site page links of the page now (no downloads, streams or sign-out). */
async function pageLinks(page) {
  const hrefs = await page.locator('a[href^="/"]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  return hrefs.map((h) => h.split('#')[0])
    .filter((h) => h && !/\.(csv|geojson|json|svg|plan|waypoints|kml|tlog)$|\/download\/|\/events$|\/csv$/.test(h.split('?')[0]));
}

for (const lang of ['ja', 'en']) {
  for (const [user, password] of ROLES) {
    test(`${user} (${lang}): no page scrolls sideways at 360 px, tables become cards`, async () => {
      const page = await phonePage(user, password, lang);
      const queue = ['/', ...(await pageLinks(page))];
      const seen = new Set();
      const wide = [];
      let cards = 0;
      while (queue.length && seen.size < 30) {
        const href = queue.shift();
        if (seen.has(href)) continue;
        seen.add(href);
        const r = await page.goto(`${base}${href}`);
        if (!r.ok() || !(r.headers()['content-type'] || '').startsWith('text/html')) continue;
        const width = await page.evaluate(() => document.scrollingElement.scrollWidth);
        if (width > PHONE.width) wide.push(`${href}: ${width} px`);
        // A wide table is a pile of cards, each value shown with its column's name.
        const card = await page.evaluate(() => {
          const td = document.querySelector('table[data-cards] td[data-label]');
          if (!td) return null;
          const label = getComputedStyle(td, '::before').content;
          return { row: getComputedStyle(td.parentElement).display, label, want: td.dataset.label };
        });
        if (card) {
          cards += 1;
          assert.equal(card.row, 'block', `${href}: rows are cards`);
          assert.equal(card.label, JSON.stringify(card.want), `${href}: the value shows its column`);
        }
        await axeCheck(page, `${user} ${lang} ${href}`);
        if (seen.size <= 12) {
          const slug = href.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '') || 'home';
          await page.screenshot({ path: join(artifacts, `phone-${user}-${lang}-${slug}.png`), fullPage: true });
        }
        queue.push(...(await pageLinks(page)));
      }
      assert.deepEqual(wide, [], `pages wider than ${PHONE.width} px`);
      assert.ok(seen.size >= 5, `only ${[...seen]}`);
      assert.ok(cards > 0, 'some page has a table shown as cards');
      await page.context().close();
    });
  }
}
