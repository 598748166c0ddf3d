// Shared by the payment page and the handoff page: our own sandbox checkout speaks the buyer's
// language; other providers' checkout URLs are never touched.

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
