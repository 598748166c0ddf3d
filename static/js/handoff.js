// Shared by the payment page and the handoff page: which checkout URLs may be opened, and our
// own sandbox checkout speaking the buyer's language (other providers' URLs are never touched).

/** A checkout URL that may be opened: https, or our own origin (the sandbox); null otherwise. */
export function safeCheckoutUrl(raw) {
  if (typeof raw !== 'string' || !raw) return null;
  try {
    const u = new URL(raw, location.href);
    return u.protocol === 'https:' || u.origin === location.origin ? u.href : null;
  } catch (e) {
    return null;
  }
}

export function withLanguageFor(url, lang) {
  try {
    const u = new URL(url, location.href);
    if (u.origin !== location.origin) return u.href;
    u.searchParams.set('lang', lang);
    return u.href;
  } catch (e) {
    return url;
  }
}
