// miniapp payment page.
//
// Plain JavaScript, no framework, no external requests. Money is integer minor units
// everywhere ({minor, currency}); decimal strings are produced with integer arithmetic only.
// API contract: docs/http-api.md.
'use strict';

(function () {
  // ---------------------------------------------------------------------------------------
  // Constants
  // ---------------------------------------------------------------------------------------

  // The API sits next to the page wherever the payments router is mounted (`/shop/miniapp/` →
  // `/shop/api/miniapp`): never an absolute path.
  const API = new URL('../api/miniapp', location.href).href;
  const POLL_FAST_MS = 2000;
  const POLL_SLOW_MS = 5000;
  const POLL_SLOW_AFTER_MS = 5 * 60 * 1000;
  const STILL_WAITING_AFTER_MS = 60 * 1000;
  const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
  const PENDING = new Set(['created', 'pending']);

  // Digits after the decimal point per currency; currencies the server sends that are not
  // listed here are learned from the server's decimal strings (see moneyFrom).
  const EXPONENTS = { USD: 2, EUR: 2, GBP: 2, RUB: 2, XTR: 0 };

  // ---------------------------------------------------------------------------------------
  // Texts (English and Russian)
  // ---------------------------------------------------------------------------------------

  function ruPlural(n, one, few, many) {
    const d10 = n % 10;
    const d100 = n % 100;
    if (d10 === 1 && d100 !== 11) return one;
    if (d10 >= 2 && d10 <= 4 && (d100 < 12 || d100 > 14)) return few;
    return many;
  }

  const I18N = {
    en: {
      pageTitle: 'Top up balance',
      title: 'Top up balance',
      subtitle: 'Buy tokens for the bot',
      balanceLabel: 'Your balance',
      tokens: (n) => (n === 1 ? 'token' : 'tokens'),
      devMode: 'Development mode',
      sandboxNote: 'Sandbox: test payments only. No real money is charged.',
      loading: 'Loading…',
      choosePackage: 'Choose a package',
      perToken: (x) => x + ' per token',
      method: 'Payment method',
      methodCard: 'Bank card',
      methodCardBrands: 'Visa · MasterCard',
      methodStars: 'Telegram Stars',
      methodStarsHint: 'Pay inside Telegram',
      methodTest: 'Test mode',
      email: 'Email for the receipt',
      optional: 'optional',
      emailHint: 'We will send the receipt to this address.',
      emailInvalid: 'This does not look like an email address. Check it or leave the field empty.',
      pay: (price) => 'Pay ' + price,
      creating: 'Creating the payment…',
      secure: 'Card details are entered on the payment provider’s page, never on this one.',
      blockedTitle: 'Open this page from the Telegram bot',
      blockedText: 'This payment page works inside Telegram. Open the bot and tap “Top up balance”.',
      blockedReturned: 'You can close this tab and return to Telegram: the payment page there shows the result.',
      waitingTitle: 'Waiting for the payment',
      waitingLink: 'Complete the payment in the window that opened. This page updates by itself.',
      waitingInvoice: 'Complete the payment in Telegram. This page updates by itself.',
      waitingReturned: 'Checking the payment…',
      stillWaiting: 'Still waiting for the confirmation. This can take a minute.',
      connectionRetry: 'Connection problem. Retrying…',
      reopen: 'Open the payment page again',
      back: 'Back',
      successTitle: 'Payment successful',
      credited: (n, unit) => '+' + n + ' ' + unit + ' credited',
      newBalance: 'New balance',
      buyMore: 'Buy more',
      retry: 'Try again',
      otherPackage: 'Choose another package',
      reload: 'Reload',
      loadFailedTitle: 'Could not load the page',
      invoiceClosed: 'The payment window was closed. No money was taken.',
      status: {
        failed: ['Payment failed', 'The payment did not go through and no money was taken. You can try again, for example with another card.'],
        expired: ['Payment expired', 'The payment was not completed in time. No money was taken.'],
        canceled: ['Payment canceled', 'The payment was canceled. No money was taken.'],
        refunded: ['Payment refunded', 'This payment was refunded to you.'],
        partially_refunded: ['Payment partially refunded', 'Part of this payment was refunded to you.'],
        disputed: ['Payment disputed', 'This payment is disputed with the bank. Contact support if you have questions.'],
        conflicted: ['Payment needs attention', 'Something is wrong with this payment. Contact support and we will sort it out.'],
        unknown: ['Payment not completed', 'The payment has an unexpected status. Contact support if money was taken.'],
        error: ['Something went wrong', ''],
      },
      errors: {
        invalid_init_data: 'We could not verify your Telegram session. Close this page and open it again from the bot.',
        expired_init_data: 'Your session has expired. Close this page and open it again from the bot.',
        user_mismatch: 'This request belongs to another Telegram account. Open the page again from the bot.',
        unknown_package: 'This package is no longer available. Reload the page and choose again.',
        price_mismatch: 'The price has changed. Reload the page to see the current prices.',
        unsupported_currency: 'This currency is not accepted for the chosen payment method.',
        unsupported_method: 'This payment method is not available right now. Choose another one.',
        invalid_email: 'The email address is not valid. Check it or leave the field empty.',
        invalid_request: 'The request was incomplete. Reload the page and try again.',
        malformed_json: 'The request could not be read. Reload the page and try again.',
        unsupported_media_type: 'The request could not be read. Reload the page and try again.',
        payload_too_large: 'The request was too large. Shorten the email address and try again.',
        idempotency_conflict: 'This purchase attempt was already used for another order. Please try again.',
        not_found: 'We could not find this payment. It may belong to another account.',
        invalid_signature: 'The payment confirmation could not be verified.',
        provider_unavailable: 'The payment provider cannot be reached right now. Try again in a minute.',
        provider_rejected: 'The payment provider refused the payment. Try again later or choose another method.',
        storage_unavailable: 'The service is temporarily unavailable. Try again in a minute.',
        payment_in_progress: 'Your payment is being prepared. Press Pay again in a few seconds.',
        payment_closed: 'This payment attempt has closed. Press Pay to start a new one.',
        too_many_open_payments: 'You have several unfinished payments. Finish or wait for one of them, then try again.',
        rate_limited: 'Too many attempts in a short time. Wait a minute and try again.',
        request_timeout: 'The server took too long to answer. Try again.',
        method_not_allowed: 'The request could not be read. Reload the page and try again.',
        unavailable: 'The service is temporarily unavailable. Try again in a minute.',
        gateway_timeout: 'The service took too long to answer. Try again in a minute.',
        internal: 'Something went wrong on our side. Try again in a minute.',
        network: 'No connection to the server. Check your internet connection and try again.',
        bad_response: 'The server sent an unexpected reply. Try again in a minute.',
        no_methods: 'No payment method is available right now.',
        generic: 'Something went wrong. Try again in a minute.',
      },
    },
    ru: {
      pageTitle: 'Пополнение баланса',
      title: 'Пополнение баланса',
      subtitle: 'Купите токены для бота',
      balanceLabel: 'Ваш баланс',
      tokens: (n) => ruPlural(n, 'токен', 'токена', 'токенов'),
      devMode: 'Режим разработки',
      sandboxNote: 'Песочница: только тестовые платежи. Настоящие деньги не списываются.',
      loading: 'Загрузка…',
      choosePackage: 'Выберите пакет',
      perToken: (x) => x + ' за токен',
      method: 'Способ оплаты',
      methodCard: 'Банковская карта',
      methodCardBrands: 'Visa · MasterCard',
      methodStars: 'Telegram Stars',
      methodStarsHint: 'Оплата внутри Telegram',
      methodTest: 'Тестовый режим',
      email: 'Email для чека',
      optional: 'необязательно',
      emailHint: 'Пришлём чек на этот адрес.',
      emailInvalid: 'Это не похоже на адрес почты. Проверьте его или оставьте поле пустым.',
      pay: (price) => 'Оплатить ' + price,
      creating: 'Создаём платёж…',
      secure: 'Данные карты вводятся на странице платёжного провайдера, а не здесь.',
      blockedTitle: 'Откройте эту страницу из Telegram-бота',
      blockedText: 'Страница оплаты работает внутри Telegram. Откройте бота и нажмите «Пополнить баланс».',
      blockedReturned: 'Эту вкладку можно закрыть и вернуться в Telegram: там страница оплаты покажет результат.',
      waitingTitle: 'Ожидаем оплату',
      waitingLink: 'Завершите оплату в открывшемся окне. Эта страница обновится сама.',
      waitingInvoice: 'Завершите оплату в Telegram. Эта страница обновится сама.',
      waitingReturned: 'Проверяем платёж…',
      stillWaiting: 'Всё ещё ждём подтверждения. Это может занять минуту.',
      connectionRetry: 'Проблема со связью. Пробуем снова…',
      reopen: 'Открыть страницу оплаты снова',
      back: 'Назад',
      successTitle: 'Оплата прошла',
      credited: (n, unit) => 'Зачислено +' + n + ' ' + unit,
      newBalance: 'Новый баланс',
      buyMore: 'Купить ещё',
      retry: 'Попробовать снова',
      otherPackage: 'Выбрать другой пакет',
      reload: 'Обновить',
      loadFailedTitle: 'Не удалось загрузить страницу',
      invoiceClosed: 'Окно оплаты закрыто. Деньги не списаны.',
      status: {
        failed: ['Оплата не прошла', 'Платёж не прошёл, деньги не списаны. Можно попробовать снова, например с другой картой.'],
        expired: ['Время оплаты истекло', 'Платёж не был завершён вовремя. Деньги не списаны.'],
        canceled: ['Платёж отменён', 'Платёж отменён. Деньги не списаны.'],
        refunded: ['Платёж возвращён', 'Деньги за этот платёж возвращены.'],
        partially_refunded: ['Платёж частично возвращён', 'Часть суммы этого платежа возвращена.'],
        disputed: ['Платёж оспорен', 'Платёж оспаривается в банке. Если есть вопросы, напишите в поддержку.'],
        conflicted: ['Платёж требует проверки', 'С этим платежом что-то не так. Напишите в поддержку — мы разберёмся.'],
        unknown: ['Платёж не завершён', 'У платежа неожиданный статус. Если деньги списаны, напишите в поддержку.'],
        error: ['Что-то пошло не так', ''],
      },
      errors: {
        invalid_init_data: 'Не удалось проверить сессию Telegram. Закройте страницу и откройте её снова из бота.',
        expired_init_data: 'Сессия устарела. Закройте страницу и откройте её снова из бота.',
        user_mismatch: 'Запрос относится к другому аккаунту Telegram. Откройте страницу снова из бота.',
        unknown_package: 'Этот пакет больше недоступен. Обновите страницу и выберите снова.',
        price_mismatch: 'Цена изменилась. Обновите страницу, чтобы увидеть актуальные цены.',
        unsupported_currency: 'Эта валюта не принимается для выбранного способа оплаты.',
        unsupported_method: 'Этот способ оплаты сейчас недоступен. Выберите другой.',
        invalid_email: 'Неверный адрес почты. Проверьте его или оставьте поле пустым.',
        invalid_request: 'Запрос неполный. Обновите страницу и попробуйте снова.',
        malformed_json: 'Не удалось прочитать запрос. Обновите страницу и попробуйте снова.',
        unsupported_media_type: 'Не удалось прочитать запрос. Обновите страницу и попробуйте снова.',
        payload_too_large: 'Слишком большой запрос. Сократите адрес почты и попробуйте снова.',
        idempotency_conflict: 'Эта попытка оплаты уже использована для другого заказа. Попробуйте ещё раз.',
        not_found: 'Платёж не найден. Возможно, он относится к другому аккаунту.',
        invalid_signature: 'Не удалось проверить подтверждение платежа.',
        provider_unavailable: 'Платёжный провайдер сейчас недоступен. Попробуйте через минуту.',
        provider_rejected: 'Платёжный провайдер отклонил платёж. Попробуйте позже или выберите другой способ.',
        storage_unavailable: 'Сервис временно недоступен. Попробуйте через минуту.',
        payment_in_progress: 'Платёж готовится. Нажмите «Оплатить» ещё раз через несколько секунд.',
        payment_closed: 'Эта попытка оплаты закрыта. Нажмите «Оплатить», чтобы начать новую.',
        too_many_open_payments: 'У вас несколько незавершённых платежей. Завершите один из них или подождите и попробуйте снова.',
        rate_limited: 'Слишком много попыток за короткое время. Подождите минуту и попробуйте снова.',
        request_timeout: 'Сервер отвечал слишком долго. Попробуйте снова.',
        method_not_allowed: 'Не удалось прочитать запрос. Обновите страницу и попробуйте снова.',
        unavailable: 'Сервис временно недоступен. Попробуйте через минуту.',
        gateway_timeout: 'Сервис отвечал слишком долго. Попробуйте через минуту.',
        internal: 'Что-то пошло не так на нашей стороне. Попробуйте через минуту.',
        network: 'Нет связи с сервером. Проверьте интернет и попробуйте снова.',
        bad_response: 'Сервер прислал неожиданный ответ. Попробуйте через минуту.',
        no_methods: 'Сейчас нет доступных способов оплаты.',
        generic: 'Что-то пошло не так. Попробуйте через минуту.',
      },
    },
  };

  // ---------------------------------------------------------------------------------------
  // Money: integers only
  // ---------------------------------------------------------------------------------------

  function exponentOf(currency) {
    return Object.prototype.hasOwnProperty.call(EXPONENTS, currency) ? EXPONENTS[currency] : 2;
  }

  // "25.00" from 2500 minor units and 2 digits; never via floats.
  function decimalString(minor, exponent) {
    const sign = minor < 0 ? '-' : '';
    const abs = Math.abs(minor);
    if (exponent === 0) return sign + String(abs);
    const base = Math.pow(10, exponent); // exact for small integer exponents
    const whole = Math.floor(abs / base);
    const frac = abs % base;
    return sign + String(whole) + '.' + String(frac).padStart(exponent, '0');
  }

  // Minor units from a decimal string ("25.00" -> 2500), or null. Used only to cross-check.
  function parseDecimal(text, exponent) {
    const m = /^(\d+)(?:\.(\d+))?$/.exec(String(text));
    if (!m) return null;
    const frac = (m[2] || '').padEnd(exponent, '0');
    if (frac.length > exponent) return null;
    return Number(m[1] + frac);
  }

  // A money value from an API price ({amount, amount_minor, currency}).
  function moneyFrom(price) {
    if (!price || typeof price.currency !== 'string') return null;
    const currency = price.currency.toUpperCase();
    if (!Object.prototype.hasOwnProperty.call(EXPONENTS, currency) && typeof price.amount === 'string') {
      const dot = price.amount.indexOf('.');
      EXPONENTS[currency] = dot < 0 ? 0 : price.amount.length - dot - 1;
    }
    let minor = price.amount_minor;
    if (!Number.isSafeInteger(minor)) minor = parseDecimal(price.amount, exponentOf(currency));
    if (!Number.isSafeInteger(minor) || minor < 0) return null;
    return { minor: minor, currency: currency };
  }

  function amountString(money) {
    return decimalString(money.minor, exponentOf(money.currency));
  }

  function formatMoney(money) {
    const amount = amountString(money);
    switch (money.currency) {
      case 'USD': return '$' + amount;
      case 'EUR': return '€' + amount;
      case 'XTR': return '⭐ ' + amount;
      default: return amount + ' ' + money.currency;
    }
  }

  // Cost of one token with one more digit than the currency has, rounded half up:
  // 2500 cents / 500 tokens -> 50 tenths of a cent -> "5.0¢".
  function formatPerToken(money, credits) {
    if (!credits) return '';
    const tenths = Math.floor((money.minor * 20 + credits) / (2 * credits));
    if (money.currency === 'USD' && tenths < 1000) return decimalString(tenths, 1) + '¢';
    if (money.currency === 'XTR') return decimalString(tenths, 1) + ' ⭐';
    return formatMoney({ minor: Math.floor((tenths + 5) / 10), currency: money.currency });
  }

  // ---------------------------------------------------------------------------------------
  // Telegram: the SDK object when present, otherwise a minimal built-in bridge that speaks
  // the Mini App protocol directly (launch params in the URL hash, events through the
  // native proxy or the parent frame), so the page needs no script from another host.
  // ---------------------------------------------------------------------------------------

  function urlDecode(s) {
    try { return decodeURIComponent(String(s).replace(/\+/g, '%20')); } catch (e) { return s; }
  }

  function parseQuery(query) {
    const out = {};
    String(query || '').replace(/^[#?]/, '').split('&').forEach(function (part) {
      if (!part) return;
      const i = part.indexOf('=');
      if (i < 0) return;
      out[urlDecode(part.slice(0, i))] = urlDecode(part.slice(i + 1));
    });
    return out;
  }

  function isDarkColor(hex) {
    const m = /^#?([0-9a-f]{6})$/i.exec(String(hex || '').trim());
    if (!m) return true;
    const n = parseInt(m[1], 16);
    const r = (n >> 16) & 255, g = (n >> 8) & 255, b = n & 255;
    // Perceived brightness (integer approximation of HSP < 120).
    return 299 * r * r + 587 * g * g + 114 * b * b < 1000 * 120 * 120;
  }

  function createTelegramBridge() {
    const STORE = '__miniapp_tg_launch';
    const params = parseQuery(location.hash);
    try {
      const stored = JSON.parse(sessionStorage.getItem(STORE) || 'null') || {};
      Object.keys(stored).forEach(function (k) { if (!(k in params)) params[k] = stored[k]; });
    } catch (e) { /* no storage */ }
    if (!params.tgWebAppData) return null;
    try {
      sessionStorage.setItem(STORE, JSON.stringify({
        tgWebAppData: params.tgWebAppData,
        tgWebAppThemeParams: params.tgWebAppThemeParams || '',
        tgWebAppVersion: params.tgWebAppVersion || '',
        tgWebAppPlatform: params.tgWebAppPlatform || '',
      }));
    } catch (e) { /* no storage */ }

    let isIframe = false;
    try { isIframe = window.parent != null && window.parent !== window; } catch (e) { isIframe = false; }

    function postEvent(type, data) {
      const payload = data === undefined ? '' : data;
      try {
        if (window.TelegramWebviewProxy !== undefined) {
          window.TelegramWebviewProxy.postEvent(type, JSON.stringify(payload));
        } else if (window.external && 'notify' in window.external) {
          window.external.notify(JSON.stringify({ eventType: type, eventData: payload }));
        } else if (isIframe) {
          window.parent.postMessage(JSON.stringify({ eventType: type, eventData: payload }), '*');
        }
      } catch (e) { /* the client is gone; nothing to do */ }
    }

    const handlers = {};
    const mainClick = [];
    const invoices = {};
    const app = {
      initData: params.tgWebAppData,
      initDataUnsafe: {},
      themeParams: {},
      colorScheme: 'dark',
      platform: params.tgWebAppPlatform || 'unknown',
      version: params.tgWebAppVersion || '6.0',
      ready: function () { postEvent('web_app_ready'); },
      expand: function () { postEvent('web_app_expand'); },
      close: function () { postEvent('web_app_close'); },
      onEvent: function (type, fn) { (handlers[type] = handlers[type] || []).push(fn); },
      offEvent: function (type, fn) {
        const list = handlers[type] || [];
        const i = list.indexOf(fn);
        if (i >= 0) list.splice(i, 1);
      },
      openLink: function (url) { postEvent('web_app_open_link', { url: url }); },
      openInvoice: function (url, callback) {
        const m = /^https:\/\/t\.me\/(?:\$|invoice\/)([A-Za-z0-9\-_=]+)$/.exec(url);
        if (!m) throw new Error('invoice url is invalid');
        invoices[m[1]] = callback;
        postEvent('web_app_open_invoice', { slug: m[1] });
      },
      HapticFeedback: {
        notificationOccurred: function (type) {
          postEvent('web_app_trigger_haptic_feedback', { type: 'notification', notification_type: type });
        },
      },
    };

    const initUnsafe = parseQuery(params.tgWebAppData);
    Object.keys(initUnsafe).forEach(function (k) {
      const v = initUnsafe[k];
      if (/^[[{]/.test(v)) { try { initUnsafe[k] = JSON.parse(v); } catch (e) { /* keep text */ } }
    });
    app.initDataUnsafe = initUnsafe;

    function setTheme(theme) {
      if (!theme || typeof theme !== 'object') return;
      const next = {};
      Object.keys(theme).forEach(function (k) { if (typeof theme[k] === 'string') next[k] = theme[k].toLowerCase(); });
      app.themeParams = next;
      app.colorScheme = isDarkColor(next.bg_color) ? 'dark' : 'light';
    }
    try { setTheme(JSON.parse(params.tgWebAppThemeParams || 'null')); } catch (e) { /* no theme */ }

    let buttonState = '';
    const mb = { text: '', isVisible: false, isActive: true, isProgressVisible: false };
    function syncButton() {
      const state = mb.isVisible ? {
        is_visible: true,
        is_active: mb.isActive,
        is_progress_visible: mb.isProgressVisible,
        text: mb.text,
        color: app.themeParams.button_color || '#2481cc',
        text_color: app.themeParams.button_text_color || '#ffffff',
      } : { is_visible: false };
      const json = JSON.stringify(state);
      if (json === buttonState) return;
      buttonState = json;
      postEvent('web_app_setup_main_button', state);
    }
    mb.setText = function (t) { mb.text = String(t).trim().slice(0, 64); syncButton(); return mb; };
    mb.show = function () { mb.isVisible = true; syncButton(); return mb; };
    mb.hide = function () { mb.isVisible = false; syncButton(); return mb; };
    mb.enable = function () { mb.isActive = true; syncButton(); return mb; };
    mb.disable = function () { mb.isActive = false; syncButton(); return mb; };
    mb.showProgress = function (leaveActive) { mb.isActive = !!leaveActive; mb.isProgressVisible = true; syncButton(); return mb; };
    mb.hideProgress = function () { mb.isActive = true; mb.isProgressVisible = false; syncButton(); return mb; };
    mb.onClick = function (fn) { mainClick.push(fn); return mb; };
    mb.offClick = function (fn) { const i = mainClick.indexOf(fn); if (i >= 0) mainClick.splice(i, 1); return mb; };
    app.MainButton = mb;

    function emit(type) {
      (handlers[type] || []).slice().forEach(function (fn) { try { fn.call(app); } catch (e) { console.error(e); } });
    }

    function receiveEvent(type, data) {
      if (typeof data === 'string') { try { data = JSON.parse(data); } catch (e) { /* keep text */ } }
      data = data || {};
      if (type === 'main_button_pressed') {
        if (mb.isActive) mainClick.slice().forEach(function (fn) { try { fn(); } catch (e) { console.error(e); } });
      } else if (type === 'theme_changed') {
        setTheme(data.theme_params);
        buttonState = '';
        syncButton();
        emit('themeChanged');
      } else if (type === 'invoice_closed') {
        const cb = invoices[data.slug];
        delete invoices[data.slug];
        if (typeof cb === 'function') cb(data.status);
      }
    }

    window.Telegram = window.Telegram || {};
    window.Telegram.WebView = { receiveEvent: receiveEvent, postEvent: postEvent };
    window.TelegramGameProxy = { receiveEvent: receiveEvent };
    window.TelegramGameProxy_receiveEvent = receiveEvent;
    if (isIframe) {
      window.addEventListener('message', function (event) {
        if (event.source !== window.parent) return;
        let msg;
        try { msg = JSON.parse(event.data); } catch (e) { return; }
        if (msg && msg.eventType) receiveEvent(msg.eventType, msg.eventData);
      });
      postEvent('iframe_ready');
    }
    postEvent('web_app_request_theme');
    return app;
  }

  const sdk = window.Telegram && window.Telegram.WebApp;
  const tg = sdk && typeof sdk.initData === 'string' && sdk.initData.length > 0 ? sdk : createTelegramBridge();
  const inTelegram = !!(tg && tg.initData);

  // ---------------------------------------------------------------------------------------
  // State
  // ---------------------------------------------------------------------------------------

  const state = {
    lang: 'en',
    view: 'loading',
    initData: '',
    user: null,
    devMode: false,
    catalog: null, // {packages, methods, sandbox, devLogin}
    credits: null, // selected package
    methodId: null, // selected method
    balance: null,
    busy: false,
    attempt: null, // {key, fingerprint}
    payment: null, // {id, url, opens, credits, money}
    poll: null, // {gen, timer, inFlight, again, started, invoiceClosed}
  };
  let pollGeneration = 0;

  const $ = (sel) => document.querySelector(sel);
  const t = (key) => I18N[state.lang][key];

  function el(tag, attrs) {
    const node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        const v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === 'text') node.textContent = v;
        else if (k === 'class') node.className = v;
        else node.setAttribute(k, v === true ? '' : v);
      });
    }
    for (let i = 2; i < arguments.length; i++) {
      const child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  }

  function formatInt(n) {
    try { return new Intl.NumberFormat(state.lang === 'ru' ? 'ru-RU' : 'en-US').format(n); } catch (e) { return String(n); }
  }

  function tokensText(n) {
    return formatInt(n) + ' ' + t('tokens')(n);
  }

  // ---------------------------------------------------------------------------------------
  // API
  // ---------------------------------------------------------------------------------------

  function ApiError(code, message, status) {
    this.code = code;
    this.message = message || '';
    this.status = status || 0;
  }
  ApiError.prototype.isTransient = function () {
    return this.code === 'network' || this.status >= 500 || this.status === 429;
  };

  async function api(method, path, options) {
    const opts = options || {};
    const headers = Object.assign({ Accept: 'application/json' }, opts.headers || {});
    if (opts.auth !== false && state.initData) headers.Authorization = 'tma ' + state.initData;
    let body;
    if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    let res;
    try {
      res = await fetch(path, { method: method, headers: headers, body: body, credentials: 'same-origin', cache: 'no-store' });
    } catch (e) {
      throw new ApiError('network', String((e && e.message) || e), 0);
    }
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (res.ok && data && data.success === true) return data;
    const err = data && data.error;
    if (err && typeof err.code === 'string') throw new ApiError(err.code, err.message, res.status);
    throw new ApiError(res.status >= 500 ? 'internal' : 'bad_response', '', res.status);
  }

  function errorText(err) {
    const errors = t('errors');
    if (err && Object.prototype.hasOwnProperty.call(errors, err.code)) return errors[err.code];
    if (err && err.message) return err.message;
    return errors.generic;
  }

  function newIdempotencyKey() {
    const bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return 'miniapp-' + Array.prototype.map.call(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  // ---------------------------------------------------------------------------------------
  // Theme and language
  // ---------------------------------------------------------------------------------------

  let themeVars = [];
  function applyTheme() {
    const root = document.documentElement;
    themeVars.forEach((name) => root.style.removeProperty(name));
    themeVars = [];
    const params = (tg && tg.themeParams) || {};
    Object.keys(params).forEach(function (key) {
      const value = params[key];
      if (typeof value !== 'string' || !/^#[0-9a-f]{3,8}$/i.test(value.trim())) return;
      const name = '--tg-theme-' + key.replace(/_/g, '-');
      root.style.setProperty(name, value.trim());
      themeVars.push(name);
    });
    let scheme = tg && (tg.colorScheme === 'light' || tg.colorScheme === 'dark') ? tg.colorScheme : null;
    if (!scheme) scheme = params.bg_color ? (isDarkColor(params.bg_color) ? 'dark' : 'light') : 'dark';
    root.setAttribute('data-color-scheme', scheme);
    root.style.colorScheme = scheme;
  }

  function pickLanguage(code) {
    return /^ru/i.test(String(code || '')) ? 'ru' : 'en';
  }

  function applyTexts() {
    document.documentElement.lang = state.lang;
    document.title = t('pageTitle');
    document.querySelectorAll('[data-i18n]').forEach(function (node) {
      const value = t(node.getAttribute('data-i18n'));
      if (typeof value === 'string') node.textContent = value;
    });
  }

  // ---------------------------------------------------------------------------------------
  // Catalog and selection
  // ---------------------------------------------------------------------------------------

  function normalizeCatalog(reply) {
    const methods = (Array.isArray(reply.methods) ? reply.methods : [{ id: 'card', currency: reply.currency || 'USD', opens: 'link' }])
      .filter((m) => m && typeof m.id === 'string')
      // Stars invoices open only inside Telegram.
      .filter((m) => m.id !== 'stars' || inTelegram)
      // `test`: the method's provider moves no real money (the sandbox, a Stripe test key).
      .map((m) => ({ id: m.id, currency: String(m.currency || reply.currency || 'USD').toUpperCase(), opens: m.opens === 'invoice' ? 'invoice' : 'link', test: m.test === true }));
    const packages = (Array.isArray(reply.packages) ? reply.packages : [])
      .filter((p) => p && Number.isSafeInteger(p.credits) && p.credits > 0)
      .map(function (p) {
        const prices = {};
        (Array.isArray(p.prices) ? p.prices : []).forEach(function (price) {
          const money = moneyFrom(price);
          if (money) prices[money.currency] = money;
        });
        const base = moneyFrom({ amount: p.amount, amount_minor: p.amount_minor, currency: p.currency || reply.currency || 'USD' });
        if (base && !prices[base.currency]) prices[base.currency] = base;
        return { credits: p.credits, prices: prices };
      });
    return { packages: packages, methods: methods, sandbox: reply.sandbox === true, devLogin: reply.dev_login === true };
  }

  function currentMethod() {
    const methods = state.catalog ? state.catalog.methods : [];
    return methods.find((m) => m.id === state.methodId) || methods[0] || null;
  }

  function priceOf(pkg, method) {
    return pkg && method ? pkg.prices[method.currency] || null : null;
  }

  function selection() {
    if (!state.catalog) return null;
    const method = currentMethod();
    const pkg = state.catalog.packages.find((p) => p.credits === state.credits);
    const money = priceOf(pkg, method);
    return money ? { credits: pkg.credits, method: method, money: money } : null;
  }

  // ---------------------------------------------------------------------------------------
  // Rendering
  // ---------------------------------------------------------------------------------------

  const VIEWS = ['loading', 'blocked', 'main', 'waiting', 'success', 'result'];

  function show(view, focus) {
    state.view = view;
    document.body.setAttribute('data-state', view);
    VIEWS.forEach(function (name) {
      const node = document.getElementById('view-' + name);
      if (node) node.hidden = name !== view;
    });
    updatePayButton();
    if (focus) {
      const heading = document.querySelector('#view-' + view + ' [data-focus]');
      if (heading) heading.focus({ preventScroll: false });
    }
  }

  function renderBalance() {
    $('#balance-card').hidden = !state.initData;
    $('#balance').textContent = state.balance === null ? '—' : formatInt(state.balance);
    $('#balance-unit').textContent = state.balance === null ? '' : t('tokens')(state.balance);
  }

  function renderBadges() {
    $('#dev-badge').hidden = !state.devMode;
    // The test-payment notice belongs to the chosen method: Stars next to a sandbox card are real.
    const method = state.catalog ? currentMethod() : null;
    $('#sandbox-note').hidden = !(method && method.test);
  }

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
    [rect, line].forEach(function (node) {
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
      return el('span', { class: 'method-body' },
        el('span', { class: 'method-icon method-icon-stars', 'aria-hidden': 'true', text: '⭐' }),
        el('span', { class: 'method-text' },
          el('span', { class: 'method-name', text: t('methodStars') }),
          el('span', { class: 'method-sub', text: t('methodStarsHint') })),
        el('span', { class: 'method-currency', text: 'XTR' }));
    }
    const isCard = method.id === 'card';
    return el('span', { class: 'method-body' },
      el('span', { class: 'method-icon' }, cardIcon()),
      el('span', { class: 'method-text' },
        el('span', { class: 'method-name', text: isCard ? t('methodCard') : method.id }),
        method.test ? el('span', { class: 'method-sub method-test', 'data-testid': 'method-test-' + method.id, text: t('methodTest') }) : null,
        isCard ? el('span', { class: 'method-sub brands' },
          el('span', { class: 'brand brand-visa', text: 'VISA' }),
          el('span', { class: 'brand brand-mc', 'aria-hidden': 'true' }, el('i'), el('i')),
          el('span', { class: 'sr-only', text: t('methodCardBrands') })) : null),
      el('span', { class: 'method-currency', text: method.currency }));
  }

  function renderMethods() {
    const box = $('#methods');
    box.textContent = '';
    const methods = state.catalog.methods;
    if (methods.length === 1) {
      box.appendChild(el('div', { class: 'method method-single', 'data-testid': 'method-' + methods[0].id }, methodBody(methods[0])));
      return;
    }
    methods.forEach(function (method) {
      const input = el('input', { type: 'radio', name: 'method', value: method.id, class: 'choice-input' });
      input.checked = method.id === state.methodId;
      input.addEventListener('change', function () {
        if (!input.checked) return;
        state.methodId = method.id;
        renderPrices();
        renderBadges();
        updatePayButton();
      });
      box.appendChild(el('label', { class: 'method method-choice', 'data-testid': 'method-' + method.id }, input, methodBody(method)));
    });
  }

  function renderPackages() {
    const box = $('#packages');
    box.textContent = '';
    state.catalog.packages.forEach(function (pkg) {
      const input = el('input', { type: 'radio', name: 'package', value: String(pkg.credits), class: 'choice-input' });
      input.checked = pkg.credits === state.credits;
      input.addEventListener('change', function () {
        if (!input.checked) return;
        state.credits = pkg.credits;
        clearError();
        updatePayButton();
      });
      const label = el('label', { class: 'pkg', 'data-testid': 'package-' + pkg.credits, 'data-credits': String(pkg.credits) },
        input,
        el('span', { class: 'pkg-body' },
          el('span', { class: 'pkg-check', 'aria-hidden': 'true' }),
          el('span', { class: 'pkg-credits' },
            el('strong', { text: formatInt(pkg.credits) }), ' ',
            el('span', { class: 'pkg-unit-name', text: t('tokens')(pkg.credits) })),
          el('span', { class: 'pkg-price', 'data-testid': 'price-' + pkg.credits }),
          el('span', { class: 'pkg-per', 'data-testid': 'per-token-' + pkg.credits })));
      box.appendChild(label);
    });
    renderPrices();
  }

  function renderPrices() {
    const method = currentMethod();
    state.catalog.packages.forEach(function (pkg) {
      const label = document.querySelector('.pkg[data-credits="' + pkg.credits + '"]');
      if (!label) return;
      const money = priceOf(pkg, method);
      const input = label.querySelector('input');
      input.disabled = !money;
      label.classList.toggle('is-disabled', !money);
      label.querySelector('.pkg-price').textContent = money ? formatMoney(money) : '—';
      label.querySelector('.pkg-per').textContent = money ? t('perToken')(formatPerToken(money, pkg.credits)) : '';
    });
  }

  function renderMain() {
    renderPackages();
    renderMethods();
    $('#methods-legend').textContent = t('method');
    renderBadges();
    renderBalance();
  }

  function showError(err) {
    const banner = $('#error');
    banner.textContent = errorText(err);
    banner.hidden = false;
  }

  function showNotice(text) {
    const banner = $('#error');
    banner.textContent = text;
    banner.hidden = false;
  }

  function clearError() {
    const banner = $('#error');
    banner.hidden = true;
    banner.textContent = '';
  }

  // The pay control: Telegram's MainButton inside Telegram, the in-page button elsewhere.
  function updatePayButton() {
    const sel = selection();
    const onMain = state.view === 'main' && !!state.initData;
    const text = sel ? t('pay')(formatMoney(sel.money)) : t('choosePackage');
    const button = $('#pay-button');
    if (inTelegram) {
      button.hidden = true;
      const mb = tg.MainButton;
      if (!mb) return;
      if (!onMain) {
        if (mb.isProgressVisible && mb.hideProgress) mb.hideProgress();
        mb.hide();
        return;
      }
      mb.setText(state.busy ? t('creating') : text);
      mb.show();
      if (state.busy) {
        if (mb.showProgress) mb.showProgress(false);
      } else {
        if (mb.hideProgress) mb.hideProgress();
        if (sel) mb.enable(); else mb.disable();
      }
      return;
    }
    button.hidden = !onMain;
    button.disabled = !sel || state.busy;
    button.classList.toggle('is-busy', state.busy);
    button.setAttribute('aria-busy', state.busy ? 'true' : 'false');
    $('#pay-button-text').textContent = state.busy ? t('creating') : text;
  }

  // ---------------------------------------------------------------------------------------
  // Paying
  // ---------------------------------------------------------------------------------------

  function validateEmail() {
    const input = $('#email');
    const value = input.value.trim();
    const bad = value !== '' && !EMAIL_RE.test(value);
    $('#email-error').hidden = !bad;
    $('#email-error').textContent = bad ? t('emailInvalid') : '';
    input.setAttribute('aria-invalid', bad ? 'true' : 'false');
    input.setAttribute('aria-describedby', bad ? 'email-error email-hint' : 'email-hint');
    return bad ? null : value;
  }

  async function pay() {
    if (state.busy || state.view !== 'main' || !state.initData) return;
    const sel = selection();
    if (!sel) {
      const first = document.querySelector('input[name="package"]:not(:disabled)');
      if (first) first.focus();
      return;
    }
    const email = validateEmail();
    if (email === null) {
      $('#email').focus({ preventScroll: true });
      $('#email').scrollIntoView({ block: 'center' });
      return;
    }
    // One idempotency key per purchase attempt: a double tap or a retry of the same order
    // reuses it (same checkout); a different order gets a fresh key.
    const fingerprint = JSON.stringify([sel.credits, sel.method.id, sel.money.currency, sel.money.minor, email]);
    if (!state.attempt || state.attempt.fingerprint !== fingerprint) {
      state.attempt = { key: newIdempotencyKey(), fingerprint: fingerprint };
    }
    const body = {
      email: email || null,
      credits: sel.credits,
      amount: amountString(sel.money),
      currency: sel.money.currency,
      payment_method: sel.method.id,
      init_data: state.initData,
    };
    if (state.user && Number.isSafeInteger(state.user.id)) body.user_id = state.user.id;
    if (!body.email) delete body.email;

    state.busy = true;
    clearError();
    updatePayButton();
    let reply;
    try {
      reply = await api('POST', API + '/create-payment', { body: body, headers: { 'Idempotency-Key': state.attempt.key } });
    } catch (err) {
      // These attempts can never succeed: the next press starts a new one.
      if (err.code === 'idempotency_conflict' || err.code === 'payment_closed') state.attempt = null;
      state.busy = false;
      showError(err);
      updatePayButton();
      return;
    }
    state.busy = false;
    const money = moneyFrom({ amount: reply.amount, amount_minor: reply.amount_minor, currency: reply.currency }) || sel.money;
    let url;
    try { url = new URL(String(reply.payment_url), location.href).href; } catch (e) { url = String(reply.payment_url); }
    state.payment = {
      id: String(reply.payment_id),
      url: url,
      opens: reply.opens === 'invoice' || reply.opens === 'link' ? reply.opens : sel.method.opens,
      credits: Number.isSafeInteger(reply.credits) ? reply.credits : sel.credits,
      money: money,
    };
    startPolling(state.payment, 'fresh');
    openCheckout(state.payment);
  }

  function openCheckout(payment) {
    if (payment.opens === 'invoice' && tg && typeof tg.openInvoice === 'function') {
      try {
        tg.openInvoice(payment.url, onInvoiceClosed);
        return;
      } catch (e) {
        console.error(e);
      }
    }
    if (inTelegram && typeof tg.openLink === 'function') {
      try {
        tg.openLink(payment.url);
        return;
      } catch (e) {
        console.error(e);
      }
    }
    window.location.assign(payment.url);
  }

  // The invoice callback's status is a hint; the server's status decides. When the invoice
  // was closed unpaid and the server still has the payment pending, the page goes back.
  function onInvoiceClosed(status) {
    if (!state.poll) return;
    if (status === 'cancelled' || status === 'failed') state.poll.invoiceClosed = status;
    if (status !== 'pending') pollNow();
  }

  // ---------------------------------------------------------------------------------------
  // Status polling
  // ---------------------------------------------------------------------------------------

  function setWaitingText(text) {
    $('#status').textContent = text;
  }

  function startPolling(payment, origin) {
    stopPolling();
    const poll = { gen: ++pollGeneration, timer: null, inFlight: false, again: false, started: Date.now(), invoiceClosed: null };
    state.poll = poll;
    state.payment = payment;
    $('#reopen-button').hidden = !payment.url;
    $('#waiting-summary').textContent = payment.credits && payment.money
      ? tokensText(payment.credits) + ' · ' + formatMoney(payment.money)
      : '';
    setWaitingText(origin === 'returned' ? t('waitingReturned') : payment.opens === 'invoice' ? t('waitingInvoice') : t('waitingLink'));
    show('waiting', true);
    checkStatus(poll);
  }

  function stopPolling() {
    if (state.poll) clearTimeout(state.poll.timer);
    state.poll = null;
    pollGeneration++;
  }

  function pollNow() {
    const poll = state.poll;
    if (!poll) return;
    if (poll.inFlight) { poll.again = true; return; }
    clearTimeout(poll.timer);
    checkStatus(poll);
  }

  function scheduleCheck(poll) {
    const elapsed = Date.now() - poll.started;
    poll.timer = setTimeout(function () { checkStatus(poll); }, elapsed > POLL_SLOW_AFTER_MS ? POLL_SLOW_MS : POLL_FAST_MS);
  }

  async function checkStatus(poll) {
    if (poll.gen !== pollGeneration) return;
    poll.inFlight = true;
    let reply;
    try {
      reply = await api('GET', API + '/payment-status/' + encodeURIComponent(state.payment.id));
    } catch (err) {
      poll.inFlight = false;
      if (poll.gen !== pollGeneration) return;
      if (err.isTransient()) {
        setWaitingText(t('connectionRetry'));
        scheduleCheck(poll);
      } else {
        stopPolling();
        showResult('error', err);
      }
      return;
    }
    poll.inFlight = false;
    if (poll.gen !== pollGeneration) return;

    const payment = state.payment;
    if (Number.isSafeInteger(reply.credits)) payment.credits = reply.credits;
    const money = moneyFrom({ amount: reply.amount, amount_minor: reply.amount_minor, currency: reply.currency });
    if (money) payment.money = money;
    if (payment.credits && payment.money) {
      $('#waiting-summary').textContent = tokensText(payment.credits) + ' · ' + formatMoney(payment.money);
    }

    if (PENDING.has(reply.status)) {
      if (poll.invoiceClosed) {
        // The invoice was closed without paying: back to the packages; the same attempt
        // (and key) is kept, so paying again reopens the same checkout.
        const closed = poll.invoiceClosed;
        stopPolling();
        show('main', true);
        showNotice(closed === 'failed' ? t('status').failed[1] : t('invoiceClosed'));
        return;
      }
      if (Date.now() - poll.started > STILL_WAITING_AFTER_MS) setWaitingText(t('stillWaiting'));
      else if ($('#status').textContent === t('connectionRetry') || $('#status').textContent === t('waitingReturned')) {
        setWaitingText(payment.opens === 'invoice' ? t('waitingInvoice') : t('waitingLink'));
      }
      if (poll.again) { poll.again = false; checkStatus(poll); } else scheduleCheck(poll);
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
    try { history.replaceState(null, '', location.pathname + (query ? '?' + query : '') + location.hash); } catch (e) { /* ignore */ }
  }

  function haptic(type) {
    try {
      if (tg && tg.HapticFeedback && typeof tg.HapticFeedback.notificationOccurred === 'function') tg.HapticFeedback.notificationOccurred(type);
    } catch (e) { /* older clients */ }
  }

  function showSuccess(reply) {
    state.attempt = null;
    const credits = state.payment.credits;
    if (Number.isSafeInteger(reply.balance)) state.balance = reply.balance;
    renderBalance();
    $('#success-credits').textContent = credits ? t('credited')(formatInt(credits), t('tokens')(credits)) : '';
    $('#success-balance').textContent = state.balance === null ? '—' : formatInt(state.balance);
    $('#success-balance-unit').textContent = t('tokens')(state.balance || 0);
    $('#success-amount').textContent = state.payment.money ? formatMoney(state.payment.money) : '';
    show('success', true);
    haptic('success');
    if (!Number.isSafeInteger(reply.balance)) refreshBalance();
  }

  function showResult(kind, err, reply) {
    state.attempt = null;
    const texts = t('status');
    const pair = texts[kind] || texts.unknown;
    $('#result-title').textContent = pair[0];
    $('#result-message').textContent = err ? errorText(err) : pair[1];
    const reason = reply && typeof reply.failure_reason === 'string' ? reply.failure_reason : '';
    $('#result-reason').textContent = reason;
    $('#result-reason').hidden = !reason;
    $('#result-view-icon').className = 'result-icon ' + (kind === 'refunded' || kind === 'partially_refunded' ? 'is-info' : 'is-error');
    // Without a catalog or a session the page cannot go on: offer a reload.
    const fatal = kind === 'error' && (!state.catalog || !state.initData);
    const canRetry = !fatal && ['failed', 'expired', 'canceled', 'error'].indexOf(kind) >= 0 && !!(state.payment && state.payment.credits);
    $('#retry-button').hidden = !(canRetry || fatal);
    $('#retry-button').textContent = fatal ? t('reload') : t('retry');
    $('#retry-button').setAttribute('data-mode', fatal ? 'reload' : 'retry');
    $('#back-button').hidden = fatal;
    $('#back-button').textContent = canRetry ? t('otherPackage') : t('back');
    show('result', true);
    haptic(kind === 'failed' || kind === 'error' ? 'error' : 'warning');
  }

  // Retry the same order as a new attempt (new idempotency key, new checkout).
  function retry() {
    if ($('#retry-button').getAttribute('data-mode') === 'reload') {
      location.reload();
      return;
    }
    const last = state.payment;
    if (last) {
      if (last.credits) state.credits = last.credits;
      if (last.money) {
        const method = state.catalog.methods.find((m) => m.currency === last.money.currency);
        if (method) state.methodId = method.id;
      }
    }
    state.attempt = null;
    renderMain();
    show('main');
    pay();
  }

  async function refreshBalance() {
    if (!state.initData) return;
    try {
      const reply = await api('GET', API + '/balance');
      if (Number.isSafeInteger(reply.balance)) state.balance = reply.balance;
      renderBalance();
    } catch (err) {
      if (state.view === 'main' || state.view === 'loading') showError(err);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Start
  // ---------------------------------------------------------------------------------------

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
    $('#view-main').addEventListener('submit', function (event) {
      event.preventDefault();
      if (inTelegram) {
        // Enter in the email field just closes the keyboard; Telegram's button pays.
        if (document.activeElement) document.activeElement.blur();
        return;
      }
      pay();
    });
    $('#email').addEventListener('input', function () {
      if ($('#email').getAttribute('aria-invalid') === 'true') validateEmail();
    });
    $('#email').addEventListener('blur', validateEmail);
    $('#reopen-button').addEventListener('click', function () { if (state.payment) openCheckout(state.payment); });
    $('#cancel-wait-button').addEventListener('click', function () {
      stopPolling();
      forgetReturnParam();
      show('main', true);
      refreshBalance();
    });
    $('#buy-more-button').addEventListener('click', function () {
      state.payment = null;
      clearError();
      show('main', true);
      refreshBalance();
    });
    $('#retry-button').addEventListener('click', retry);
    $('#back-button').addEventListener('click', function () {
      state.payment = null;
      clearError();
      show('main', true);
      refreshBalance();
    });
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden) pollNow();
    });
    if (tg && tg.MainButton && typeof tg.MainButton.onClick === 'function') {
      tg.MainButton.onClick(function () {
        if (state.view === 'main') pay();
      });
    }
    if (tg && typeof tg.onEvent === 'function') tg.onEvent('themeChanged', applyTheme);
  }

  async function start() {
    if (tg) {
      try { if (typeof tg.ready === 'function') tg.ready(); } catch (e) { /* ignore */ }
      try { if (typeof tg.expand === 'function') tg.expand(); } catch (e) { /* ignore */ }
    }
    applyTheme();
    const tgUser = inTelegram && tg.initDataUnsafe && tg.initDataUnsafe.user;
    state.lang = pickLanguage(tgUser ? tgUser.language_code : navigator.language);
    applyTexts();
    bindEvents();
    show('loading');

    let reply;
    try {
      reply = await api('GET', API + '/packages', { auth: false });
    } catch (err) {
      showResult('error', err);
      $('#result-title').textContent = t('loadFailedTitle');
      return;
    }
    state.catalog = normalizeCatalog(reply);
    const returnedId = new URLSearchParams(location.search).get('payment_id');

    if (inTelegram) {
      state.initData = tg.initData;
      state.user = tgUser || parseUser(tg.initData);
    } else if (state.catalog.devLogin) {
      try {
        const login = await api('POST', API + '/dev-login', { auth: false, body: { language_code: navigator.language || 'en' } });
        state.initData = String(login.init_data || '');
      } catch (err) {
        showResult('error', err);
        $('#result-title').textContent = t('loadFailedTitle');
        return;
      }
      state.devMode = true;
      state.user = parseUser(state.initData);
      if (state.user && state.user.language_code) state.lang = pickLanguage(state.user.language_code);
      applyTexts();
    } else {
      $('#blocked-text').textContent = returnedId ? t('blockedReturned') : t('blockedText');
      show('blocked', true);
      return;
    }

    if (!state.catalog.methods.length) {
      showResult('error', new ApiError('no_methods', '', 0));
      return;
    }
    state.methodId = (state.catalog.methods.find((m) => m.id === 'card') || state.catalog.methods[0]).id;
    renderMain();
    refreshBalance();
    if (returnedId) {
      const method = currentMethod();
      startPolling({ id: returnedId, url: '', opens: method ? method.opens : 'link', credits: null, money: null }, 'returned');
    } else {
      show('main');
    }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
