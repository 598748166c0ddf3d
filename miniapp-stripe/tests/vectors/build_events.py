#!/usr/bin/env python3
"""Write the Stripe event payloads under events/ (and the odd body under bodies/).

Standard library only, no network, fully deterministic: running it twice gives
byte-identical files.  generate.sh runs it before signing anything.

The shapes follow the Stripe API reference for the API version the pinned SDKs
default to (stripe@23.1.0 / stripe==16.1.0 -> 2026-10-28.endive): the field set
of each object is the non-optional field set of that version's type definitions
(plus the optional fields that a hosted, payment-mode Checkout integration
really receives), the values are made up but shaped like real ones (see
README.md, "Provenance").  Key order is Stripe's: "id", "object", then the
remaining keys alphabetically, at every level.  Bodies are pretty-printed with
two spaces and have no trailing newline, like the bodies Stripe POSTs.
"""

import hashlib
import json
import os
import sys

API_VERSION = "2026-10-28.endive"

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# The application's identifiers (what our Checkout integration puts in metadata).
PAYMENT_ID = "pay_0123456789abcdef0123456789abcdef"
TELEGRAM_USER_ID = "279058397"
METADATA = {"payment_id": PAYMENT_ID, "telegram_user_id": TELEGRAM_USER_ID}


def rid(label, n, lead=""):
    """Deterministic random-looking id body: `lead` + base62 chars from sha256(label)."""
    out = lead
    counter = 0
    while len(out) < n:
        digest = hashlib.sha256(f"{label}#{counter}".encode()).digest()
        for byte in digest:
            if byte < 248:  # 248 = 4 * 62, keeps the distribution uniform
                out += ALNUM[byte % 62]
                if len(out) == n:
                    break
        counter += 1
    return out


# Object ids. Ids of objects created together share a prefix, as Stripe's do.
ACCT_FRAG = "Qm4x2TNbYc"


def obj_id(prefix, label, version="3", stamp="TC8yf"):
    # e.g. pi_3TC8yfQm4x2TNbYc1Kd3s9Lw : version digit + 5 time-ish chars + account fragment + 8 chars
    return f"{prefix}_{version}{stamp}{ACCT_FRAG}{rid(label, 8)}"


SESSION_PAID = "cs_test_" + rid("session-paid", 58, "a1")
SESSION_ASYNC = "cs_test_" + rid("session-async", 58, "b1")
SESSION_EXPIRED = "cs_test_" + rid("session-expired", 58, "a1")

PI_CARD = obj_id("pi", "pi-card", "3", "TC8yf")
CH_CARD = obj_id("ch", "ch-card", "3", "TC8yf")
TXN_CARD = obj_id("txn", "txn-card", "3", "TC8yf")
PM_CARD = obj_id("pm", "pm-card", "1", "TC8ye")
CH_DECLINED = obj_id("ch", "ch-declined", "3", "TC8yf")
PM_DECLINED = obj_id("pm", "pm-declined", "1", "TC8ye")
PI_ACH = obj_id("pi", "pi-ach", "3", "TDx2K")
PMC = obj_id("pmc", "pmc-default", "1", "Rb0Ha")
DISPUTE = obj_id("dp", "dispute", "1", "TGn7c")
TXN_DISPUTE_WITHDRAWAL = obj_id("txn", "txn-dispute-withdrawal", "1", "TGn7c")
TXN_DISPUTE_REINSTATEMENT = obj_id("txn", "txn-dispute-reinstatement", "1", "TJ0sQ")
CUSTOMER = "cus_" + rid("customer", 14)
REFUND_FULL = obj_id("re", "refund-full", "3", "TEq5w")
TXN_REFUND_FULL = obj_id("txn", "txn-refund-full", "3", "TEq5w")
TXN_REFUND_FAILURE = obj_id("txn", "txn-refund-failure", "3", "TGa1b")

# Timeline (unix seconds). The signature vectors are delivered at t=1795000000,
# after every event below was created.
T_SESSION_PAID_CREATED = 1793001012
T_PAYMENT_DECLINED = 1793001084
T_CHARGE_CREATED = 1793001128
T_SESSION_PAID_COMPLETED = 1793001130
T_REFUND_PARTIAL = 1793613007
T_REFUND_FULL = 1793700061
T_REFUND_FAILED = 1793959307
T_DISPUTE_CREATED = 1794100000
T_DISPUTE_DUE_BY = 1794873599
T_DISPUTE_CLOSED = 1794990415
T_SESSION_ASYNC_CREATED = 1794400100
T_SESSION_ASYNC_COMPLETED = 1794400290
T_SESSION_ASYNC_SETTLED = 1794745893
T_SESSION_EXPIRED_CREATED = 1794500000
T_CUSTOMER_CREATED = 1794999000

RETURN_BASE = "https://miniapp.example.com/pay"


def canonical(value):
    """Stripe key order at every level: id, object, then the rest sorted."""
    if isinstance(value, dict):
        keys = sorted(value)
        ordered = [k for k in ("id", "object") if k in value]
        ordered += [k for k in keys if k not in ("id", "object")]
        return {k: canonical(value[k]) for k in ordered}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def address(country=None, postal_code=None):
    return {
        "city": None,
        "country": country,
        "line1": None,
        "line2": None,
        "postal_code": postal_code,
        "state": None,
    }


def event(label, etype, created, obj, request=None, previous=None, api_version=API_VERSION):
    data = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return canonical({
        "id": obj_id("evt", "evt-" + label, "1" if etype.startswith("checkout") else "3", "TZ9wd"),
        "object": "event",
        "api_version": api_version,
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": request or {"id": None, "idempotency_key": None},
        "type": etype,
    })


# --------------------------------------------------------------------------
# Checkout Sessions
# --------------------------------------------------------------------------

def checkout_session(session_id, created, *, status, payment_status, payment_intent,
                     card_only, customer_details):
    if card_only:
        # Endive removed the `payment_method_types` create parameter; restricting a
        # Session to cards is done with `allowed_payment_method_types[]=card`, which
        # the Session echoes back.  `payment_method_types` is the computed result.
        allowed = ["card"]
        pm_types = ["card"]
        pmc_details = None
        pm_options = {"card": {"request_three_d_secure": "automatic"}}
    else:
        # Dynamic payment methods from the Dashboard's default configuration.
        allowed = None
        pm_types = ["card", "us_bank_account"]
        pmc_details = {"id": PMC, "parent": None}
        pm_options = {
            "card": {"request_three_d_secure": "automatic"},
            "us_bank_account": {
                "financial_connections": {"permissions": ["payment_method"], "prefetch": []},
                "verification_method": "automatic",
            },
        }
    return {
        "id": session_id,
        "object": "checkout.session",
        "adaptive_pricing": {"enabled": True},
        "after_expiration": None,
        "allow_promotion_codes": None,
        "allowed_payment_method_types": allowed,
        "amount_subtotal": 2500,
        "amount_total": 2500,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": None,
        "branding_settings": {
            "background_color": "#ffffff",
            "border_style": "rounded",
            "button_color": "#0074d4",
            "display_name": "Mini App Tokens",
            "font_family": "default",
            "icon": None,
            "logo": None,
        },
        "cancel_url": f"{RETURN_BASE}/cancel?payment_id={PAYMENT_ID}",
        "client_reference_id": PAYMENT_ID,
        "client_secret": None,
        "collected_information": (
            {"business_name": None, "individual_name": None, "shipping_details": None}
            if status == "complete" else None
        ),
        "consent": None,
        "consent_collection": None,
        "created": created,
        "currency": "usd",
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer": None,
        "customer_account": None,
        "customer_creation": "if_required",
        "customer_details": customer_details,
        "customer_email": None,
        "discounts": [],
        "expires_at": created + 86400,
        "integration_identifier": None,
        "invoice": None,
        "invoice_creation": {
            "enabled": False,
            "invoice_data": {
                "account_tax_ids": None,
                "custom_fields": None,
                "description": None,
                "footer": None,
                "issuer": None,
                "metadata": {},
                "rendering_options": None,
            },
        },
        "livemode": False,
        "locale": None,
        "managed_payments": {"enabled": False},
        "metadata": dict(METADATA),
        "mode": "payment",
        "origin_context": None,
        "payment_intent": payment_intent,
        "payment_link": None,
        "payment_method_collection": "if_required",
        "payment_method_configuration_details": pmc_details,
        "payment_method_options": pm_options,
        "payment_method_types": pm_types,
        "payment_status": payment_status,
        "permissions": None,
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": status,
        "submit_type": None,
        "subscription": None,
        "success_url": f"{RETURN_BASE}/success?session_id={{CHECKOUT_SESSION_ID}}",
        "tax_id_collection": {"enabled": False, "required": "never"},
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": None,
        "wallet_options": None,
    }


CARD_BUYER = {
    "address": address("US", "94103"),
    "business_name": None,
    "email": "jenny.rosen@example.com",
    "individual_name": None,
    "name": "Jenny Rosen",
    "phone": None,
    "tax_exempt": "none",
    "tax_ids": [],
}

ACH_BUYER = {
    "address": address("US", "10001"),
    "business_name": None,
    "email": "sam.lee@example.com",
    "individual_name": None,
    "name": "Sam Lee",
    "phone": None,
    "tax_exempt": "none",
    "tax_ids": [],
}


def session_paid():
    return checkout_session(
        SESSION_PAID, T_SESSION_PAID_CREATED, status="complete", payment_status="paid",
        payment_intent=PI_CARD, card_only=True, customer_details=CARD_BUYER)


# Adaptive Pricing: the buyer chose to pay in euros (EUR 23.12 for the USD 25.00 price).
LEGACY_API_VERSION = "2025-02-24.acacia"


def session_paid_adaptive():
    # Since 2025-03-31.basil the Session keeps the integration's currency; the buyer's is in
    # presentment_details.
    s = session_paid()
    s["presentment_details"] = {"presentment_amount": 2312, "presentment_currency": "eur"}
    return s


def session_paid_adaptive_legacy():
    # An endpoint on an API version before 2025-03-31.basil gets the buyer's currency in
    # amount_total/currency, and the integration's in currency_conversion.
    s = session_paid()
    s["amount_subtotal"] = 2312
    s["amount_total"] = 2312
    s["currency"] = "eur"
    s["currency_conversion"] = {
        "amount_subtotal": 2500,
        "amount_total": 2500,
        "fx_rate": "0.92480000000000000000",
        "source_currency": "usd",
    }
    return s


def session_async(payment_status):
    return checkout_session(
        SESSION_ASYNC, T_SESSION_ASYNC_CREATED, status="complete", payment_status=payment_status,
        payment_intent=PI_ACH, card_only=False, customer_details=ACH_BUYER)


def session_expired():
    # Since 2022-08-01 Checkout creates the PaymentIntent only when the customer
    # tries to pay, so a Session that expired untouched has none.
    return checkout_session(
        SESSION_EXPIRED, T_SESSION_EXPIRED_CREATED, status="expired", payment_status="unpaid",
        payment_intent=None, card_only=True, customer_details=None)


# --------------------------------------------------------------------------
# Charge (the card payment behind SESSION_PAID)
# --------------------------------------------------------------------------

def charge(amount_refunded):
    return {
        "id": CH_CARD,
        "object": "charge",
        "amount": 2500,
        "amount_captured": 2500,
        "amount_refunded": amount_refunded,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": TXN_CARD,
        "billing_details": {
            "address": address("US", "94103"),
            "email": "jenny.rosen@example.com",
            "name": "Jenny Rosen",
            "phone": None,
            "tax_id": None,
        },
        "calculated_statement_descriptor": "MINIAPP TOKENS",
        "captured": True,
        "created": T_CHARGE_CREATED,
        "currency": "usd",
        "customer": None,
        "description": None,
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        # Copied once from the PaymentIntent's metadata when the PaymentIntent was
        # confirmed; our Checkout integration sets it through
        # payment_intent_data[metadata].  See README.md.
        "metadata": dict(METADATA),
        "on_behalf_of": None,
        "outcome": {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": 21,
            "seller_message": "Payment complete.",
            "type": "authorized",
        },
        "paid": True,
        "payment_intent": PI_CARD,
        "payment_method": PM_CARD,
        "payment_method_details": {
            "card": {
                "amount_authorized": 2500,
                "authorization_code": "831752",
                "brand": "visa",
                "checks": {
                    "address_line1_check": None,
                    "address_postal_code_check": "pass",
                    "cvc_check": "pass",
                },
                "country": "US",
                "electronic_commerce_indicator": None,
                "exp_month": 12,
                "exp_year": 2030,
                "extended_authorization": {"status": "disabled"},
                "fingerprint": rid("fingerprint", 16),
                "funding": "credit",
                "incremental_authorization": {"status": "unavailable"},
                "installments": None,
                "last4": "4242",
                "mandate": None,
                "multicapture": {"status": "unavailable"},
                "network": "visa",
                "network_token": {"used": False},
                "network_transaction_id": "104557651805572",
                "overcapture": {"maximum_amount_capturable": 2500, "status": "unavailable"},
                "regulated_status": "unregulated",
                "three_d_secure": None,
                "transaction_link_id": None,
                "wallet": None,
            },
            "type": "card",
        },
        "radar_options": {},
        "receipt_email": "jenny.rosen@example.com",
        "receipt_number": None,
        "receipt_url": "https://pay.stripe.com/receipts/payment/" + rid("receipt", 108, "CAcaFwoVYWNjdF8x") + "?s=ap",
        "refunded": amount_refunded == 2500,
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded",
        "transfer_data": None,
        "transfer_group": None,
    }


# --------------------------------------------------------------------------
# The first attempt at paying SESSION_PAID: a card with insufficient funds.
# Checkout keeps the Session open and the PaymentIntent goes back to
# requires_payment_method; the buyer then pays PI_CARD with another card.
# --------------------------------------------------------------------------

def declined_card():
    return {
        "id": PM_DECLINED,
        "object": "payment_method",
        "allow_redisplay": "limited",
        "billing_details": {
            "address": address("US", "94103"),
            "email": "jenny.rosen@example.com",
            "name": "Jenny Rosen",
            "phone": None,
            "tax_id": None,
        },
        "card": {
            "brand": "visa",
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": "pass",
                "cvc_check": "pass",
            },
            "country": "US",
            "display_brand": "visa",
            "exp_month": 8,
            "exp_year": 2031,
            "fingerprint": rid("fingerprint-declined", 16),
            "funding": "credit",
            "generated_from": None,
            "last4": "9995",
            "networks": {"available": ["visa"], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": T_PAYMENT_DECLINED,
        "customer": None,
        "customer_account": None,
        "livemode": False,
        "metadata": {},
        "radar_options": {},
        "type": "card",
    }


def payment_intent_declined():
    return {
        "id": PI_CARD,
        "object": "payment_intent",
        "allowed_payment_method_types": None,
        "amount": 2500,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic_async",
        "client_secret": f"{PI_CARD}_secret_{rid('pi-card-secret', 25)}",
        "confirmation_method": "automatic",
        "created": T_PAYMENT_DECLINED - 3,
        "currency": "usd",
        "customer": None,
        "customer_account": None,
        "description": None,
        "excluded_payment_method_types": None,
        "last_payment_error": {
            "advice_code": "try_again_later",
            "charge": CH_DECLINED,
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "doc_url": "https://docs.stripe.com/error-codes/card-declined",
            "message": "Your card has insufficient funds.",
            "network_decline_code": "51",
            "payment_method": declined_card(),
            "type": "card_error",
        },
        "latest_charge": CH_DECLINED,
        "livemode": False,
        "managed_payments": {"enabled": False},
        # Set through payment_intent_data[metadata] when the Session was created.
        "metadata": dict(METADATA),
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            },
        },
        "payment_method_types": ["card"],
        "payment_record": None,
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_group": None,
    }


# --------------------------------------------------------------------------
# The full refund of that charge, failing after it succeeded (the card was closed)
# --------------------------------------------------------------------------

def refund(status):
    failed = status == "failed"
    return {
        "id": REFUND_FULL,
        "object": "refund",
        "amount": 2500,
        "balance_transaction": TXN_REFUND_FULL,
        "charge": CH_CARD,
        "created": T_REFUND_FULL,
        "currency": "usd",
        "destination_details": {
            "card": {
                "reference_status": "unavailable",
                "reference_type": "acquirer_reference_number",
                "type": "refund",
            },
            "type": "card",
        },
        "failure_balance_transaction": TXN_REFUND_FAILURE if failed else None,
        "failure_reason": "expired_or_canceled_card" if failed else None,
        "metadata": {},
        "payment_intent": PI_CARD,
        "reason": "requested_by_customer",
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": status,
        "transfer_reversal": None,
    }


# --------------------------------------------------------------------------
# Dispute on that charge
# --------------------------------------------------------------------------

def balance_transaction(txn_id, created, amount, fee, description, category):
    return {
        "id": txn_id,
        "object": "balance_transaction",
        "amount": amount,
        "available_on": created,
        "balance_type": "payments",
        "created": created,
        "currency": "usd",
        "description": description,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": (
            [{"amount": fee, "application": None, "currency": "usd",
              "description": "Dispute fee", "type": "stripe_fee"}] if fee else []
        ),
        "net": amount - fee,
        "reporting_category": category,
        "source": DISPUTE,
        "status": "available",
        "type": "adjustment",
    }


def dispute(status):
    txns = [balance_transaction(
        TXN_DISPUTE_WITHDRAWAL, T_DISPUTE_CREATED, -2500, 1500,
        f"Chargeback withdrawal for {CH_CARD}", "dispute")]
    evidence_submitted = status in ("won", "lost")
    if status == "won":
        txns.append(balance_transaction(
            TXN_DISPUTE_REINSTATEMENT, T_DISPUTE_CLOSED, 2500, 0,
            f"Chargeback reversal for {CH_CARD}", "dispute_reversal"))
    card = {
        "brand": "visa",
        "case_type": "chargeback",
        "network": "visa",
        "network_reason_code": "10.4",
    }
    evidence = {k: None for k in (
        "access_activity_log", "billing_address", "cancellation_policy",
        "cancellation_policy_disclosure", "cancellation_rebuttal", "customer_communication",
        "customer_email_address", "customer_name", "customer_purchase_ip", "customer_signature",
        "duplicate_charge_documentation", "duplicate_charge_explanation", "duplicate_charge_id",
        "product_description", "receipt", "refund_policy", "refund_policy_disclosure",
        "refund_refusal_explanation", "service_date", "service_documentation", "shipping_address",
        "shipping_carrier", "shipping_date", "shipping_documentation", "shipping_tracking_number",
        "uncategorized_file", "uncategorized_text")}
    evidence["enhanced_evidence"] = {}
    if evidence_submitted:
        evidence["access_activity_log"] = "2026-10-26T09:45:31Z tokens credited to Telegram user 279058397; 2026-10-27..2026-11-05 tokens spent in 14 sessions"
        evidence["customer_email_address"] = "jenny.rosen@example.com"
        evidence["customer_name"] = "Jenny Rosen"
        evidence["product_description"] = "Prepaid Mini App tokens (digital goods), delivered instantly to the buyer's Telegram account."
    return {
        "id": DISPUTE,
        "object": "dispute",
        "amount": 2500,
        "balance_transactions": txns,
        "charge": CH_CARD,
        "created": T_DISPUTE_CREATED,
        "currency": "usd",
        "enhanced_eligibility_types": [],
        "evidence": evidence,
        "evidence_details": {
            "due_by": T_DISPUTE_DUE_BY,
            "enhanced_eligibility": {},
            "has_evidence": evidence_submitted,
            "past_due": False,
            "submission_count": 1 if evidence_submitted else 0,
            "submission_method": "manual" if evidence_submitted else "not_submitted",
        },
        "intended_submission_method": None,
        "is_charge_refundable": False,
        "livemode": False,
        # Disputes do not inherit the charge's metadata.
        "metadata": {},
        "network_reason_code": "10.4",
        "payment_intent": PI_CARD,
        "payment_method_details": {"card": card, "type": "card"},
        "reason": "fraudulent",
        "status": status,
    }


# --------------------------------------------------------------------------
# An event type the application does not handle
# --------------------------------------------------------------------------

def customer():
    return {
        "id": CUSTOMER,
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": T_CUSTOMER_CREATED,
        "currency": None,
        "customer_account": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": "jenny.rosen@example.com",
        "invoice_prefix": rid("invoice-prefix", 8).upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {},
        "name": "Jenny Rosen",
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def api_request(label):
    # Events caused by an API or Dashboard request carry its id and idempotency key.
    h = hashlib.sha256(label.encode()).hexdigest()
    return {
        "id": "req_" + rid("req-" + label, 14),
        "idempotency_key": f"{h[0:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}",
    }


def build():
    return {
        "checkout.session.completed.paid.json": event(
            "cs-completed-paid", "checkout.session.completed",
            T_SESSION_PAID_COMPLETED, session_paid()),
        "checkout.session.completed.paid_adaptive.json": event(
            "cs-completed-paid-adaptive", "checkout.session.completed",
            T_SESSION_PAID_COMPLETED, session_paid_adaptive()),
        "checkout.session.completed.paid_adaptive_legacy.json": event(
            "cs-completed-paid-adaptive-legacy", "checkout.session.completed",
            T_SESSION_PAID_COMPLETED, session_paid_adaptive_legacy(),
            api_version=LEGACY_API_VERSION),
        "checkout.session.completed.unpaid.json": event(
            "cs-completed-unpaid", "checkout.session.completed",
            T_SESSION_ASYNC_COMPLETED, session_async("unpaid")),
        "checkout.session.async_payment_succeeded.json": event(
            "cs-async-succeeded", "checkout.session.async_payment_succeeded",
            T_SESSION_ASYNC_SETTLED, session_async("paid")),
        "checkout.session.async_payment_failed.json": event(
            "cs-async-failed", "checkout.session.async_payment_failed",
            T_SESSION_ASYNC_SETTLED, session_async("unpaid")),
        "payment_intent.payment_failed.json": event(
            "pi-payment-failed", "payment_intent.payment_failed", T_PAYMENT_DECLINED,
            payment_intent_declined(), request=api_request("checkout-confirm-declined")),
        "checkout.session.expired.json": event(
            "cs-expired", "checkout.session.expired",
            T_SESSION_EXPIRED_CREATED + 86400 + 47, session_expired()),
        "charge.refunded.partial.json": event(
            "charge-refunded-partial", "charge.refunded", T_REFUND_PARTIAL, charge(1000),
            request=api_request("refund-partial"),
            previous={"amount_refunded": 0}),
        "charge.refunded.full.json": event(
            "charge-refunded-full", "charge.refunded", T_REFUND_FULL, charge(2500),
            request=api_request("refund-full"),
            previous={"amount_refunded": 0, "refunded": False}),
        "refund.created.json": event(
            "refund-created", "refund.created", T_REFUND_FULL, refund("succeeded"),
            request=api_request("refund-full")),
        "charge.refund.updated.failed.json": event(
            "charge-refund-updated-failed", "charge.refund.updated", T_REFUND_FAILED,
            refund("failed"), previous={"failure_balance_transaction": None,
                                        "failure_reason": None, "status": "succeeded"}),
        "refund.failed.json": event(
            "refund-failed", "refund.failed", T_REFUND_FAILED, refund("failed")),
        "charge.dispute.created.json": event(
            "dispute-created", "charge.dispute.created", T_DISPUTE_CREATED,
            dispute("needs_response")),
        "charge.dispute.closed.won.json": event(
            "dispute-closed-won", "charge.dispute.closed", T_DISPUTE_CLOSED, dispute("won")),
        "charge.dispute.closed.lost.json": event(
            "dispute-closed-lost", "charge.dispute.closed", T_DISPUTE_CLOSED, dispute("lost")),
        "customer.created.json": event(
            "customer-created", "customer.created", T_CUSTOMER_CREATED, customer(),
            request=api_request("customer-create")),
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = os.path.join(here, "events")
    os.makedirs(out_dir, exist_ok=True)
    for name, evt in build().items():
        body = json.dumps(evt, indent=2, ensure_ascii=False).encode("utf-8")
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(body)
    # A body that is not UTF-8 (Stripe never sends one): the signature is over
    # bytes, and the SDKs disagree on what to do with it.
    bodies = os.path.join(here, "bodies")
    os.makedirs(bodies, exist_ok=True)
    with open(os.path.join(bodies, "invalid_utf8.bin"), "wb") as f:
        f.write(b'{"id":"evt_invalid_utf8","object":"event","note":"caf\xe9 \xff\xfe"}')
    return 0


if __name__ == "__main__":
    sys.exit(main())
