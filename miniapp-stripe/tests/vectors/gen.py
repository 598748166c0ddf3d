#!/usr/bin/env python3
"""Stage 2 of the webhook-signature vectors (stage 1 is gen.mjs).

Reads the cases stripe-node built and judged, rebuilds every header with
stripe-python from the same template (and fails if a single byte differs),
records stripe-python's verdict, and writes webhook_signatures.json.

Usage (generate.sh does this, inside a venv that has the pinned `stripe`):
    python gen.py <vectors dir> <node results json> <out json>
"""

import base64
import hashlib
import hmac
import json
import os
import platform
import re
import sys
from unittest import mock

import stripe
from stripe import Webhook, WebhookSignature
from stripe._error import SignatureVerificationError

CANONICAL_INT = re.compile(r"^[1-9][0-9]*$")
TOKEN = re.compile(r"\{(HDR|SIG|SIGU|SIGRAW|SIGB64|REPEAT):([^}]*)\}")


def sig(secret, lit, body_str):
    if CANONICAL_INT.match(lit) and int(lit) <= 2**53 - 1:
        header = WebhookSignature.generate_signature_header(body_str, secret, timestamp=int(lit))
        prefix = f"t={lit},v1="
        if not header.startswith(prefix):
            raise SystemExit(f"unexpected generate_signature_header output {header!r}")
        return header[len(prefix):]
    return WebhookSignature._compute_signature(f"{lit}.{body_str}", secret)


def expand(template, signed_bytes, secrets):
    body_str = None

    def text():
        nonlocal body_str
        if body_str is None:
            body_str = signed_bytes.decode("utf-8")
        return body_str

    def repl(m):
        kind, args = m.group(1), m.group(2)
        a, _, b = args.partition(":")
        if kind == "HDR":
            return WebhookSignature.generate_signature_header(text(), secrets[a], timestamp=int(b))
        if kind == "SIG":
            return sig(secrets[a], b, text())
        if kind == "SIGU":
            return sig(secrets[a], b, text()).upper()
        if kind == "SIGRAW":
            return hmac.new(secrets[a].encode(), f"{b}.".encode() + signed_bytes, hashlib.sha256).hexdigest()
        if kind == "SIGB64":
            key = base64.b64decode(secrets[a][len("whsec_"):])
            return hmac.new(key, f"{b}.{text()}".encode(), hashlib.sha256).hexdigest()
        if kind == "REPEAT":
            return b * int(a)
        raise SystemExit(kind)

    return TOKEN.sub(repl, template)


def first_line(e):
    lines = str(e).strip().splitlines()
    return f"{type(e).__name__}: {lines[0].strip() if lines else ''}"


def verify_only(body, header, secret, tolerance):
    try:
        WebhookSignature.verify_header(body, header, secret, tolerance)
        return "true"
    except SignatureVerificationError:
        return "false"
    except Exception:
        return "crash"


def python_verdict(body, header, secrets, tolerance, now):
    """Same rule as gen.mjs: one construct_event per secret, valid if any succeeds,
    "crash" if none did and one raised something other than SignatureVerificationError."""
    errors = []
    crashed = False
    with mock.patch("time.time", return_value=float(now)):
        for secret in secrets:
            try:
                Webhook.construct_event(body, header, secret, tolerance)
                return True, None
            except SignatureVerificationError as e:
                errors.append(first_line(e))
            except Exception as e:  # noqa: BLE001 - that is the point
                crashed = True
                errors.append(f"{first_line(e)} [verify_header alone: {verify_only(body, header, secret, tolerance)}]")
    unique = list(dict.fromkeys(errors))
    return ("crash" if crashed else False), " | ".join(unique)


# How the SDKs' own signature-verification messages map onto our error classes.
SDK_MESSAGE_CLASSES = [
    ("No stripe-signature header value was provided", "missing_header"),
    ("Unable to extract timestamp and signatures from header", "malformed_header"),
    ("No signatures found with expected scheme", "no_signatures"),
    ("No signatures found matching the expected signature", "signature_mismatch"),
    ("Timestamp outside the tolerance zone", "timestamp_out_of_tolerance"),
]


def sdk_class(error):
    if not error:
        return None
    for needle, cls in SDK_MESSAGE_CLASSES:
        if needle.lower() in error.lower():
            return cls
    return None


def main():
    vectors_dir, node_json, out_path = sys.argv[1:4]
    with open(node_json, encoding="utf-8") as f:
        node = json.load(f)
    secrets = node["secrets"]
    if stripe.api_version != node["api_version"]:
        raise SystemExit(f"API versions differ: stripe-python {stripe.api_version}, stripe-node {node['api_version']}")

    cases = []
    report = []
    for c in node["cases"]:
        if c["payload_file"] is not None:
            with open(os.path.join(vectors_dir, c["payload_file"]), "rb") as f:
                body = f.read()
        else:
            body = c["payload"].encode("utf-8")
        if c["signed_with"] is not None:
            with open(os.path.join(vectors_dir, c["signed_with"]), "rb") as f:
                signed = f.read()
        else:
            signed = body

        header = None
        if c["header_template"] is not None:
            header = expand(c["header_template"], signed, secrets)
            if c["truncate_v1"]:
                header = header[:-1]
        if header != c["header"]:
            raise SystemExit(f"{c['name']}: stripe-python built {header!r}, stripe-node built {c['header']!r}")

        py_valid, py_error = python_verdict(body, header, c["secrets"], c["tolerance"], c["now"])

        record = {
            "name": c["name"],
            "payload_file": c["payload_file"],
            "payload": c["payload"],
            "header": header,
            "secrets": c["secrets"],
            "tolerance": c["tolerance"],
            "now": c["now"],
            "node_valid": c["node_valid"],
            "python_valid": py_valid,
            "expect_valid": c["expect_valid"],
            "expect_error": c["expect_error"],
            "note": c["note"],
            "signed_payload_file": c["signed_with"],
            "node_error": c["node_error"],
            "python_error": py_error,
        }
        if c["expect_valid"] != (c["expect_error"] is None):
            raise SystemExit(f"{c['name']}: expect_valid and expect_error disagree")
        cases.append(record)

        flags = []
        for sdk, valid, err in (("node", c["node_valid"], c["node_error"]), ("python", py_valid, py_error)):
            if valid == "crash":
                flags.append(f"{sdk}=crash")
            elif valid != c["expect_valid"]:
                flags.append(f"{sdk}={str(valid).lower()}")
            elif valid is False and sdk_class(err) != c["expect_error"]:
                flags.append(f"{sdk}-class={sdk_class(err)}")
        if flags:
            report.append(f"  {c['name']}: expect {c['expect_error'] or 'valid'}; " + ", ".join(flags))

    doc = {
        "generated_by": {
            "node_package": node["node_package"],
            "python_package": f"stripe=={stripe.VERSION}",
            "node": node["node"],
            "python": platform.python_version(),
            "api_version": stripe.api_version,
        },
        "conventions": {
            "payload": "Request body bytes: the exact bytes of payload_file (path relative to this file's folder) or the UTF-8 encoding of payload.",
            "header": "Stripe-Signature header value; null means the header is absent.",
            "secrets": "Endpoint secrets configured on our side, used verbatim as HMAC keys.",
            "tolerance": "Seconds. 0 disables the timestamp check (as in both SDKs). Future timestamps are never rejected.",
            "sdk_verdicts": "node_valid: stripe-node webhooks.constructEvent(body Buffer, header, secret, tolerance) with Date.now() returning now*1000; python_valid: stripe-python Webhook.construct_event(body bytes, header, secret, tolerance) with time.time() returning now. With several secrets the SDK is called once per secret: true if any call succeeds, else \"crash\" if any call raised something other than the SDK's signature-verification error, else false.",
            "signed_payload_file": "If not null, the header was signed over this file instead of the delivered body (tampering cases).",
            "node_error/python_error": "First line of each SDK's error (informational; the Rust side should not depend on the wording).",
        },
        "cases": cases,
    }
    with open(out_path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)
        f.write("\n")

    print(f"gen.py: {len(cases)} cases verified with stripe=={stripe.VERSION} (Python {platform.python_version()}); "
          f"headers identical in both SDKs", file=sys.stderr)
    print(f"gen.py: {len(report)} cases where an SDK crashes or disagrees with expect_*:", file=sys.stderr)
    for line in report:
        print(line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
