// The page's state, one object, and what survives leaving the page for a checkout in the same
// tab (browser Back must bring the chosen package back).

export const state = {
  view: 'loading',
  tg: null, // the Telegram facade, or null outside Telegram
  initData: '',
  user: null,
  devMode: false,
  botUrl: '',
  catalog: null, // {packages, methods, sandbox, devLogin}
  credits: null, // the chosen package
  methodId: null, // the chosen method
  email: '',
  balance: null,
  busy: false, // create-payment in flight
  attempt: null, // {key, fingerprint}: one idempotency key per purchase attempt
  payment: null, // {id, url, opens, credits, money}
  poll: null,
  blocked: null, // 'outside' | 'returned' | 'session' | 'session-invalid'
  result: null, // what the result view shows: {kind, canRetry, fatal}
};

const listeners = [];

/** Runs `fn` after every view change or control-relevant state change. */
export function onChange(fn) {
  listeners.push(fn);
}

export function changed() {
  listeners.slice().forEach((fn) => fn());
}

const SAVED = 'miniapp.page';
const SAVED_FOR_MS = 60 * 60 * 1000;

/** Keeps the order and the open payment across a same-tab trip to the checkout. */
export function saveForReturn() {
  try {
    sessionStorage.setItem(
      SAVED,
      JSON.stringify({ at: Date.now(), credits: state.credits, methodId: state.methodId, email: state.email, payment: state.payment }),
    );
  } catch (e) {
    /* private mode: Back shows a fresh page */
  }
}

/** What saveForReturn kept, if recent; read once. */
export function takeSaved() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(SAVED) || 'null');
    sessionStorage.removeItem(SAVED);
    if (saved && typeof saved === 'object' && Date.now() - saved.at < SAVED_FOR_MS) return saved;
  } catch (e) {
    /* nothing saved */
  }
  return null;
}
