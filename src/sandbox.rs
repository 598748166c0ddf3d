//! The sandbox provider: an offline imitation of a card checkout, so the demo runs the real
//! pipeline (checkout, signed webhook, verification, ledger) without any payment service.
//!
//! Its checkout page lives at `/sandbox/checkout/{payment_id}` and says plainly that it is a
//! sandbox. Test cards: `4242 4242 4242 4242` pays, `4000 0000 0000 0002` is declined,
//! `4000 0000 0000 9995` fails for insufficient funds; a past expiry date is refused. The outcome
//! is sent as an HMAC-signed event through the same webhook handler every provider uses.

use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use hmac::{Hmac, Mac};
use miniapp_core::event::{EventKind, ProviderEvent};
use miniapp_core::ids::{PaymentId, ProviderEventId, ProviderId, ProviderRef};
use miniapp_core::money::{Currency, Money};
use miniapp_core::payment::{Payment, PaymentStatus};
use miniapp_core::provider::{
    Checkout, CheckoutRequest, PaymentProvider, ProviderError, WebhookRequest,
};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::http::AppState;

const SIGNATURE_HEADER: &str = "Sandbox-Signature";

/// The offline demo provider (id `sandbox`). Never enable it next to a real card provider unless
/// you mean to: anyone could pay with a test card.
pub struct SandboxProvider {
    id: ProviderId,
    key: [u8; 32],
    public_base_url: Option<String>,
}

impl fmt::Debug for SandboxProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxProvider")
            .field("public_base_url", &self.public_base_url)
            .finish_non_exhaustive()
    }
}

/// The event body the sandbox signs.
#[derive(Serialize, Deserialize)]
struct SandboxEvent {
    id: String,
    payment_id: String,
    outcome: String,
    amount_minor: u64,
    currency: String,
}

impl SandboxProvider {
    /// The sandbox's own routes: its checkout page, `GET`/`POST /sandbox/checkout/{payment_id}`.
    /// Hand them to [`StateParts::routes`](crate::http::StateParts::routes) next to the method
    /// that uses this provider.
    pub fn routes(self: &Arc<Self>) -> Router<AppState> {
        let sandbox = Arc::clone(self);
        Router::new().route(
            "/sandbox/checkout/{payment_id}",
            get(checkout_page)
                .post(move |state, path, form| pay(sandbox.clone(), state, path, form))
                .layer(DefaultBodyLimit::max(crate::http::MAX_BODY)),
        )
    }

    /// A sandbox with a fresh random signing key. Checkout links are absolute under
    /// `public_base_url` when given (where the payments router is mounted, prefix included), else
    /// relative to the payment page (`../sandbox/checkout/…`), which works under any prefix.
    ///
    /// # Errors
    /// [`ProviderError::Unavailable`] if the system has no randomness.
    pub fn new(public_base_url: Option<String>) -> Result<SandboxProvider, ProviderError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| ProviderError::Unavailable(e.to_string().into()))?;
        Ok(SandboxProvider {
            id: ProviderId::new("sandbox").unwrap_or_else(|_| unreachable!("a valid id")),
            key,
            public_base_url: public_base_url.map(|u| u.trim_end_matches('/').to_owned()),
        })
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key"))
    }

    /// A signed webhook reporting `outcome` (`paid`, `declined`, `insufficient_funds`) for a
    /// payment, as the sandbox checkout page sends it.
    pub fn signed_event(&self, payment: &Payment, outcome: &str) -> WebhookRequest {
        let event = SandboxEvent {
            id: format!("sbx_evt_{}_{outcome}", payment.id),
            payment_id: payment.id.to_string(),
            outcome: outcome.to_owned(),
            amount_minor: payment.price.minor_units(),
            currency: payment.price.currency().code().to_owned(),
        };
        let body = serde_json::to_vec(&event).unwrap_or_default();
        let mut mac = self.mac();
        mac.update(&body);
        let signature = hex::encode(mac.finalize().into_bytes());
        WebhookRequest {
            headers: vec![(SIGNATURE_HEADER.to_owned(), signature)],
            body,
        }
    }
}

#[async_trait]
impl PaymentProvider for SandboxProvider {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<Checkout, ProviderError> {
        let path = format!("sandbox/checkout/{}", request.payment_id);
        Ok(Checkout {
            checkout_ref: ProviderRef::new(format!("sbx_{}", request.payment_id))
                .map_err(|e| ProviderError::MalformedPayload(e.to_string()))?,
            url: match &self.public_base_url {
                Some(base) => format!("{base}/{path}"),
                None => format!("../{path}"),
            },
            expires_at: None,
        })
    }

    async fn parse_webhook(
        &self,
        request: &WebhookRequest,
        _now: SystemTime,
    ) -> Result<Vec<ProviderEvent>, ProviderError> {
        let given = request
            .header(SIGNATURE_HEADER)
            .ok_or_else(|| ProviderError::InvalidSignature("missing".into()))?;
        let mut given_bytes = [0u8; 32];
        hex::decode_to_slice(given, &mut given_bytes)
            .map_err(|_| ProviderError::InvalidSignature("malformed".into()))?;
        let mut mac = self.mac();
        mac.update(&request.body);
        if !bool::from(mac.finalize().into_bytes().as_slice().ct_eq(&given_bytes)) {
            return Err(ProviderError::InvalidSignature("mismatch".into()));
        }
        let event: SandboxEvent = serde_json::from_slice(&request.body)
            .map_err(|e| ProviderError::MalformedPayload(e.to_string()))?;
        let bad = |e: miniapp_core::ids::IdError| ProviderError::MalformedPayload(e.to_string());
        let currency = Currency::from_code(&event.currency)
            .ok_or_else(|| ProviderError::MalformedPayload("currency".into()))?;
        let kind = match event.outcome.as_str() {
            "paid" => EventKind::Succeeded {
                amount: Money::new(event.amount_minor, currency),
            },
            "declined" | "insufficient_funds" => EventKind::Failed,
            _ => return Ok(Vec::new()),
        };
        Ok(vec![ProviderEvent {
            id: ProviderEventId::new(event.id).map_err(bad)?,
            payment_id: Some(PaymentId::new(event.payment_id.clone()).map_err(bad)?),
            provider_ref: ProviderRef::new(format!("sbx_{}", event.payment_id)).map_err(bad)?,
            kind,
        }])
    }

    async fn fetch_status(&self, _payment: &Payment) -> Result<Vec<ProviderEvent>, ProviderError> {
        // The sandbox's only record of an outcome is the event it already delivered.
        Ok(Vec::new())
    }

    fn is_test(&self) -> bool {
        true
    }
}

const FORM_PAGE: &str = include_str!("../static/sandbox.html");
const RESULT_PAGE: &str = include_str!("../static/sandbox_result.html");

fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn render(template: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(template.to_owned(), |page, (k, v)| {
        page.replace(&format!("{{{{{k}}}}}"), &escape(v))
    })
}

fn result_page(status: StatusCode, title: &str, message: &str, payment_id: &str) -> Response {
    // Relative to /…/sandbox/checkout/{id}: the page of the same mount, under any prefix.
    let back = format!("../../miniapp/?payment_id={payment_id}");
    (
        status,
        Html(render(
            RESULT_PAGE,
            &[
                ("TITLE", title),
                ("MESSAGE", message),
                ("RETURN_URL", &back),
            ],
        )),
    )
        .into_response()
}

async fn sandbox_payment(state: &AppState, id: &str) -> Result<Payment, Response> {
    let not_found = || {
        result_page(
            StatusCode::NOT_FOUND,
            "Unknown payment",
            "There is no sandbox payment with this id.",
            "",
        )
    };
    let id = PaymentId::new(id).map_err(|_| not_found())?;
    let payment = state.ledger().payment(&id).await.map_err(|e| {
        tracing::warn!(error = %e, "sandbox: storage error");
        result_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again",
            "The ledger is unavailable right now.",
            id.as_str(),
        )
    })?;
    match payment {
        Some(p) if p.provider.as_str() == "sandbox" => Ok(p),
        _ => Err(not_found()),
    }
}

fn form_page(payment: &Payment, error: &str) -> Response {
    let amount = payment.price.to_string();
    let credits = payment.tokens.get().to_string();
    let status = if error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = render(
        FORM_PAGE,
        &[
            ("PAYMENT_ID", payment.id.as_str()),
            ("AMOUNT", &amount),
            ("CREDITS", &credits),
            ("ERROR", error),
        ],
    );
    (status, Html(page)).into_response()
}

fn already(payment: &Payment) -> Option<Response> {
    (payment.status != PaymentStatus::Pending).then(|| {
        result_page(
            StatusCode::OK,
            "Nothing to pay",
            &format!("This payment is already {}.", payment.status),
            payment.id.as_str(),
        )
    })
}

/// `GET /sandbox/checkout/{payment_id}`
async fn checkout_page(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match sandbox_payment(&state, &id).await {
        Ok(payment) => already(&payment).unwrap_or_else(|| form_page(&payment, "")),
        Err(page) => page,
    }
}

/// The card form.
#[derive(Deserialize)]
pub(crate) struct CardForm {
    #[serde(default)]
    card_number: String,
    #[serde(default)]
    expiry: String,
    #[serde(default)]
    cvc: String,
}

/// Whether `MM/YY` (or `MM/YYYY`) is this month or later.
fn expiry_ok(expiry: &str, now: SystemTime) -> Result<bool, ()> {
    let (mm, yy) = expiry.trim().split_once('/').ok_or(())?;
    let month: u32 = mm.trim().parse().map_err(|_| ())?;
    let year: i32 = match yy.trim().len() {
        2 => 2000 + yy.trim().parse::<i32>().map_err(|_| ())?,
        4 => yy.trim().parse().map_err(|_| ())?,
        _ => return Err(()),
    };
    if !(1..=12).contains(&month) {
        return Err(());
    }
    let now = time::OffsetDateTime::from(now);
    Ok((year, month) >= (now.year(), u32::from(u8::from(now.month()))))
}

/// `POST /sandbox/checkout/{payment_id}`
async fn pay(
    sandbox: Arc<SandboxProvider>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<CardForm>,
) -> Response {
    let payment = match sandbox_payment(&state, &id).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    if let Some(page) = already(&payment) {
        return page;
    }
    let number: String = form
        .card_number
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    match expiry_ok(&form.expiry, state.clock().now()) {
        Err(()) => return form_page(&payment, "Enter the expiry date as MM/YY."),
        Ok(false) => {
            return form_page(
                &payment,
                "This card has expired: the expiry date is in the past.",
            );
        }
        Ok(true) => {}
    }
    if !(3..=4).contains(&form.cvc.trim().len())
        || !form.cvc.trim().chars().all(|c| c.is_ascii_digit())
    {
        return form_page(&payment, "Enter the 3 or 4 digit security code.");
    }
    let (outcome, title, message) = match number.as_str() {
        "4242424242424242" => (
            "paid",
            "Payment succeeded",
            "The sandbox charged the test card. Your tokens are credited.",
        ),
        "4000000000000002" => (
            "declined",
            "Card declined",
            "The sandbox declined this test card. No money moved.",
        ),
        "4000000000009995" => (
            "insufficient_funds",
            "Insufficient funds",
            "The test card has insufficient funds. No money moved.",
        ),
        _ => return form_page(&payment, "Use one of the sandbox test cards listed below."),
    };
    let webhook = sandbox.signed_event(&payment, outcome);
    match crate::http::handle_webhook(&state, sandbox.id(), &webhook).await {
        Ok(_) => result_page(StatusCode::OK, title, message, payment.id.as_str()),
        Err(e) => {
            tracing::warn!(code = e.code(), "sandbox event not applied");
            result_page(
                e.status(),
                "Try again",
                "The payment could not be recorded; try again.",
                payment.id.as_str(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn expiry_dates() {
        // 2026-11-29
        let now = UNIX_EPOCH + Duration::from_secs(1_795_910_400);
        assert_eq!(expiry_ok("11/26", now), Ok(true));
        assert_eq!(expiry_ok("12/2030", now), Ok(true));
        assert_eq!(expiry_ok("10/26", now), Ok(false));
        assert_eq!(expiry_ok("01/20", now), Ok(false));
        for bad in ["", "13/30", "00/30", "1230", "ab/cd", "12/3"] {
            assert_eq!(expiry_ok(bad, now), Err(()), "{bad}");
        }
    }

    #[test]
    fn templates_escape_values() {
        assert_eq!(
            render("<p>{{X}}</p>", &[("X", "<script>&\"'")]),
            "<p>&lt;script&gt;&amp;&quot;&#39;</p>"
        );
    }
}
