"""Completes the vectors built by gen.mjs and writes init_data.json.

Usage: python gen.py NODE_OUTPUT.json OUT.json

For each case it adds aiogram's verdict (python_valid), re-derives expect_valid / expect_error
with an independent implementation of miniapp-core's rules (below) and refuses to write the file
if that differs from what gen.mjs declared, or if a library verdict differs from expect_valid
without an explanation. Library verdicts that disagree with each other are printed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import platform
import re
import sys
from importlib.metadata import version

from aiogram.utils import web_app, web_app_signature
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

MAX_INIT_DATA_LEN = 16 * 1024
MAX_PAIRS = 64
FUTURE_SKEW = 60

# ---------------------------------------------------------------------------------------------
# Reference verifier: miniapp-core's rules, written from the spec in README.md, not from a library.


class Reject(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


_PCT = re.compile(rb"%([0-9A-Fa-f]{2})")


def _decode(s: str) -> str:
    raw = s.encode("utf-8").replace(b"+", b" ")
    raw = _PCT.sub(lambda m: bytes([int(m.group(1), 16)]), raw)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Reject("malformed") from None


def _pairs(init_data: str) -> dict[str, str]:
    if len(init_data.encode("utf-8")) > MAX_INIT_DATA_LEN:
        raise Reject("too_large")
    if init_data == "":
        raise Reject("malformed")
    segments = init_data.split("&")
    if len(segments) > MAX_PAIRS:
        raise Reject("malformed")
    out: dict[str, str] = {}
    keys: list[str] = []
    for seg in segments:
        if "=" not in seg:
            raise Reject("malformed")
        k, v = seg.split("=", 1)
        k, v = _decode(k), _decode(v)
        if k == "":
            raise Reject("malformed")
        keys.append(k)
        out[k] = v
    if len(set(keys)) != len(keys):
        raise Reject("duplicate_key")
    return out


def _dcs(pairs: dict[str, str], exclude: tuple[str, ...]) -> str:
    return "\n".join(f"{k}={pairs[k]}" for k in sorted(pairs) if k not in exclude)


_B64URL = re.compile(r"^[A-Za-z0-9_-]{86}(==)?$")


def _signature_bytes(value: str) -> bytes:
    if not _B64URL.match(value):
        raise Reject("malformed_signature")
    body = value[:86]
    # 86 characters hold 516 bits for 64 bytes: the last 4 bits must be zero (canonical).
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    if alphabet.index(body[-1]) % 16 != 0:
        raise Reject("malformed_signature")
    return base64.urlsafe_b64decode(body + "==")


def reference(case: dict, keys: dict[str, str]) -> str | None:
    """Returns None when valid, else our error class."""
    try:
        pairs = _pairs(case["init_data"])
        if case["scheme"] == "hmac":
            if "hash" not in pairs:
                raise Reject("missing_hash")
            if not re.fullmatch(r"[0-9a-f]{64}", pairs["hash"]):
                raise Reject("malformed_hash")
            secret = hmac.new(b"WebAppData", case["bot_token"].encode(), hashlib.sha256).digest()
            want = hmac.new(secret, _dcs(pairs, ("hash",)).encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(want, pairs["hash"]):
                raise Reject("signature_mismatch")
        else:
            if "signature" not in pairs:
                raise Reject("missing_signature")
            sig = _signature_bytes(pairs["signature"])
            key_hex = keys.get(case["public_key"], case["public_key"])
            message = f"{case['bot_id']}:WebAppData\n" + _dcs(pairs, ("hash", "signature"))
            try:
                Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex)).verify(sig, message.encode())
            except InvalidSignature:
                raise Reject("signature_mismatch") from None
        if "auth_date" not in pairs:
            raise Reject("missing_auth_date")
        if not re.fullmatch(r"[0-9]+", pairs["auth_date"]):
            raise Reject("invalid_auth_date")
        auth_date = int(pairs["auth_date"])
        if case["now"] - auth_date > case["max_age"]:
            raise Reject("expired")
        if auth_date - case["now"] > FUTURE_SKEW:
            raise Reject("from_future")
        return None
    except Reject as r:
        return r.kind


# ---------------------------------------------------------------------------------------------
# aiogram's verdict.


def python_verdict(case: dict, keys: dict[str, str]) -> tuple[bool | None, str | None]:
    """(verdict, exception text if aiogram raised instead of answering)."""
    try:
        if case["scheme"] == "hmac":
            return web_app.check_webapp_signature(case["bot_token"], case["init_data"]), None
        key_hex = keys.get(case["public_key"], case["public_key"])
        return (
            web_app_signature.check_webapp_signature(
                case["bot_id"], case["init_data"], public_key_bytes=bytes.fromhex(key_hex)
            ),
            None,
        )
    except (TypeError, ValueError, binascii.Error) as e:
        return False, f"{type(e).__name__}: {e}"


# ---------------------------------------------------------------------------------------------

FIELD_ORDER = [
    "name",
    "source",
    "scheme",
    "init_data",
    "bot_token",
    "bot_id",
    "public_key",
    "now",
    "max_age",
    "node_valid",
    "python_valid",
    "expect_valid",
    "expect_error",
    "note",
]


def main() -> None:
    node_path, out_path = sys.argv[1], sys.argv[2]
    with open(node_path, encoding="utf-8") as f:
        node = json.load(f)
    keys = node["telegram_public_keys"]

    problems: list[str] = []
    disagreements: list[str] = []
    out_cases = []
    for c in node["cases"]:
        ref = reference(c, keys)
        if ref != c["expect_error"]:
            problems.append(f"{c['name']}: declared {c['expect_error']!r}, reference says {ref!r}")

        py, raised = python_verdict(c, keys)
        notes = [c["note"]] if c["note"] else []
        if raised:
            notes.append(f"aiogram raised {raised} (python_valid recorded as false).")
        for lib, verdict, why_key in (("Node", c["node_valid"], "why_node"), ("aiogram", py, "why_python")):
            if verdict is not None and verdict != c["expect_valid"]:
                why = c.get(why_key)
                if not why and not raised:
                    problems.append(f"{c['name']}: {lib} says {verdict} but expect_valid is {c['expect_valid']}, no explanation")
                if why:
                    notes.append(f"{lib} says {str(verdict).lower()}: {why}.")
        if c["node_valid_at_now"] is not None and c["node_valid_at_now"] != c["node_valid"]:
            notes.append(
                f"With Date.now() stubbed to `now` and expiresIn = max_age, Node says {str(c['node_valid_at_now']).lower()}."
            )
        if c["node_valid"] is None and c["scheme"] == "ed25519":
            notes.append("node_valid is null: the Node library cannot take a custom public key.")
        if c["node_valid"] is not None and py is not None and c["node_valid"] != py:
            disagreements.append(f"{c['name']}: node={c['node_valid']} python={py}")

        full = {**c, "python_valid": py, "note": " ".join(notes)}
        out_cases.append({k: full[k] for k in FIELD_ORDER if k in full})

    if problems:
        sys.exit("gen.py: refusing to write vectors:\n  " + "\n  ".join(problems))

    doc = {
        "generated_by": {
            "node_package": node["node_package"],
            "python_package": f"aiogram=={version('aiogram')}",
            "node": node["node"],
            "python": platform.python_version(),
        },
        "telegram_public_keys": keys,
        "cases": out_cases,
    }
    with open(out_path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(doc, f, ensure_ascii=False, indent=2)
        f.write("\n")

    print(f"gen.py: {len(out_cases)} cases written", file=sys.stderr)
    for d in disagreements:
        print(f"gen.py: libraries disagree: {d}", file=sys.stderr)


if __name__ == "__main__":
    main()
