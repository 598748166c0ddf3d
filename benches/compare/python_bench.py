"""Times the official Python libraries on the same work as our Rust benches (see README.md).

- aiogram ``aiogram.utils.web_app.check_webapp_signature(token, init_data)`` on the realistic
  init data of benches/init_data_verify.rs (same bot token, same pairs, signed the same way);
- stripe-python ``stripe.Webhook.construct_event(payload, sig_header, secret)`` on the exact
  bytes of miniapp-stripe/tests/vectors/events/checkout.session.completed.paid.json.

Prints ONE JSON object on stdout; anything else goes to stderr.

Method: check that each call succeeds once, warm up (at least WARMUP_MIN calls and WARMUP_S
seconds), pick a batch size so that one batch takes about 10 ms, run batches for about
BENCH_SECONDS and report the median over batches of (batch time / batch size) in ns per call.

Run: bash benches/compare/run.sh (makes the venv with the pinned packages first).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import platform
import statistics
import sys
import time
from importlib.metadata import version
from pathlib import Path
from urllib.parse import quote

import stripe
from aiogram.utils.web_app import check_webapp_signature

WARMUP_MIN = int(os.environ.get("BENCH_PY_WARMUP", "2000"))
WARMUP_S = 0.5
MEASURE_NS = int(float(os.environ.get("BENCH_SECONDS", "3")) * 1e9)
BATCH_TARGET_NS = 10_000_000

# Same as benches/init_data_verify.rs. `\/` is literally backslash-slash inside the JSON.
BOT_TOKEN = "7342037359:AAFZehRPBRs8Seg40oDjTMIW8uTGPuW1zfQ"
USER = (
    '{"id":279058397,"first_name":"Vladislav","last_name":"Kibenko","username":"vdkfrost",'
    '"language_code":"ru","is_premium":true,"allows_write_to_pm":true,'
    r'"photo_url":"https:\/\/t.me\/i\/userpic\/320\/4FPEE4tmP3ATHa57u6MqTDih13LTOiMoKoLDRG4PnSA.svg"}'
)
PAIRS = [
    ("user", USER),
    ("chat_instance", "8134722200314281151"),
    ("chat_type", "private"),
    ("auth_date", "1733584787"),
]
INIT_DATA_BYTES = 505  # what the Rust bench prints for its fixture

STRIPE_SECRET = "whsec_TeYq4EFn1z9rzq3Zz3+kk2vxWwEUm1U5"
STRIPE_BODY = (
    Path(__file__).resolve().parent.parent.parent
    / "miniapp-stripe/tests/vectors/events/checkout.session.completed.paid.json"
)


def die(msg: str) -> None:
    print(f"python_bench: {msg}", file=sys.stderr)
    sys.exit(1)


def enc(s: str) -> str:
    """encodeURIComponent: leaves A-Z a-z 0-9 - _ . ! ~ * ' ( ) unescaped."""
    return quote(s, safe="-_.!~*'()")


def sign_init_data(pairs: list[tuple[str, str]], token: str) -> str:
    """Signs like miniapp_core::init_data::sign, independently of the library under test."""
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    dcs = "\n".join(f"{k}={v}" for k, v in sorted(pairs, key=lambda kv: kv[0]))
    digest = hmac.new(secret, dcs.encode(), hashlib.sha256).hexdigest()
    return "&".join(f"{enc(k)}={enc(v)}" for k, v in pairs) + f"&hash={digest}"


def measure(name: str, fn) -> tuple[float, dict]:
    warmup = 0
    t_end = time.perf_counter_ns() + int(WARMUP_S * 1e9)
    while warmup < WARMUP_MIN or time.perf_counter_ns() < t_end:
        fn()
        warmup += 1

    def probe_once(n: int) -> int:
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn()
        return time.perf_counter_ns() - t0

    probe = 4
    while probe_once(probe) < BATCH_TARGET_NS and probe < 1 << 24:
        probe *= 2
    probe_ns = min(probe_once(probe) for _ in range(3))
    batch = max(1, round(probe * BATCH_TARGET_NS / probe_ns))

    per_call: list[float] = []
    start = now = time.perf_counter_ns()
    while now - start < MEASURE_NS or len(per_call) < 5:
        t0 = time.perf_counter_ns()
        for _ in range(batch):
            fn()
        now = time.perf_counter_ns()
        per_call.append((now - t0) / batch)
    median = statistics.median(per_call)
    print(
        f"python_bench: {name}: median {median:.1f} ns/call (min {min(per_call):.1f}, "
        f"max {max(per_call):.1f}, {len(per_call)} batches x {batch})",
        file=sys.stderr,
    )
    return median, {
        "warmup": warmup,
        "batch_size": batch,
        "batches": len(per_call),
        "calls": batch * len(per_call),
        "min_ns": round(min(per_call), 1),
        "max_ns": round(max(per_call), 1),
    }


def main() -> None:
    # --- Init data ---------------------------------------------------------------------------
    init_data = sign_init_data(PAIRS, BOT_TOKEN)
    if len(init_data.encode()) != INIT_DATA_BYTES:
        die(f"init data is {len(init_data.encode())} bytes, the Rust bench's is {INIT_DATA_BYTES}")
    if check_webapp_signature(BOT_TOKEN, init_data) is not True:
        die("aiogram check_webapp_signature rejects the sample init data")
    tampered = init_data.replace("chat_type=private", "chat_type=group")
    if check_webapp_signature(BOT_TOKEN, tampered) is not False:
        die("aiogram check_webapp_signature accepted tampered init data")

    init_median, init_iters = measure(
        "init_data check_webapp_signature",
        lambda: check_webapp_signature(BOT_TOKEN, init_data),
    )

    # --- Stripe ------------------------------------------------------------------------------
    payload = STRIPE_BODY.read_bytes()  # the exact bytes, as a web framework hands them over
    sig_header = stripe.WebhookSignature.generate_signature_header(
        payload.decode("utf-8"), STRIPE_SECRET, timestamp=int(time.time())
    )
    event = stripe.Webhook.construct_event(payload, sig_header, STRIPE_SECRET)
    # stripe-python 16's objects are not dicts (no .get): read fields as attributes.
    if event.type != "checkout.session.completed" or not isinstance(event.id, str):
        die(f"construct_event returned an unexpected object: type={event.type!r}")
    try:
        stripe.Webhook.construct_event(payload, sig_header, STRIPE_SECRET + "x")
        die("construct_event accepted a wrong secret")
    except stripe.SignatureVerificationError:
        pass

    construct_event = stripe.Webhook.construct_event
    stripe_median, stripe_iters = measure(
        "stripe construct_event",
        lambda: construct_event(payload, sig_header, STRIPE_SECRET),
    )

    out = {
        "python": platform.python_version(),
        "init_data_check_webapp_signature_ns": round(init_median, 1),
        "stripe_construct_event_ns": round(stripe_median, 1),
        "iterations": {"init_data": init_iters, "stripe": stripe_iters},
        "packages": {"aiogram": version("aiogram"), "stripe": version("stripe")},
        "inputs": {
            "init_data_bytes": len(init_data.encode()),
            "init_data_sha256": hashlib.sha256(init_data.encode()).hexdigest(),
            "stripe_body_bytes": len(payload),
        },
    }
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
