// Stage 1 of the webhook-signature vectors: defines every case, builds its
// Stripe-Signature header with stripe-node, and records what stripe-node's
// webhooks.constructEvent() says about it.  gen.py (stage 2) rebuilds every
// header with stripe-python, checks that both SDKs produced the same bytes,
// records stripe-python's verdict and writes webhook_signatures.json.
//
// Usage (generate.sh does this):
//   STRIPE_NODE_DIR=<dir with node_modules/stripe> node gen.mjs <vectors dir> <out.json>
//
// Header templates: a case's header is a string in which these tokens are
// replaced (arguments separated by ':'):
//   {HDR:<secret>:<t>}     whole header from webhooks.generateTestHeaderString({payload, secret, timestamp: t})
//   {SIG:<secret>:<lit>}   hex HMAC-SHA256 over `${lit}.${payload}`; from generateTestHeaderString when
//                          <lit> is a canonical positive integer, else from the SDK's crypto provider
//                          (computeHMACSignature), which is what the SDK verifies with
//   {SIGU:<secret>:<lit>}  the same, uppercased
//   {SIGRAW:<secret>:<lit>} HMAC over the raw body bytes (no UTF-8 decoding); plain node:crypto,
//                          because both SDKs decode the body to a string first
//   {SIGB64:<secret>:<lit>} HMAC keyed with the base64-DECODED part after "whsec_" (a common mistake)
//   {REPEAT:<n>:<text>}    <text> n times
// <payload> is the case's signed body: `signed_with` if given, else the delivered body.

import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const [vectorsDir, outPath] = process.argv.slice(2);
if (!vectorsDir || !outPath || !process.env.STRIPE_NODE_DIR) {
  console.error('usage: STRIPE_NODE_DIR=<dir> node gen.mjs <vectors dir> <out.json>');
  process.exit(2);
}
const nodeDir = process.env.STRIPE_NODE_DIR;
const require = createRequire(path.join(nodeDir, 'package.json'));
const Stripe = require('stripe');
const stripePkg = JSON.parse(
  fs.readFileSync(path.join(nodeDir, 'node_modules', 'stripe', 'package.json'), 'utf8'),
);
const stripe = new Stripe('sk_test_vectors_no_network');
const webhooks = stripe.webhooks;
const cryptoProvider = Stripe.createNodeCryptoProvider();
const SignatureError = Stripe.errors.StripeSignatureVerificationError;

// ---------------------------------------------------------------------------
// Fixed inputs
// ---------------------------------------------------------------------------

// Endpoint secrets look like Stripe's: "whsec_" + 32 base64 characters.
const secretOf = (label) =>
  'whsec_' + crypto.createHash('sha256').update(`miniapp-stripe vectors ${label}`).digest().subarray(0, 24).toString('base64');
const SECRETS = {
  primary: secretOf('primary'),
  secondary: secretOf('secondary'),
  wrong: secretOf('wrong'),
};
SECRETS.primary_nl = SECRETS.primary + '\n';

const T = 1795000000; // timestamp in the header of the ordinary cases
const NOW = T + 7; // verification happens 7 s after signing
const TOL = 300; // the SDKs' DEFAULT_TOLERANCE
const OLD = NOW - 3600;

const EVENTS = [
  'checkout.session.completed.paid',
  'checkout.session.completed.paid_adaptive',
  'checkout.session.completed.paid_adaptive_legacy',
  'checkout.session.completed.unpaid',
  'checkout.session.async_payment_succeeded',
  'checkout.session.async_payment_failed',
  'checkout.session.expired',
  'payment_intent.payment_failed',
  'charge.refunded.partial',
  'charge.refunded.full',
  'refund.created',
  'charge.refund.updated.failed',
  'refund.failed',
  'charge.dispute.created',
  'charge.dispute.closed.won',
  'charge.dispute.closed.lost',
  'customer.created',
];
const PAID = 'events/checkout.session.completed.paid.json';
const paidBody = fs.readFileSync(path.join(vectorsDir, PAID), 'utf8');

const WRONG_HEX = 'ab'.repeat(32);
const INLINE = '{"id":"evt_inline_0001","object":"event","type":"customer.created"}';
const INLINE_UTF8 = '{"id":"evt_inline_0002","object":"event","data":{"object":{"name":"Café ☕ Zoë","description":"日本語 — ñ"}}}';

// ---------------------------------------------------------------------------
// Cases.  expect_* is what OUR verifier must say (see README.md for the rules);
// node/python verdicts are measured, never written by hand.
// ---------------------------------------------------------------------------

const ok = (note) => ({ expect_valid: true, expect_error: null, note });
const bad = (expect_error, note) => ({ expect_valid: false, expect_error, note });

const cases = [];
const add = (c) => cases.push({ payload_file: null, payload: null, signed_with: null, secrets: ['primary'], tolerance: TOL, now: NOW, ...c });

// --- valid: one per event file --------------------------------------------
for (const e of EVENTS) {
  add({
    name: 'valid_' + e.replaceAll('.', '_'),
    payload_file: `events/${e}.json`,
    header: `{HDR:primary:${T}}`,
    ...ok('Header from generateTestHeaderString / generate_signature_header; body is the file\'s exact bytes.'),
  });
}

// --- valid: header shapes ---------------------------------------------------
add({ name: 'valid_inline_payload', payload: INLINE, header: `{HDR:primary:${T}}`, ...ok('Small inline body.') });
add({
  name: 'valid_inline_payload_non_ascii', payload: INLINE_UTF8, header: `{HDR:primary:${T}}`,
  ...ok('Body with non-ASCII UTF-8: the HMAC is over the UTF-8 bytes.'),
});
add({ name: 'valid_keys_reordered', payload_file: PAID, header: `v1={SIG:primary:${T}},t=${T}`, ...ok('v1 before t: item order does not matter.') });
add({
  name: 'valid_with_v0_and_unknown_keys', payload_file: PAID,
  header: `t=${T},v1={SIG:primary:${T}},v0={SIG:wrong:${T}},v2=deadbeef,foo=bar`,
  ...ok('v0 and unknown keys are ignored.'),
});
add({
  name: 'valid_several_v1_right_one_first', payload_file: PAID,
  header: `t=${T},v1={SIG:primary:${T}},v1={SIG:wrong:${T}}`, ...ok('Several v1: accepted if any matches.'),
});
add({
  name: 'valid_several_v1_right_one_last', payload_file: PAID,
  header: `t=${T},v1={SIG:wrong:${T}},v1=${WRONG_HEX},v1={SIG:primary:${T}}`, ...ok('Several v1: accepted if any matches.'),
});
add({
  name: 'valid_header_signed_by_two_secrets_while_rolling', payload_file: PAID,
  header: `t=${T},v1={SIG:secondary:${T}},v1={SIG:primary:${T}}`,
  ...ok('While an endpoint secret is being rolled Stripe sends one v1 per active secret; we know only the old one.'),
});
add({
  name: 'rotation_two_secrets_signed_with_second', payload_file: PAID, secrets: ['primary', 'secondary'],
  header: `{HDR:secondary:${T}}`,
  ...ok('Two configured secrets, header signed with the second: valid. SDKs: called once per secret, valid if any call succeeds.'),
});
add({
  name: 'rotation_two_secrets_signed_with_first', payload_file: PAID, secrets: ['primary', 'secondary'],
  header: `{HDR:primary:${T}}`, ...ok('Two configured secrets, header signed with the first.'),
});
add({
  name: 'valid_trailing_comma', payload_file: PAID, header: `t=${T},v1={SIG:primary:${T}},`,
  ...ok('Empty items (here a trailing comma) are ignored.'),
});
add({
  name: 'valid_empty_item_in_middle', payload_file: PAID, header: `t=${T},,v1={SIG:primary:${T}}`,
  ...ok('Empty items are ignored.'),
});
add({
  name: 'valid_item_without_equals_ignored', payload_file: PAID, header: `t=${T},v1={SIG:primary:${T}},garbage`,
  ...ok('An item without "=" whose key is neither t nor v1 is ignored (both SDKs ignore it).'),
});
add({
  name: 'valid_many_wrong_v1_then_right', payload_file: PAID,
  header: `t=${T},{REPEAT:64:v1=${WRONG_HEX},}v1={SIG:primary:${T}}`,
  ...ok('65 v1 items, the last one right (about 4.4 KB). A cap on the number of v1 items, if any, must be above 65.'),
});

// --- timestamps -------------------------------------------------------------
add({
  name: 'timestamp_exactly_at_tolerance', payload_file: PAID, header: `{HDR:primary:${NOW - TOL}}`,
  ...ok('now - t == tolerance: still valid (both SDKs reject only when now - t > tolerance).'),
});
add({
  name: 'timestamp_tolerance_plus_one', payload_file: PAID, header: `{HDR:primary:${NOW - TOL - 1}}`,
  ...bad('timestamp_out_of_tolerance', 'now - t == tolerance + 1.'),
});
add({
  name: 'timestamp_old_one_hour', payload_file: PAID, header: `{HDR:primary:${OLD}}`,
  ...bad('timestamp_out_of_tolerance', 'Valid signature, one hour old.'),
});
add({
  name: 'timestamp_old_and_wrong_signature', payload_file: PAID, header: `{HDR:wrong:${OLD}}`,
  ...bad('signature_mismatch', 'Both wrong: the SDKs check the signature before the timestamp, so the error is the signature.'),
});
add({
  name: 'timestamp_old_and_no_v1', payload_file: PAID, header: `t=${OLD}`,
  ...bad('no_signatures', 'Both wrong: "no signatures" comes before the timestamp check.'),
});
add({
  name: 'timestamp_future_1000s', payload_file: PAID, header: `{HDR:primary:${NOW + 1000}}`,
  ...ok('t = now + 1000. Neither SDK bounds future timestamps (age is negative, never > tolerance).'),
});
add({
  name: 'timestamp_future_year_2100', payload_file: PAID, header: `{HDR:primary:4102444800}`,
  ...ok('t far in the future (2100-01-01): still accepted, as by both SDKs.'),
});
add({
  name: 'tolerance_1_age_2', payload_file: PAID, tolerance: 1, header: `{HDR:primary:${NOW - 2}}`,
  ...bad('timestamp_out_of_tolerance', 'Tolerance 1 s, age 2 s.'),
});
add({
  name: 'tolerance_0_old_timestamp', payload_file: PAID, tolerance: 0, header: `{HDR:primary:${OLD}}`,
  ...ok('Tolerance 0 disables the timestamp check in both SDKs (stripe-node since 23.0.0: before, 0 meant the default 300).'),
});
add({
  name: 'tolerance_0_ten_years_old', payload_file: PAID, tolerance: 0, header: `{HDR:primary:${NOW - 315360000}}`,
  ...ok('Tolerance 0: no age limit at all.'),
});
add({
  name: 't_zero_tolerance_0', payload_file: PAID, tolerance: 0, header: `t=0,v1={SIG:primary:0}`,
  ...ok('t=0 is a valid non-negative integer. (generateTestHeaderString({timestamp: 0}) cannot make this header: 0 is falsy and it signs with the current time instead.)'),
});
add({
  name: 't_zero_default_tolerance', payload_file: PAID, header: `t=0,v1={SIG:primary:0}`,
  ...bad('timestamp_out_of_tolerance', 't=0 with tolerance 300.'),
});

// --- body -------------------------------------------------------------------
add({
  name: 'tampered_body_one_byte', payload: paidBody.replace('"amount_total": 2500', '"amount_total": 2501'),
  signed_with: PAID, header: `{HDR:primary:${T}}`,
  ...bad('signature_mismatch', 'Header signed over the paid event; delivered body has amount_total 2501 (one byte changed).'),
});
add({
  name: 'tampered_body_reserialized_compact', payload: JSON.stringify(JSON.parse(paidBody)),
  signed_with: PAID, header: `{HDR:primary:${T}}`,
  ...bad('signature_mismatch', 'Same JSON value, re-serialized without whitespace: the signature is over bytes, not over the JSON value.'),
});
add({
  name: 'tampered_body_trailing_newline', payload: paidBody + '\n', signed_with: PAID, header: `{HDR:primary:${T}}`,
  ...bad('signature_mismatch', 'A trailing newline added to the body.'),
});
add({
  name: 'empty_body_valid_signature', payload: '', header: `{HDR:primary:${T}}`,
  ...ok('Empty body with a correct signature over "t.": the signature is valid; both SDKs then fail to parse JSON (recorded as crash). Parsing is not the verifier\'s job.'),
});
add({
  name: 'non_json_body_valid_signature', payload: 'hello', header: `{HDR:primary:${T}}`,
  ...ok('Non-JSON body with a correct signature: valid signature; the SDKs crash parsing JSON afterwards.'),
});
add({
  name: 'invalid_utf8_body_signed_over_raw_bytes', payload_file: 'bodies/invalid_utf8.bin', header: `t=${T},v1={SIGRAW:primary:${T}}`,
  ...ok('Body is not UTF-8 (Stripe never sends such a body). HMAC over the raw bytes: valid for us. stripe-node decodes the body with U+FFFD replacement first (so it computes a different HMAC); stripe-python raises UnicodeDecodeError.'),
});

// --- secrets ------------------------------------------------------------------
add({ name: 'wrong_secret', payload_file: PAID, header: `{HDR:wrong:${T}}`, ...bad('signature_mismatch', 'Signed with a secret we do not have.') });
add({
  name: 'rotation_old_secret_removed', payload_file: PAID, secrets: ['secondary'], header: `{HDR:primary:${T}}`,
  ...bad('signature_mismatch', 'Only the new secret is configured; header signed with the old one only.'),
});
add({
  name: 'configured_secret_has_trailing_newline', payload_file: PAID, secrets: ['primary_nl'], header: `{HDR:primary:${T}}`,
  ...bad('signature_mismatch', 'The configured secret is used verbatim; trim secrets when loading configuration, not in the verifier. (stripe-node adds a whitespace hint to its message.)'),
});
add({
  name: 'v1_keyed_with_base64_decoded_secret', payload_file: PAID, header: `t=${T},v1={SIGB64:primary:${T}}`,
  ...bad('signature_mismatch', 'HMAC keyed with base64-decode(secret minus "whsec_") (the Svix/Standard-Webhooks convention) is NOT Stripe\'s: the key is the whole "whsec_..." string as bytes.'),
});

// --- v1 values ------------------------------------------------------------------
add({ name: 'missing_v1', payload_file: PAID, header: `t=${T}`, ...bad('no_signatures', 'No v1 item.') });
add({ name: 'only_v0', payload_file: PAID, header: `t=${T},v0={SIG:primary:${T}}`, ...bad('no_signatures', 'Only v0, even though it carries the correct HMAC: v0 is ignored.') });
add({ name: 'only_unknown_scheme_v2', payload_file: PAID, header: `t=${T},v2={SIG:primary:${T}}`, ...bad('no_signatures', 'Only an unknown scheme.') });
add({
  name: 'empty_v1', payload_file: PAID, header: `t=${T},v1=`,
  ...bad('signature_mismatch', 'v1 present but empty. stripe-node throws a plain Error ("secureCompare must receive two arguments").'),
});
add({
  name: 'empty_v1_and_valid_v1', payload_file: PAID, header: `t=${T},v1=,v1={SIG:primary:${T}}`,
  ...ok('An empty v1 next to a correct one: valid (any v1 may match). stripe-node still throws on the empty one.'),
});
add({
  name: 'bare_v1_without_equals', payload_file: PAID, header: `t=${T},v1`,
  ...bad('malformed_header', 'Item "v1" with no "=": stripe-python says it cannot parse the header; stripe-node throws a plain Error. We follow stripe-python.'),
});
add({
  name: 'bare_v1_without_equals_and_valid_v1', payload_file: PAID, header: `t=${T},v1,v1={SIG:primary:${T}}`,
  ...bad('malformed_header', 'A bare "v1" makes the header malformed even next to a correct v1 (stripe-python: unparseable; stripe-node: throws).'),
});
add({ name: 'non_hex_v1', payload_file: PAID, header: `t=${T},v1=${'z'.repeat(64)}`, ...bad('signature_mismatch', '64 non-hex characters.') });
add({
  name: 'non_ascii_v1_64_chars', payload_file: PAID, header: `t=${T},v1=${'é'.repeat(64)}`,
  ...bad('signature_mismatch', '64 x "é": same character count as a signature, 128 bytes. stripe-node: RangeError from timingSafeEqual; stripe-python: TypeError from hmac.compare_digest (non-ASCII str).'),
});
add({
  name: 'non_ascii_v1_short', payload_file: PAID, header: `t=${T},v1=é…`,
  ...bad('signature_mismatch', 'v1=é… : stripe-node compares lengths first (false); stripe-python raises TypeError.'),
});
add({
  name: 'non_ascii_v1_then_valid_v1', payload_file: PAID, header: `t=${T},v1=é…,v1={SIG:primary:${T}}`,
  ...ok('A non-ASCII v1 before the correct one: valid. stripe-python raises TypeError on the first comparison (any() stops there).'),
});
add({ name: 'uppercase_hex_v1', payload_file: PAID, header: `t=${T},v1={SIGU:primary:${T}}`, ...bad('signature_mismatch', 'Right HMAC in uppercase hex: both SDKs compare strings exactly.') });
add({ name: 'truncated_v1', payload_file: PAID, header: `t=${T},v1={SIG:primary:${T}}`, truncate_v1: true, ...bad('signature_mismatch', 'Right HMAC minus its last hex digit.') });
add({
  name: 'v1_value_with_trailing_equals', payload_file: PAID, header: `t=${T},v1={SIG:primary:${T}}=`,
  ...bad('signature_mismatch', '"v1=<right>=": we split on the first "=" only, so the value is "<right>=". Both SDKs take the text between the first and second "=" and accept it.'),
});

// --- t values -------------------------------------------------------------------
add({ name: 'missing_t', payload_file: PAID, header: `v1={SIG:primary:${T}}`, ...bad('malformed_header', 'No t item.') });
add({
  name: 'duplicate_t_same_value', payload_file: PAID, header: `t=${T},t=${T},v1={SIG:primary:${T}}`,
  ...bad('malformed_header', 't twice (same value): both SDKs accept; our rule: t exactly once.'),
});
add({
  name: 'duplicate_t_current_then_old', payload_file: PAID, header: `t=${T},t=${OLD},v1={SIG:primary:${T}}`,
  ...bad('malformed_header', 't twice: stripe-python uses the FIRST t (valid here), stripe-node the LAST (signature mismatch here).'),
});
add({
  name: 'duplicate_t_old_then_current', payload_file: PAID, header: `t=${OLD},t=${T},v1={SIG:primary:${T}}`,
  ...bad('malformed_header', 't twice, other order: stripe-node valid, stripe-python mismatch.'),
});
add({ name: 't_empty', payload_file: PAID, header: `t=,v1={SIG:primary:${T}}`, ...bad('malformed_header', '"t=": stripe-node parses NaN and signs "NaN.<body>"; stripe-python cannot parse.') });
add({
  name: 't_empty_with_nan_signature', payload_file: PAID, header: `t=,v1={SIG:primary:NaN}`,
  ...bad('malformed_header', 'stripe-node quirk: parseInt("") is NaN, which is not its -1 "missing" marker, so it verifies HMAC("NaN.<body>") and skips the age check (NaN > 300 is false). Must be rejected.'),
});
add({
  name: 't_non_numeric_with_nan_signature', payload_file: PAID, header: `t=abc,v1={SIG:primary:NaN}`,
  ...bad('malformed_header', 'Same stripe-node NaN quirk with t=abc.'),
});
add({
  name: 't_numeric_prefix_garbage_suffix', payload_file: PAID, header: `t=${T}abc,v1={SIG:primary:${T}}`,
  ...bad('malformed_header', 'stripe-node: parseInt stops at "a" and accepts; stripe-python: int() fails.'),
});
add({
  name: 't_decimal_fraction', payload_file: PAID, header: `t=${T}.5,v1={SIG:primary:${T}}`,
  ...bad('malformed_header', 'stripe-node: parseInt("….5") drops the fraction and accepts; stripe-python: int() fails.'),
});
add({
  name: 't_with_trailing_equals_suffix', payload_file: PAID, header: `t=${T}=0,v1={SIG:primary:${T}}`,
  ...bad('malformed_header', '"t=<T>=0": our value is "<T>=0" (split on the first "="); both SDKs read only "<T>" and accept.'),
});
add({
  name: 't_plus_sign', payload_file: PAID, header: `t=+${T},v1={SIG:primary:${T}}`,
  ...bad('malformed_header', 'Both SDKs accept "+<T>" (signed over the canonical "<T>"); our t is ASCII digits only.'),
});
add({
  name: 't_with_underscores', payload_file: PAID, header: `t=1_795_000_000,v1={SIG:primary:${T}}`,
  ...bad('malformed_header', 'Python int() accepts underscores (stripe-python valid); parseInt stops at "_" (t=1, mismatch).'),
});
add({
  name: 't_non_ascii_digits', payload_file: PAID, header: `t=${String(T).replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d)))},v1={SIG:primary:${T}}`,
  ...bad('malformed_header', 'Full-width digits: Python int() accepts them (stripe-python valid), parseInt gives NaN.'),
});
add({
  name: 't_leading_zeros_signed_canonical', payload_file: PAID, header: `t=000${T},v1={SIG:primary:${T}}`,
  ...ok('"t=000<T>": both SDKs parse the integer and sign "<T>.<body>" (canonical decimal). We mirror that: HMAC over the canonical decimal of the parsed t.'),
});
add({
  name: 't_leading_zeros_signed_raw', payload_file: PAID, header: `t=000${T},v1={SIG:primary:000${T}}`,
  ...bad('signature_mismatch', 'Same header, v1 over the raw "000<T>.<body>": rejected by both SDKs and by us.'),
});
add({
  name: 't_i64_max', payload_file: PAID, header: `t=9223372036854775807,v1={SIG:primary:9223372036854775807}`,
  ...ok('t = i64::MAX (far future): valid for us and stripe-python; stripe-node loses precision (parseInt returns a double that prints as 9223372036854776000) and so computes the HMAC over a different string.'),
});
add({
  name: 't_i64_max_plus_one', payload_file: PAID, header: `t=9223372036854775808,v1={SIG:primary:9223372036854775808}`,
  ...bad('malformed_header', 't does not fit in i64: malformed for us; stripe-python accepts (big int), stripe-node mismatch.'),
});
add({
  name: 't_huge_20_digits', payload_file: PAID, header: `t=99999999999999999999,v1={SIG:primary:99999999999999999999}`,
  ...bad('malformed_header', 't=99999999999999999999 (> u64::MAX): malformed for us; stripe-python accepts it, stripe-node parses 1e20 and mismatches.'),
});
add({
  name: 't_4096_digits', payload_file: PAID, header: `t=${'9'.repeat(4096)},v1={SIG:primary:${T}}`,
  ...bad('malformed_header', 'A 4 KB t value: must not overflow or panic.'),
});
add({
  name: 't_negative', payload_file: PAID, header: `t=-100,v1={SIG:primary:-100}`,
  ...bad('malformed_header', 'Negative t: both SDKs parse it, verify HMAC("-100.<body>") and then reject it as too old.'),
});
add({
  name: 't_negative_tolerance_0', payload_file: PAID, tolerance: 0, header: `t=-100,v1={SIG:primary:-100}`,
  ...bad('malformed_header', 'Negative t with tolerance 0: both SDKs accept; we require a non-negative integer.'),
});
add({
  name: 't_minus_one_tolerance_0', payload_file: PAID, tolerance: 0, header: `t=-1,v1={SIG:primary:-1}`,
  ...bad('malformed_header', 't=-1: stripe-node treats -1 as its "no timestamp" marker (cannot parse); stripe-python accepts with tolerance 0.'),
});
add({
  name: 'bare_t_without_equals', payload_file: PAID, header: `t,v1={SIG:primary:${T}}`,
  ...bad('malformed_header', 'Item "t" with no "=": stripe-python cannot parse; stripe-node reads NaN and mismatches.'),
});
add({ name: 'uppercase_keys', payload_file: PAID, header: `T=${T},V1={SIG:primary:${T}}`, ...bad('malformed_header', 'Keys are case-sensitive: no t.') });

// --- whitespace -------------------------------------------------------------------
add({
  name: 'space_after_comma', payload_file: PAID, header: `t=${T}, v1={SIG:primary:${T}}`,
  ...bad('no_signatures', 'Both SDKs: the key is " v1", not "v1", so there is no signature. We do not trim either.'),
});
add({
  name: 'space_after_comma_before_t', payload_file: PAID, header: `v1={SIG:primary:${T}}, t=${T}`,
  ...bad('malformed_header', 'Key " t" is not "t": no timestamp (both SDKs).'),
});
add({
  name: 'tab_after_comma', payload_file: PAID, header: `t=${T},\tv1={SIG:primary:${T}}`,
  ...bad('no_signatures', 'Same with a tab.'),
});
add({
  name: 'space_before_comma', payload_file: PAID, header: `t=${T} ,v1={SIG:primary:${T}}`,
  ...bad('malformed_header', '"t=<T> ": both SDKs accept (parseInt/int() ignore surrounding whitespace); not a digits-only t for us.'),
});
add({
  name: 'space_after_t_equals', payload_file: PAID, header: `t= ${T},v1={SIG:primary:${T}}`,
  ...bad('malformed_header', '"t= <T>": both SDKs accept; not a digits-only t for us.'),
});
add({
  name: 'leading_space_in_header', payload_file: PAID, header: ` t=${T},v1={SIG:primary:${T}}`,
  ...bad('malformed_header', 'Leading space: the first key is " t" (both SDKs: no timestamp).'),
});
add({
  name: 'trailing_space_in_header', payload_file: PAID, header: `t=${T},v1={SIG:primary:${T}} `,
  ...bad('signature_mismatch', 'Trailing space: the v1 value is "<hex> " (both SDKs: mismatch).'),
});
add({
  name: 'trailing_crlf_in_header', payload_file: PAID, header: `t=${T},v1={SIG:primary:${T}}\r\n`,
  ...bad('signature_mismatch', 'Trailing CRLF left on the value: mismatch.'),
});
add({
  name: 'whitespace_around_header_v1_first', payload_file: PAID, header: ` v1={SIG:primary:${T}},t=${T} `,
  ...bad('malformed_header', 'Key " v1" and t value "<T> ": the SDKs parse t and report no signatures; for us t is not digits-only, and a bad t is reported first.'),
});

// --- garbage / missing -----------------------------------------------------------
add({ name: 'header_missing', payload_file: PAID, header: null, ...bad('missing_header', 'No Stripe-Signature header at all.') });
add({
  name: 'header_empty_string', payload_file: PAID, header: '',
  ...bad('malformed_header', 'Empty header value. Both SDKs report it like a missing header ("No stripe-signature header value was provided"); our class is malformed_header.'),
});
add({ name: 'header_whitespace_only', payload_file: PAID, header: ' ', ...bad('malformed_header', 'A single space.') });
add({ name: 'header_garbage_word', payload_file: PAID, header: 'garbage', ...bad('malformed_header', '"garbage".') });
add({ name: 'header_commas_only', payload_file: PAID, header: ',,,', ...bad('malformed_header', '",,,".') });
add({ name: 'header_t_equals_only', payload_file: PAID, header: 't=', ...bad('malformed_header', '"t=": stripe-node reports no signatures (t parsed as NaN), stripe-python cannot parse.') });
add({ name: 'header_equals_only', payload_file: PAID, header: '=', ...bad('malformed_header', '"=".') });
add({ name: 'header_very_long_garbage', payload_file: PAID, header: '{REPEAT:16384:a}', ...bad('malformed_header', '16 KB of "a".') });
add({
  name: 'header_very_long_all_wrong_v1', payload_file: PAID, header: `t=${T},{REPEAT:256:v1=${WRONG_HEX},}v1=${WRONG_HEX}`,
  ...bad('signature_mismatch', '257 wrong v1 items (about 17 KB).'),
});

// ---------------------------------------------------------------------------
// Template expansion with stripe-node
// ---------------------------------------------------------------------------

const CANONICAL_INT = /^[1-9][0-9]*$/;

function sig(secretName, lit, bodyStr) {
  const secret = SECRETS[secretName];
  if (CANONICAL_INT.test(lit) && Number.isSafeInteger(Number(lit))) {
    const h = webhooks.generateTestHeaderString({ payload: bodyStr, secret, timestamp: Number(lit) });
    const prefix = `t=${lit},v1=`;
    if (!h.startsWith(prefix)) throw new Error(`unexpected generateTestHeaderString output ${h}`);
    return h.slice(prefix.length);
  }
  return cryptoProvider.computeHMACSignature(`${lit}.${bodyStr}`, secret);
}

function expand(template, signedBytes) {
  const bodyStr = new TextDecoder('utf-8').decode(signedBytes);
  return template.replace(/\{(HDR|SIG|SIGU|SIGRAW|SIGB64|REPEAT):([^}]*)\}/g, (_, kind, args) => {
    const i = args.indexOf(':');
    const a = args.slice(0, i);
    const b = args.slice(i + 1);
    switch (kind) {
      case 'HDR':
        return webhooks.generateTestHeaderString({ payload: bodyStr, secret: SECRETS[a], timestamp: Number(b) });
      case 'SIG':
        return sig(a, b, bodyStr);
      case 'SIGU':
        return sig(a, b, bodyStr).toUpperCase();
      case 'SIGRAW':
        return crypto.createHmac('sha256', SECRETS[a]).update(Buffer.concat([Buffer.from(`${b}.`), signedBytes])).digest('hex');
      case 'SIGB64':
        return crypto.createHmac('sha256', Buffer.from(SECRETS[a].slice('whsec_'.length), 'base64')).update(`${b}.${bodyStr}`, 'utf8').digest('hex');
      case 'REPEAT':
        return b.repeat(Number(a));
      default:
        throw new Error(kind);
    }
  });
}

// ---------------------------------------------------------------------------
// stripe-node verdicts
// ---------------------------------------------------------------------------

const firstLine = (e) => `${e.constructor.name}: ${String(e.message).split('\n')[0].trim()}`;

function verifyOnly(body, header, secret, tolerance) {
  try {
    webhooks.signature.verifyHeader(body, header, secret, tolerance);
    return 'true';
  } catch (e) {
    return e instanceof SignatureError ? 'false' : 'crash';
  }
}

// Several secrets: constructEvent once per secret; valid if any call returns an
// event; otherwise "crash" if any call threw something other than
// StripeSignatureVerificationError; otherwise false.
function nodeVerdict(body, header, secrets, tolerance, now) {
  const realNow = Date.now;
  Date.now = () => now * 1000;
  try {
    const errors = [];
    let crashed = false;
    for (const secret of secrets) {
      try {
        webhooks.constructEvent(body, header === null ? undefined : header, secret, tolerance);
        return { valid: true, error: null };
      } catch (e) {
        if (e instanceof SignatureError) {
          errors.push(firstLine(e));
        } else {
          crashed = true;
          const v = verifyOnly(body, header === null ? undefined : header, secret, tolerance);
          errors.push(`${firstLine(e)} [signature.verifyHeader alone: ${v}]`);
        }
      }
    }
    return { valid: crashed ? 'crash' : false, error: [...new Set(errors)].join(' | ') };
  } finally {
    Date.now = realNow;
  }
}

// ---------------------------------------------------------------------------

const names = new Set();
const out = [];
for (const c of cases) {
  if (names.has(c.name)) throw new Error(`duplicate case name ${c.name}`);
  names.add(c.name);
  if (!/^[a-z0-9_]+$/.test(c.name)) throw new Error(`bad case name ${c.name}`);
  const body = c.payload_file !== null
    ? fs.readFileSync(path.join(vectorsDir, c.payload_file))
    : Buffer.from(c.payload, 'utf8');
  const signed = c.signed_with !== null ? fs.readFileSync(path.join(vectorsDir, c.signed_with)) : body;
  let header = c.header === null ? null : expand(c.header, signed);
  if (c.truncate_v1) header = header.slice(0, -1);
  const secrets = c.secrets.map((s) => SECRETS[s]);
  const verdict = nodeVerdict(body, header, secrets, c.tolerance, c.now);
  out.push({
    name: c.name,
    payload_file: c.payload_file,
    payload: c.payload,
    signed_with: c.signed_with,
    header_template: c.header,
    truncate_v1: Boolean(c.truncate_v1),
    header,
    secret_names: c.secrets,
    secrets,
    tolerance: c.tolerance,
    now: c.now,
    node_valid: verdict.valid,
    node_error: verdict.error,
    expect_valid: c.expect_valid,
    expect_error: c.expect_error,
    note: c.note,
  });
}

fs.writeFileSync(outPath, JSON.stringify({
  node_package: `stripe@${stripePkg.version}`,
  node: process.version,
  api_version: Stripe.API_VERSION,
  secrets: SECRETS,
  cases: out,
}, null, 2));
console.error(`gen.mjs: ${out.length} cases verified with stripe@${stripePkg.version} (${process.version})`);
