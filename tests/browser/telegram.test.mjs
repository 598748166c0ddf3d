// Telegram's controls (MainButton, BackButton, closing confirmation, haptics), the built-in bridge
// and a stalled telegram.org. See page.test.mjs for how to run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE_URL, LIGHT_THEME, NIGHT_THEME, SLOW_BASE_URL, TEST_TIMEOUT, TIMEOUT,
  clickMainButton, close, contrastOf, followHandoff, installTelegramStub, isCreatePayment, launch, makeUser, newContext,
  routeCatalog, selectPackage, signInitData, waitForCall, waitForMainButton, waitForView, withStars, withTelegramPage,
} from './harness.mjs';

before(launch);
after(close);

// Records what the page posts to a native Telegram client (TelegramWebviewProxy).
function recordPosts() {
  window.__posted = [];
  window.TelegramWebviewProxy = { postEvent(type, data) { window.__posted.push([type, data ? JSON.parse(data) : null, performance.now()]); } };
}

function launchHash(initData, theme = LIGHT_THEME) {
  return `tgWebAppData=${encodeURIComponent(initData)}&tgWebAppVersion=8.0&tgWebAppPlatform=android`
    + `&tgWebAppThemeParams=${encodeURIComponent(JSON.stringify(theme))}`;
}

test('the MainButton, BackButton, closing confirmation and selection haptics follow every step', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({ beforeLoad: (page) => routeCatalog(page, withStars) }, async ({ page }) => {
    await waitForView(page, 'main');
    const calls = () => page.evaluate(() => window.__calls);
    assert.equal(await page.evaluate(() => window.__tg.backButtonVisible()), false, 'no BackButton on the first screen');
    await selectPackage(page, 500);
    assert.equal((await calls()).selection, 1, 'a selection haptic for the package');
    await page.getByTestId('method-card').click();
    assert.equal((await calls()).selection, 2, 'a selection haptic for the method');
    await waitForMainButton(page, 'Pay $25.00');

    await clickMainButton(page);
    await waitForView(page, 'waiting');
    await waitForMainButton(page, 'Open the payment page again');
    assert.equal(await page.evaluate(() => window.__tg.backButtonVisible()), true, 'BackButton while waiting');
    assert.equal(await page.evaluate(() => window.__tg.closingConfirmation()), true, 'closing asks for confirmation while waiting');
    assert.equal(await page.getByTestId('cancel-wait-button').isVisible(), false, 'Telegram\'s BackButton instead of an in-page one');

    assert.equal(await page.evaluate(() => window.__tg.clickBackButton()), true);
    await waitForView(page, 'main');
    assert.equal(await page.evaluate(() => window.__tg.backButtonVisible()), false);
    assert.equal(await page.evaluate(() => window.__tg.closingConfirmation()), false);
    assert.equal(await page.locator('input[name="package"][value="500"]').isChecked(), true, 'the order is kept');
    await waitForMainButton(page, 'Pay $25.00');

    await page.getByTestId('history-button').click();
    await waitForView(page, 'history');
    assert.equal(await page.evaluate(() => window.__tg.backButtonVisible()), true, 'BackButton in the history');
    assert.equal((await page.evaluate(() => window.__tg.mainButton())).isVisible, false);
    await page.evaluate(() => window.__tg.clickBackButton());
    await waitForView(page, 'main');
  });
});

test('the history view pages through the buyer\'s own entries', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({}, async ({ page }) => {
    const asked = [];
    const entry = (id, delta, kind = 'credit') => ({
      id, kind, delta, balance_after: id * 100, payment_id: `pay_${id}`, memo: null, created_at: '2026-11-29T12:00:00Z',
    });
    await page.route('**/api/miniapp/history**', (route) => {
      const url = new URL(route.request().url());
      asked.push([url.searchParams.get('before'), route.request().headers().authorization || '']);
      const json = url.searchParams.get('before') === null
        ? { success: true, entries: Array.from({ length: 20 }, (_, i) => entry(40 - i, 100)), next_before: 21 }
        : { success: true, entries: [entry(20, -30, 'spend'), entry(19, -100, 'clawback')], next_before: null };
      return route.fulfill({ json });
    });
    await waitForView(page, 'main');
    await page.getByTestId('history-button').click();
    await waitForView(page, 'history');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="history-item"]').length === 20);
    assert.equal(await page.getByTestId('history-more').isVisible(), true);
    await page.getByTestId('history-more').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="history-item"]').length === 22);
    assert.equal(await page.getByTestId('history-more').isVisible(), false, 'no more pages');
    assert.deepEqual(asked.map((a) => a[0]), [null, '21']);
    assert.ok(asked.every((a) => a[1].startsWith('tma ')), 'asked with the buyer\'s own session');
    const last = await page.getByTestId('history-item').last().innerText();
    assert.match(last, /Refund or dispute[\s\S]*−100\s+tokens/);
  });
});

test('inside Telegram without the SDK script, the built-in bridge talks to the client in one update per change', { timeout: TEST_TIMEOUT }, async () => {
  const user = makeUser('en');
  const initData = signInitData(user);
  const context = await newContext({ viewport: { width: 390, height: 844 } });
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    await page.addInitScript(recordPosts);
    await page.goto(`${BASE_URL}/miniapp/#${launchHash(initData)}`);
    await waitForView(page, 'main');
    const posted = () => page.evaluate(() => window.__posted);
    const types = (await posted()).map((e) => e[0]);
    assert.ok(types.includes('web_app_ready') && types.includes('web_app_expand'), types.join(','));
    assert.equal(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(241, 241, 244)', 'the page on secondary_bg_color');

    const setups = () => page.evaluate(() => window.__posted.filter((e) => e[0] === 'web_app_setup_main_button').map((e) => e[1]));
    const before = (await setups()).length;
    await selectPackage(page, 500);
    await page.waitForFunction((n) => window.__posted.filter((e) => e[0] === 'web_app_setup_main_button').length > n, before);
    const after = (await setups()).slice(before);
    assert.equal(after.length, 1, `one button update per change: ${JSON.stringify(after)}`);
    const { color, text_color: textColor, ...rest } = after[0];
    assert.deepEqual(rest, { is_visible: true, is_active: true, is_progress_visible: false, text: 'Pay $25.00' }, 'never an intermediate disabled state');
    // Telegram's light button (#2481cc under white, 4.1:1) is darkened until its text is readable.
    assert.equal(textColor, '#ffffff');
    assert.ok(contrastOf(color, textColor) >= 4.5, `MainButton ${color} under ${textColor}`);
    const haptics = (await posted()).filter((e) => e[0] === 'web_app_trigger_haptic_feedback').map((e) => e[1].type);
    assert.deepEqual(haptics, ['selection_change']);

    const [request] = await Promise.all([
      page.waitForRequest(isCreatePayment),
      page.evaluate(() => window.Telegram.WebView.receiveEvent('main_button_pressed', {})),
    ]);
    assert.equal(request.headers().authorization, `tma ${initData}`);
    assert.equal(request.postDataJSON().user_id, user.id);
    const open = (await posted()).find((e) => e[0] === 'web_app_open_link');
    assert.ok(open, 'web_app_open_link posted inside the tap');
    const checkout = await followHandoff(context, open[1].url);
    assert.match(checkout.url(), /\/sandbox\/checkout\//);
    await waitForView(page, 'waiting');
    const kinds = (await posted()).map((e) => e[0]);
    assert.ok(kinds.includes('web_app_setup_back_button') && kinds.includes('web_app_setup_closing_behavior'), kinds.join(','));

    await page.evaluate((theme) => window.Telegram.WebView.receiveEvent('theme_changed', { theme_params: theme }), NIGHT_THEME);
    await page.waitForFunction(() => getComputedStyle(document.body).backgroundColor === 'rgb(23, 33, 43)');
  } finally {
    await context.close();
  }
});

test('with telegram.org stalled for 30 s the page paints at once and works through the bridge', { timeout: TEST_TIMEOUT }, async () => {
  const user = makeUser('en');
  const initData = signInitData(user);
  let release;
  const stalled = new Promise((resolve) => { release = resolve; });
  let asked = 0;
  const context = await newContext({ viewport: { width: 390, height: 844 } }, {
    telegram: async (route) => {
      asked += 1;
      // Never answered within the test: released (and aborted) only when the test ends.
      await Promise.race([stalled, new Promise((resolve) => setTimeout(resolve, 30_000))]);
      await route.abort().catch(() => {});
    },
  });
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    await page.addInitScript(recordPosts);
    const started = Date.now();
    await page.goto(`${BASE_URL}/miniapp/#${launchHash(initData)}`, { waitUntil: 'commit' });
    await waitForView(page, 'main');
    const usable = Date.now() - started;
    const paint = await page.evaluate(() => {
      const entry = performance.getEntriesByName('first-contentful-paint')[0];
      return entry ? entry.startTime : null;
    });
    assert.ok(paint !== null && paint < 1000, `first paint in ${paint} ms`);
    assert.ok(usable < 5000, `usable in ${usable} ms with telegram.org stalled`);
    const ready = await page.evaluate(() => (window.__posted.find((e) => e[0] === 'web_app_ready') || [])[2]);
    assert.ok(ready !== undefined && ready < 1000, `ready() posted at ${ready} ms`);
    assert.ok(asked >= 1, 'the SDK script was still requested, without blocking');
    await selectPackage(page, 100);
    await page.waitForFunction(() => window.__posted.some((e) => e[0] === 'web_app_setup_main_button' && e[1].text === 'Pay $5.00'));
  } finally {
    release();
    await context.close();
  }
});

test('Telegram\'s SDK arriving late is adopted: the MainButton and its clicks move over to it', { timeout: TEST_TIMEOUT }, async () => {
  const user = makeUser('en');
  const initData = signInitData(user);
  let release;
  const gate = new Promise((resolve) => { release = resolve; });
  const sdk = `(${installTelegramStub.toString()})(${JSON.stringify({ initData, initDataUnsafe: { user }, themeParams: LIGHT_THEME, colorScheme: 'light' })});`;
  const context = await newContext({ viewport: { width: 390, height: 844 } }, {
    telegram: async (route) => {
      await gate;
      await route.fulfill({ contentType: 'text/javascript', body: sdk });
    },
  });
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    await page.addInitScript(recordPosts);
    // The load event waits for the script: only the navigation itself is awaited.
    await page.goto(`${BASE_URL}/miniapp/#${launchHash(initData)}`, { waitUntil: 'commit' });
    await waitForView(page, 'main');
    await selectPackage(page, 200);
    release();
    // The SDK's MainButton gets the page's current state, and its click pays.
    await page.waitForFunction(() => window.__tg && window.__tg.mainButton().text.replace(/\s/g, ' ') === 'Pay $10.00' && window.__tg.mainButton().isVisible);
    const [request] = await Promise.all([page.waitForRequest(isCreatePayment), clickMainButton(page)]);
    assert.equal(request.postDataJSON().credits, 200);
    await waitForCall(page, 'openLink');
  } finally {
    await context.close();
  }
});

test('the checkout opens even when the provider takes 5 s: the tap opens our page, which redirects', { timeout: TEST_TIMEOUT }, async (t) => {
  if (!SLOW_BASE_URL) {
    t.skip('SLOW_BASE_URL is not set');
    return;
  }
  await withTelegramPage({ baseUrl: SLOW_BASE_URL }, async ({ page, context }) => {
    await waitForView(page, 'main');
    await selectPackage(page, 100);
    await waitForMainButton(page, 'Pay $5.00');
    const tapped = Date.now();
    const linksInTap = await page.evaluate(() => { window.__tg.clickMainButton(); return window.__calls.openLink.slice(); });
    assert.equal(linksInTap.length, 1, 'openLink inside the tap, before the provider answered');
    const handoff = await context.newPage();
    handoff.setDefaultTimeout(TIMEOUT);
    await handoff.goto(linksInTap[0]);
    await handoff.getByTestId('open-title').waitFor();
    assert.match(await handoff.getByTestId('open-text').innerText(), /Preparing your payment/);
    await handoff.waitForURL(/\/sandbox\/checkout\//, { timeout: TIMEOUT });
    assert.ok(Date.now() - tapped >= 4500, 'the redirect waited for the slow provider');
    await waitForView(page, 'waiting');
  });
});
