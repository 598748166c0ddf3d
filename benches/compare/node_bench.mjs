// Times the official Node libraries on the same work as our Rust benches (see README.md):
//   - @telegram-apps/init-data-node validate() on the realistic init data of
//     benches/init_data_verify.rs (same bot token, same pairs, signed the same way);
//   - stripe-node webhooks.constructEvent() on the exact bytes of
//     miniapp-stripe/tests/vectors/events/checkout.session.completed.paid.json.
// Prints ONE JSON object on stdout; anything else goes to stderr.
//
// Method: check that each call succeeds once, warm up (WARMUP calls), pick a batch size so that
// one batch takes about BATCH_TARGET_NS, then run batches for about MEASURE_NS and report the
// median over batches of (batch time / batch size), in nanoseconds per call.
//
// Run: bash benches/compare/run.sh (installs the pinned packages first), or, with node_modules
// present, `node benches/compare/node_bench.mjs` from any directory.

import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';

import { validate } from '@telegram-apps/init-data-node';
import Stripe from 'stripe';

const WARMUP = Number(process.env.BENCH_WARMUP ?? 20_000);
const MEASURE_NS = BigInt(Math.round(Number(process.env.BENCH_SECONDS ?? 3) * 1e9));
const BATCH_TARGET_NS = 10_000_000n; // ≈10 ms per batch → ≈300 batches in 3 s

// ---------------------------------------------------------------------------------------------
// Inputs.

// Same as benches/init_data_verify.rs. `\/` is literally backslash-slash inside the JSON.
const BOT_TOKEN = '7342037359:AAFZehRPBRs8Seg40oDjTMIW8uTGPuW1zfQ';
const USER =
  '{"id":279058397,"first_name":"Vladislav","last_name":"Kibenko","username":"vdkfrost",' +
  '"language_code":"ru","is_premium":true,"allows_write_to_pm":true,' +
  '"photo_url":"https:\\/\\/t.me\\/i\\/userpic\\/320\\/4FPEE4tmP3ATHa57u6MqTDih13LTOiMoKoLDRG4PnSA.svg"}';
const PAIRS = [
  ['user', USER],
  ['chat_instance', '8134722200314281151'],
  ['chat_type', 'private'],
  ['auth_date', '1733584787'],
];
const INIT_DATA_BYTES = 505; // what the Rust bench prints for its fixture

const STRIPE_SECRET = 'whsec_TeYq4EFn1z9rzq3Zz3+kk2vxWwEUm1U5';
const STRIPE_BODY_URL = new URL(
  '../../miniapp-stripe/tests/vectors/events/checkout.session.completed.paid.json',
  import.meta.url,
);

function die(msg) {
  console.error(`node_bench: ${msg}`);
  process.exit(1);
}

/** Signs PAIRS like miniapp_core::init_data::sign, independently of the library under test. */
function signInitData(pairs, token) {
  const secret = crypto.createHmac('sha256', 'WebAppData').update(token).digest();
  const dcs = pairs
    .map(([k, v]) => [k, `${k}=${v}`])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, line]) => line)
    .join('\n');
  const hash = crypto.createHmac('sha256', secret).update(dcs).digest('hex');
  const query = pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return `${query}&hash=${hash}`;
}

// ---------------------------------------------------------------------------------------------
// Timing.

function measure(name, fn) {
  for (let i = 0; i < WARMUP; i++) fn();

  // Batch size: double a probe until it takes at least BATCH_TARGET_NS, then take the fastest of
  // three probes of that size (a GC pause in one probe would otherwise shrink the batch).
  let probe = 16;
  const probeOnce = () => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < probe; i++) fn();
    return Number(process.hrtime.bigint() - t0);
  };
  while (probeOnce() < Number(BATCH_TARGET_NS) && probe < 1 << 24) probe *= 2;
  const probeNs = Math.min(probeOnce(), probeOnce(), probeOnce());
  const batch = Math.max(1, Math.round((probe * Number(BATCH_TARGET_NS)) / probeNs));

  const perCall = [];
  const start = process.hrtime.bigint();
  let now = start;
  while (now - start < MEASURE_NS || perCall.length < 5) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) fn();
    now = process.hrtime.bigint();
    perCall.push(Number(now - t0) / batch);
  }
  perCall.sort((a, b) => a - b);
  const mid = perCall.length >> 1;
  const median = perCall.length % 2 ? perCall[mid] : (perCall[mid - 1] + perCall[mid]) / 2;
  console.error(
    `node_bench: ${name}: median ${median.toFixed(1)} ns/call ` +
      `(min ${perCall[0].toFixed(1)}, max ${perCall[perCall.length - 1].toFixed(1)}, ` +
      `${perCall.length} batches × ${batch})`,
  );
  return {
    median,
    iterations: {
      warmup: WARMUP,
      batch_size: batch,
      batches: perCall.length,
      calls: batch * perCall.length,
      min_ns: round1(perCall[0]),
      max_ns: round1(perCall[perCall.length - 1]),
    },
  };
}

const round1 = (x) => Math.round(x * 10) / 10;

// ---------------------------------------------------------------------------------------------
// Init data: validate(initData, token, {expiresIn: 0}) returns undefined or throws.

const initData = signInitData(PAIRS, BOT_TOKEN);
if (Buffer.byteLength(initData) !== INIT_DATA_BYTES) {
  die(`init data is ${Buffer.byteLength(initData)} bytes, the Rust bench's is ${INIT_DATA_BYTES}`);
}
try {
  const r = validate(initData, BOT_TOKEN, { expiresIn: 0 });
  if (r !== undefined) die(`validate() returned ${r} (a promise?), expected undefined`);
} catch (e) {
  die(`@telegram-apps/init-data-node rejects the sample init data: ${e?.name}: ${e?.message}`);
}
// And it must reject a tampered one, so the timed call is a real check.
try {
  validate(initData.replace('chat_type=private', 'chat_type=group'), BOT_TOKEN, { expiresIn: 0 });
  die('validate() accepted tampered init data');
} catch (e) {
  if (e?.name !== 'SignatureInvalidError') die(`unexpected error on tampered init data: ${e?.name}`);
}

const initRes = measure('init_data validate', () => validate(initData, BOT_TOKEN, { expiresIn: 0 }));

// ---------------------------------------------------------------------------------------------
// Stripe: constructEvent(body, header, secret) with the default tolerance (300 s).

const body = readFileSync(STRIPE_BODY_URL); // Buffer: the exact bytes, as express.raw() gives them
const stripe = new Stripe('sk_test_miniapp_bench_no_network');
const header = stripe.webhooks.generateTestHeaderString({
  payload: body.toString('utf8'),
  secret: STRIPE_SECRET,
  timestamp: Math.floor(Date.now() / 1000),
});
{
  const ev = stripe.webhooks.constructEvent(body, header, STRIPE_SECRET);
  if (ev?.type !== 'checkout.session.completed' || typeof ev.id !== 'string') {
    die(`constructEvent returned an unexpected object: type=${ev?.type}`);
  }
  let rejected = false;
  try {
    stripe.webhooks.constructEvent(body, header, `${STRIPE_SECRET}x`);
  } catch (e) {
    rejected = e?.type === 'StripeSignatureVerificationError';
  }
  if (!rejected) die('constructEvent did not reject a wrong secret');
}

let sink = 0;
const stripeRes = measure('stripe constructEvent', () => {
  sink += stripe.webhooks.constructEvent(body, header, STRIPE_SECRET).id.length;
});
if (sink === 0) die('sink is 0');

// ---------------------------------------------------------------------------------------------

const pkgVersion = (name) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url), 'utf8')).version;

process.stdout.write(
  `${JSON.stringify({
    node: process.version,
    init_data_validate_ns: round1(initRes.median),
    stripe_construct_event_ns: round1(stripeRes.median),
    iterations: { init_data: initRes.iterations, stripe: stripeRes.iterations },
    packages: {
      '@telegram-apps/init-data-node': pkgVersion('@telegram-apps/init-data-node'),
      stripe: pkgVersion('stripe'),
    },
    inputs: {
      init_data_bytes: Buffer.byteLength(initData),
      init_data_sha256: crypto.createHash('sha256').update(initData).digest('hex'),
      stripe_body_bytes: body.length,
    },
  })}\n`,
);
