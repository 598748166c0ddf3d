// Rendering: which view is shown and what it says. No requests here.

import { asksEmail, currentMethod, priceOf } from './catalog.js';
import { formatInt, formatMoney, formatPerToken, tokensText } from './format.js';
import { errorText, reasonText, t } from './i18n.js';
import { changed, state } from './state.js';

export const $ = (sel) => document.querySelector(sel);

export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => {
    if (v === null || v === undefined || v === false) return;
    if (k === 'text') node.textContent = v;
    else if (k === 'class') node.className = v;
    else node.setAttribute(k, v === true ? '' : v);
  });
  children.forEach((child) => {
    if (child === null || child === undefined || child === false) return;
    node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  });
  return node;
}

const VIEWS = ['loading', 'blocked', 'main', 'waiting', 'success', 'result', 'history'];

export function show(view, focus) {
  state.view = view;
  document.body.setAttribute('data-state', view);
  VIEWS.forEach((name) => {
    const node = document.getElementById('view-' + name);
    if (node) node.hidden = name !== view;
  });
  if (focus) {
    const heading = document.querySelector('#view-' + view + ' [data-focus]');
    if (heading) heading.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }
  changed();
}

/** The order as one line: "500 tokens · $25.00". */
export function orderLine(credits, money) {
  return credits && money ? t('orderSummary')(tokensText(credits), formatMoney(money)) : '';
}

// ---------------------------------------------------------------------------------------------
// Header
// ---------------------------------------------------------------------------------------------

export function renderBalance() {
  $('#balance-card').hidden = !state.initData || state.view === 'blocked';
  $('#balance').textContent = state.balance === null ? '—' : formatInt(state.balance);
  $('#balance-unit').textContent = state.balance === null ? '' : t('tokens')(state.balance);
}

// ---------------------------------------------------------------------------------------------
// The main form
// ---------------------------------------------------------------------------------------------

function cardIcon() {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'method-icon-svg');
  const rect = document.createElementNS(ns, 'rect');
  [['x', '2.5'], ['y', '5'], ['width', '19'], ['height', '14'], ['rx', '2.5']].forEach((a) => rect.setAttribute(a[0], a[1]));
  const line = document.createElementNS(ns, 'path');
  line.setAttribute('d', 'M2.5 9.5h19M6 15h4');
  [rect, line].forEach((node) => {
    node.setAttribute('fill', 'none');
    node.setAttribute('stroke', 'currentColor');
    node.setAttribute('stroke-width', '1.7');
    node.setAttribute('stroke-linecap', 'round');
    svg.appendChild(node);
  });
  return svg;
}

function methodBody(method) {
  if (method.id === 'stars') {
    return el(
      'span',
      { class: 'method-body' },
      el('span', { class: 'method-icon method-icon-stars', 'aria-hidden': 'true', text: '⭐' }),
      el('span', { class: 'method-text' }, el('span', { class: 'method-name', text: t('methodStars') }), el('span', { class: 'method-sub', text: t('methodStarsHint') })),
    );
  }
  if (method.id === 'paypal') {
    return el(
      'span',
      { class: 'method-body' },
      el('span', { class: 'method-icon method-icon-paypal', 'aria-hidden': 'true', text: 'P' }),
      el(
        'span',
        { class: 'method-text' },
        el('span', { class: 'method-name', text: t('methodPayPal') }),
        method.test ? el('span', { class: 'method-sub method-test', 'data-testid': 'method-test-paypal', text: t('methodTest') }) : null,
        el('span', { class: 'method-sub', text: t('methodPayPalHint') }),
      ),
    );
  }
  const isCard = method.id === 'card';
  return el(
    'span',
    { class: 'method-body' },
    el('span', { class: 'method-icon' }, cardIcon()),
    el(
      'span',
      { class: 'method-text' },
      el('span', { class: 'method-name', text: isCard ? t('methodCard') : method.id }),
      method.test ? el('span', { class: 'method-sub method-test', 'data-testid': 'method-test-' + method.id, text: t('methodTest') }) : null,
      isCard
        ? el(
            'span',
            { class: 'method-sub brands' },
            el('span', { class: 'brand brand-visa', text: 'VISA' }),
            el('span', { class: 'brand brand-mc', 'aria-hidden': 'true' }, el('i'), el('i')),
            el('span', { class: 'sr-only', text: t('methodCardBrands') }),
          )
        : null,
    ),
  );
}

export function renderMethods(onPick) {
  const box = $('#methods');
  box.textContent = '';
  const methods = state.catalog.methods;
  if (methods.length === 1) {
    box.appendChild(el('div', { class: 'method method-single', 'data-testid': 'method-' + methods[0].id }, methodBody(methods[0])));
    return;
  }
  methods.forEach((method) => {
    const input = el('input', { type: 'radio', name: 'method', value: method.id, class: 'choice-input' });
    input.checked = method.id === state.methodId;
    input.addEventListener('change', () => {
      if (input.checked) onPick(method.id);
    });
    box.appendChild(el('label', { class: 'method method-choice', 'data-testid': 'method-' + method.id }, input, methodBody(method)));
  });
}

export function renderPackages(onPick) {
  const box = $('#packages');
  box.textContent = '';
  state.catalog.packages.forEach((pkg) => {
    const input = el('input', { type: 'radio', name: 'package', value: String(pkg.credits), class: 'choice-input' });
    input.checked = pkg.credits === state.credits;
    input.addEventListener('change', () => {
      if (input.checked) onPick(pkg.credits);
    });
    box.appendChild(
      el(
        'label',
        { class: 'pkg', 'data-testid': 'package-' + pkg.credits, 'data-credits': String(pkg.credits) },
        input,
        el(
          'span',
          { class: 'pkg-body' },
          el('span', { class: 'pkg-check', 'aria-hidden': 'true' }),
          el('span', { class: 'pkg-credits' }, el('strong', { text: formatInt(pkg.credits) }), ' ', el('span', { class: 'pkg-unit-name', text: t('tokens')(pkg.credits) })),
          el('span', { class: 'pkg-price', 'data-testid': 'price-' + pkg.credits }),
          el('span', { class: 'pkg-per', 'data-testid': 'per-token-' + pkg.credits }),
        ),
      ),
    );
  });
}

/** Prices, per-token costs and everything that depends on the chosen method. */
export function renderMethodDependent() {
  const method = currentMethod();
  state.catalog.packages.forEach((pkg) => {
    const label = document.querySelector('.pkg[data-credits="' + pkg.credits + '"]');
    if (!label) return;
    const money = priceOf(pkg, method);
    const input = label.querySelector('input');
    input.disabled = !money;
    label.classList.toggle('is-disabled', !money);
    label.querySelector('.pkg-price').textContent = money ? formatMoney(money) : '—';
    label.querySelector('.pkg-per').textContent = money ? t('perToken')(formatPerToken(money, pkg.credits)) : '';
  });
  // The test-payment notice belongs to the chosen method: Stars next to a sandbox card are real.
  $('#sandbox-note').hidden = !(method && method.test);
  // A receipt e-mail and card wording mean nothing for an invoice paid inside Telegram, nor for
  // PayPal, which sends its own receipt and never shows us a card.
  $('#email-group').hidden = !asksEmail(method);
  $('#card-fineprint').hidden = !method || method.opens === 'invoice' || method.id === 'paypal';
  $('#dev-badge').hidden = !state.devMode;
}

export function emailValue() {
  return $('#email').value.trim();
}

// ---------------------------------------------------------------------------------------------
// Messages on the form
// ---------------------------------------------------------------------------------------------

/** Shows `text` at the top of the form and scrolls it into view. */
export function showBanner(text, kind) {
  const banner = $('#error');
  banner.textContent = text;
  banner.className = kind === 'notice' ? 'alert alert-notice' : 'alert';
  banner.hidden = false;
  banner.scrollIntoView({ block: 'nearest' });
  const rect = banner.getBoundingClientRect();
  if (rect.top < 0 || rect.bottom > window.innerHeight) window.scrollBy(0, rect.top - 16);
}

export function clearBanner() {
  const banner = $('#error');
  banner.hidden = true;
  banner.textContent = '';
}

// ---------------------------------------------------------------------------------------------
// Result views
// ---------------------------------------------------------------------------------------------

export function renderSuccess(credits, money) {
  $('#success-credits').textContent = credits ? t('credited')(formatInt(credits), t('tokens')(credits)) : '';
  $('#success-balance').textContent = state.balance === null ? '—' : formatInt(state.balance);
  $('#success-balance-unit').textContent = t('tokens')(state.balance || 0);
  $('#success-amount').textContent = money ? formatMoney(money) : '';
}

/**
 * The result view for a payment that ended without success, or for an error (`err`).
 * Returns what the controls need: whether the same order can be retried, whether only a
 * reload helps.
 */
export function renderResult(kind, err, reply, options) {
  const texts = t('status');
  const pair = texts[kind] || texts.unknown;
  $('#result-title').textContent = err && kind === 'error' && state.catalog ? t('errorTitle') : pair[0];
  $('#result-message').textContent = err ? errorText(err) : pair[1];
  const payment = state.payment;
  const summary = payment ? orderLine(payment.credits, payment.money) : '';
  $('#result-summary').textContent = summary;
  $('#result-summary').hidden = !summary;
  const reason = reply ? reasonText(reply.failure_code) : '';
  $('#result-reason').textContent = reason;
  $('#result-reason').hidden = !reason;
  $('#result-view-icon').className = 'result-icon ' + (kind === 'refunded' || kind === 'partially_refunded' ? 'is-info' : 'is-error');
  // Without a catalog or a session the page cannot go on: offer a reload.
  const fatal = kind === 'error' && (!state.catalog || !state.initData);
  const canRetry = !fatal && !(options && options.retry === false) && ['failed', 'expired', 'canceled', 'error'].includes(kind) && !!(payment && payment.credits);
  state.result = { kind, canRetry, fatal };
  $('#retry-button').textContent = fatal ? t('reload') : canRetry ? t('retry') : t('back');
  $('#back-button').textContent = t('otherPackage');
  return state.result;
}

export function renderBlocked(kind) {
  state.blocked = kind;
  const titles = { outside: 'blockedTitle', returned: 'returnedTitle', session: 'sessionTitle', 'session-invalid': 'sessionTitle' };
  const texts = { outside: 'blockedText', returned: 'blockedReturned', session: 'sessionText', 'session-invalid': 'sessionInvalid' };
  $('#blocked-title').textContent = t(titles[kind]);
  $('#blocked-text').textContent = t(texts[kind]);
  const link = $('#bot-link');
  link.textContent = t('openBot');
  link.hidden = !state.botUrl || !!state.tg;
  if (state.botUrl) link.href = state.botUrl;
  $('#close-button').textContent = t('close');
}

// ---------------------------------------------------------------------------------------------
// Waiting
// ---------------------------------------------------------------------------------------------

/** `reason`: why the last attempt failed while the checkout stays open (Stripe lets the buyer try
 *  another card), as a `failure_code`. */
export function renderWaiting(text, reason) {
  const payment = state.payment;
  if (reason !== undefined) {
    const line = reasonText(reason);
    $('#waiting-reason').textContent = line;
    $('#waiting-reason').hidden = !line;
  }
  $('#waiting-summary').textContent = payment ? orderLine(payment.credits, payment.money) : '';
  if (text) $('#status').textContent = text;
  const canReopen = !!(payment && payment.url);
  $('#waiting-hint').hidden = !canReopen;
}
