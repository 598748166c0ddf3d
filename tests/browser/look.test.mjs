// How the page looks: themes, text contrast computed from the rendered styles, languages and
// money formatting, narrow screens, and a screenshot of each state. See page.test.mjs for how to
// run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE_URL, DEV_BASE_URL, LIGHT_THEME, NIGHT_THEME, TELEGRAM_LIGHT_THEME, TEST_TIMEOUT, TIMEOUT,
  clickMainButton, close, launch, lowContrastTexts, newContext, routeCatalog, selectPackage, shot,
  waitForMainButton, waitForView, withStars, withTelegramPage, text, askNow,
} from './harness.mjs';

before(launch);
after(close);

// Shows every kind of text the main view has: a chosen card, the sandbox notice, an error.
async function showEverything(page) {
  await waitForView(page, 'main');
  await selectPackage(page, 500);
  await page.evaluate(() => {
    const box = document.querySelector('[data-testid="error"]');
    box.hidden = false;
    box.textContent = 'The payment provider cannot be reached right now.';
  });
}

const THEMES = [
  ['the dark default', { colorScheme: 'dark', themeParams: {} }],
  ['a light theme', { colorScheme: 'light', themeParams: LIGHT_THEME }],
  ["Telegram's real light theme", { colorScheme: 'light', themeParams: TELEGRAM_LIGHT_THEME }],
  ['a night theme', { colorScheme: 'dark', themeParams: NIGHT_THEME }],
];

for (const [name, theme] of THEMES) {
  test(`every text reaches 4.5:1 contrast in ${name}`, { timeout: TEST_TIMEOUT }, async () => {
    await withTelegramPage({ ...theme, beforeLoad: (page) => routeCatalog(page, withStars) }, async ({ page }) => {
      await showEverything(page);
      await page.getByTestId('method-card').click();
      await page.getByTestId('sandbox-note').waitFor();
      assert.deepEqual(await lowContrastTexts(page), [], `main view in ${name}`);
      await page.getByTestId('history-button').click();
      await waitForView(page, 'history');
      assert.deepEqual(await lowContrastTexts(page), [], `history view in ${name}`);
      await page.evaluate(() => window.__tg.clickBackButton());
      await waitForView(page, 'main');

      // Waiting, then a decline with its reason.
      await page.evaluate(() => window.__tg.clickMainButton());
      await waitForView(page, 'waiting');
      assert.deepEqual(await lowContrastTexts(page), [], `waiting view in ${name}`);
      await page.route('**/api/miniapp/payment-status/**', async (route) => {
        const real = await (await route.fetch()).json();
        await route.fulfill({ json: { ...real, status: 'failed', failure_code: 'card_declined' } });
      });
      await askNow(page);
      await waitForView(page, 'result');
      await page.getByTestId('result-reason').waitFor();
      assert.deepEqual(await lowContrastTexts(page), [], `result view in ${name}`);
    });
  });
}

test('Telegram\'s layout: the page on secondary_bg_color, cards on section_bg_color; themeChanged re-applies it', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({ themeParams: TELEGRAM_LIGHT_THEME, colorScheme: 'light' }, async ({ page }) => {
    await waitForView(page, 'main');
    const colours = () => page.evaluate(() => ({
      page: getComputedStyle(document.body).backgroundColor,
      card: getComputedStyle(document.querySelector('.pkg-body')).backgroundColor,
    }));
    assert.deepEqual(await colours(), { page: 'rgb(239, 239, 243)', card: 'rgb(255, 255, 255)' });
    await selectPackage(page, 500);
    await shot(page, 'main-telegram-light.png');

    const listeners = await page.evaluate((theme) => {
      window.__tg.setTheme(theme, 'dark');
      return window.__tg.fire('themeChanged');
    }, NIGHT_THEME);
    assert.ok(listeners >= 1, 'the page listens to themeChanged');
    await page.waitForFunction(() => getComputedStyle(document.body).backgroundColor === 'rgb(23, 33, 43)'
      && getComputedStyle(document.querySelector('.pkg-body')).backgroundColor === 'rgb(14, 22, 33)', null, { timeout: TIMEOUT });
  });
});

test('outside Telegram the page follows the system colour scheme', { timeout: TEST_TIMEOUT }, async (t) => {
  if (!DEV_BASE_URL) {
    t.skip('DEV_BASE_URL is not set');
    return;
  }
  for (const [scheme, dark] of [['light', false], ['dark', true]]) {
    const context = await newContext({ viewport: { width: 390, height: 844 }, colorScheme: scheme });
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(TIMEOUT);
      await page.goto(`${DEV_BASE_URL}/miniapp/`);
      await waitForView(page, 'main');
      const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      const sum = bg.match(/\d+/g).slice(0, 3).map(Number).reduce((a, b) => a + b, 0);
      assert.equal(sum < 200, dark, `${scheme} system setting gives ${bg}`);
      await selectPackage(page, 500);
      assert.deepEqual(await lowContrastTexts(page), [], `contrast with the system ${scheme} scheme`);
      if (scheme === 'light') await shot(page, 'main-browser-light.png', false);
      // Switching the system setting re-colours the open page.
      await page.emulateMedia({ colorScheme: dark ? 'light' : 'dark' });
      await page.waitForFunction((was) => getComputedStyle(document.body).backgroundColor !== was, bg);
    } finally {
      await context.close();
    }
  }
});

test('Russian: texts, plurals and money through Intl in the user\'s locale', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({ language: 'ru', beforeLoad: (page) => routeCatalog(page, withStars) }, async ({ page }) => {
    await waitForView(page, 'main');
    assert.equal(await page.getByTestId('heading').innerText(), 'Пополнение баланса');
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'ru');
    assert.match(await page.getByTestId('package-1000').innerText(), /1\s000\s+токенов/);
    assert.equal(await text(page.getByTestId('price-1000')), '⭐ 500');
    await page.getByTestId('method-card').click();
    assert.match(await page.getByTestId('price-1000').innerText(), /^50,00\s\$$/);
    assert.match(await page.getByTestId('per-token-500').innerText(), /^0,05\s\$ за токен$/);
    await selectPackage(page, 500);
    await waitForMainButton(page, 'Оплатить 25,00 $');
    await shot(page, 'main-ru.png');
  });
  // Stars above a thousand are grouped as Russian groups them.
  await withTelegramPage({
    language: 'ru',
    beforeLoad: (page) => routeCatalog(page, (json) => {
      const stars = withStars(json);
      stars.packages = stars.packages.map((p) => ({ ...p, prices: p.prices.map((x) => (x.currency === 'XTR' ? { ...x, amount: String(p.credits * 2.5), amount_minor: p.credits * 2.5 } : x)) }));
      return stars;
    }),
  }, async ({ page }) => {
    await waitForView(page, 'main');
    assert.match(await page.getByTestId('price-1000').innerText(), /^⭐\s2\s500$/);
  });
});

test('at 320 px width nothing scrolls sideways, in both languages, in the main, waiting and history views', { timeout: TEST_TIMEOUT }, async () => {
  const overflow = (page) => page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const wide = [...document.querySelectorAll('body *')]
      .filter((n) => n.getClientRects().length && n.getBoundingClientRect().right > width + 0.5)
      .map((n) => `${n.tagName.toLowerCase()}.${n.className}`);
    return { scrollWidth: document.documentElement.scrollWidth, wide };
  });
  for (const language of ['en', 'ru']) {
    const theme = language === 'ru' ? { themeParams: TELEGRAM_LIGHT_THEME, colorScheme: 'light' } : {};
    await withTelegramPage({ language, ...theme, viewport: { width: 320, height: 568 } }, async ({ page }) => {
      await waitForView(page, 'main');
      await selectPackage(page, 1000);
      await page.getByTestId('email').fill('someone.with.a.rather.long.address@example.com');
      let o = await overflow(page);
      assert.ok(o.scrollWidth <= 320, `document scrollWidth ${o.scrollWidth} (${language})`);
      assert.deepEqual(o.wide, [], `elements past the right edge (${language})`);
      await shot(page, `main-320-${language}.png`);

      await clickMainButton(page);
      await waitForView(page, 'waiting');
      o = await overflow(page);
      assert.deepEqual(o.wide, [], `waiting view (${language})`);
      await shot(page, `waiting-320-${language}.png`);

      await page.evaluate(() => window.__tg.clickBackButton());
      await waitForView(page, 'main');
      await page.getByTestId('history-button').click();
      await waitForView(page, 'history');
      await shot(page, `history-320-${language}.png`);
    });
  }
});

test('the favicon is served', { timeout: TEST_TIMEOUT }, async () => {
  const icon = await fetch(`${BASE_URL}/miniapp/favicon.svg`);
  assert.equal(icon.status, 200);
  assert.match(icon.headers.get('content-type'), /^image\/svg\+xml/);
  if (DEV_BASE_URL) {
    const root = await fetch(`${DEV_BASE_URL}/favicon.ico`, { redirect: 'follow' });
    assert.equal(root.status, 200, '/favicon.ico of the full app');
  }
});
