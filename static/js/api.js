// The HTTP API client (docs/http-api.md). Every answer is `{success: true, …}` or
// `{success: false, error: {code, message}}`; anything else is a `bad_response`.

// The API sits next to the page wherever the payments router is mounted (`/shop/miniapp/` →
// `/shop/api/miniapp`): never an absolute path.
export const API = new URL('../api/miniapp', new URL('..', import.meta.url)).href.replace(/\/$/, '');

export class ApiError extends Error {
  constructor(code, message, status) {
    super(message || code);
    this.code = code;
    this.status = status || 0;
  }

  /** Worth retrying as is: the network, the server or a rate limit, not the request. */
  isTransient() {
    return this.code === 'network' || this.status >= 500 || this.status === 429;
  }
}

let session = '';

/** The init data sent as `Authorization: tma …` from now on. */
export function setSession(initData) {
  session = initData || '';
}

export async function api(method, path, options) {
  const opts = options || {};
  const headers = Object.assign({ Accept: 'application/json' }, opts.headers || {});
  if (opts.auth !== false && session) headers.Authorization = 'tma ' + session;
  let body;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  let res;
  try {
    res = await fetch(API + path, { method, headers, body, credentials: 'same-origin', cache: 'no-store', signal: opts.signal });
  } catch (e) {
    if (opts.signal && opts.signal.aborted) throw new ApiError('aborted', '', 0);
    throw new ApiError('network', String((e && e.message) || e), 0);
  }
  let data = null;
  try {
    data = await res.json();
  } catch (e) {
    data = null;
  }
  if (res.ok && data && data.success === true) return data;
  const err = data && data.error;
  if (err && typeof err.code === 'string') throw new ApiError(err.code, err.message, res.status);
  throw new ApiError(res.status >= 500 ? 'internal' : 'bad_response', '', res.status);
}

/** A fresh purchase-attempt key: 128 random bits, also the secret of the checkout handoff. */
export function newIdempotencyKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return 'miniapp-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
