// Money and numbers. Amounts are integer minor units ({minor, currency}) everywhere; decimal
// strings are built with integer arithmetic and handed to Intl.NumberFormat as strings, which
// formats them exactly (no float ever holds an amount).

import { language, t } from './i18n.js';

// Digits after the decimal point per currency; a currency the server sends that is not listed
// here is learned from the server's decimal string (see moneyFrom).
const EXPONENTS = { USD: 2, EUR: 2, GBP: 2, RUB: 2, KZT: 2, XTR: 0 };

export function exponentOf(currency) {
  return Object.prototype.hasOwnProperty.call(EXPONENTS, currency) ? EXPONENTS[currency] : 2;
}

/** "25.00" from 2500 minor units and 2 digits; never via floats. */
export function decimalString(minor, exponent) {
  const sign = minor < 0 ? '-' : '';
  const digits = String(Math.abs(minor)).padStart(exponent + 1, '0');
  if (exponent === 0) return sign + digits;
  return sign + digits.slice(0, digits.length - exponent) + '.' + digits.slice(digits.length - exponent);
}

/** Minor units from a decimal string ("25.00" -> 2500), or null. */
export function parseDecimal(text, exponent) {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(String(text));
  if (!m) return null;
  const frac = (m[2] || '').padEnd(exponent, '0');
  if (frac.length > exponent) return null;
  return Number(m[1] + frac);
}

/** A money value from an API price ({amount, amount_minor, currency}), or null. */
export function moneyFrom(price) {
  if (!price || typeof price.currency !== 'string') return null;
  const currency = price.currency.toUpperCase();
  if (!/^[A-Z]{3}$/.test(currency)) return null;
  if (!Object.prototype.hasOwnProperty.call(EXPONENTS, currency) && typeof price.amount === 'string') {
    const dot = price.amount.indexOf('.');
    EXPONENTS[currency] = dot < 0 ? 0 : price.amount.length - dot - 1;
  }
  let minor = price.amount_minor;
  if (!Number.isSafeInteger(minor)) minor = parseDecimal(price.amount, exponentOf(currency));
  if (!Number.isSafeInteger(minor) || minor < 0) return null;
  return { minor, currency };
}

/** The API's decimal amount ("25.00") of a money value. */
export function amountString(money) {
  return decimalString(money.minor, exponentOf(money.currency));
}

/** The BCP 47 locale numbers are formatted in: the page's language, in the user's region when
 *  the browser's language is the same one ("en-GB" stays "en-GB"). */
export function locale() {
  const lang = language();
  const nav = typeof navigator !== 'undefined' ? String(navigator.language || '') : '';
  if (nav.toLowerCase().startsWith(lang + '-')) return nav;
  return lang === 'ru' ? 'ru-RU' : 'en-US';
}

export function formatInt(n) {
  try {
    return new Intl.NumberFormat(locale()).format(n);
  } catch (e) {
    return String(n);
  }
}

function formatDecimal(text, minDigits, maxDigits) {
  try {
    return new Intl.NumberFormat(locale(), { minimumFractionDigits: minDigits, maximumFractionDigits: maxDigits }).format(text);
  } catch (e) {
    return text;
  }
}

function formatCurrencyDecimal(text, currency, minDigits, maxDigits) {
  try {
    return new Intl.NumberFormat(locale(), {
      style: 'currency',
      currency,
      minimumFractionDigits: minDigits,
      maximumFractionDigits: maxDigits,
    }).format(text);
  } catch (e) {
    return text + ' ' + currency;
  }
}

/** "$25.00", "25,00 $", "⭐ 1 250": Telegram Stars (XTR) are not an ISO currency. */
export function formatMoney(money) {
  if (money.currency === 'XTR') return '⭐\u00a0' + formatInt(money.minor);
  const exponent = exponentOf(money.currency);
  return formatCurrencyDecimal(amountString(money), money.currency, exponent, exponent);
}

/** The price of one token with one digit more than the currency has, rounded half up:
 *  2500 cents / 500 tokens -> "$0.05"; 1250 stars / 500 tokens -> "⭐ 2.5". */
export function formatPerToken(money, credits) {
  if (!credits) return '';
  const exponent = exponentOf(money.currency);
  const numerator = money.minor * 20 + credits;
  const denominator = 2 * credits;
  // Integer division by construction: the remainder is taken off before dividing.
  const tenths = (numerator - (numerator % denominator)) / denominator;
  const text = decimalString(tenths, exponent + 1);
  if (money.currency === 'XTR') return '⭐\u00a0' + formatDecimal(text, 0, 1);
  return formatCurrencyDecimal(text, money.currency, exponent, exponent + 1);
}

/** "500 tokens" with the number grouped for the locale and the right plural. */
export function tokensText(n) {
  return formatInt(n) + '\u00a0' + t('tokens')(n);
}

/** A date and time of the journal in the user's locale. */
export function formatDateTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  try {
    return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(date);
  } catch (e) {
    return iso;
  }
}
