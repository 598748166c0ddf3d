// Telegram: one small facade over either Telegram's SDK object (`Telegram.WebApp`) or a
// built-in bridge that speaks the Mini App protocol directly (launch parameters in the URL hash,
// events through the native proxy or the parent frame). The page never waits for the SDK
// script: it is loaded asynchronously, the bridge works meanwhile, and when the script does
// arrive the facade moves its state and handlers over to it (the SDK takes the event entry
// points the bridge used).
//
// The facade keeps the desired state of Telegram's controls (MainButton, BackButton, closing
// confirmation) and sends a control's state only when it changed, in one update: a button never
// flickers through an intermediate state.

function urlDecode(s) {
  try {
    return decodeURIComponent(String(s).replace(/\+/g, '%20'));
  } catch (e) {
    return s;
  }
}

function parseQuery(query) {
  const out = {};
  String(query || '')
    .replace(/^[#?]/, '')
    .split('&')
    .forEach((part) => {
      const i = part.indexOf('=');
      if (i > 0) out[urlDecode(part.slice(0, i))] = urlDecode(part.slice(i + 1));
    });
  return out;
}

function versionAtLeast(version, wanted) {
  const a = String(version || '6.0').split('.').map(Number);
  const b = wanted.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] || 0;
    const y = b[i] || 0;
    if (x !== y) return x > y;
  }
  return true;
}

function safe(fn) {
  try {
    return fn();
  } catch (e) {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// The built-in bridge
// ---------------------------------------------------------------------------------------------

const LAUNCH_STORE = '__miniapp_tg_launch';

function launchParams() {
  const params = parseQuery(location.hash);
  const stored = safe(() => JSON.parse(sessionStorage.getItem(LAUNCH_STORE) || 'null')) || {};
  Object.keys(stored).forEach((k) => {
    if (!(k in params)) params[k] = stored[k];
  });
  if (!params.tgWebAppData) return null;
  safe(() =>
    sessionStorage.setItem(
      LAUNCH_STORE,
      JSON.stringify({
        tgWebAppData: params.tgWebAppData,
        tgWebAppThemeParams: params.tgWebAppThemeParams || '',
        tgWebAppVersion: params.tgWebAppVersion || '',
        tgWebAppPlatform: params.tgWebAppPlatform || '',
      }),
    ),
  );
  return params;
}

function createBridge(params) {
  const isIframe = safe(() => window.parent != null && window.parent !== window) || false;

  function postEvent(type, data) {
    const payload = data === undefined ? '' : data;
    safe(() => {
      if (window.TelegramWebviewProxy !== undefined) {
        window.TelegramWebviewProxy.postEvent(type, JSON.stringify(payload));
      } else if (window.external && 'notify' in window.external) {
        window.external.notify(JSON.stringify({ eventType: type, eventData: payload }));
      } else if (isIframe) {
        window.parent.postMessage(JSON.stringify({ eventType: type, eventData: payload }), '*');
      }
    });
  }

  const listeners = {};
  const invoices = {};
  const popups = [];
  let theme = safe(() => JSON.parse(params.tgWebAppThemeParams || 'null')) || {};
  const initDataUnsafe = parseQuery(params.tgWebAppData);
  Object.keys(initDataUnsafe).forEach((k) => {
    const v = initDataUnsafe[k];
    if (/^[[{]/.test(v)) {
      const parsed = safe(() => JSON.parse(v));
      if (parsed !== undefined) initDataUnsafe[k] = parsed;
    }
  });

  function emit(type, data) {
    (listeners[type] || []).slice().forEach((fn) => safe(() => fn(data)));
  }

  // Set when Telegram's SDK took over: the bridge then stays silent (in an iframe its message
  // listener would otherwise deliver every event a second time).
  let retired = false;

  function receiveEvent(type, data) {
    if (retired) return;
    if (typeof data === 'string') data = safe(() => JSON.parse(data)) || data;
    data = data || {};
    if (type === 'main_button_pressed') emit('main');
    else if (type === 'back_button_pressed') emit('back');
    else if (type === 'theme_changed') {
      if (data.theme_params && typeof data.theme_params === 'object') theme = data.theme_params;
      emit('theme');
    } else if (type === 'invoice_closed') {
      const cb = invoices[data.slug];
      delete invoices[data.slug];
      if (typeof cb === 'function') cb(data.status);
    } else if (type === 'popup_closed') {
      const cb = popups.shift();
      if (typeof cb === 'function') cb(data.button_id || null);
    }
  }

  window.Telegram = window.Telegram || {};
  window.Telegram.WebView = { receiveEvent, postEvent };
  window.TelegramGameProxy = { receiveEvent };
  window.TelegramGameProxy_receiveEvent = receiveEvent;
  if (isIframe) {
    window.addEventListener('message', (event) => {
      if (event.source !== window.parent) return;
      const msg = safe(() => JSON.parse(event.data));
      if (msg && msg.eventType) receiveEvent(msg.eventType, msg.eventData);
    });
    postEvent('iframe_ready');
  }
  postEvent('web_app_request_theme');

  const has = (v) => versionAtLeast(params.tgWebAppVersion || '6.0', v);

  return {
    kind: 'bridge',
    retire: () => {
      retired = true;
    },
    initData: params.tgWebAppData,
    initDataUnsafe,
    version: params.tgWebAppVersion || '6.0',
    themeParams: () => theme,
    colorScheme: () => null,
    on: (type, fn) => (listeners[type] = listeners[type] || []).push(fn),
    ready: () => postEvent('web_app_ready'),
    expand: () => postEvent('web_app_expand'),
    close: () => postEvent('web_app_close'),
    setMain(s) {
      postEvent(
        'web_app_setup_main_button',
        s.visible
          ? {
              is_visible: true,
              is_active: s.active,
              is_progress_visible: s.progress,
              text: s.text,
              color: s.color || theme.button_color || '#2481cc',
              text_color: s.textColor || theme.button_text_color || '#ffffff',
            }
          : { is_visible: false },
      );
    },
    setBack: (visible) => postEvent('web_app_setup_back_button', { is_visible: visible }),
    setClosing: (need) => postEvent('web_app_setup_closing_behavior', { need_confirmation: need }),
    notify: (type) => postEvent('web_app_trigger_haptic_feedback', { type: 'notification', notification_type: type }),
    selection: () => postEvent('web_app_trigger_haptic_feedback', { type: 'selection_change' }),
    popup(message, title, cb) {
      if (!has('6.2')) throw new Error('popups unsupported');
      popups.push(cb);
      const p = { message, buttons: [{ id: 'ok', type: 'ok' }] };
      if (title) p.title = title;
      postEvent('web_app_open_popup', p);
    },
    openLink: (url) => postEvent('web_app_open_link', { url }),
    openInvoice(url, cb) {
      const m = /^https:\/\/t\.me\/(?:\$|invoice\/)([A-Za-z0-9\-_=]+)$/.exec(url);
      if (!m) throw new Error('invoice url is invalid');
      invoices[m[1]] = cb;
      postEvent('web_app_open_invoice', { slug: m[1] });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Telegram's SDK object
// ---------------------------------------------------------------------------------------------

function wrapSdk(sdk) {
  const has = (v) => versionAtLeast(sdk.version, v);
  return {
    kind: 'sdk',
    initData: sdk.initData,
    initDataUnsafe: sdk.initDataUnsafe || {},
    version: sdk.version || '6.0',
    themeParams: () => sdk.themeParams || {},
    colorScheme: () => (sdk.colorScheme === 'light' || sdk.colorScheme === 'dark' ? sdk.colorScheme : null),
    on(type, fn) {
      if (type === 'main' && sdk.MainButton) sdk.MainButton.onClick(() => fn());
      else if (type === 'back' && sdk.BackButton && has('6.1')) sdk.BackButton.onClick(() => fn());
      else if (type === 'theme' && typeof sdk.onEvent === 'function') sdk.onEvent('themeChanged', () => fn());
    },
    ready: () => sdk.ready(),
    expand: () => sdk.expand(),
    close: () => sdk.close(),
    setMain(s) {
      const mb = sdk.MainButton;
      if (!mb) return;
      if (typeof mb.setParams === 'function') {
        const p = s.visible ? { text: s.text, is_visible: true, is_active: s.active } : { is_visible: false };
        if (s.visible && s.color) p.color = s.color;
        if (s.visible && s.textColor) p.text_color = s.textColor;
        mb.setParams(p);
      } else {
        mb.setText(s.text);
        if (s.active) mb.enable();
        else mb.disable();
        if (s.visible) mb.show();
        else mb.hide();
      }
      if (s.progress && !mb.isProgressVisible) mb.showProgress(s.active);
      else if (!s.progress && mb.isProgressVisible) mb.hideProgress();
    },
    setBack(visible) {
      if (!sdk.BackButton || !has('6.1')) return;
      if (visible) sdk.BackButton.show();
      else sdk.BackButton.hide();
    },
    setClosing(need) {
      if (!has('6.2')) return;
      if (need && typeof sdk.enableClosingConfirmation === 'function') sdk.enableClosingConfirmation();
      else if (!need && typeof sdk.disableClosingConfirmation === 'function') sdk.disableClosingConfirmation();
    },
    notify: (type) => has('6.1') && sdk.HapticFeedback && sdk.HapticFeedback.notificationOccurred(type),
    selection: () => has('6.1') && sdk.HapticFeedback && sdk.HapticFeedback.selectionChanged(),
    popup(message, title, cb) {
      if (!has('6.2') || typeof sdk.showPopup !== 'function') throw new Error('popups unsupported');
      const p = { message, buttons: [{ id: 'ok', type: 'ok' }] };
      if (title) p.title = title;
      sdk.showPopup(p, (id) => cb && cb(id || null));
    },
    openLink: (url) => sdk.openLink(url),
    openInvoice: (url, cb) => sdk.openInvoice(url, cb),
  };
}

// ---------------------------------------------------------------------------------------------
// The facade
// ---------------------------------------------------------------------------------------------

function usableSdk() {
  const sdk = window.Telegram && window.Telegram.WebApp;
  return sdk && typeof sdk.initData === 'string' && sdk.initData.length > 0 ? sdk : null;
}

/**
 * The Telegram client the page runs in, or null outside Telegram. `sdkUrl` is loaded
 * asynchronously and adopted when it arrives; the page is fully usable before that.
 */
export function connectTelegram(sdkUrl) {
  const sdk = usableSdk();
  let impl = sdk ? wrapSdk(sdk) : null;
  if (!impl) {
    const params = launchParams();
    if (params) impl = createBridge(params);
  }
  if (!impl) return null;

  const handlers = { main: [], back: [], theme: [] };
  const sent = { main: '', back: null, closing: null };
  const want = { main: { text: '', visible: false, active: false, progress: false }, back: false, closing: false };
  let popupOpen = false;
  let colors = { color: '', textColor: '' };

  function subscribe(target) {
    Object.keys(handlers).forEach((type) => target.on(type, (data) => handlers[type].slice().forEach((fn) => safe(() => fn(data)))));
  }

  function sync() {
    const key = JSON.stringify(want.main);
    if (key !== sent.main) {
      sent.main = key;
      safe(() => impl.setMain(want.main));
    }
    if (want.back !== sent.back) {
      sent.back = want.back;
      safe(() => impl.setBack(want.back));
    }
    if (want.closing !== sent.closing) {
      sent.closing = want.closing;
      safe(() => impl.setClosing(want.closing));
    }
  }

  subscribe(impl);

  const tg = {
    get initData() {
      return impl.initData;
    },
    get user() {
      const u = impl.initDataUnsafe && impl.initDataUnsafe.user;
      return u && typeof u === 'object' ? u : null;
    },
    get kind() {
      return impl.kind;
    },
    themeParams: () => impl.themeParams() || {},
    colorScheme: () => impl.colorScheme(),
    ready: () => safe(() => impl.ready()),
    expand: () => safe(() => impl.expand()),
    close: () => safe(() => impl.close()),
    onMain: (fn) => handlers.main.push(fn),
    onBack: (fn) => handlers.back.push(fn),
    onTheme: (fn) => handlers.theme.push(fn),
    /** The MainButton's whole state in one update: {text, visible, active, progress}, in the
     *  colours set by setButtonColors. */
    setMainButton(state) {
      want.main = {
        text: String(state.text || '').trim().slice(0, 64),
        visible: !!state.visible && !!String(state.text || '').trim(),
        active: state.active !== false,
        progress: !!state.progress,
        color: colors.color,
        textColor: colors.textColor,
      };
      sync();
    },
    /** The button colours the page computed (readable at 4.5:1), used from the next update. */
    setButtonColors(color, textColor) {
      colors = { color, textColor };
      if (want.main.visible) tg.setMainButton(want.main);
    },
    setBackButton(visible) {
      want.back = !!visible;
      sync();
    },
    setClosingConfirmation(need) {
      want.closing = !!need;
      sync();
    },
    haptic: (type) => safe(() => impl.notify(type)),
    selection: () => safe(() => impl.selection()),
    /** Telegram's own alert; false when the client cannot show one (the page shows its own). */
    popup(message, title) {
      if (popupOpen) return true;
      try {
        popupOpen = true;
        impl.popup(message, title, () => {
          popupOpen = false;
        });
        return true;
      } catch (e) {
        popupOpen = false;
        return false;
      }
    },
    openLink(url) {
      impl.openLink(url);
    },
    openInvoice(url, cb) {
      impl.openInvoice(url, cb);
    },
  };

  if (impl.kind === 'bridge' && sdkUrl) {
    const script = document.createElement('script');
    script.src = sdkUrl;
    script.async = true;
    script.onload = () => {
      const late = usableSdk();
      if (!late) return;
      if (impl.retire) impl.retire();
      impl = wrapSdk(late);
      popupOpen = false;
      subscribe(impl);
      sent.main = '';
      sent.back = null;
      sent.closing = null;
      sync();
      handlers.theme.slice().forEach((fn) => safe(() => fn()));
    };
    document.head.appendChild(script);
  }
  return tg;
}
