// Paying: create the payment (one idempotency key per purchase attempt), open its checkout,
// and follow its status until it ends.

import { api, newIdempotencyKey } from './api.js';
import { asksEmail, selection } from './catalog.js';
import { amountString, moneyFrom } from './format.js';
import { errorText, language, SESSION_ERRORS, t } from './i18n.js';
import { safeCheckoutUrl, withLanguageFor } from './handoff.js';
import { changed, saveForReturn, state } from './state.js';
import { $, clearBanner, emailValue, renderBalance, renderBlocked, renderResult, renderSuccess, renderWaiting, show, showBanner } from './views.js';

const POLL_FAST_MS = 2000;
const POLL_SLOW_MS = 5000;
const POLL_SLOW_AFTER_MS = 5 * 60 * 1000;
const STILL_WAITING_AFTER_MS = 60 * 1000;
// A long poll (`payment-status?wait=`) is held by the server until the status changes. One that
// comes back sooner with nothing new means a server that does not hold: poll plainly instead.
const LONG_POLL_SECS = 25;
const HELD_AT_LEAST_MS = 1000;
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PENDING = new Set(['created', 'pending']);

const PAGE_BASE = new URL('..', import.meta.url);

let pollGeneration = 0;

/** A session error ends the page: the blocked view explains and offers the way back. */
export function endSession(err) {
  stopPolling();
  state.busy = false;
  renderBlocked(err.code === 'expired_init_data' ? 'session' : 'session-invalid');
  show('blocked', true);
  renderBalance();
  if (state.tg) state.tg.haptic('error');
}

/** Shows an error on the form where it is seen: at the top, scrolled to, with an error haptic
 *  and, inside Telegram, Telegram's own popup. */
export function reportError(err) {
  if (SESSION_ERRORS.has(err.code)) {
    endSession(err);
    return;
  }
  showBanner(errorText(err));
  if (state.tg) {
    state.tg.haptic('error');
    state.tg.popup(errorText(err));
  }
}

export function validateEmail() {
  const input = $('#email');
  const value = emailValue();
  state.email = value;
  const bad = value !== '' && (value.length > 254 || !EMAIL_RE.test(value));
  $('#email-error').hidden = !bad;
  $('#email-error').textContent = bad ? t('emailInvalid') : '';
  input.setAttribute('aria-invalid', bad ? 'true' : 'false');
  input.setAttribute('aria-describedby', bad ? 'email-error email-hint' : 'email-hint');
  return bad ? null : value;
}


/** The checkout URL in the buyer's language where it is our own page (handoff.js). */
export function withLanguage(url) {
  return withLanguageFor(url, language());
}

// The page of ours that Telegram opens inside the tap; it waits for the checkout URL and goes
// there (open.html). Telegram drops an openLink that comes seconds after the tap.
function handoffUrl(key) {
  const user = state.user && Number.isSafeInteger(state.user.id) ? state.user.id : null;
  if (user === null) return null;
  return new URL('open.html', PAGE_BASE).href + '#u=' + user + '&k=' + encodeURIComponent(key) + '&l=' + language();
}

/**
 * Pays for the current selection. Runs synchronously up to the request, so that a checkout page
 * opened here is opened inside the user's tap.
 */
export async function pay() {
  if (state.busy || state.view !== 'main' || !state.initData) return;
  const sel = selection();
  if (!sel) {
    const first = document.querySelector('input[name="package"]:not(:disabled)');
    if (first) first.focus();
    showBanner(t('choosePackage'), 'notice');
    if (state.tg) state.tg.haptic('warning');
    return;
  }
  const email = asksEmail(sel.method) ? validateEmail() : '';
  if (email === null) {
    $('#email').focus({ preventScroll: true });
    $('#email').scrollIntoView({ block: 'center' });
    if (state.tg) state.tg.haptic('error');
    return;
  }
  // One idempotency key per purchase attempt: a double tap or a retry of the same order reuses
  // it (same checkout); a different order gets a fresh key.
  const fingerprint = JSON.stringify([sel.credits, sel.method.id, sel.money.currency, sel.money.minor, email]);
  if (!state.attempt || state.attempt.fingerprint !== fingerprint) {
    state.attempt = { key: newIdempotencyKey(), fingerprint };
  }
  const attempt = state.attempt;
  let handedOff = false;
  if (state.tg && sel.method.opens === 'link') {
    const url = handoffUrl(attempt.key);
    if (url) {
      try {
        state.tg.openLink(url);
        handedOff = true;
      } catch (e) {
        handedOff = false;
      }
    }
  }
  const body = {
    credits: sel.credits,
    amount: amountString(sel.money),
    currency: sel.money.currency,
    payment_method: sel.method.id,
    init_data: state.initData,
  };
  if (email) body.email = email;
  if (state.user && Number.isSafeInteger(state.user.id)) body.user_id = state.user.id;

  state.busy = true;
  clearBanner();
  changed();
  let reply;
  try {
    reply = await api('POST', '/create-payment', { body, headers: { 'Idempotency-Key': attempt.key } });
  } catch (err) {
    // These attempts can never succeed: the next press starts a new one.
    if (err.code === 'idempotency_conflict' || err.code === 'payment_closed') state.attempt = null;
    state.busy = false;
    changed();
    reportError(err);
    return;
  }
  state.busy = false;
  // The session ended meanwhile (the blocked screen says so): the payment stays open on the
  // server and is reused by the next attempt for the same order.
  if (state.view === 'blocked') return;
  const money = moneyFrom({ amount: reply.amount, amount_minor: reply.amount_minor, currency: reply.currency }) || sel.money;
  const url = safeCheckoutUrl(reply.payment_url);
  if (!url || typeof reply.payment_id !== 'string') {
    changed();
    reportError({ code: 'bad_response' });
    return;
  }
  state.payment = {
    id: reply.payment_id,
    methodId: sel.method.id,
    url,
    opens: reply.opens === 'invoice' || reply.opens === 'link' ? reply.opens : sel.method.opens,
    credits: Number.isSafeInteger(reply.credits) ? reply.credits : sel.credits,
    money,
  };
  startPolling(state.payment, 'fresh');
  if (!handedOff) openCheckout(state.payment);
}

/** Opens the payment's checkout: Telegram's invoice, a link Telegram opens, or this tab. */
export function openCheckout(payment) {
  const tg = state.tg;
  if (payment.opens === 'invoice' && tg) {
    try {
      tg.openInvoice(payment.url, onInvoiceClosed);
      return;
    } catch (e) {
      console.error(e);
    }
  }
  const url = withLanguage(payment.url);
  if (tg) {
    try {
      tg.openLink(url);
      return;
    } catch (e) {
      console.error(e);
    }
  }
  saveForReturn();
  window.location.assign(url);
}

// The invoice callback's status is a hint; the server's status decides. When the invoice was
// closed unpaid and the server still has the payment pending, the page goes back.
function onInvoiceClosed(status) {
  if (!state.poll) return;
  if (status === 'cancelled' || status === 'failed') state.poll.invoiceClosed = status;
  if (status !== 'pending') pollNow();
}

// ---------------------------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------------------------

function waitingText(payment) {
  if (payment.opens === 'invoice') return t('waitingInvoice');
  return payment.methodId === 'paypal' ? t('waitingPayPal') : t('waitingLink');
}

export function startPolling(payment, origin) {
  stopPolling();
  const poll = {
    gen: ++pollGeneration, timer: null, inFlight: false, again: false, started: Date.now(), invoiceClosed: null,
    known: null, // the status last read: what a long poll waits to change
    plain: false, // long polls failed or are not held: plain polling from now on
    controller: null, // aborts a long poll in flight
    readNow: false, // the next read is a plain one (pollNow: the buyer is back)
  };
  state.poll = poll;
  state.payment = payment;
  renderWaiting(origin === 'returned' ? t('waitingReturned') : waitingText(payment), '');
  show('waiting', true);
  checkStatus(poll);
}

export function stopPolling() {
  if (state.poll) {
    clearTimeout(state.poll.timer);
    if (state.poll.controller) state.poll.controller.abort();
  }
  state.poll = null;
  pollGeneration++;
}

export function pollNow() {
  const poll = state.poll;
  if (!poll) return;
  // The next read is a plain one, answered at once. A long poll compares only the status, so it
  // would hold back what changed without changing it (a declined attempt's reason) for its whole
  // wait; and a read already in flight was sent before whatever brought the buyer back.
  poll.readNow = true;
  if (poll.inFlight) {
    poll.again = true;
    // A long poll could hold the answer for many seconds: ask again now instead.
    if (poll.controller) poll.controller.abort();
    return;
  }
  clearTimeout(poll.timer);
  checkStatus(poll);
}

function scheduleCheck(poll) {
  const elapsed = Date.now() - poll.started;
  poll.timer = setTimeout(() => checkStatus(poll), elapsed > POLL_SLOW_AFTER_MS ? POLL_SLOW_MS : POLL_FAST_MS);
}

async function checkStatus(poll) {
  if (poll.gen !== pollGeneration) return;
  poll.inFlight = true;
  const long = !poll.plain && !poll.readNow && PENDING.has(poll.known);
  poll.readNow = false;
  const query = long ? '?wait=' + LONG_POLL_SECS + '&status=' + encodeURIComponent(poll.known) : '';
  poll.controller = long ? new AbortController() : null;
  const asked = Date.now();
  let reply;
  try {
    reply = await api('GET', '/payment-status/' + encodeURIComponent(state.payment.id) + query, { signal: poll.controller ? poll.controller.signal : undefined });
  } catch (err) {
    poll.inFlight = false;
    poll.controller = null;
    if (poll.gen !== pollGeneration) return;
    if (err.code === 'aborted') {
      // pollNow() cut the long poll short: read at once, plainly.
      poll.again = false;
      poll.readNow = true;
      checkStatus(poll);
      return;
    }
    // Any failure of a long poll (a proxy that cuts held requests, an old server): plain
    // polling from now on.
    if (long) poll.plain = true;
    if (SESSION_ERRORS.has(err.code)) endSession(err);
    else if (err.code === 'not_found') {
      // Not this user's payment (a stale or foreign return link): nothing to retry.
      stopPolling();
      showResult('error', err, null, { retry: false });
    } else {
      // Whatever else went wrong, the payment's outcome is unknown: keep asking about the same
      // payment. Offering a new attempt here could charge a buyer whose payment went through.
      renderWaiting(err.isTransient() ? t('connectionRetry') : t('stillWaiting'));
      scheduleCheck(poll);
    }
    return;
  }
  poll.inFlight = false;
  poll.controller = null;
  if (poll.gen !== pollGeneration) return;
  const held = Date.now() - asked >= HELD_AT_LEAST_MS;
  if (long && !held && reply.status === poll.known && !poll.again) poll.plain = true;
  poll.known = typeof reply.status === 'string' ? reply.status : null;

  const payment = state.payment;
  if (Number.isSafeInteger(reply.credits)) payment.credits = reply.credits;
  const money = moneyFrom({ amount: reply.amount, amount_minor: reply.amount_minor, currency: reply.currency });
  if (money) payment.money = money;
  const offered = safeCheckoutUrl(reply.payment_url);
  if (!payment.url && offered) {
    payment.url = offered;
    if (reply.opens === 'invoice' || reply.opens === 'link') payment.opens = reply.opens;
  }

  if (PENDING.has(reply.status)) {
    if (poll.invoiceClosed) {
      // The invoice was closed without paying: back to the packages; the same attempt (and key)
      // is kept, so paying again reopens the same checkout.
      const closed = poll.invoiceClosed;
      stopPolling();
      show('main', true);
      showBanner(closed === 'failed' ? t('status').failed[1] : t('invoiceClosed'), 'notice');
      return;
    }
    const current = $('#status').textContent;
    const reason = reply.failure_code || '';
    if (Date.now() - poll.started > STILL_WAITING_AFTER_MS) renderWaiting(t('stillWaiting'), reason);
    else if (current === t('connectionRetry') || current === t('waitingReturned')) renderWaiting(waitingText(payment), reason);
    else renderWaiting('', reason);
    changed();
    if (poll.again) {
      poll.again = false;
      checkStatus(poll);
    } else if (!poll.plain) checkStatus(poll); // the next long poll: the server holds it
    else scheduleCheck(poll);
    return;
  }
  stopPolling();
  forgetReturnParam();
  if (reply.status === 'succeeded') showSuccess(reply);
  else showResult(reply.status, null, reply);
}

function forgetReturnParam() {
  const params = new URLSearchParams(location.search);
  if (!params.has('payment_id')) return;
  params.delete('payment_id');
  const query = params.toString();
  try {
    history.replaceState(null, '', location.pathname + (query ? '?' + query : '') + location.hash);
  } catch (e) {
    /* ignore */
  }
}

function showSuccess(reply) {
  state.attempt = null;
  if (Number.isSafeInteger(reply.balance)) state.balance = reply.balance;
  renderBalance();
  renderSuccess(state.payment.credits, state.payment.money);
  show('success', true);
  if (state.tg) state.tg.haptic('success');
  if (!Number.isSafeInteger(reply.balance)) refreshBalance();
}

export function showResult(kind, err, reply, options) {
  state.attempt = null;
  renderResult(kind, err, reply, options);
  show('result', true);
  if (state.tg) state.tg.haptic(kind === 'failed' || kind === 'error' ? 'error' : 'warning');
}

/** Retries the last order as a new attempt (new idempotency key, new checkout). */
export function retry() {
  const last = state.payment;
  if (last) {
    if (last.credits) state.credits = last.credits;
    const methods = state.catalog ? state.catalog.methods : [];
    const method = methods.find((m) => m.id === last.methodId) || (last.money && methods.find((m) => m.currency === last.money.currency));
    if (method) state.methodId = method.id;
  }
  state.attempt = null;
  return last;
}

/** Reads the balance; a session error ends the page. `quiet`: other errors are not reported
 *  (a background refresh must not pop up an alert each time the app comes back offline). */
export async function refreshBalance(quiet) {
  if (!state.initData) return null;
  try {
    const reply = await api('GET', '/balance');
    if (Number.isSafeInteger(reply.balance)) state.balance = reply.balance;
    renderBalance();
    return null;
  } catch (err) {
    if (SESSION_ERRORS.has(err.code)) endSession(err);
    else if (state.view === 'main' && !quiet) reportError(err);
    return err;
  }
}

