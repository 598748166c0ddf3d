// Builds the init-data test vectors, signs the generated ones and records the verdict of
// @telegram-apps/init-data-node for every case. Run by generate.sh (which installs the pinned
// package next to a copy of this file); prints an intermediate JSON document on stdout that
// gen.py completes with aiogram's verdicts and checks against our own rules.
//
// Everything here is deterministic: fixed auth_dates, a fixed Ed25519 seed, HMAC and Ed25519
// (both deterministic), and cases in the order they are listed below.

import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';

import { isValid, isValid3rd, sign, signData } from '@telegram-apps/init-data-node';

// The package's "exports" hide package.json, so read it from node_modules next to this file.
const NODE_PKG_VERSION = JSON.parse(
  readFileSync(new URL('./node_modules/@telegram-apps/init-data-node/package.json', import.meta.url), 'utf8'),
).version;

// ---------------------------------------------------------------------------------------------
// Constants of the generated cases.

const PUBLIC_KEYS = {
  production: 'e7bf03a2fa4602af4580703d88dda5bb59f32ed8b02a56c187fe7d34caed242d',
  test: '40055058a4ee38156a06562e52eece92a771bcd8346a8c4615cb7376eddf72ec',
};

const BOT_ID = 5555555555;
const BOT_TOKEN = `${BOT_ID}:AAHminiAppCoreTestVectors-NotReal_x`;
const WRONG_TOKEN = `${BOT_ID}:AAHminiAppCoreTestVectors-NotReal_y`;
const AUTH = 1733000000; // auth_date of the generated cases
const NOW = AUTH + 120; // "now" of the generated cases unless a case says otherwise
const MAX_AGE = 86400;
const MAX_INIT_DATA_LEN = 16 * 1024; // miniapp-core's limit (src/init_data/parse.rs)

// Ed25519 key of the custom-key cases: the secret seed of RFC 8032 section 7.1, TEST 1.
const SEED_HEX = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const PRIVATE_KEY = crypto.createPrivateKey({
  key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(SEED_HEX, 'hex')]),
  format: 'der',
  type: 'pkcs8',
});
const CUSTOM_PUBLIC_KEY = crypto
  .createPublicKey(PRIVATE_KEY)
  .export({ format: 'der', type: 'spki' })
  .subarray(-32)
  .toString('hex');

// ---------------------------------------------------------------------------------------------
// Helpers. A "pair list" is an array of [key, value] with decoded (raw Unicode) strings.

/** Telegram-style encoding: encodeURIComponent, so a space is %20. */
const enc = (s) => encodeURIComponent(s);

/** Joins pairs into a query string; `plus` writes spaces as '+' instead of %20. */
function join(pairs, { plus = false } = {}) {
  return pairs
    .map(([k, v]) => {
      const s = `${enc(k)}=${enc(v)}`;
      return plus ? s.replaceAll('%20', '+') : s;
    })
    .join('&');
}

const byKey = (a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

/** Data-check string by our rules: pairs sorted by key, `key=value` joined by '\n'. */
function dcs(pairs, exclude = ['hash']) {
  return pairs
    .filter(([k]) => !exclude.includes(k))
    .slice()
    .sort(byKey)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
}

/** HMAC hash by the Node library's own signData (secret = HMAC("WebAppData", token)). */
const hmacHex = (dataCheckString, token = BOT_TOKEN) => signData(dataCheckString, token);

/** Ed25519 signature (base64url, unpadded) over "{bot_id}:WebAppData\n" + dcs without hash/signature. */
function ed25519Sig(pairs, botId = BOT_ID, exclude = ['hash', 'signature']) {
  const message = `${botId}:WebAppData\n${dcs(pairs, exclude)}`;
  return crypto.sign(null, Buffer.from(message, 'utf8'), PRIVATE_KEY).toString('base64url');
}

/** JSON the way Telegram writes it: compact, non-ASCII kept as is, '/' escaped as '\/'. */
const tgJson = (obj) => JSON.stringify(obj).replaceAll('/', '\\/');

const USER = {
  id: 6543210987,
  first_name: 'Alex',
  last_name: 'Doe',
  username: 'alex_doe',
  language_code: 'en',
  is_premium: true,
  allows_write_to_pm: true,
  photo_url: 'https://t.me/i/userpic/320/ZmFrZS1waG90by1mb3ItbWluaWFwcC1jb3JlLXZlY3RvcnM.svg',
};
const QUERY_ID = 'AAGk9mVzAAAAAKT2ZXOQxJ3b';

/** Base pairs of a realistic launch: query_id, user, auth_date (signature/hash added later). */
function basePairs({ user = USER, authDate = AUTH, extra = [] } = {}) {
  return [['query_id', QUERY_ID], ['user', tgJson(user)], ['auth_date', String(authDate)], ...extra];
}

/**
 * Telegram-like signed init data: adds an Ed25519 `signature` (custom key) then a `hash` over
 * everything including the signature, and returns the raw query string with `hash` at `hashAt`
 * ('last' | 'first' | a pair index).
 */
function signedRaw(pairs, { withSignature = true, hashAt = 'last', plus = false, token = BOT_TOKEN } = {}) {
  const all = withSignature ? [...pairs, ['signature', ed25519Sig(pairs)]] : [...pairs];
  const hash = hmacHex(dcs(all), token);
  const hashPair = ['hash', hash];
  let ordered;
  if (hashAt === 'last') ordered = [...all, hashPair];
  else if (hashAt === 'first') ordered = [hashPair, ...all];
  else ordered = [...all.slice(0, hashAt), hashPair, ...all.slice(hashAt)];
  return { raw: join(ordered, { plus }), pairs: all, hash };
}

/** Replaces the value of `key=` in a raw query string (first occurrence). */
function replaceRaw(raw, key, newValue) {
  return raw
    .split('&')
    .map((seg) => (seg.startsWith(`${key}=`) ? `${key}=${newValue}` : seg))
    .join('&');
}

function getRaw(raw, key) {
  const seg = raw.split('&').find((s) => s.startsWith(`${key}=`));
  return seg === undefined ? undefined : seg.slice(key.length + 1);
}

// ---------------------------------------------------------------------------------------------
// Cases.

const cases = [];

/**
 * Adds a case. `why_node` / `why_python` explain a library verdict that differs from
 * expect_valid; gen.py refuses to write the file if such a difference has no explanation.
 */
function add(c) {
  const base = {
    source: 'generated',
    now: NOW,
    max_age: MAX_AGE,
    expect_error: null,
    note: '',
  };
  const full = { ...base, ...c };
  full.expect_valid = full.expect_error === null;
  if (full.scheme === 'hmac' && full.bot_token === undefined) full.bot_token = BOT_TOKEN;
  if (full.scheme === 'ed25519') {
    if (full.bot_id === undefined) full.bot_id = BOT_ID;
    if (full.public_key === undefined) full.public_key = CUSTOM_PUBLIC_KEY;
  }
  cases.push(full);
}

// ---- Real samples from public test suites ---------------------------------------------------

const TMAJS = 'Telegram-Mini-Apps/telegram-apps';
const GOLANG = 'Telegram-Mini-Apps/init-data-golang';
const AIOGRAM = 'aiogram/aiogram';

// tma.js: the current suite's sample (real Telegram data, bot 7342037359, both hash and signature).
const TMAJS_SP =
  'user=%7B%22id%22%3A279058397%2C%22first_name%22%3A%22Vladislav%20%2B%20-%20%3F%20%5C%2F%22%2C%22last_name%22%3A%22Kibenko%22%2C%22username%22%3A%22vdkfrost%22%2C%22language_code%22%3A%22ru%22%2C%22is_premium%22%3Atrue%2C%22allows_write_to_pm%22%3Atrue%2C%22photo_url%22%3A%22https%3A%5C%2F%5C%2Ft.me%5C%2Fi%5C%2Fuserpic%5C%2F320%5C%2F4FPEE4tmP3ATHa57u6MqTDih13LTOiMoKoLDRG4PnSA.svg%22%7D&chat_instance=8134722200314281151&chat_type=private&auth_date=1733584787&signature=zL-ucjNyREiHDE8aihFwpfR9aggP2xiAo3NSpfe-p7IbCisNlDKlo7Kb6G4D0Ao2mBrSgEk4maLSdv6MLIlADQ&hash=2174df5b000556d044f3f020384e879c8efcab55ddea2ced4eb752e93e7080d6';
const TMAJS_BOT_ID = 7342037359;
const TMAJS_TOKEN = `${TMAJS_BOT_ID}:AAFZehRPBRs8Seg40oDjTMIW8uTGPuW1zfQ`;
const TMAJS_SRC = `${TMAJS} packages/init-data-node/src/entries/node.test.ts@8905b04 (also shared.test.ts)`;

add({
  name: 'real_tmajs_hmac_valid',
  source: TMAJS_SRC,
  scheme: 'hmac',
  init_data: TMAJS_SP,
  bot_token: TMAJS_TOKEN,
  now: 1733584787 + 60,
  note: 'Real Telegram init data (production, Dec 2024) with both hash and signature; signature is part of the HMAC data-check string. first_name is "Vladislav + - ? \\/" written with %20 and %2B.',
});
add({
  name: 'real_tmajs_hmac_wrong_token',
  source: TMAJS_SRC,
  scheme: 'hmac',
  init_data: TMAJS_SP,
  bot_token: `${TMAJS_TOKEN}A`,
  now: 1733584787 + 60,
  expect_error: 'signature_mismatch',
  note: 'The suite\'s "sign is invalid" case: the token with an extra "A".',
});
add({
  name: 'real_tmajs_ed25519_production_valid',
  source: TMAJS_SRC,
  scheme: 'ed25519',
  init_data: TMAJS_SP,
  bot_id: TMAJS_BOT_ID,
  public_key: 'production',
  now: 1733584787 + 60,
  note: 'Real third-party signature checked with the production key.',
});
add({
  name: 'real_tmajs_ed25519_test_key_mismatch',
  source: TMAJS_SRC,
  scheme: 'ed25519',
  init_data: TMAJS_SP,
  bot_id: TMAJS_BOT_ID,
  public_key: 'test',
  now: 1733584787 + 60,
  expect_error: 'signature_mismatch',
  note: 'The same production sample checked with the test-environment key must fail.',
});
add({
  name: 'real_tmajs_ed25519_wrong_bot_id',
  source: TMAJS_SRC,
  scheme: 'ed25519',
  init_data: TMAJS_SP,
  bot_id: TMAJS_BOT_ID + 1,
  public_key: 'production',
  now: 1733584787 + 60,
  expect_error: 'signature_mismatch',
  note: 'The suite\'s "sign is invalid" case: bot id + 1.',
});

{
  // Re-encodings of the real production signature, so the Node library (production key only)
  // gives a verdict on signature encodings too.
  const sig = getRaw(TMAJS_SP, 'signature');
  const std = sig.replaceAll('-', '+').replaceAll('_', '/');
  const derived = (name, newSig, extra) =>
    add({
      name,
      scheme: 'ed25519',
      init_data: replaceRaw(TMAJS_SP, 'signature', newSig),
      bot_id: TMAJS_BOT_ID,
      public_key: 'production',
      now: 1733584787 + 60,
      ...extra,
    });
  derived('gen_real_sample_signature_padded', `${sig}==`, {
    note: "real_tmajs_ed25519_production_valid with the signature padded ('==').",
  });
  derived('gen_real_sample_signature_standard_alphabet_percent_encoded', std.replaceAll('+', '%2B').replaceAll('/', '%2F'), {
    expect_error: 'malformed_signature',
    note: "real_tmajs_ed25519_production_valid with the signature in the standard alphabet ('-' as %2B, i.e. a real '+').",
    why_node: "Buffer.from(signature, 'base64') accepts both alphabets",
    why_python: "base64.urlsafe_b64decode also accepts '+' and '/'",
  });
  derived('gen_real_sample_signature_standard_alphabet_raw_plus', std, {
    expect_error: 'malformed_signature',
    note: "Standard alphabet written raw: the '+' decodes to a space.",
  });
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const idx = alphabet.indexOf(sig[85]);
  if (sig.length !== 86 || idx % 16 !== 0) throw new Error('unexpected real signature shape');
  derived('gen_real_sample_signature_non_canonical_trailing_bits', `${sig.slice(0, 85)}${alphabet[idx + 1]}`, {
    expect_error: 'malformed_signature',
    note: `Last character '${sig[85]}' changed to '${alphabet[idx + 1]}': same 64 bytes for a lenient decoder, non-zero trailing bits for a strict one.`,
    why_node: "Buffer.from(signature, 'base64') ignores the trailing bits",
    why_python: 'base64.urlsafe_b64decode ignores the trailing bits',
  });
}

// tma.js: spOld, produced by the library's sign() with '+' for spaces; its signature was copied
// from the real sample above, so only the HMAC is valid.
const TMAJS_SP_OLD =
  'auth_date=1&chat_instance=8134722200314281151&chat_type=private&user=%7B%22allows_write_to_pm%22%3Atrue%2C%22first_name%22%3A%22Vladislav+%2B+-+%3F+%2F%22%2C%22id%22%3A279058397%2C%22is_premium%22%3Atrue%2C%22language_code%22%3A%22ru%22%2C%22last_name%22%3A%22Kibenko%22%2C%22photo_url%22%3A%22https%3A%2F%2Ft.me%2Fi%2Fuserpic%2F320%2F4FPEE4tmP3ATHa57u6MqTDih13LTOiMoKoLDRG4PnSA.svg%22%2C%22username%22%3A%22vdkfrost%22%7D&signature=zL-ucjNyREiHDE8aihFwpfR9aggP2xiAo3NSpfe-p7IbCisNlDKlo7Kb6G4D0Ao2mBrSgEk4maLSdv6MLIlADQ&hash=b2e387ba89f433607d2492aad63bb04328b0f3d28585fd149617c8ef129566a2';
const TMAJS_OLD_SRC = `${TMAJS} packages/init-data-node/src/entries/shared.test.ts@8b47fae (spOld)`;
add({
  name: 'real_tmajs_sp_old_hmac_plus_spaces',
  source: TMAJS_OLD_SRC,
  scheme: 'hmac',
  init_data: TMAJS_SP_OLD,
  bot_token: TMAJS_TOKEN,
  now: 1 + 60,
  note: 'Made by the library\'s sign(): spaces written as \'+\', auth_date=1. The HMAC (token of bot 7342037359) is valid.',
});
add({
  name: 'real_tmajs_sp_old_ed25519_copied_signature',
  source: TMAJS_OLD_SRC,
  scheme: 'ed25519',
  init_data: TMAJS_SP_OLD,
  bot_id: TMAJS_BOT_ID,
  public_key: 'production',
  now: 1 + 60,
  expect_error: 'signature_mismatch',
  note: 'Its signature belongs to other data (the real sample), so the Ed25519 check fails.',
});

// tma.js: the older suite's sample (library-made, bot 5768337691, auth_date=1).
add({
  name: 'real_tmajs_legacy_sp_hmac_valid',
  source: `${TMAJS} packages/init-data-node/src/entries/node.test.ts@1c586e6`,
  scheme: 'hmac',
  init_data:
    'auth_date=1&can_send_after=10000&chat=%7B%22id%22%3A1%2C%22type%22%3A%22group%22%2C%22title%22%3A%22chat-title%22%2C%22photo_url%22%3A%22group%22%2C%22username%22%3A%22my-chat%22%7D&chat_instance=888&chat_type=sender&hash=47cfa22e72b887cba90c9cb833c5ea0f599975b6ce7193741844b5c4a4228b40&query_id=QUERY&receiver=%7B%22added_to_attachment_menu%22%3Afalse%2C%22allows_write_to_pm%22%3Atrue%2C%22first_name%22%3A%22receiver-first-name%22%2C%22id%22%3A991%2C%22is_bot%22%3Afalse%2C%22is_premium%22%3Atrue%2C%22language_code%22%3A%22ru%22%2C%22last_name%22%3A%22receiver-last-name%22%2C%22photo_url%22%3A%22receiver-photo%22%2C%22username%22%3A%22receiver-username%22%7D&start_param=debug&user=%7B%22added_to_attachment_menu%22%3Afalse%2C%22allows_write_to_pm%22%3Afalse%2C%22first_name%22%3A%22user-first-name%22%2C%22id%22%3A222%2C%22is_bot%22%3Atrue%2C%22is_premium%22%3Afalse%2C%22language_code%22%3A%22en%22%2C%22last_name%22%3A%22user-last-name%22%2C%22photo_url%22%3A%22user-photo%22%2C%22username%22%3A%22user-username%22%7D',
  bot_token: '5768337691:AAH5YkoiEuPk8-FZa32hStHTqXiLPtAEhx8',
  now: 1 + 60,
  note: 'Library-made sample with chat, receiver, can_send_after, chat_type=sender and hash in the middle; no signature.',
});

// init-data-golang
const GO_INIT =
  'query_id=AAHdF6IQAAAAAN0XohDhrOrc&user=%7B%22id%22%3A279058397%2C%22first_name%22%3A%22Vladislav%22%2C%22last_name%22%3A%22Kibenko%22%2C%22username%22%3A%22vdkfrost%22%2C%22language_code%22%3A%22ru%22%2C%22is_premium%22%3Atrue%7D&auth_date=1662771648&hash=c501b71e775f74ce10e377dea85a7ea24ecd640b223ea86dfe453e0eaed2e2b2';
const GO_TOKEN = '5768337691:AAH5YkoiEuPk8-FZa32hStHTqXiLPtAEhx8';
const GO_SRC = `${GOLANG} validate_test.go@f7a6790`;
add({
  name: 'real_golang_hmac_valid',
  source: GO_SRC,
  scheme: 'hmac',
  init_data: GO_INIT,
  bot_token: GO_TOKEN,
  now: 1662771648 + 60,
  note: 'Real Telegram init data from 2022 (before signature existed).',
});
add({
  name: 'real_golang_hmac_expired',
  source: GO_SRC,
  scheme: 'hmac',
  init_data: GO_INIT,
  bot_token: GO_TOKEN,
  now: 1662771648 + 86400 + 1,
  expect_error: 'expired',
  note: 'The suite\'s expiry case, with a fixed clock one second past max_age.',
  why_node: 'expiry is disabled for node_valid (expiresIn: 0); the signature is valid',
  why_python: 'aiogram checks only the signature, never auth_date',
});
add({
  name: 'real_golang_hash_with_abc_appended',
  source: GO_SRC,
  scheme: 'hmac',
  init_data: `${GO_INIT}abc`,
  bot_token: GO_TOKEN,
  now: 1662771648 + 60,
  expect_error: 'malformed_hash',
  note: 'The suite appends "abc" to the raw string, so the hash has 67 characters.',
});
add({
  name: 'real_golang_no_hash',
  source: GO_SRC,
  scheme: 'hmac',
  init_data: 'no_hash=true',
  bot_token: GO_TOKEN,
  now: 1662771648 + 60,
  expect_error: 'missing_hash',
});
add({
  name: 'real_golang_unexpected_format',
  source: GO_SRC,
  scheme: 'hmac',
  init_data: 'here comes something wrong;',
  bot_token: GO_TOKEN,
  now: 1662771648 + 60,
  expect_error: 'malformed',
  note: 'A single pair without \'=\'.',
});

const GO3_INIT =
  'user=%7B%22id%22%3A279058397%2C%22first_name%22%3A%22Vladislav%20%2B%20-%20%3F%20%5C%2F%22%2C%22last_name%22%3A%22Kibenko%22%2C%22username%22%3A%22vdkfrost%22%2C%22language_code%22%3A%22ru%22%2C%22is_premium%22%3Atrue%2C%22allows_write_to_pm%22%3Atrue%2C%22photo_url%22%3A%22https%3A%5C%2F%5C%2Ft.me%5C%2Fi%5C%2Fuserpic%5C%2F320%5C%2F4FPEE4tmP3ATHa57u6MqTDih13LTOiMoKoLDRG4PnSA.svg%22%7D&chat_instance=8134722200314281151&chat_type=private&auth_date=1733584787&hash=2174df5b000556d044f3f020384e879c8efcab55ddea2ced4eb752e93e7080d6&signature=zL-ucjNyREiHDE8aihFwpfR9aggP2xiAo3NSpfe-p7IbCisNlDKlo7Kb6G4D0Ao2mBrSgEk4maLSdv6MLIlADQ';
const GO3_SRC = `${GOLANG} validate_third_party_test.go@f7a6790`;
add({
  name: 'real_golang_third_party_valid_signature_last',
  source: GO3_SRC,
  scheme: 'ed25519',
  init_data: GO3_INIT,
  bot_id: TMAJS_BOT_ID,
  public_key: 'production',
  now: 1733584787 + 60,
  note: 'The tma.js sample with hash and signature swapped: signature is the last pair.',
});
add({
  name: 'real_golang_third_party_hmac_signature_last',
  source: GO3_SRC,
  scheme: 'hmac',
  init_data: GO3_INIT,
  bot_token: TMAJS_TOKEN,
  now: 1733584787 + 60,
  note: 'Same data, HMAC scheme (token from the tma.js suite); pair order does not matter.',
});
add({
  name: 'real_golang_third_party_signature_with_a_appended',
  source: GO3_SRC,
  scheme: 'ed25519',
  init_data: `${GO3_INIT}a`,
  bot_id: 1,
  public_key: 'production',
  now: 1733584787 + 60,
  expect_error: 'malformed_signature',
  note: 'The suite appends "a": an 87-character signature decodes to 65 bytes (and bot id 1).',
});
add({
  name: 'real_golang_third_party_no_signature',
  source: GO3_SRC,
  scheme: 'ed25519',
  init_data: 'no_signature=true',
  bot_id: 1,
  public_key: 'production',
  now: 1733584787 + 60,
  expect_error: 'missing_signature',
});

// aiogram: check_webapp_signature (HMAC), token "42:TEST".
const AIO_SRC = `${AIOGRAM} tests/test_utils/test_web_app.py@1b7b594`;
const AIO_VALID =
  'auth_date=1650385342&user=%7B%22id%22%3A42%2C%22first_name%22%3A%22Test%22%7D&query_id=test&hash=46d2ea5e32911ec8d30999b56247654460c0d20949b6277af519e76271182803';
add({
  name: 'real_aiogram_hmac_valid',
  source: AIO_SRC,
  scheme: 'hmac',
  init_data: AIO_VALID,
  bot_token: '42:TEST',
  now: 1650385342 + 60,
});
add({
  name: 'real_aiogram_hmac_valid_plus_spaces_and_surrogate_escapes',
  source: AIO_SRC,
  scheme: 'hmac',
  init_data:
    'auth_date=1650385342&user=%7B%22id%22%3A+%22123456789%22%2C+%22first_name%22%3A+%22PlaceholderFirstName%22%2C+%22last_name%22%3A+%22PlaceholderLastName+%5Cud83c%5Cuddfa%5Cud83c%5Cudde6%22%2C+%22username%22%3A+%22Latand%22%2C+%22language_code%22%3A+%22en%22%2C+%22is_premium%22%3A+%22true%22%2C+%22allows_write_to_pm%22%3A+%22true%22%7D&query_id=test&hash=b3c8b293f14ad0f7f0abcf769aea1209a72295d30a87eb0e74df855d32e53bfe',
  bot_token: '42:TEST',
  now: 1650385342 + 60,
  note: "'+' for spaces and JSON \\uXXXX surrogate escapes kept literally in the data-check string. CAUTION: the user JSON is not Telegram-shaped (id is the string \"123456789\", is_premium/allows_write_to_pm are the string \"true\"): the signature is valid, so a verifier that also deserializes `user` strictly would reject it for a reason outside these error classes.",
});
add({
  name: 'real_aiogram_hmac_invalid_token',
  source: AIO_SRC,
  scheme: 'hmac',
  init_data: AIO_VALID,
  bot_token: '42:INVALID',
  now: 1650385342 + 60,
  expect_error: 'signature_mismatch',
});
add({
  name: 'real_aiogram_hash_test',
  source: AIO_SRC,
  scheme: 'hmac',
  init_data: 'user=%7B%22id%22%3A42%2C%22first_name%22%3A%22Test%22%7D&query_id=test&hash=test',
  bot_token: '42:TEST',
  now: 1650385342 + 60,
  expect_error: 'malformed_hash',
  note: 'hash "test" (and no auth_date: the hash format is checked first).',
});
add({
  name: 'real_aiogram_no_hash',
  source: AIO_SRC,
  scheme: 'hmac',
  init_data: 'user=%7B%22id%22%3A42%2C%22first_name%22%3A%22Test%22%7D&query_id=test',
  bot_token: '42:TEST',
  now: 1650385342 + 60,
  expect_error: 'missing_hash',
});
add({
  name: 'real_aiogram_empty',
  source: AIO_SRC,
  scheme: 'hmac',
  init_data: '',
  bot_token: '42:TEST',
  now: 1650385342 + 60,
  expect_error: 'malformed',
});
add({
  name: 'real_aiogram_pair_without_equals',
  source: AIO_SRC,
  scheme: 'hmac',
  init_data: 'test&foo=bar=baz',
  bot_token: '42:TEST',
  now: 1650385342 + 60,
  expect_error: 'malformed',
  note: '"test" has no \'=\'; "foo=bar=baz" alone would be the value "bar=baz".',
});
add({
  name: 'real_aiogram_non_ascii_hash',
  source: AIO_SRC,
  scheme: 'hmac',
  init_data: 'user=%7B%22id%22%3A42%2C%22first_name%22%3A%22Test%22%7D&query_id=test&hash=%C3%A9%C3%A9%C3%A9',
  bot_token: '42:TEST',
  now: 1650385342 + 60,
  expect_error: 'malformed_hash',
  note: 'Hash "ééé" (aiogram issue #1903: hmac.compare_digest raises TypeError on non-ASCII str).',
});

// aiogram: web_app_signature.check_webapp_signature (Ed25519) with the suite's own key pair.
const AIO_SIG_SRC = `${AIOGRAM} tests/test_utils/test_web_app_signature.py@c1b0353`;
const AIO_PUBLIC_KEY = '4112765021341e5415e772cd65903f6b94e3ea1c2ab669e6d3e18ee2db00da61';
const AIO_SIG_DATA = 'auth_date=1650385342&user=%7B%22id%22%3A42%2C%22first_name%22%3A%22Test%22%7D&query_id=test';
add({
  name: 'real_aiogram_ed25519_custom_key_valid',
  source: AIO_SIG_SRC,
  scheme: 'ed25519',
  init_data: `${AIO_SIG_DATA}&signature=JQ0JR2tjC65yq_jNZV0wuJVX6J-SWPMV0mprUXG34g-NvxL4RcF1Rz5n4VVo00VRghEUBf5t___uoeb1-jU_Cw`,
  bot_id: 42,
  public_key: AIO_PUBLIC_KEY,
  now: 1650385342 + 60,
  note: 'aiogram\'s test key pair (not Telegram\'s); no hash at all.',
});
add({
  name: 'real_aiogram_ed25519_custom_key_bad_signature',
  source: AIO_SIG_SRC,
  scheme: 'ed25519',
  init_data: `${AIO_SIG_DATA}&signature=JQ0JR2tjC65yq_jNZV0wuJVX6J-SWPMV0mprUXG34g-NvxL4RcF1Rz5n4VVo00VRghEUBf5t___uoeb1-j1U_w`,
  bot_id: 42,
  public_key: AIO_PUBLIC_KEY,
  now: 1650385342 + 60,
  expect_error: 'signature_mismatch',
  note: 'Two characters changed; still 86 characters (64 bytes), so it is a mismatch, not a format error.',
});
add({
  name: 'real_aiogram_ed25519_with_hash_123',
  source: AIO_SIG_SRC,
  scheme: 'ed25519',
  init_data: `auth_date=1650385342&user=%7B%22id%22%3A42%2C%22first_name%22%3A%22Test%22%7D&query_id=test&hash=123&signature=JQ0JR2tjC65yq_jNZV0wuJVX6J-SWPMV0mprUXG34g-NvxL4RcF1Rz5n4VVo00VRghEUBf5t___uoeb1-jU_Cw`,
  bot_id: 42,
  public_key: AIO_PUBLIC_KEY,
  now: 1650385342 + 60,
  note: 'ASSUMPTION: the ed25519 scheme ignores `hash` entirely (neither required nor format-checked), as Telegram\'s third-party check excludes it; "123" would be malformed_hash in the hmac scheme.',
});
add({
  name: 'real_aiogram_ed25519_missing_signature',
  source: AIO_SIG_SRC,
  scheme: 'ed25519',
  init_data: AIO_SIG_DATA,
  bot_id: 42,
  public_key: AIO_PUBLIC_KEY,
  now: 1650385342 + 60,
  expect_error: 'missing_signature',
});
add({
  name: 'real_aiogram_ed25519_pair_without_equals',
  source: AIO_SIG_SRC,
  scheme: 'ed25519',
  init_data: 'test&foo=bar=baz',
  bot_id: 42,
  public_key: AIO_PUBLIC_KEY,
  now: 1650385342 + 60,
  expect_error: 'malformed',
});

// telegram-webapp-auth (Python): one more real production third-party sample, another bot.
add({
  name: 'real_telegram_webapp_auth_ed25519_production_valid',
  source: 'swimmwatch/telegram-webapp-auth tests/test_validate_third_party.py@22afa5e',
  scheme: 'ed25519',
  init_data:
    'query_id=AAH1t3EVAAAAAPW3cRVyuBgH&user=%7B%22id%22%3A359774197%2C%22first_name%22%3A%22Dmitry%22%2C%22last_name%22%3A%22Vasiliev%22%2C%22language_code%22%3A%22en%22%2C%22allows_write_to_pm%22%3Atrue%2C%22photo_url%22%3A%22https%3A%5C%2F%5C%2Ft.me%5C%2Fi%5C%2Fuserpic%5C%2F320%5C%2FaUkVEo2bVNr6G41sIB2bNwCdbkwnaVS79N41WHr_ApQ.svg%22%7D&auth_date=1736353840&signature=s72bv8J1hwJanbDqlo9TTMK6Uf4WSwQKuPKK_Q16QBhKD0hfOfoYCOpRl_d8m_8AEI1_oF-9WCJuwW1KQy5-BA&hash=c0b008672bf1edae403293e790eec42d047ac6613a5799e1939fac5eca41a397',
  bot_id: 7544535829,
  public_key: 'production',
  now: 1736353840 + 60,
  note: 'Real production data of another bot, with query_id (token unknown, so no hmac case).',
});

// ---- Generated: HMAC scheme -------------------------------------------------------------------

const realistic = signedRaw(basePairs());
add({
  name: 'gen_realistic_full',
  scheme: 'hmac',
  init_data: realistic.raw,
  note: `Telegram-shaped (${realistic.raw.length} bytes): query_id, user JSON with photo_url's '\\/' escapes, auth_date, signature (custom Ed25519 key, also in gen_ed25519_realistic_full), hash last. Signature is inside the HMAC string.`,
});
add({
  name: 'gen_signature_excluded_from_hmac_string',
  scheme: 'hmac',
  init_data: replaceRaw(realistic.raw, 'hash', hmacHex(dcs(realistic.pairs, ['hash', 'signature']))),
  expect_error: 'signature_mismatch',
  note: 'hash computed WITHOUT the signature pair: the HMAC string must include `signature`, so this is a mismatch.',
});

const spacesUser = { ...USER, first_name: 'Mary Ann', last_name: 'van der Berg' };
add({
  name: 'gen_spaces_as_plus',
  scheme: 'hmac',
  init_data: signedRaw(basePairs({ user: spacesUser }), { plus: true }).raw,
  note: "Spaces written as '+' (form encoding); they are spaces in the data-check string.",
});
add({
  name: 'gen_spaces_as_percent20',
  scheme: 'hmac',
  init_data: signedRaw(basePairs({ user: spacesUser })).raw,
  note: 'The same data with spaces written as %20: same decoded values, same hash as gen_spaces_as_plus.',
});
add({
  name: 'gen_cyrillic_names',
  scheme: 'hmac',
  init_data: signedRaw(
    basePairs({ user: { ...USER, first_name: 'Иван', last_name: 'Петров-Водкин', language_code: 'ru' } }),
  ).raw,
  note: 'Non-ASCII JSON kept raw and UTF-8 percent-encoded, as Telegram sends it.',
});
add({
  name: 'gen_emoji_names',
  scheme: 'hmac',
  init_data: signedRaw(basePairs({ user: { ...USER, first_name: 'Alex 🚀', last_name: '🇺🇦 Ковальчук' } })).raw,
  note: 'Astral-plane emoji (4-byte UTF-8) and a flag sequence.',
});
add({
  name: 'gen_empty_value_kept',
  scheme: 'hmac',
  init_data: signedRaw(basePairs({ extra: [['start_param', '']] })).raw,
  note: '`start_param=` with an empty value is a pair and is in the data-check string as "start_param=".',
  why_python: 'parse_qsl(strict_parsing=True) without keep_blank_values drops `start_param=`, so aiogram\'s data-check string lacks it',
});
add({
  name: 'gen_hash_first',
  scheme: 'hmac',
  init_data: signedRaw(basePairs(), { hashAt: 'first' }).raw,
});
add({
  name: 'gen_hash_middle',
  scheme: 'hmac',
  init_data: signedRaw(basePairs(), { hashAt: 2 }).raw,
});
add({
  name: 'gen_hash_last',
  scheme: 'hmac',
  init_data: signedRaw(basePairs(), { hashAt: 'last', withSignature: false }).raw,
  note: 'Without a signature pair (init data before Bot API 8.0).',
});
add({
  name: 'gen_value_contains_equals',
  scheme: 'hmac',
  init_data: signedRaw(basePairs({ extra: [['start_param', 'ref=abc=1']] })).raw.replace('ref%3Dabc%3D1', 'ref=abc=1'),
  note: "A pair is split on its first '='; the raw value 'ref=abc=1' keeps its '=' signs.",
});
add({
  name: 'gen_literal_percent_kept',
  scheme: 'hmac',
  init_data: (() => {
    const pairs = basePairs({ extra: [['start_param', '100%'], ['x', '%zz']] });
    const all = [...pairs, ['signature', ed25519Sig(pairs)]];
    const raw = join(all).replace('100%25', '100%').replace('%25zz', '%zz');
    return `${raw}&hash=${hmacHex(dcs(all))}`;
  })(),
  note: "A '%' not followed by two hex digits stays literal ('100%', '%zz'), as in WHATWG and Python.",
});
{
  // Sorting by key differs from sorting the "key=value" strings when a key is a prefix of
  // another key and the next character sorts before '=' (here '2' < '=').
  const pairs = basePairs({ extra: [['start_param', 'a'], ['start_param2', 'b']] });
  add({
    name: 'gen_sort_by_key_not_by_pair_string',
    scheme: 'hmac',
    init_data: signedRaw(pairs).raw,
    note: 'Keys start_param and start_param2: sorted by key, "start_param=a" comes first; sorting the joined "key=value" strings would put "start_param2=b" first.',
    why_node: 'the library sorts the "key=value" strings, not the keys, so its data-check string has start_param2 first',
  });
}
add({
  name: 'gen_node_lib_sign_output',
  scheme: 'hmac',
  init_data: sign(
    { query_id: QUERY_ID, user: { id: USER.id, first_name: 'Mary Ann', username: 'mary' }, start_param: '' },
    BOT_TOKEN,
    new Date(AUTH * 1000),
  ),
  note: "Verbatim output of the Node library's sign(): '+' for spaces, an empty `start_param=` and an empty `signature=` (the library always adds one).",
  why_python: 'aiogram drops the blank values (start_param=, signature=) from its data-check string',
});

// Duplicate keys.
{
  const pairs = basePairs();
  const raw1 = `${join(pairs)}&auth_date=${AUTH + 1}`;
  const nodeDcs = [...pairs, ['auth_date', String(AUTH + 1)]].map(([k, v]) => `${k}=${v}`).sort().join('\n');
  add({
    name: 'gen_duplicate_auth_date',
    scheme: 'hmac',
    init_data: `${raw1}&hash=${hmacHex(nodeDcs)}`,
    expect_error: 'duplicate_key',
    note: 'auth_date twice (different values); hash computed over both pairs, the way the Node library builds its string.',
    why_node: 'the library keeps both auth_date pairs in its data-check string and takes no stand on duplicates',
  });
}
{
  const pairs = basePairs({ extra: [['foo', '1']] });
  const lastWins = basePairs({ extra: [['foo', '2']] });
  add({
    name: 'gen_duplicate_unknown_key',
    scheme: 'hmac',
    init_data: `${join(pairs)}&foo=2&hash=${hmacHex(dcs(lastWins))}`,
    expect_error: 'duplicate_key',
    note: 'foo=1 and foo=2; hash computed with only foo=2, the way aiogram builds its string (dict: last value wins).',
    why_python: 'aiogram builds a dict from the pairs, so the last foo silently wins',
  });
}
{
  const pairs = basePairs();
  const raw = `${join(pairs)}&%61uth_date=${AUTH}`;
  add({
    name: 'gen_duplicate_key_percent_encoded',
    scheme: 'hmac',
    init_data: `${raw}&hash=${hmacHex(dcs(basePairs()))}`,
    expect_error: 'duplicate_key',
    note: "Keys are compared after decoding: '%61uth_date' is 'auth_date'. Hash is over one auth_date pair (aiogram's view).",
    why_python: 'aiogram builds a dict from the pairs, so the duplicate collapses into one pair',
  });
}

// Hash format.
add({
  name: 'gen_uppercase_hash',
  scheme: 'hmac',
  init_data: replaceRaw(realistic.raw, 'hash', realistic.hash.toUpperCase()),
  expect_error: 'malformed_hash',
  note: 'The right HMAC in uppercase hex: only lowercase is accepted.',
});
add({
  name: 'gen_short_hash',
  scheme: 'hmac',
  init_data: replaceRaw(realistic.raw, 'hash', realistic.hash.slice(0, 63)),
  expect_error: 'malformed_hash',
  note: '63 hex characters.',
});
add({
  name: 'gen_long_hash',
  scheme: 'hmac',
  init_data: replaceRaw(realistic.raw, 'hash', `${realistic.hash}0`),
  expect_error: 'malformed_hash',
  note: '65 hex characters.',
});
add({
  name: 'gen_non_hex_hash',
  scheme: 'hmac',
  init_data: replaceRaw(realistic.raw, 'hash', `${realistic.hash.slice(0, 63)}g`),
  expect_error: 'malformed_hash',
  note: "64 characters, the last one 'g'.",
});
add({
  name: 'gen_empty_hash',
  scheme: 'hmac',
  init_data: replaceRaw(realistic.raw, 'hash', ''),
  expect_error: 'malformed_hash',
  note: '`hash=` is present but empty: a format error, not a missing hash.',
});
add({
  name: 'gen_missing_hash',
  scheme: 'hmac',
  init_data: realistic.raw.replace(/&hash=[0-9a-f]+$/, ''),
  expect_error: 'missing_hash',
});

// auth_date.
add({
  name: 'gen_missing_auth_date',
  scheme: 'hmac',
  init_data: signedRaw(basePairs().filter(([k]) => k !== 'auth_date')).raw,
  expect_error: 'missing_auth_date',
  note: 'Correctly signed, no auth_date.',
  why_python: 'aiogram checks only the signature, never auth_date',
});
for (const [label, rawValue, value] of [
  ['abc', 'abc', 'abc'],
  ['decimal', '1.5', '1.5'],
  ['negative', '-5', '-5'],
  ['plus_sign_encoded', '%2B5', '+5'],
  ['plus_decodes_to_space', '+5', ' 5'],
  ['empty', '', ''],
]) {
  const pairs = basePairs().map(([k, v]) => (k === 'auth_date' ? [k, value] : [k, v]));
  const { raw } = signedRaw(pairs);
  const name = `gen_invalid_auth_date_${label}`;
  const nodeParses = !Number.isNaN(parseInt(value, 10));
  add({
    name,
    scheme: 'hmac',
    init_data: replaceRaw(raw, 'auth_date', rawValue),
    expect_error: 'invalid_auth_date',
    note: `Correctly signed with auth_date ${JSON.stringify(value)} (raw ${JSON.stringify(rawValue)}); only a plain non-negative decimal integer is accepted.`,
    ...(nodeParses ? { why_node: `the library uses parseInt, which reads ${JSON.stringify(value)} as ${parseInt(value, 10)}` } : {}),
    why_python: value === '' ? 'aiogram drops the blank auth_date= and never checks auth_date' : 'aiogram checks only the signature, never auth_date',
  });
}
add({
  name: 'gen_future_auth_date_one_hour',
  scheme: 'hmac',
  init_data: realistic.raw,
  now: AUTH - 3600,
  expect_error: 'from_future',
  note: 'auth_date is one hour after now (allowed skew is 60 s).',
  why_node: 'the library has no check for auth_date in the future',
  why_python: 'aiogram checks only the signature, never auth_date',
});
add({
  name: 'gen_future_auth_date_at_skew_limit',
  scheme: 'hmac',
  init_data: realistic.raw,
  now: AUTH - 60,
  note: 'auth_date - now = 60: still accepted.',
});
add({
  name: 'gen_future_auth_date_past_skew_limit',
  scheme: 'hmac',
  init_data: realistic.raw,
  now: AUTH - 61,
  expect_error: 'from_future',
  note: 'auth_date - now = 61.',
  why_node: 'the library has no check for auth_date in the future',
  why_python: 'aiogram checks only the signature, never auth_date',
});
add({
  name: 'gen_expired',
  scheme: 'hmac',
  init_data: realistic.raw,
  now: AUTH + MAX_AGE + 1,
  expect_error: 'expired',
  note: 'now - auth_date = max_age + 1.',
  why_node: 'expiry is disabled for node_valid (expiresIn: 0); the signature is valid',
  why_python: 'aiogram checks only the signature, never auth_date',
});
add({
  name: 'gen_exactly_max_age',
  scheme: 'hmac',
  init_data: realistic.raw,
  now: AUTH + MAX_AGE,
  note: 'now - auth_date = max_age: still valid.',
});
add({
  name: 'gen_auth_date_zero',
  scheme: 'hmac',
  init_data: signedRaw(basePairs({ authDate: 0 })).raw,
  now: 30,
  note: 'auth_date=0 is a valid non-negative integer.',
});

// Signature.
add({
  name: 'gen_wrong_token',
  scheme: 'hmac',
  init_data: realistic.raw,
  bot_token: WRONG_TOKEN,
  expect_error: 'signature_mismatch',
});
add({
  name: 'gen_tampered_value',
  scheme: 'hmac',
  init_data: realistic.raw.replace('%22alex_doe%22', '%22alex_dou%22'),
  expect_error: 'signature_mismatch',
  note: 'username changed by one character after signing.',
});
add({
  name: 'gen_wrong_token_and_expired',
  scheme: 'hmac',
  init_data: realistic.raw,
  bot_token: WRONG_TOKEN,
  now: AUTH + MAX_AGE + 1000,
  expect_error: 'signature_mismatch',
  note: 'Both wrong: the signature is checked before auth_date.',
});
add({
  name: 'gen_malformed_hash_and_missing_auth_date',
  scheme: 'hmac',
  init_data: `query_id=${QUERY_ID}&hash=${'A'.repeat(64)}`,
  expect_error: 'malformed_hash',
  note: 'Both wrong: the hash format is checked before auth_date.',
});

// Encoding / structure.
{
  // Signed the way the libraries see it: %FF decodes to U+FFFD in both.
  const pairs = basePairs({ extra: [['start_param', 'ab\uFFFD']] });
  const { raw } = signedRaw(pairs);
  add({
    name: 'gen_invalid_utf8',
    scheme: 'hmac',
    init_data: replaceRaw(raw, 'start_param', 'ab%FF'),
    expect_error: 'malformed',
    note: "start_param=ab%FF is not UTF-8. Signed over 'ab\\uFFFD', which is what both libraries decode it to.",
    why_node: "URLSearchParams replaces invalid UTF-8 with U+FFFD instead of failing, and the hash was made over that",
    why_python: "parse_qsl decodes with errors='replace' (U+FFFD) instead of failing, and the hash was made over that",
  });
}
{
  const pairs = basePairs();
  const nodeView = [...pairs, ['flag', '']];
  add({
    name: 'gen_pair_without_equals',
    scheme: 'hmac',
    init_data: `${join(pairs)}&flag&hash=${hmacHex(dcs(nodeView))}`,
    expect_error: 'malformed',
    note: "'flag' has no '='. Signed with \"flag=\" in the string, the Node library's view of it.",
    why_node: "URLSearchParams reads 'flag' as key 'flag' with an empty value",
  });
}
{
  const pairs = basePairs();
  add({
    name: 'gen_empty_pair',
    scheme: 'hmac',
    init_data: `${join(pairs.slice(0, 2))}&&${join(pairs.slice(2))}&hash=${hmacHex(dcs(pairs))}`,
    expect_error: 'malformed',
    note: "'&&': an empty pair. Signed over the pairs without it.",
    why_node: 'URLSearchParams skips empty pairs',
  });
}
{
  const pairs = [...basePairs(), ['', 'x']];
  add({
    name: 'gen_empty_key',
    scheme: 'hmac',
    init_data: `${join(basePairs())}&=x&hash=${hmacHex(dcs(pairs))}`,
    expect_error: 'malformed',
    note: "'=x': a pair with an empty key. Signed with \"=x\" in the string.",
    why_node: "URLSearchParams accepts the empty key",
    why_python: 'parse_qsl accepts the empty key',
  });
}
add({
  name: 'gen_empty_input',
  scheme: 'hmac',
  init_data: '',
  expect_error: 'malformed',
});
{
  // Sizes around MAX_INIT_DATA_LEN, each correctly signed (long start_param).
  const sized = (len) => {
    const build = (n) => signedRaw(basePairs({ extra: [['start_param', 'x'.repeat(n)]] })).raw;
    const n = len - build(0).length;
    const raw = build(n);
    if (raw.length !== len) throw new Error(`size ${raw.length} != ${len}`);
    return raw;
  };
  add({
    name: 'gen_size_at_limit',
    scheme: 'hmac',
    init_data: sized(MAX_INIT_DATA_LEN),
    note: `Exactly ${MAX_INIT_DATA_LEN} bytes (miniapp-core's MAX_INIT_DATA_LEN): accepted.`,
  });
  add({
    name: 'gen_too_large',
    scheme: 'hmac',
    init_data: sized(MAX_INIT_DATA_LEN + 1),
    expect_error: 'too_large',
    note: `${MAX_INIT_DATA_LEN + 1} bytes, correctly signed.`,
    why_node: 'the library has no size limit',
    why_python: 'aiogram has no size limit',
  });
}
{
  // Pair counts around MAX_PAIRS (64, hash included), each correctly signed.
  const withPairs = (total) => {
    const fillers = Array.from({ length: total - 4 }, (_, i) => [`x${String(i).padStart(2, '0')}`, 'v']);
    return signedRaw(basePairs({ extra: fillers }), { withSignature: false }).raw;
  };
  add({
    name: 'gen_pairs_at_limit',
    scheme: 'hmac',
    init_data: withPairs(64),
    note: '64 pairs including hash (miniapp-core\'s MAX_PAIRS): accepted.',
  });
  add({
    name: 'gen_too_many_pairs',
    scheme: 'hmac',
    init_data: withPairs(65),
    expect_error: 'malformed',
    note: '65 pairs including hash, correctly signed.',
    why_node: 'the library has no pair limit',
    why_python: 'aiogram has no pair limit',
  });
}

// ---- Generated: Ed25519 scheme ----------------------------------------------------------------

add({
  name: 'gen_ed25519_realistic_full',
  scheme: 'ed25519',
  init_data: realistic.raw,
  note: 'The HMAC case gen_realistic_full, checked with the custom key: unpadded base64url signature, hash present and ignored.',
});
{
  const pairs = basePairs();
  const sig = ed25519Sig(pairs);
  add({
    name: 'gen_ed25519_padded',
    scheme: 'ed25519',
    init_data: `${join(pairs)}&signature=${sig}==`,
    note: "Padded base64url with literal '==' (the pair splits on the first '='); no hash pair.",
  });
  add({
    name: 'gen_ed25519_padded_percent_encoded',
    scheme: 'ed25519',
    init_data: `${join(pairs)}&signature=${sig}%3D%3D`,
    note: "Padding written as %3D%3D; no hash pair.",
  });
  add({
    name: 'gen_ed25519_unpadded_no_hash',
    scheme: 'ed25519',
    init_data: `${join(pairs)}&signature=${sig}`,
    note: 'ASSUMPTION: hash is not required by the ed25519 scheme.',
  });
  add({
    name: 'gen_ed25519_wrong_bot_id',
    scheme: 'ed25519',
    init_data: `${join(pairs)}&signature=${sig}`,
    bot_id: BOT_ID + 1,
    expect_error: 'signature_mismatch',
  });
  add({
    name: 'gen_ed25519_production_key_mismatch',
    scheme: 'ed25519',
    init_data: `${join(pairs)}&signature=${sig}`,
    public_key: 'production',
    expect_error: 'signature_mismatch',
    note: 'Signed with the custom key, checked with Telegram\'s production key.',
  });
  add({
    name: 'gen_ed25519_missing_signature',
    scheme: 'ed25519',
    init_data: signedRaw(pairs, { withSignature: false }).raw,
    expect_error: 'missing_signature',
    note: 'Valid hash, no signature.',
  });
  add({
    name: 'gen_ed25519_empty_signature',
    scheme: 'ed25519',
    init_data: `${join(pairs)}&signature=`,
    expect_error: 'malformed_signature',
    note: '`signature=` present but empty: a format error, not a missing signature.',
  });
  const bytes = Buffer.from(sig, 'base64url');
  add({
    name: 'gen_ed25519_truncated_signature',
    scheme: 'ed25519',
    init_data: `${join(pairs)}&signature=${bytes.subarray(0, 63).toString('base64url')}`,
    expect_error: 'malformed_signature',
    note: 'Valid base64url of 63 bytes.',
  });
  add({
    name: 'gen_ed25519_long_signature',
    scheme: 'ed25519',
    init_data: `${join(pairs)}&signature=${Buffer.concat([bytes, Buffer.from([0])]).toString('base64url')}`,
    expect_error: 'malformed_signature',
    note: 'Valid base64url of 65 bytes (the right signature plus a zero byte).',
  });
  add({
    name: 'gen_ed25519_garbage_signature',
    scheme: 'ed25519',
    init_data: `${join(pairs)}&signature=!!!!`,
    expect_error: 'malformed_signature',
  });
  // 86 characters carry 516 bits for 512: the last character's low 4 bits must be zero.
  const last = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const idx = last.indexOf(sig[85]);
  if (idx % 16 !== 0) throw new Error('unexpected trailing bits');
  add({
    name: 'gen_ed25519_non_canonical_trailing_bits',
    scheme: 'ed25519',
    init_data: `${join(pairs)}&signature=${sig.slice(0, 85)}${last[idx + 1]}`,
    expect_error: 'malformed_signature',
    note: `Last character '${sig[85]}' changed to '${last[idx + 1]}': the same 64 bytes for a lenient decoder, but non-zero trailing bits, which strict base64url (the base64 crate's default engines) rejects.`,
    why_python: "base64.urlsafe_b64decode ignores the trailing bits and decodes the right 64 bytes",
  });
  add({
    name: 'gen_ed25519_expired',
    scheme: 'ed25519',
    init_data: `${join(pairs)}&signature=${sig}`,
    now: AUTH + MAX_AGE + 1,
    expect_error: 'expired',
    why_python: 'aiogram checks only the signature, never auth_date',
  });
  add({
    name: 'gen_ed25519_from_future',
    scheme: 'ed25519',
    init_data: `${join(pairs)}&signature=${sig}`,
    now: AUTH - 3600,
    expect_error: 'from_future',
    why_python: 'aiogram checks only the signature, never auth_date',
  });
  add({
    name: 'gen_ed25519_hash_included_in_message',
    scheme: 'ed25519',
    init_data: (() => {
      const hash = hmacHex(dcs(pairs));
      const withHash = [...pairs, ['hash', hash]];
      return `${join(withHash)}&signature=${ed25519Sig(withHash, BOT_ID, ['signature'])}`;
    })(),
    expect_error: 'signature_mismatch',
    note: 'Signed over a message that wrongly includes the hash pair: the message must exclude hash.',
  });
  add({
    name: 'gen_ed25519_missing_auth_date',
    scheme: 'ed25519',
    init_data: (() => {
      const p = pairs.filter(([k]) => k !== 'auth_date');
      return `${join(p)}&signature=${ed25519Sig(p)}`;
    })(),
    expect_error: 'missing_auth_date',
    why_python: 'aiogram checks only the signature, never auth_date',
  });
}
{
  // Standard alphabet: pick (deterministically) a message whose signature has both '-' and '_'.
  let pairs;
  let sig;
  for (let i = 0; ; i += 1) {
    pairs = basePairs({ extra: [['start_param', `std${i}`]] });
    sig = ed25519Sig(pairs);
    if (sig.includes('-') && sig.includes('_')) break;
  }
  const std = sig.replaceAll('-', '+').replaceAll('_', '/');
  add({
    name: 'gen_ed25519_base_for_standard_alphabet',
    scheme: 'ed25519',
    init_data: `${join(pairs)}&signature=${sig}`,
    note: "The base64url signature of the next two cases (it contains both '-' and '_').",
  });
  add({
    name: 'gen_ed25519_standard_alphabet_percent_encoded',
    scheme: 'ed25519',
    init_data: `${join(pairs)}&signature=${std.replaceAll('+', '%2B').replaceAll('/', '%2F')}`,
    expect_error: 'malformed_signature',
    note: "The same signature in the standard alphabet, '+' and '/' percent-encoded so the decoded value really holds '+' and '/'.",
    why_python: "base64.urlsafe_b64decode also accepts '+' and '/'",
  });
  add({
    name: 'gen_ed25519_standard_alphabet_raw',
    scheme: 'ed25519',
    init_data: `${join(pairs)}&signature=${std}`,
    expect_error: 'malformed_signature',
    note: "Standard alphabet written raw: each '+' decodes to a space, '/' stays.",
  });
}

// ---------------------------------------------------------------------------------------------
// Node verdicts.

const originalNow = Date.now;
async function withNow(nowSec, fn) {
  Date.now = () => nowSec * 1000;
  try {
    return await fn();
  } finally {
    Date.now = originalNow;
  }
}

async function nodeVerdict(c, options) {
  if (c.scheme === 'hmac') return isValid(c.init_data, c.bot_token, options);
  if (c.public_key === 'production' || c.public_key === 'test') {
    return isValid3rd(c.init_data, c.bot_id, { ...options, test: c.public_key === 'test' });
  }
  return null; // the library has no way to pass a custom public key
}

const names = new Set();
for (const c of cases) {
  if (names.has(c.name)) throw new Error(`duplicate case name ${c.name}`);
  names.add(c.name);
  c.node_valid = await nodeVerdict(c, { expiresIn: 0 });
  c.node_valid_at_now = await withNow(c.now, () => nodeVerdict(c, { expiresIn: c.max_age }));
}

process.stdout.write(
  `${JSON.stringify(
    {
      node_package: `@telegram-apps/init-data-node@${NODE_PKG_VERSION}`,
      node: process.version,
      telegram_public_keys: PUBLIC_KEYS,
      custom_public_key: CUSTOM_PUBLIC_KEY,
      custom_seed: SEED_HEX,
      cases,
    },
    null,
    2,
  )}\n`,
);
