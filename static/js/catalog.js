// The catalog from `GET /packages` and the buyer's selection in it.

import { moneyFrom } from './format.js';
import { state } from './state.js';

export function normalizeCatalog(reply, inTelegram) {
  const methods = (Array.isArray(reply.methods) ? reply.methods : [{ id: 'card', currency: reply.currency || 'USD', opens: 'link' }])
    .filter((m) => m && typeof m.id === 'string')
    // Stars invoices open only inside Telegram.
    .filter((m) => m.id !== 'stars' || inTelegram)
    // `test`: the method's provider moves no real money (the sandbox, a Stripe test key).
    .map((m) => ({
      id: m.id,
      currency: String(m.currency || reply.currency || 'USD').toUpperCase(),
      opens: m.opens === 'invoice' ? 'invoice' : 'link',
      test: m.test === true,
    }));
  const packages = (Array.isArray(reply.packages) ? reply.packages : [])
    .filter((p) => p && Number.isSafeInteger(p.credits) && p.credits > 0)
    .map((p) => {
      const prices = {};
      (Array.isArray(p.prices) ? p.prices : []).forEach((price) => {
        const money = moneyFrom(price);
        if (money) prices[money.currency] = money;
      });
      const base = moneyFrom({ amount: p.amount, amount_minor: p.amount_minor, currency: p.currency || reply.currency || 'USD' });
      if (base && !prices[base.currency]) prices[base.currency] = base;
      return { credits: p.credits, prices };
    });
  const botUrl = typeof reply.bot_url === 'string' && /^https:\/\/t\.me\/[A-Za-z0-9_]{3,64}$/.test(reply.bot_url) ? reply.bot_url : '';
  return { packages, methods, sandbox: reply.sandbox === true, devLogin: reply.dev_login === true, botUrl };
}

/** Telegram requires Stars for digital goods: when they are offered they come first. */
export function defaultMethod(catalog) {
  const m = catalog.methods;
  return (m.find((x) => x.id === 'stars') || m.find((x) => x.id === 'card') || m[0]).id;
}

/** Whether we ask for a receipt e-mail: not for Stars (paid inside Telegram) nor for PayPal,
 * which sends its own receipt to the payer's PayPal address. */
export function asksEmail(method) {
  return !!method && method.opens === 'link' && method.id !== 'paypal';
}

export function currentMethod() {
  const methods = state.catalog ? state.catalog.methods : [];
  return methods.find((m) => m.id === state.methodId) || methods[0] || null;
}

export function priceOf(pkg, method) {
  return pkg && method ? pkg.prices[method.currency] || null : null;
}

/** The complete order, or null while a package is missing. */
export function selection() {
  if (!state.catalog) return null;
  const method = currentMethod();
  const pkg = state.catalog.packages.find((p) => p.credits === state.credits);
  const money = priceOf(pkg, method);
  return money ? { credits: pkg.credits, method, money } : null;
}
