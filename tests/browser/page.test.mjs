// Browser tests of the payment page (static/), run against a real server:
//
//   BASE_URL=http://127.0.0.1:8080 BOT_TOKEN=123:abc \
//   [DEV_BASE_URL=http://127.0.0.1:8081] [SCREENSHOT_DIR=target/browser-screenshots] \
//   node --test tests/browser/page.test.mjs
//
// BASE_URL: a server with a bot token and the sandbox provider. BOT_TOKEN: its token, used here
// to sign init data exactly as Telegram does. DEV_BASE_URL (optional): a server without a bot
// token (dev-login on). Telegram is a stub injected before the page loads; the system Chromium
// runs headless; nothing is fetched from the network.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE_URL = (process.env.BASE_URL || '').replace(/\/+$/, '');
const BOT_TOKEN = process.env.BOT_TOKEN || '';
const DEV_BASE_URL = (process.env.DEV_BASE_URL || '').replace(/\/+$/, '');
// A server with Telegram Stars enabled (its Bot API is a local fake) and the secret token its Stars
// webhook route checks; optional.
const STARS_BASE_URL = (process.env.STARS_BASE_URL || '').replace(/\/+$/, '');
const STARS_SECRET = process.env.STARS_SECRET || '';
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || 'target/browser-screenshots';
const TIMEOUT = 15_000;
const TEST_TIMEOUT = 60_000;

const LIGHT_THEME = {
  bg_color: '#ffffff',
  text_color: '#000000',
  hint_color: '#999999',
  link_color: '#2481cc',
  button_color: '#2481cc',
  button_text_color: '#ffffff',
  secondary_bg_color: '#f1f1f4',
};
const NIGHT_THEME = {
  bg_color: '#0e1621',
  text_color: '#f5f5f5',
  hint_color: '#7d8b99',
  link_color: '#6ab3f3',
  button_color: '#5288c1',
  button_text_color: '#ffffff',
  secondary_bg_color: '#17212b',
};

let browser;

before(async () => {
  assert.ok(BASE_URL, 'BASE_URL must point at a running server (with a bot token and the sandbox provider)');
  assert.ok(BOT_TOKEN, 'BOT_TOKEN must be the bot token that server uses');
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
});

// ------------------------------------------------------------------------------------------
// Init data, signed as Telegram does
// ------------------------------------------------------------------------------------------

function randomUserId() {
  return crypto.randomInt(100_000_000, 2_000_000_000);
}

function makeUser(languageCode = 'en') {
  const id = randomUserId();
  return { id, first_name: 'Test', last_name: 'User', username: `test_${id}`, language_code: languageCode, allows_write_to_pm: true };
}

// secret = HMAC_SHA256(key="WebAppData", msg=token); hash = hex HMAC_SHA256(key=secret,
// msg=data_check_string), the sorted k=v lines (decoded values, without hash) joined by \n.
function signInitData(user, { authDate = Math.floor(Date.now() / 1000), token = BOT_TOKEN } = {}) {
  const fields = {
    query_id: 'AAH' + crypto.randomBytes(12).toString('base64url'),
    user: JSON.stringify(user),
    auth_date: String(authDate),
  };
  const dataCheckString = Object.keys(fields).sort().map((k) => `${k}=${fields[k]}`).join('\n');
  const secret = crypto.createHmac('sha256', 'WebAppData').update(token).digest();
  const hash = crypto.createHmac('sha256', secret).update(dataCheckString).digest('hex');
  return Object.entries({ ...fields, hash }).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

// ------------------------------------------------------------------------------------------
// The Telegram.WebApp stub (runs in the page before its scripts)
// ------------------------------------------------------------------------------------------

function installTelegramStub(cfg) {
  const calls = { ready: 0, expand: 0, openLink: [], openInvoice: [], haptic: [], mainButtonTexts: [] };
  const handlers = {};
  const clickHandlers = [];
  let invoiceCallback = null;
  const MainButton = {
    text: '',
    isVisible: false,
    isActive: true,
    isProgressVisible: false,
    setText(text) { this.text = String(text); calls.mainButtonTexts.push(this.text); return this; },
    show() { this.isVisible = true; return this; },
    hide() { this.isVisible = false; return this; },
    enable() { this.isActive = true; return this; },
    disable() { this.isActive = false; return this; },
    showProgress(leaveActive) { this.isProgressVisible = true; this.isActive = !!leaveActive; return this; },
    hideProgress() { this.isProgressVisible = false; this.isActive = true; return this; },
    setParams(p) {
      if (p.text !== undefined) this.setText(p.text);
      if (p.is_visible !== undefined) this.isVisible = !!p.is_visible;
      if (p.is_active !== undefined) this.isActive = !!p.is_active;
      return this;
    },
    onClick(fn) { clickHandlers.push(fn); return this; },
    offClick(fn) { const i = clickHandlers.indexOf(fn); if (i >= 0) clickHandlers.splice(i, 1); return this; },
  };
  const WebApp = {
    initData: cfg.initData,
    initDataUnsafe: cfg.initDataUnsafe,
    themeParams: cfg.themeParams,
    colorScheme: cfg.colorScheme,
    platform: 'android',
    version: '8.0',
    ready() { calls.ready += 1; },
    expand() { calls.expand += 1; },
    close() { calls.close = (calls.close || 0) + 1; },
    onEvent(type, fn) { (handlers[type] = handlers[type] || []).push(fn); },
    offEvent(type, fn) { const l = handlers[type] || []; const i = l.indexOf(fn); if (i >= 0) l.splice(i, 1); },
    openLink(url) { calls.openLink.push(String(url)); },
    openInvoice(url, callback) { calls.openInvoice.push(String(url)); invoiceCallback = callback; },
    HapticFeedback: {
      notificationOccurred(type) { calls.haptic.push(type); },
      impactOccurred() {},
      selectionChanged() {},
    },
    MainButton,
    BackButton: { show() {}, hide() {}, onClick() {}, offClick() {} },
  };
  window.__calls = calls;
  window.Telegram = { WebApp };
  window.__tg = {
    // Like Telegram: an invisible or inactive button does nothing.
    clickMainButton() {
      if (!MainButton.isVisible || !MainButton.isActive) return false;
      clickHandlers.slice().forEach((fn) => fn());
      return true;
    },
    mainButton() {
      return { text: MainButton.text, isVisible: MainButton.isVisible, isActive: MainButton.isActive, isProgressVisible: MainButton.isProgressVisible };
    },
    setTheme(themeParams, colorScheme) { WebApp.themeParams = themeParams; WebApp.colorScheme = colorScheme; },
    fire(type) { const l = (handlers[type] || []).slice(); l.forEach((fn) => fn.call(WebApp)); return l.length; },
    closeInvoice(status) { const cb = invoiceCallback; invoiceCallback = null; if (cb) cb(status); return !!cb; },
  };
}

// ------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------

// A browser context that never reaches the network: the official Telegram script the page loads
// from telegram.org is refused at once, and the stub below stands in for it.
async function newContext(options) {
  const context = await browser.newContext(options);
  await context.route('https://telegram.org/**', (route) => route.abort());
  return context;
}

// Opens the page "inside Telegram" (stubbed) for a fresh user, runs fn, closes everything.
async function withTelegramPage(options, fn) {
  const {
    language = 'en', themeParams = {}, colorScheme = 'dark', authDate, viewport = { width: 390, height: 844 },
    query = '', user: givenUser, beforeLoad, baseUrl = BASE_URL,
  } = options;
  const user = givenUser || makeUser(language);
  const initData = signInitData(user, authDate ? { authDate } : {});
  const context = await newContext({ viewport, locale: language === 'ru' ? 'ru-RU' : 'en-US' });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  await page.addInitScript(installTelegramStub, { initData, initDataUnsafe: { user, auth_date: authDate }, themeParams, colorScheme });
  try {
    if (beforeLoad) await beforeLoad(page);
    await page.goto(`${baseUrl}/miniapp/${query}`);
    await fn({ page, context, user, initData });
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
  } finally {
    await context.close();
  }
}

async function waitForView(page, view) {
  await page.locator(`body[data-state="${view}"]`).waitFor({ timeout: TIMEOUT });
  await page.getByTestId(`view-${view}`).waitFor({ state: 'visible', timeout: TIMEOUT });
}

async function waitForBalance(page, text) {
  await page.waitForFunction((t) => document.querySelector('[data-testid="balance"]').textContent === t, text, { timeout: TIMEOUT });
}

async function mainButton(page) {
  return page.evaluate(() => window.__tg.mainButton());
}

async function waitForMainButton(page, text) {
  await page.waitForFunction((t) => {
    const b = window.__tg.mainButton();
    return b.isVisible && b.isActive && b.text === t;
  }, text, { timeout: TIMEOUT });
}

async function clickMainButton(page) {
  const clicked = await page.evaluate(() => window.__tg.clickMainButton());
  assert.equal(clicked, true, 'the MainButton was visible and active');
}

async function selectPackage(page, credits) {
  await page.getByTestId(`package-${credits}`).click();
  assert.equal(await page.locator(`input[name="package"][value="${credits}"]`).isChecked(), true);
}

// Wherever the payments are mounted (BASE_URL is under /shop, DEV_BASE_URL at the root).
function isCreatePayment(request) {
  return request.method() === 'POST' && new URL(request.url()).pathname.endsWith('/api/miniapp/create-payment');
}

async function waitForCall(page, kind, count = 1) {
  await page.waitForFunction(([k, n]) => window.__calls[k].length >= n, [kind, count], { timeout: TIMEOUT });
  return page.evaluate((k) => window.__calls[k].slice(), kind);
}

function futureExpiry() {
  const d = new Date();
  return `${String(d.getUTCMonth() + 1).padStart(2, '0')}/${String((d.getUTCFullYear() + 3) % 100).padStart(2, '0')}`;
}

// Pays (or fails to pay) on the sandbox checkout page in a second tab; returns that tab.
async function submitSandboxCard(context, url, card, { screenshot } = {}) {
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  await page.goto(url);
  await page.getByText('SANDBOX', { exact: true }).first().waitFor();
  assert.match(await page.locator('body').innerText(), /no real money/i, 'the sandbox says no real money moves');
  await page.fill('input[name="card_number"]', card);
  await page.fill('input[name="expiry"]', futureExpiry());
  await page.fill('input[name="cvc"]', '123');
  if (screenshot) await page.screenshot({ path: path.join(SCREENSHOT_DIR, screenshot), fullPage: true });
  await page.locator('form button[type="submit"]').click();
  await page.getByTestId('sandbox-return').waitFor();
  return page;
}

async function shot(page, name, fullPage = true) {
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, name), fullPage });
}

async function getCatalog(base) {
  const res = await fetch(`${base}/api/miniapp/packages`);
  assert.equal(res.status, 200);
  return res.json();
}

// Serves the real catalog with its methods filtered or extended.
async function routeCatalog(page, transform) {
  await page.route('**/api/miniapp/packages', async (route) => {
    const response = await route.fetch();
    const json = await response.json();
    await route.fulfill({ response, json: transform(json) });
  });
}

// ------------------------------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------------------------------

test('the four packages render with their prices and per-token cost, dark by default', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({}, async ({ page }) => {
    await waitForView(page, 'main');
    const expected = { 100: '$5.00', 200: '$10.00', 500: '$25.00', 1000: '$50.00' };
    const values = await page.locator('input[name="package"]').evaluateAll((inputs) => inputs.map((i) => i.value));
    assert.deepEqual(values, ['100', '200', '500', '1000']);
    for (const [credits, price] of Object.entries(expected)) {
      assert.equal(await page.getByTestId(`price-${credits}`).innerText(), price);
      assert.equal(await page.getByTestId(`per-token-${credits}`).innerText(), '5.0¢ per token');
      assert.match(await page.getByTestId(`package-${credits}`).innerText(), /tokens/);
    }
    await waitForBalance(page, '0'); // a fresh user
    const calls = await page.evaluate(() => window.__calls);
    assert.equal(calls.ready, 1, 'Telegram.WebApp.ready() called');
    assert.equal(calls.expand, 1, 'Telegram.WebApp.expand() called');
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [r, g, b] = bg.match(/\d+/g).map(Number);
    assert.ok(r + g + b < 200, `dark background by default, got ${bg}`);
    assert.equal(await page.getByTestId('pay-button').isVisible(), false, 'Telegram MainButton pays, not an in-page button');
  });
});

test('mounted under a prefix, the page calls its API under that prefix', { timeout: TEST_TIMEOUT }, async () => {
  assert.match(BASE_URL, /\/shop$/, 'BASE_URL is the payments router nested under /shop of a host app');
  await withTelegramPage({
    beforeLoad: (page) => {
      page.apiCalls = [];
      page.on('request', (r) => { if (r.url().includes('/api/')) page.apiCalls.push(r.url()); });
    },
  }, async ({ page }) => {
    await waitForView(page, 'main');
    assert.ok(page.apiCalls.length > 0);
    for (const url of page.apiCalls) assert.ok(url.startsWith(`${BASE_URL}/api/miniapp/`), url);
    const host = await fetch(BASE_URL.replace(/\/shop$/, '/nope'));
    assert.equal(await host.text(), "the host's own 404");
  });
});

test('choosing 500 tokens makes the MainButton say "Pay $25.00"', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({}, async ({ page }) => {
    await waitForView(page, 'main');
    await selectPackage(page, 100);
    await waitForMainButton(page, 'Pay $5.00');
    await selectPackage(page, 500);
    await waitForMainButton(page, 'Pay $25.00');
    // The highlight fades in (a CSS transition): wait for it rather than sample it once.
    await page.waitForFunction(() => getComputedStyle(document.querySelectorAll('.pkg-body')[2]).borderColor !== 'rgba(0, 0, 0, 0)', null, { timeout: TIMEOUT });
    await shot(page, 'main.png');
  });
});

test('paying posts create-payment with the order, init data and an idempotency key, then opens the link', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({}, async ({ page, user, initData }) => {
    await waitForView(page, 'main');
    const creates = [];
    page.on('request', (r) => { if (isCreatePayment(r)) creates.push(r); });
    await selectPackage(page, 500);
    await page.getByTestId('email').fill('buyer@example.com');
    await waitForMainButton(page, 'Pay $25.00');
    const [request, response] = await Promise.all([
      page.waitForRequest(isCreatePayment),
      page.waitForResponse((r) => isCreatePayment(r.request())),
      // A double tap: the second tap must not create a second checkout.
      page.evaluate(() => { window.__tg.clickMainButton(); window.__tg.clickMainButton(); }),
    ]);
    const body = request.postDataJSON();
    assert.equal(body.credits, 500);
    assert.equal(body.amount, '25.00');
    assert.equal(body.currency, 'USD');
    assert.equal(body.payment_method, 'card');
    assert.equal(body.user_id, user.id);
    assert.equal(body.init_data, initData);
    assert.equal(body.email, 'buyer@example.com');
    const headers = request.headers();
    assert.equal(headers.authorization, `tma ${initData}`);
    assert.match(headers['content-type'], /^application\/json/);
    assert.match(headers['idempotency-key'] || '', /^[\x21-\x7e]{1,255}$/);

    assert.equal(response.status(), 200);
    const reply = await response.json();
    assert.equal(reply.success, true);
    const links = await waitForCall(page, 'openLink');
    assert.deepEqual(links, [new URL(reply.payment_url, `${BASE_URL}/miniapp/`).href]);
    await waitForView(page, 'waiting');
    assert.notEqual((await page.getByTestId('status').innerText()).trim(), '', 'a visible progress text');
    assert.equal((await mainButton(page)).isVisible, false, 'no pay button while waiting');
    assert.equal(creates.length, 1, 'one checkout for a double tap');
    await shot(page, 'waiting.png');
  });
});

test('sandbox end to end: a good card pays, the page shows the new balance and vibrates', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({}, async ({ page, context, user, initData }) => {
    await waitForView(page, 'main');
    await selectPackage(page, 500);
    await waitForMainButton(page, 'Pay $25.00');
    const [response] = await Promise.all([page.waitForResponse((r) => isCreatePayment(r.request())), clickMainButton(page)]);
    const reply = await response.json();
    const [link] = await waitForCall(page, 'openLink');
    await waitForView(page, 'waiting');

    const checkout = await submitSandboxCard(context, link, '4242 4242 4242 4242', { screenshot: 'sandbox.png' });
    await shot(checkout, 'sandbox-result.png');
    await checkout.close();

    await waitForView(page, 'success');
    assert.equal(await page.getByTestId('success-balance').innerText(), '500');
    assert.match(await page.getByTestId('success-credits').innerText(), /\+500 tokens/);
    assert.equal(await page.getByTestId('balance').innerText(), '500', 'the header balance is updated');
    const haptics = await waitForCall(page, 'haptic');
    assert.ok(haptics.includes('success'), `haptic success recorded: ${haptics}`);
    await shot(page, 'success.png');

    // Coming back from the checkout with ?payment_id=… goes straight to the status.
    const back = await context.newPage();
    back.setDefaultTimeout(TIMEOUT);
    await back.addInitScript(installTelegramStub, { initData, initDataUnsafe: { user }, themeParams: {}, colorScheme: 'dark' });
    await back.goto(`${BASE_URL}/miniapp/?payment_id=${encodeURIComponent(reply.payment_id)}`);
    await waitForView(back, 'success');
    assert.equal(await back.getByTestId('success-balance').innerText(), '500');
  });
});

test('a declined card leads to a failed state with a readable message and a retry', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({}, async ({ page, context }) => {
    await waitForView(page, 'main');
    await selectPackage(page, 200);
    await waitForMainButton(page, 'Pay $10.00');
    const [first] = await Promise.all([page.waitForRequest(isCreatePayment), clickMainButton(page)]);
    const [link] = await waitForCall(page, 'openLink');
    const checkout = await submitSandboxCard(context, link, '4000 0000 0000 0002');
    await checkout.close();

    await waitForView(page, 'result');
    assert.equal(await page.getByTestId('result-title').innerText(), 'Payment failed');
    assert.match(await page.getByTestId('result-message').innerText(), /did not go through.*no money was taken/i);
    await waitForBalance(page, '0');
    const haptics = await page.evaluate(() => window.__calls.haptic);
    assert.ok(!haptics.includes('success'));
    await shot(page, 'failed.png');

    // Retry: a new attempt (new idempotency key), a new checkout for the same package.
    const [second] = await Promise.all([page.waitForRequest(isCreatePayment), page.getByTestId('retry-button').click()]);
    assert.equal(second.postDataJSON().credits, 200);
    assert.notEqual(second.headers()['idempotency-key'], first.headers()['idempotency-key']);
    const links = await waitForCall(page, 'openLink', 2);
    assert.notEqual(links[1], links[0], 'a new checkout');
    await waitForView(page, 'waiting');
  });
});

test('a retried attempt reuses its idempotency key; a different order gets a new one', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({}, async ({ page }) => {
    await waitForView(page, 'main');
    let abortNext = true;
    await page.route('**/api/miniapp/create-payment', async (route) => {
      if (abortNext) { abortNext = false; await route.abort('connectionreset'); } else await route.continue();
    });
    await selectPackage(page, 500);
    await waitForMainButton(page, 'Pay $25.00');
    const [first] = await Promise.all([page.waitForRequest(isCreatePayment), clickMainButton(page)]);
    await page.getByTestId('error').waitFor();
    assert.match(await page.getByTestId('error').innerText(), /no connection to the server/i);
    await waitForMainButton(page, 'Pay $25.00');

    const [second] = await Promise.all([page.waitForRequest(isCreatePayment), clickMainButton(page)]);
    assert.equal(second.headers()['idempotency-key'], first.headers()['idempotency-key'], 'same attempt, same key');
    await waitForCall(page, 'openLink');
    await waitForView(page, 'waiting');

    await page.getByTestId('cancel-wait-button').click();
    await waitForView(page, 'main');
    await selectPackage(page, 100);
    await waitForMainButton(page, 'Pay $5.00');
    const [third] = await Promise.all([page.waitForRequest(isCreatePayment), clickMainButton(page)]);
    assert.notEqual(third.headers()['idempotency-key'], first.headers()['idempotency-key'], 'another order, another key');
  });
});

test('the light theme from themeParams colours the page, and themeChanged re-applies it', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({ themeParams: LIGHT_THEME, colorScheme: 'light' }, async ({ page }) => {
    await waitForView(page, 'main');
    const colours = () => page.evaluate(() => ({
      bg: getComputedStyle(document.body).backgroundColor,
      text: getComputedStyle(document.body).color,
      card: getComputedStyle(document.querySelector('.pkg-body')).backgroundColor,
    }));
    assert.deepEqual(await colours(), { bg: 'rgb(255, 255, 255)', text: 'rgb(0, 0, 0)', card: 'rgb(241, 241, 244)' });
    await selectPackage(page, 500);
    await shot(page, 'main-light.png');

    const listeners = await page.evaluate((theme) => {
      window.__tg.setTheme(theme, 'dark');
      return window.__tg.fire('themeChanged');
    }, NIGHT_THEME);
    assert.ok(listeners >= 1, 'the page listens to themeChanged');
    // Colours may animate briefly: wait for the final ones.
    await page.waitForFunction(() => getComputedStyle(document.body).backgroundColor === 'rgb(14, 22, 33)'
      && getComputedStyle(document.querySelector('.pkg-body')).backgroundColor === 'rgb(23, 33, 43)', null, { timeout: TIMEOUT });
    assert.deepEqual(await colours(), { bg: 'rgb(14, 22, 33)', text: 'rgb(245, 245, 245)', card: 'rgb(23, 33, 43)' });
  });
});

test('language_code=ru shows the page in Russian', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({ language: 'ru' }, async ({ page }) => {
    await waitForView(page, 'main');
    assert.equal(await page.getByTestId('heading').innerText(), 'Пополнение баланса');
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'ru');
    assert.match(await page.getByTestId('package-500').innerText(), /токенов/);
    await selectPackage(page, 500);
    await waitForMainButton(page, 'Оплатить $25.00');
    await shot(page, 'main-ru.png');
  });
});

test('a real API error (init data signed 3 days ago) shows a readable message', { timeout: TEST_TIMEOUT }, async () => {
  const threeDaysAgo = Math.floor(Date.now() / 1000) - 3 * 24 * 3600;
  await withTelegramPage({ authDate: threeDaysAgo }, async ({ page }) => {
    await waitForView(page, 'main');
    const banner = page.getByTestId('error');
    await banner.waitFor();
    assert.match(await banner.innerText(), /session has expired.*open it again from the bot/i);

    await selectPackage(page, 500);
    await waitForMainButton(page, 'Pay $25.00');
    const [response] = await Promise.all([page.waitForResponse((r) => isCreatePayment(r.request())), clickMainButton(page)]);
    assert.equal(response.status(), 401);
    assert.equal((await response.json()).error.code, 'expired_init_data');
    await waitForMainButton(page, 'Pay $25.00');
    const text = await banner.innerText();
    assert.match(text, /session has expired/i);
    assert.doesNotMatch(text, /expired_init_data/);
    assert.deepEqual(await page.evaluate(() => window.__calls.openLink), [], 'no checkout opened');
  });
});

test('a create-payment error code is mapped to a friendly sentence', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({ language: 'ru' }, async ({ page }) => {
    await page.route('**/api/miniapp/create-payment', (route) => route.fulfill({
      status: 400,
      contentType: 'application/json',
      body: JSON.stringify({ success: false, error: { code: 'price_mismatch', message: 'the amount does not match the price 25.00 USD' } }),
    }));
    await waitForView(page, 'main');
    await selectPackage(page, 500);
    await waitForMainButton(page, 'Оплатить $25.00');
    await clickMainButton(page);
    await page.getByTestId('error').waitFor();
    assert.match(await page.getByTestId('error').innerText(), /Цена изменилась/);
    await waitForMainButton(page, 'Оплатить $25.00');
  });
});

test('the abuse limits and a checkout in progress read as sentences, not codes', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({}, async ({ page }) => {
    const replies = [
      [429, 'rate_limited', /Too many attempts/],
      [429, 'too_many_open_payments', /several unfinished payments/],
      [409, 'payment_in_progress', /being prepared/],
      [408, 'request_timeout', /took too long/],
    ];
    let next = 0;
    await page.route('**/api/miniapp/create-payment', (route) => {
      const [status, code] = replies[next];
      return route.fulfill({ status, contentType: 'application/json', body: JSON.stringify({ success: false, error: { code, message: code } }) });
    });
    await waitForView(page, 'main');
    await selectPackage(page, 500);
    for (const [, code, sentence] of replies) {
      await waitForMainButton(page, 'Pay $25.00');
      await clickMainButton(page);
      await page.waitForFunction((source) => {
        const box = document.querySelector('[data-testid="error"]');
        return box && !box.hidden && new RegExp(source).test(box.textContent);
      }, sentence.source);
      assert.doesNotMatch(await page.getByTestId('error').innerText(), new RegExp(code), 'no raw code');
      next += 1;
    }
  });
});

test('at 320 px width nothing scrolls sideways', { timeout: TEST_TIMEOUT }, async () => {
  for (const language of ['en', 'ru']) {
    await withTelegramPage({ language, viewport: { width: 320, height: 640 } }, async ({ page }) => {
      await waitForView(page, 'main');
      await selectPackage(page, 1000);
      await page.getByTestId('email').fill('someone.with.a.rather.long.address@example.com');
      const overflow = await page.evaluate(() => {
        const width = document.documentElement.clientWidth;
        const wide = [...document.querySelectorAll('body *')]
          .filter((n) => n.getClientRects().length && n.getBoundingClientRect().right > width + 0.5)
          .map((n) => `${n.tagName.toLowerCase()}.${n.className}`);
        return { scrollWidth: document.documentElement.scrollWidth, bodyScrollWidth: document.body.scrollWidth, wide };
      });
      assert.ok(overflow.scrollWidth <= 320, `document scrollWidth ${overflow.scrollWidth} (${language})`);
      assert.ok(overflow.bodyScrollWidth <= 320, `body scrollWidth ${overflow.bodyScrollWidth} (${language})`);
      assert.deepEqual(overflow.wide, [], `elements past the right edge (${language})`);
      if (language === 'en') await shot(page, 'mobile-320.png');
    });
  }
});

test('Stars: the method switch shows XTR prices and pays through openInvoice', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({
    beforeLoad: async (page) => {
      // Stars may be off on the server: offer it in the catalog, answer its checkout here.
      await routeCatalog(page, (json) => {
        const methods = json.methods.filter((m) => m.id !== 'stars').concat([{ id: 'stars', currency: 'XTR', opens: 'invoice' }]);
        const packages = json.packages.map((p) => ({
          ...p,
          prices: p.prices.filter((x) => x.currency !== 'XTR').concat([{ currency: 'XTR', amount: String(p.credits / 2), amount_minor: p.credits / 2 }]),
        }));
        return { ...json, methods, packages };
      });
    },
  }, async ({ page }) => {
    let status = 'pending';
    await page.route('**/api/miniapp/create-payment', async (route) => {
      const body = route.request().postDataJSON();
      if (body.payment_method !== 'stars') return route.continue();
      await route.fulfill({ json: { success: true, payment_id: 'pay_stars_test', payment_url: 'https://t.me/$starsinvoice', status: 'pending', credits: body.credits, amount: body.amount, amount_minor: Number(body.amount), currency: 'XTR', opens: 'invoice' } });
    });
    await page.route('**/api/miniapp/payment-status/pay_stars_test', (route) => route.fulfill({
      json: { success: true, payment_id: 'pay_stars_test', status, amount: '250', amount_minor: 250, currency: 'XTR', credits: 500, created_at: new Date().toISOString(), balance: 500 },
    }));
    await waitForView(page, 'main');
    assert.equal(await page.locator('input[name="method"]').count(), 2, 'card and Stars');
    await selectPackage(page, 500);
    await waitForMainButton(page, 'Pay $25.00');
    await page.getByTestId('method-stars').click();
    assert.equal(await page.getByTestId('price-500').innerText(), '⭐ 250');
    await waitForMainButton(page, 'Pay ⭐ 250');

    const [request] = await Promise.all([page.waitForRequest(isCreatePayment), clickMainButton(page)]);
    const body = request.postDataJSON();
    assert.deepEqual([body.payment_method, body.currency, body.amount, body.credits], ['stars', 'XTR', '250', 500]);
    assert.deepEqual(await waitForCall(page, 'openInvoice'), ['https://t.me/$starsinvoice']);
    assert.deepEqual(await page.evaluate(() => window.__calls.openLink), []);
    await waitForView(page, 'waiting');

    // Closing the invoice unpaid goes back; paying again reuses the same attempt.
    await page.evaluate(() => window.__tg.closeInvoice('cancelled'));
    await waitForView(page, 'main');
    assert.match(await page.getByTestId('error').innerText(), /payment window was closed/i);
    const [again] = await Promise.all([page.waitForRequest(isCreatePayment), clickMainButton(page)]);
    assert.equal(again.headers()['idempotency-key'], request.headers()['idempotency-key']);
    await waitForCall(page, 'openInvoice', 2);

    status = 'succeeded';
    await page.evaluate(() => window.__tg.closeInvoice('paid'));
    await waitForView(page, 'success');
    assert.equal(await page.getByTestId('success-balance').innerText(), '500');
  });
});

test('next to real Stars the test notice belongs to the sandbox card only', { timeout: TEST_TIMEOUT }, async (t) => {
  if (!STARS_BASE_URL) {
    t.skip('STARS_BASE_URL not set');
    return;
  }
  // The server: card through the sandbox, Stars through Telegram (real money).
  await withTelegramPage({ baseUrl: STARS_BASE_URL }, async ({ page }) => {
    await waitForView(page, 'main');
    const catalog = await (await fetch(`${STARS_BASE_URL}/api/miniapp/packages`)).json();
    assert.deepEqual(catalog.methods.map((m) => [m.id, m.test]), [['card', true], ['stars', false]]);
    assert.match(await page.getByTestId('method-test-card').innerText(), /test mode/i);
    assert.equal(await page.getByTestId('method-test-stars').count(), 0, 'Stars are not marked as a test');
    await page.getByTestId('method-card').click();
    await page.getByTestId('sandbox-note').waitFor({ state: 'visible' });
    await page.getByTestId('method-stars').click();
    await page.getByTestId('sandbox-note').waitFor({ state: 'hidden' });
    assert.equal(await page.getByTestId('sandbox-note').isVisible(), false, 'no "no real money" while Stars are chosen');
  });
});

test('without stars in methods, the card is the only method and no switch is shown', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({
    beforeLoad: (page) => routeCatalog(page, (json) => ({ ...json, methods: json.methods.filter((m) => m.id !== 'stars') })),
  }, async ({ page }) => {
    await waitForView(page, 'main');
    assert.equal(await page.locator('input[name="method"]').count(), 0);
    const card = page.getByTestId('method-card');
    assert.match(await card.innerText(), /Bank card/);
    assert.match(await card.innerText(), /USD/);
    assert.match(await card.innerText(), /Visa · MasterCard|VISA/);
  });
});

test('inside Telegram without the SDK script, the built-in bridge talks to the client', { timeout: TEST_TIMEOUT }, async () => {
  const user = makeUser('en');
  const initData = signInitData(user);
  const context = await newContext({ viewport: { width: 390, height: 844 } });
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    await page.addInitScript(() => {
      window.__posted = [];
      window.TelegramWebviewProxy = { postEvent(type, data) { window.__posted.push([type, data ? JSON.parse(data) : null]); } };
    });
    const hash = `tgWebAppData=${encodeURIComponent(initData)}&tgWebAppVersion=8.0&tgWebAppPlatform=android`
      + `&tgWebAppThemeParams=${encodeURIComponent(JSON.stringify(LIGHT_THEME))}`;
    await page.goto(`${BASE_URL}/miniapp/#${hash}`);
    await waitForView(page, 'main');
    const posted = () => page.evaluate(() => window.__posted);
    const types = (await posted()).map((e) => e[0]);
    assert.ok(types.includes('web_app_ready') && types.includes('web_app_expand'), types.join(','));
    assert.equal(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(255, 255, 255)');

    await selectPackage(page, 500);
    await page.waitForFunction(() => {
      const setups = window.__posted.filter((e) => e[0] === 'web_app_setup_main_button');
      const last = setups[setups.length - 1];
      return last && last[1].is_visible && last[1].is_active && last[1].text === 'Pay $25.00';
    });
    const [request] = await Promise.all([
      page.waitForRequest(isCreatePayment),
      page.evaluate(() => window.Telegram.WebView.receiveEvent('main_button_pressed', {})),
    ]);
    assert.equal(request.headers().authorization, `tma ${initData}`);
    assert.equal(request.postDataJSON().user_id, user.id);
    await page.waitForFunction(() => window.__posted.some((e) => e[0] === 'web_app_open_link'));
    const open = (await posted()).find((e) => e[0] === 'web_app_open_link');
    assert.match(open[1].url, /^https?:\/\/.+\/sandbox\/checkout\//);

    await page.evaluate((theme) => window.Telegram.WebView.receiveEvent('theme_changed', { theme_params: theme }), NIGHT_THEME);
    await page.waitForFunction(() => getComputedStyle(document.body).backgroundColor === 'rgb(14, 22, 33)');
  } finally {
    await context.close();
  }
});

test('outside Telegram without dev login the page asks to open it from the bot', { timeout: TEST_TIMEOUT }, async (t) => {
  const catalog = await getCatalog(BASE_URL);
  if (catalog.dev_login) {
    t.skip('BASE_URL has dev login on');
    return;
  }
  const context = await newContext();
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    await page.goto(`${BASE_URL}/miniapp/`);
    await waitForView(page, 'blocked');
    assert.match(await page.getByTestId('view-blocked').innerText(), /Open this page from the Telegram bot/);
    assert.equal(await page.getByTestId('view-main').isVisible(), false);
    assert.equal(await page.getByTestId('pay-button').isVisible(), false);
  } finally {
    await context.close();
  }
});

test('dev mode: outside Telegram the page logs in through dev-login and pays with the in-page button', { timeout: TEST_TIMEOUT }, async (t) => {
  if (!DEV_BASE_URL) {
    t.skip('DEV_BASE_URL is not set (a server without a bot token, dev login on)');
    return;
  }
  const catalog = await getCatalog(DEV_BASE_URL);
  assert.equal(catalog.dev_login, true, 'DEV_BASE_URL has dev login on');
  const context = await newContext({ viewport: { width: 390, height: 844 }, locale: 'en-US' });
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    const [login] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/api/miniapp/dev-login'),
      page.goto(`${DEV_BASE_URL}/miniapp/`),
    ]);
    assert.equal(login.status(), 200);
    assert.equal(login.request().postDataJSON().language_code, 'en-US');
    await waitForView(page, 'main');
    await page.getByTestId('dev-badge').waitFor();
    assert.equal(await page.getByTestId('dev-badge').innerText(), 'Development mode');
    assert.equal(await page.locator('input[name="package"]').count(), 4);
    const pay = page.getByTestId('pay-button');
    await pay.waitFor();
    assert.equal(await pay.isDisabled(), true, 'nothing chosen yet');
    await page.waitForFunction(() => /^\d/.test(document.querySelector('[data-testid="balance"]').textContent));
    const before = Number((await page.getByTestId('balance').innerText()).replace(/\D/g, ''));
    await selectPackage(page, 100);
    assert.equal((await pay.innerText()).trim(), 'Pay $5.00');
    assert.equal(await pay.isEnabled(), true);
    await shot(page, 'main-browser.png', false);
    if (!catalog.sandbox) return;

    // Outside Telegram the checkout is a normal navigation; its result links back here.
    await Promise.all([page.waitForURL(/\/sandbox\/checkout\//), pay.click()]);
    await page.fill('input[name="card_number"]', '4242 4242 4242 4242');
    await page.fill('input[name="expiry"]', futureExpiry());
    await page.fill('input[name="cvc"]', '123');
    await page.locator('form button[type="submit"]').click();
    await Promise.all([page.waitForURL(/\/miniapp\/\?payment_id=/), page.getByTestId('sandbox-return').click()]);
    await waitForView(page, 'success');
    assert.equal(Number((await page.getByTestId('success-balance').innerText()).replace(/\D/g, '')), before + 100);
  } finally {
    await context.close();
  }
});

test('Stars end to end: the invoice callback is a hint; the page shows the balance once the server saw successful_payment', { timeout: TEST_TIMEOUT }, async (t) => {
  if (!STARS_BASE_URL || !STARS_SECRET) {
    t.skip('STARS_BASE_URL / STARS_SECRET not set');
    return;
  }
  await withTelegramPage({ baseUrl: STARS_BASE_URL }, async ({ page, user }) => {
    await waitForView(page, 'main');
    await selectPackage(page, 500);
    await page.getByTestId('method-stars').click();
    await waitForMainButton(page, 'Pay ⭐ 1250');
    const [response] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname.endsWith('/api/miniapp/create-payment')),
      clickMainButton(page),
    ]);
    const created = await response.json();
    assert.equal(created.opens, 'invoice');
    assert.deepEqual(await waitForCall(page, 'openInvoice'), [created.payment_url]);
    await waitForView(page, 'waiting');

    // The client says "paid" before the server knows: the page keeps waiting for the server.
    await page.evaluate(() => window.__tg.closeInvoice('paid'));
    await waitForView(page, 'waiting');
    assert.equal(await page.getByTestId('balance').textContent(), '0');

    // Telegram delivers successful_payment to the bot (here: the bot's webhook route).
    const update = {
      update_id: 1,
      message: {
        message_id: 1, date: Math.floor(Date.now() / 1000),
        chat: { id: user.id, type: 'private', first_name: user.first_name },
        from: { id: user.id, is_bot: false, first_name: user.first_name },
        successful_payment: {
          currency: 'XTR', total_amount: 1250, invoice_payload: created.payment_id,
          telegram_payment_charge_id: `charge_${created.payment_id}`, provider_payment_charge_id: '',
        },
      },
    };
    const delivered = await fetch(`${STARS_BASE_URL}/api/miniapp/webhooks/stars`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': STARS_SECRET },
      body: JSON.stringify(update),
    });
    assert.equal(delivered.status, 200, await delivered.text());
    await waitForView(page, 'success');
    assert.equal(await page.getByTestId('success-balance').innerText(), '500');
  });
});
