// Shared pieces of the browser tests: the browser, init data signed as Telegram signs it, a
// `Telegram.WebApp` stub with spies on every call, and helpers to drive the page.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const BASE_URL = (process.env.BASE_URL || '').replace(/\/+$/, '');
export const BOT_TOKEN = process.env.BOT_TOKEN || '';
export const DEV_BASE_URL = (process.env.DEV_BASE_URL || '').replace(/\/+$/, '');
// A server with Telegram Stars enabled (its Bot API is a local fake) and the secret token its
// Stars webhook route checks; optional.
export const STARS_BASE_URL = (process.env.STARS_BASE_URL || '').replace(/\/+$/, '');
export const STARS_SECRET = process.env.STARS_SECRET || '';
// A server whose (sandbox) provider takes 5 s to open a checkout; optional.
export const SLOW_BASE_URL = (process.env.SLOW_BASE_URL || '').replace(/\/+$/, '');
export const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || 'target/browser-screenshots';
export const TIMEOUT = 15_000;
export const TEST_TIMEOUT = 60_000;

export const LIGHT_THEME = {
  bg_color: '#ffffff',
  text_color: '#000000',
  hint_color: '#999999',
  link_color: '#2481cc',
  button_color: '#2481cc',
  button_text_color: '#ffffff',
  secondary_bg_color: '#f1f1f4',
};
// Telegram iOS's light theme as the client sends it (every key).
export const TELEGRAM_LIGHT_THEME = {
  bg_color: '#ffffff',
  text_color: '#000000',
  hint_color: '#999999',
  link_color: '#2481cc',
  button_color: '#2481cc',
  button_text_color: '#ffffff',
  secondary_bg_color: '#efeff3',
  header_bg_color: '#f8f8f8',
  accent_text_color: '#2481cc',
  section_bg_color: '#ffffff',
  section_header_text_color: '#6d6d72',
  subtitle_text_color: '#999999',
  destructive_text_color: '#ff3b30',
  bottom_bar_bg_color: '#f8f8f8',
  section_separator_color: '#e7e7e7',
};
export const NIGHT_THEME = {
  bg_color: '#0e1621',
  text_color: '#f5f5f5',
  hint_color: '#7d8b99',
  link_color: '#6ab3f3',
  button_color: '#5288c1',
  button_text_color: '#ffffff',
  secondary_bg_color: '#17212b',
};

let browser;

export async function launch() {
  assert.ok(BASE_URL, 'BASE_URL must point at a running server (with a bot token and the sandbox provider)');
  assert.ok(BOT_TOKEN, 'BOT_TOKEN must be the bot token that server uses');
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export async function close() {
  if (browser) await browser.close();
}

// ------------------------------------------------------------------------------------------
// Init data, signed as Telegram does
// ------------------------------------------------------------------------------------------

export function makeUser(languageCode = 'en') {
  const id = crypto.randomInt(100_000_000, 2_000_000_000);
  return { id, first_name: 'Test', last_name: 'User', username: `test_${id}`, language_code: languageCode, allows_write_to_pm: true };
}

// secret = HMAC_SHA256(key="WebAppData", msg=token); hash = hex HMAC_SHA256(key=secret,
// msg=data_check_string), the sorted k=v lines (decoded values, without hash) joined by \n.
export function signInitData(user, { authDate = Math.floor(Date.now() / 1000), token = BOT_TOKEN } = {}) {
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

export function installTelegramStub(cfg) {
  const calls = {
    ready: 0, expand: 0, close: 0, openLink: [], openInvoice: [], haptic: [], selection: 0, popups: [],
    mainButtonTexts: [], mainButtonUpdates: 0, backButton: [], closingConfirmation: [],
  };
  const handlers = {};
  const clickHandlers = [];
  const backHandlers = [];
  let invoiceCallback = null;
  const MainButton = {
    text: '',
    isVisible: false,
    isActive: true,
    isProgressVisible: false,
    setText(text) { this.text = String(text); calls.mainButtonTexts.push(this.text); calls.mainButtonUpdates += 1; return this; },
    show() { this.isVisible = true; calls.mainButtonUpdates += 1; return this; },
    hide() { this.isVisible = false; calls.mainButtonUpdates += 1; return this; },
    enable() { this.isActive = true; calls.mainButtonUpdates += 1; return this; },
    disable() { this.isActive = false; calls.mainButtonUpdates += 1; return this; },
    showProgress(leaveActive) { this.isProgressVisible = true; this.isActive = !!leaveActive; calls.mainButtonUpdates += 1; return this; },
    hideProgress() { this.isProgressVisible = false; this.isActive = true; calls.mainButtonUpdates += 1; return this; },
    setParams(p) {
      if (p.text !== undefined) { this.text = String(p.text); calls.mainButtonTexts.push(this.text); }
      if (p.is_visible !== undefined) this.isVisible = !!p.is_visible;
      if (p.is_active !== undefined) this.isActive = !!p.is_active;
      calls.mainButtonUpdates += 1;
      return this;
    },
    onClick(fn) { clickHandlers.push(fn); return this; },
    offClick(fn) { const i = clickHandlers.indexOf(fn); if (i >= 0) clickHandlers.splice(i, 1); return this; },
  };
  const BackButton = {
    isVisible: false,
    show() { this.isVisible = true; calls.backButton.push(true); return this; },
    hide() { this.isVisible = false; calls.backButton.push(false); return this; },
    onClick(fn) { backHandlers.push(fn); return this; },
    offClick(fn) { const i = backHandlers.indexOf(fn); if (i >= 0) backHandlers.splice(i, 1); return this; },
  };
  const WebApp = {
    initData: cfg.initData,
    initDataUnsafe: cfg.initDataUnsafe,
    themeParams: cfg.themeParams,
    colorScheme: cfg.colorScheme,
    platform: 'android',
    version: '8.0',
    isClosingConfirmationEnabled: false,
    ready() { calls.ready += 1; },
    expand() { calls.expand += 1; },
    close() { calls.close += 1; },
    onEvent(type, fn) { (handlers[type] = handlers[type] || []).push(fn); },
    offEvent(type, fn) { const l = handlers[type] || []; const i = l.indexOf(fn); if (i >= 0) l.splice(i, 1); },
    openLink(url) { calls.openLink.push(String(url)); },
    openInvoice(url, callback) { calls.openInvoice.push(String(url)); invoiceCallback = callback; },
    showPopup(params, callback) { calls.popups.push(params); if (callback) setTimeout(() => callback('ok'), 0); },
    showAlert(message, callback) { calls.popups.push({ message }); if (callback) setTimeout(callback, 0); },
    enableClosingConfirmation() { this.isClosingConfirmationEnabled = true; calls.closingConfirmation.push(true); },
    disableClosingConfirmation() { this.isClosingConfirmationEnabled = false; calls.closingConfirmation.push(false); },
    HapticFeedback: {
      notificationOccurred(type) { calls.haptic.push(type); },
      impactOccurred() {},
      selectionChanged() { calls.selection += 1; },
    },
    MainButton,
    BackButton,
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
    clickBackButton() {
      if (!BackButton.isVisible) return false;
      backHandlers.slice().forEach((fn) => fn());
      return true;
    },
    mainButton() {
      return { text: MainButton.text, isVisible: MainButton.isVisible, isActive: MainButton.isActive, isProgressVisible: MainButton.isProgressVisible };
    },
    backButtonVisible() { return BackButton.isVisible; },
    closingConfirmation() { return WebApp.isClosingConfirmationEnabled; },
    setTheme(themeParams, colorScheme) { WebApp.themeParams = themeParams; WebApp.colorScheme = colorScheme; },
    fire(type) { const l = (handlers[type] || []).slice(); l.forEach((fn) => fn.call(WebApp)); return l.length; },
    closeInvoice(status) { const cb = invoiceCallback; invoiceCallback = null; if (cb) cb(status); return !!cb; },
  };
}

// ------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------

// A browser context that never reaches the network: the official Telegram script is refused at
// once (the stub stands in for it), unless `telegram` routes it otherwise.
export async function newContext(options = {}, { telegram } = {}) {
  const context = await browser.newContext(options);
  await context.route('https://telegram.org/**', telegram || ((route) => route.abort()));
  return context;
}

// Opens the page "inside Telegram" (stubbed) for a fresh user, runs fn, closes everything.
export async function withTelegramPage(options, fn) {
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
    // A route may still be fetching a long poll the server holds: let it go quietly.
    await page.unrouteAll({ behavior: 'ignoreErrors' }).catch(() => {});
    await context.close();
  }
}

export async function waitForView(page, view) {
  await page.locator(`body[data-state="${view}"]`).waitFor({ timeout: TIMEOUT });
  await page.getByTestId(`view-${view}`).waitFor({ state: 'visible', timeout: TIMEOUT });
}

export async function waitForBalance(page, text) {
  await page.waitForFunction((t) => document.querySelector('[data-testid="balance"]').textContent === t, text, { timeout: TIMEOUT });
}

export async function mainButton(page) {
  return page.evaluate(() => window.__tg.mainButton());
}

// Texts are compared with every kind of space as a plain one: the page keeps numbers and their
// units together with no-break spaces, and Intl puts them where the locale wants.
export const norm = (s) => String(s).replace(/\s/g, ' ');

export async function text(locator) {
  return norm(await locator.innerText());
}

export async function waitForMainButton(page, text) {
  await page.waitForFunction((t) => {
    const b = window.__tg.mainButton();
    return b.isVisible && b.isActive && b.text.replace(/\s/g, ' ') === t;
  }, text, { timeout: TIMEOUT });
}

export async function clickMainButton(page) {
  const clicked = await page.evaluate(() => window.__tg.clickMainButton());
  assert.equal(clicked, true, 'the MainButton was visible and active');
}

export async function selectPackage(page, credits) {
  await page.getByTestId(`package-${credits}`).click();
  assert.equal(await page.locator(`input[name="package"][value="${credits}"]`).isChecked(), true);
}

// Wherever the payments are mounted (BASE_URL is under /shop, DEV_BASE_URL at the root).
export function isCreatePayment(request) {
  return request.method() === 'POST' && new URL(request.url()).pathname.endsWith('/api/miniapp/create-payment');
}

export async function waitForCall(page, kind, count = 1) {
  await page.waitForFunction(([k, n]) => window.__calls[k].length >= n, [kind, count], { timeout: TIMEOUT });
  return page.evaluate((k) => window.__calls[k].slice(), kind);
}

export function futureExpiry() {
  const d = new Date();
  return `${String(d.getUTCMonth() + 1).padStart(2, '0')}/${String((d.getUTCFullYear() + 3) % 100).padStart(2, '0')}`;
}

// Opens what Telegram was asked to open (our handoff page) in a new tab and follows it to the
// provider's checkout; returns that tab.
export async function followHandoff(context, link) {
  assert.match(link, /\/miniapp\/open\.html#u=\d+&k=[A-Za-z0-9_-]{32,}&l=(en|ru)$/, `openLink opened the handoff page: ${link}`);
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  await Promise.all([page.waitForURL(/\/sandbox\/checkout\//, { timeout: TIMEOUT }), page.goto(link)]);
  return page;
}

// Fills the sandbox card form on `page` and submits it; waits for the sandbox's result page.
export async function submitSandboxCardOn(page, card, { screenshot } = {}) {
  await page.getByText('SANDBOX', { exact: true }).first().waitFor();
  await page.fill('input[name="card_number"]', card);
  await page.fill('input[name="expiry"]', futureExpiry());
  await page.fill('input[name="cvc"]', '123');
  if (screenshot) await shot(page, screenshot);
  await page.locator('form button[type="submit"]').click();
  await page.getByTestId('sandbox-return').waitFor();
  return page;
}

// Follows the handoff link to the sandbox checkout and pays (or fails to pay) there.
export async function submitSandboxCard(context, link, card, options) {
  const page = await followHandoff(context, link);
  assert.match(await page.locator('body').innerText(), /no real money/i, 'the sandbox says no real money moves');
  return submitSandboxCardOn(page, card, options);
}

export async function shot(page, name, fullPage = true) {
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, name), fullPage });
}

export async function getCatalog(base) {
  const res = await fetch(`${base}/api/miniapp/packages`);
  assert.equal(res.status, 200);
  return res.json();
}

// Serves the real catalog with its methods filtered or extended.
export async function routeCatalog(page, transform) {
  await page.route('**/api/miniapp/packages', async (route) => {
    const response = await route.fetch();
    const json = await response.json();
    await route.fulfill({ response, json: transform(json) });
  });
}

// Offers Telegram Stars in the catalog (the server may not have them) at half a star per token.
export function withStars(json) {
  const methods = json.methods.filter((m) => m.id !== 'stars').concat([{ id: 'stars', currency: 'XTR', opens: 'invoice' }]);
  const packages = json.packages.map((p) => ({
    ...p,
    prices: p.prices.filter((x) => x.currency !== 'XTR').concat([{ currency: 'XTR', amount: String(p.credits / 2), amount_minor: p.credits / 2 }]),
  }));
  return { ...json, methods, packages };
}

// The page comes back to the foreground: its next status read is a plain one, sent at once or as
// soon as the read under way ends (a long poll the server holds is cut short), so a route
// installed before this sees a read that the server answers without holding it.
export async function askNow(page) {
  await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
}

// Whether the element is fully inside the viewport.
export async function inViewport(locator) {
  return locator.evaluate((node) => {
    const r = node.getBoundingClientRect();
    return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight && r.left >= 0 && r.right <= window.innerWidth;
  });
}

// WCAG contrast of two #rrggbb colours.
export function contrastOf(a, b) {
  const lum = (hex) => {
    const n = parseInt(hex.slice(1), 16);
    const l = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map((v) => { const s = v / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2];
  };
  const x = lum(a);
  const y = lum(b);
  return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
}

// Every visible text on the page whose contrast with what it is drawn on is below 4.5:1,
// computed from the rendered styles (colours composed over their ancestors' backgrounds).
export async function lowContrastTexts(page) {
  return page.evaluate(() => {
    const parse = (c) => {
      const m = /rgba?\(([^)]+)\)/.exec(c);
      if (!m) return null;
      const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
      return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    };
    const over = (top, bottom) => [0, 1, 2].map((i) => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
    const lum = (c) => {
      const l = c.slice(0, 3).map((v) => { const s = v / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; });
      return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2];
    };
    const ratio = (a, b) => { const x = lum(a); const y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
    const background = (node) => {
      const layers = [];
      for (let n = node; n && n.nodeType === 1; n = n.parentElement) {
        const bg = parse(getComputedStyle(n).backgroundColor);
        if (bg && bg[3] > 0) { layers.push(bg); if (bg[3] >= 1) break; }
      }
      let result = [255, 255, 255, 1];
      for (let i = layers.length - 1; i >= 0; i--) result = over(layers[i], result);
      return result;
    };
    const opacity = (node) => {
      let o = 1;
      for (let n = node; n && n.nodeType === 1; n = n.parentElement) o *= Number(getComputedStyle(n).opacity);
      return o;
    };
    const bad = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
      if (!t.textContent.trim()) continue;
      const node = t.parentElement;
      if (!node || !node.getClientRects().length || node.closest('[hidden], .sr-only, [aria-hidden="true"]')) continue;
      // Disabled controls are exempt from the contrast rule (WCAG 1.4.3).
      if (node.closest('.is-disabled, button:disabled')) continue;
      const style = getComputedStyle(node);
      if (style.visibility === 'hidden') continue;
      const bg = background(node);
      const fg = over([...parse(style.color).slice(0, 3), parse(style.color)[3] * opacity(node)], bg);
      const r = ratio(fg, bg);
      if (r < 4.5) bad.push(`${t.textContent.trim().slice(0, 40)} — ${r.toFixed(2)}:1 (${style.color} on rgb(${bg.slice(0, 3).map(Math.round).join(', ')}))`);
    }
    return bad;
  });
}
