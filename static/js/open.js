// The page Telegram opens inside the buyer's tap (Telegram ignores an openLink that comes
// seconds after the tap). It knows the buyer's id and the purchase attempt's idempotency key
// (from the URL fragment, which is never sent to a server) and waits for the payment page's
// create-payment to attach a checkout, then goes there.

import { API } from './api.js';
import { applyTheme, followSystemScheme } from './theme.js';
import { safeCheckoutUrl, withLanguageFor } from './handoff.js';

const TEXTS = {
  en: {
    opening: 'Opening the payment page…',
    preparing: 'Preparing your payment. This takes a few seconds.',
    closedTitle: 'This payment is finished',
    closed: 'Return to Telegram: the payment page there shows the result.',
    failedTitle: 'The payment page could not be opened',
    failed: 'Return to Telegram: the payment page there can open it again.',
    bad: 'This link is incomplete. Return to Telegram and press Pay again.',
  },
  ru: {
    opening: 'Открываем страницу оплаты…',
    preparing: 'Готовим платёж. Это займёт несколько секунд.',
    closedTitle: 'Этот платёж завершён',
    closed: 'Вернитесь в Telegram: там страница оплаты покажет результат.',
    failedTitle: 'Не удалось открыть страницу оплаты',
    failed: 'Вернитесь в Telegram: там страницу оплаты можно открыть снова.',
    bad: 'Ссылка неполная. Вернитесь в Telegram и нажмите «Оплатить» ещё раз.',
  },
};
const GIVE_UP_MS = 45_000;
const EVERY_MS = 750;

const params = new URLSearchParams(location.hash.slice(1));
const lang = params.get('l') === 'ru' ? 'ru' : 'en';
const text = TEXTS[lang];
const $ = (id) => document.getElementById(id);

function finish(title, message) {
  document.body.setAttribute('data-state', 'stopped');
  $('open-spinner').hidden = true;
  $('open-title').textContent = title;
  $('open-text').textContent = message;
}

async function ask(user, key) {
  const res = await fetch(API + '/handoff?user_id=' + encodeURIComponent(user) + '&key=' + encodeURIComponent(key), {
    headers: { Accept: 'application/json' },
    cache: 'no-store',
    credentials: 'omit',
  });
  const data = await res.json().catch(() => null);
  if (!res.ok || !data || data.success !== true) {
    const err = new Error('handoff');
    err.fatal = res.status >= 400 && res.status < 500 && res.status !== 429;
    throw err;
  }
  return data;
}

async function run() {
  applyTheme(null);
  followSystemScheme(() => applyTheme(null));
  document.documentElement.lang = lang;
  document.title = text.opening;
  $('open-title').textContent = text.opening;
  $('open-text').textContent = text.preparing;
  const user = params.get('u') || '';
  const key = params.get('k') || '';
  if (!/^\d+$/.test(user) || !key) {
    finish(text.failedTitle, text.bad);
    return;
  }
  const started = Date.now();
  for (;;) {
    try {
      const reply = await ask(user, key);
      const target = reply.state === 'ready' ? safeCheckoutUrl(reply.payment_url) : null;
      if (target) {
        document.body.setAttribute('data-state', 'redirecting');
        location.replace(withLanguageFor(target, lang));
        return;
      }
      if (reply.state === 'closed') {
        finish(text.closedTitle, text.closed);
        return;
      }
    } catch (e) {
      if (e.fatal) {
        finish(text.failedTitle, text.bad);
        return;
      }
    }
    if (Date.now() - started > GIVE_UP_MS) {
      finish(text.failedTitle, text.failed);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, EVERY_MS));
  }
}

run();
