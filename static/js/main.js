// miniapp payment page: start-up and controls. Plain ES modules, no build step, no framework.
// Money is integer minor units throughout (format.js). API contract: docs/http-api.md.
//
// Modules: api.js (HTTP client), telegram.js (Telegram bridge), theme.js (colours and contrast),
// i18n.js (texts), format.js (money and numbers), catalog.js (packages and the selection),
// state.js (the page's state), views.js (rendering), checkout.js (paying and the status),
// history.js (the journal view).

import { api, ApiError, setSession } from './api.js';
import { defaultMethod, normalizeCatalog, selection } from './catalog.js';
import { endSession, openCheckout, pay, pollNow, refreshBalance, retry, showResult, startPolling, stopPolling, validateEmail } from './checkout.js';
import { formatMoney } from './format.js';
import { safeCheckoutUrl } from './handoff.js';
import { bindHistory, openHistory } from './history.js';
import { applyTexts, SESSION_ERRORS, setLanguage, t } from './i18n.js';
import { onChange, state, takeSaved } from './state.js';
import { connectTelegram } from './telegram.js';
import { applyTheme, followSystemScheme } from './theme.js';
import { $, clearBanner, renderBalance, renderBlocked, renderMethodDependent, renderMethods, renderPackages, show } from './views.js';

const TELEGRAM_SDK = 'https://telegram.org/js/telegram-web-app.js';

// ---------------------------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------------------------

function backToMain() {
  stopPolling();
  state.payment = null;
  clearBanner();
  show('main', true);
  refreshBalance();
}

function reopen() {
  if (state.payment && state.payment.url) openCheckout(state.payment);
}

function retryOrBack() {
  const result = state.result || {};
  if (result.fatal) {
    location.reload();
    return;
  }
  if (!result.canRetry) {
    backToMain();
    return;
  }
  retry();
  renderMain();
  show('main');
  // Inside the same tap: a checkout page opened by pay() is allowed to open.
  pay();
}

function closeApp() {
  if (state.tg) state.tg.close();
}

function pickPackage(credits) {
  state.credits = credits;
  clearBanner();
  if (state.tg) state.tg.selection();
  updateControls();
}

function pickMethod(id) {
  state.methodId = id;
  if (state.tg) state.tg.selection();
  renderMethodDependent();
  updateControls();
}

function renderMain() {
  renderPackages(pickPackage);
  renderMethods(pickMethod);
  renderMethodDependent();
  renderBalance();
  $('#email').value = state.email || '';
  $('#history-button').hidden = !state.initData;
}

// ---------------------------------------------------------------------------------------------
// Controls: Telegram's MainButton and BackButton inside Telegram, in-page buttons elsewhere
// ---------------------------------------------------------------------------------------------

let primary = null;

/** The main action of the current view: {text, active, progress, run}, or null. */
function primaryAction() {
  const tg = state.tg;
  switch (state.view) {
    case 'main': {
      if (!state.initData) return null;
      const sel = selection();
      if (state.busy) return { text: t('creating'), active: false, progress: true, run: null };
      return { text: sel ? t('pay')(formatMoney(sel.money)) : t('choosePackage'), active: !!sel, run: pay };
    }
    case 'waiting':
      return state.payment && state.payment.url ? { text: t('reopen'), run: reopen } : null;
    case 'success':
      return tg ? { text: t('done'), run: closeApp } : { text: t('buyMore'), run: backToMain };
    case 'result': {
      const r = state.result || {};
      return { text: r.fatal ? t('reload') : r.canRetry ? t('retry') : t('back'), run: retryOrBack };
    }
    case 'blocked':
      return tg ? { text: state.blocked === 'session' || state.blocked === 'session-invalid' ? t('closeAndReopen') : t('close'), run: closeApp } : null;
    default:
      return null;
  }
}

function updateControls() {
  primary = primaryAction();
  const tg = state.tg;
  const view = state.view;
  if (tg) {
    tg.setMainButton(primary ? { text: primary.text, visible: true, active: primary.active !== false, progress: !!primary.progress } : { visible: false });
    tg.setBackButton(['waiting', 'success', 'result', 'history'].includes(view));
    tg.setClosingConfirmation(view === 'waiting' || state.busy);
  }
  const inPage = !tg;
  // The pay button.
  const payButton = $('#pay-button');
  payButton.hidden = !(inPage && view === 'main' && primary);
  if (primary && view === 'main') {
    payButton.disabled = primary.active === false;
    payButton.classList.toggle('is-busy', !!primary.progress);
    payButton.setAttribute('aria-busy', primary.progress ? 'true' : 'false');
    $('#pay-button-text').textContent = primary.text;
  }
  $('#reopen-button').hidden = !(inPage && view === 'waiting' && primary);
  $('#retry-button').hidden = !(inPage && view === 'result');
  $('#buy-more-button').hidden = view !== 'success';
  $('#buy-more-button').className = 'button ' + (inPage ? 'button-primary' : 'button-secondary');
  $('#close-button').hidden = true;
  // Back: Telegram's BackButton inside Telegram.
  $('#cancel-wait-button').hidden = !inPage;
  $('#history-back').hidden = !inPage;
  const r = state.result || {};
  $('#back-button').hidden = !(view === 'result' && r.canRetry);
}

// ---------------------------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------------------------

function parseUser(initData) {
  try {
    const raw = new URLSearchParams(initData).get('user');
    const user = raw ? JSON.parse(raw) : null;
    return user && typeof user === 'object' ? user : null;
  } catch (e) {
    return null;
  }
}

function bindEvents() {
  onChange(updateControls);
  $('#view-main').addEventListener('submit', (event) => {
    event.preventDefault();
    if (state.tg) {
      // Enter in the e-mail field only closes the keyboard; Telegram's button pays.
      if (document.activeElement) document.activeElement.blur();
      return;
    }
    pay();
  });
  $('#email').addEventListener('input', () => {
    state.email = $('#email').value.trim();
    if ($('#email').getAttribute('aria-invalid') === 'true') validateEmail();
  });
  $('#email').addEventListener('blur', validateEmail);
  $('#reopen-button').addEventListener('click', reopen);
  $('#cancel-wait-button').addEventListener('click', backToMain);
  $('#buy-more-button').addEventListener('click', backToMain);
  $('#retry-button').addEventListener('click', retryOrBack);
  $('#back-button').addEventListener('click', backToMain);
  $('#history-button').addEventListener('click', openHistory);
  $('#history-back').addEventListener('click', backToMain);
  $('#close-button').addEventListener('click', closeApp);
  bindHistory();
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) return;
    if (state.view === 'waiting') pollNow();
    // A page left open for a day finds out here that its session has expired.
    else if (state.view === 'main') refreshBalance(true);
  });
  window.addEventListener('pageshow', (event) => {
    if (event.persisted && state.view === 'waiting') pollNow();
  });
  const tg = state.tg;
  if (tg) {
    tg.onMain(() => {
      if (primary && primary.run && primary.active !== false) primary.run();
    });
    tg.onBack(() => {
      if (state.view === 'waiting' || state.view === 'result' || state.view === 'success' || state.view === 'history') backToMain();
    });
    tg.onTheme(() => applyTheme(tg));
  } else {
    followSystemScheme(() => applyTheme(null));
  }
}

async function start() {
  const tg = connectTelegram(TELEGRAM_SDK);
  state.tg = tg;
  if (tg) {
    tg.ready();
    tg.expand();
  }
  applyTheme(tg);
  const tgUser = tg ? tg.user : null;
  setLanguage(tgUser ? tgUser.language_code : navigator.language);
  applyTexts();
  bindEvents();
  show('loading');

  let reply;
  try {
    reply = await api('GET', '/packages', { auth: false });
  } catch (err) {
    showResult('error', err);
    $('#result-title').textContent = t('loadFailedTitle');
    return;
  }
  state.catalog = normalizeCatalog(reply, !!tg);
  state.botUrl = state.catalog.botUrl;
  const returnedId = new URLSearchParams(location.search).get('payment_id');

  if (tg) {
    state.initData = tg.initData;
    state.user = tgUser || parseUser(tg.initData);
  } else if (state.catalog.devLogin) {
    try {
      const login = await api('POST', '/dev-login', { auth: false, body: { language_code: navigator.language || 'en' } });
      state.initData = String(login.init_data || '');
    } catch (err) {
      showResult('error', err);
      $('#result-title').textContent = t('loadFailedTitle');
      return;
    }
    state.devMode = true;
    state.user = parseUser(state.initData);
    if (state.user && state.user.language_code) setLanguage(state.user.language_code);
    applyTexts();
  } else {
    renderBlocked(returnedId ? 'returned' : 'outside');
    show('blocked', true);
    return;
  }
  setSession(state.initData);

  if (!state.catalog.methods.length) {
    showResult('error', new ApiError('no_methods', '', 0));
    return;
  }
  state.methodId = defaultMethod(state.catalog);
  const saved = tg ? null : takeSaved();
  if (saved) {
    if (state.catalog.packages.some((p) => p.credits === saved.credits)) state.credits = saved.credits;
    if (state.catalog.methods.some((m) => m.id === saved.methodId)) state.methodId = saved.methodId;
    if (typeof saved.email === 'string') state.email = saved.email;
  }
  renderMain();
  const err = await refreshBalance();
  if (err && state.view === 'blocked') return;
  if (returnedId) {
    const method = state.catalog.methods.find((m) => m.id === state.methodId);
    startPolling({ id: returnedId, url: '', opens: method ? method.opens : 'link', credits: null, money: null }, 'returned');
  } else if (saved && saved.payment && typeof saved.payment.id === 'string') {
    startPolling({ ...saved.payment, url: safeCheckoutUrl(saved.payment.url) || '' }, 'returned');
  } else {
    show('main');
  }
}

start().catch((e) => {
  console.error(e);
  if (e && SESSION_ERRORS.has(e.code)) endSession(e);
  else showResult('error', e && e.code ? e : new ApiError('generic', '', 0));
});
