//! The sandbox provider: an offline imitation of a card checkout, so the demo runs the real
//! pipeline (checkout, signed webhook, verification, ledger) without any payment service.
//!
//! Its checkout page lives at `/sandbox/checkout/{payment_id}` and says plainly that it is a
//! sandbox. Test cards: `4242 4242 4242 4242` pays, `4000 0000 0000 0002` is declined
//! (`card_declined`), `4000 0000 0000 9995` fails for insufficient funds (`insufficient_funds`);
//! a past expiry date is refused on the form. The outcome is sent as an HMAC-signed event through
//! the same webhook handler every provider uses; a decline fails the payment with its reason.
//!
//! The page speaks English or Russian: `?lang=en|ru` on the checkout URL (the payment page adds
//! it), else the browser's `Accept-Language`, else English; the form keeps the language across
//! its post. After an error the form comes back with what was typed (never the CVC), the error
//! above the button and `aria-invalid` on the field. The amount is formatted in the page with
//! `Intl.NumberFormat` from integer minor units (`data-amount-minor`, `data-currency`,
//! `data-exponent`), over a plain server-rendered text; the inline script runs by a per-response
//! CSP nonce.

use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use hmac::{Hmac, Mac};
use miniapp_core::event::{EventKind, FailureReason, ProviderEvent};
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
                .post(move |state, path, headers, form| {
                    pay(sandbox.clone(), state, path, headers, form)
                })
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

    /// A signed webhook reporting `outcome` for a payment, as the sandbox checkout page sends it:
    /// `paid`, or a failure with its reason — `declined` (`card_declined`), `insufficient_funds`,
    /// `expired_card` (the page itself refuses a past expiry before any event).
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
            "declined" => EventKind::Failed {
                reason: Some(FailureReason::CardDeclined),
            },
            "insufficient_funds" => EventKind::Failed {
                reason: Some(FailureReason::InsufficientFunds),
            },
            "expired_card" => EventKind::Failed {
                reason: Some(FailureReason::ExpiredCard),
            },
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

/// The language of the sandbox pages: English or Russian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    En,
    Ru,
}

impl Lang {
    /// Exactly `en` or `ru` (the `lang` query parameter and the form's hidden field).
    fn parse(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "ru" => Some(Lang::Ru),
            _ => None,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
        }
    }

    /// The first of English and Russian in an `Accept-Language` header, by preference (`q`),
    /// then by order; `None` when it names neither.
    fn from_accept_language(header: &str) -> Option<Lang> {
        let mut ranges: Vec<(u16, Lang)> = header
            .split(',')
            .filter_map(|item| {
                let mut parts = item.split(';');
                let tag = parts.next()?.trim();
                let primary = tag.split('-').next()?.to_ascii_lowercase();
                let lang = Lang::parse(&primary)?;
                let q = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .map_or(Some(1000), quality)?;
                (q > 0).then_some((q, lang))
            })
            .collect();
        // Stable: equal preferences keep the header's order.
        ranges.sort_by_key(|&(q, _)| std::cmp::Reverse(q));
        ranges.first().map(|(_, lang)| *lang)
    }

    /// The page's language: `explicit` (`lang=en|ru`) if given, else the browser's, else English.
    fn pick(explicit: Option<&str>, headers: &HeaderMap) -> Lang {
        explicit
            .and_then(Lang::parse)
            .or_else(|| {
                headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(Lang::from_accept_language)
            })
            .unwrap_or(Lang::En)
    }
}

/// An HTTP quality value (`1`, `0.8`, `0.125`) in thousandths; `None` when malformed.
fn quality(q: &str) -> Option<u16> {
    let (int, frac) = q.trim().split_once('.').unwrap_or((q.trim(), ""));
    if frac.len() > 3 || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{frac:0<3}").parse().ok()?;
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Every text of the sandbox pages, in one language.
struct Texts {
    checkout_title: &'static str,
    result_title: &'static str,
    badge: &'static str,
    banner: &'static str,
    banner_done: &'static str,
    heading: &'static str,
    intro: &'static str,
    card_number: &'static str,
    expiry: &'static str,
    cvc: &'static str,
    name: &'static str,
    name_placeholder: &'static str,
    pay: &'static str,
    back: &'static str,
    cards_title: &'static str,
    pays: &'static str,
    declined: &'static str,
    insufficient: &'static str,
    past_expiry: &'static str,
    rejected: &'static str,
    cards_hint: &'static str,
    foot: &'static str,
    error_expiry_format: &'static str,
    error_expired: &'static str,
    error_cvc: &'static str,
    error_card: &'static str,
    error_declined: &'static str,
    error_insufficient: &'static str,
    paid_title: &'static str,
    paid_message: &'static str,
    unknown_title: &'static str,
    unknown_message: &'static str,
    retry_title: &'static str,
    unavailable_message: &'static str,
    not_recorded_message: &'static str,
    nothing_title: &'static str,
}

const EN: Texts = Texts {
    checkout_title: "SANDBOX checkout — no real money",
    result_title: "SANDBOX payment result — no real money",
    badge: "SANDBOX",
    banner: "Test checkout only — no real money moves and no card is charged.",
    banner_done: "Test checkout only — no real money moved and no card was charged.",
    heading: "Test card payment",
    intro: "An imitation of a card form for development and demos.",
    card_number: "Card number",
    expiry: "Expiry (MM/YY)",
    cvc: "CVC",
    name: "Name on card (optional)",
    name_placeholder: "Jane Doe",
    pay: "Pay (sandbox)",
    back: "Back to the payment page",
    cards_title: "Test cards",
    pays: "pays",
    declined: "is declined",
    insufficient: "fails: insufficient funds",
    past_expiry: "A past expiry date",
    rejected: "is rejected",
    cards_hint: "Any future expiry (MM/YY) and any 3-digit CVC work with the paying card.",
    foot: "SANDBOX · no real money moves",
    error_expiry_format: "Enter the expiry date as MM/YY.",
    error_expired: "This card has expired: the expiry date is in the past.",
    error_cvc: "Enter the 3 or 4 digit security code.",
    error_card: "Use one of the sandbox test cards listed below.",
    error_declined: "Card declined: the sandbox declined this test card. No money moved. Go back to \
                     the payment page to try again.",
    error_insufficient: "Insufficient funds: the test card has insufficient funds. No money moved. \
                         Go back to the payment page to try again.",
    paid_title: "Payment succeeded",
    paid_message: "The sandbox charged the test card. Your tokens are credited.",
    unknown_title: "Unknown payment",
    unknown_message: "There is no sandbox payment with this id.",
    retry_title: "Try again",
    unavailable_message: "The ledger is unavailable right now.",
    not_recorded_message: "The payment could not be recorded; try again.",
    nothing_title: "Nothing to pay",
};

const RU: Texts = Texts {
    checkout_title: "Тестовая оплата (песочница) — без настоящих денег",
    result_title: "Результат тестовой оплаты — без настоящих денег",
    // The mark every sandbox page carries, in both languages (the banner under it says it in
    // Russian).
    badge: "SANDBOX",
    banner: "Только тестовая оплата — настоящие деньги не списываются, карта не оплачивается.",
    banner_done: "Только тестовая оплата — настоящие деньги не списаны, карта не оплачена.",
    heading: "Тестовая оплата картой",
    intro: "Имитация платёжной формы для разработки и демонстраций.",
    card_number: "Номер карты",
    expiry: "Срок действия (ММ/ГГ)",
    cvc: "CVC",
    name: "Имя на карте (необязательно)",
    name_placeholder: "Иван Иванов",
    pay: "Оплатить (тест)",
    back: "Вернуться к странице оплаты",
    cards_title: "Тестовые карты",
    pays: "оплачивает",
    declined: "отклоняется",
    insufficient: "не проходит: недостаточно средств",
    past_expiry: "Прошедший срок действия",
    rejected: "не принимается",
    cards_hint: "С оплачивающей картой подойдёт любой будущий срок (ММ/ГГ) и любой трёхзначный CVC.",
    foot: "SANDBOX · настоящие деньги не списываются",
    error_expiry_format: "Введите срок действия в формате ММ/ГГ.",
    error_expired: "Срок действия карты истёк: указанная дата уже прошла.",
    error_cvc: "Введите код безопасности из 3 или 4 цифр.",
    error_card: "Используйте одну из тестовых карт, перечисленных ниже.",
    error_declined: "Карта отклонена: песочница отклонила эту тестовую карту. Деньги не списаны. \
                     Вернитесь к странице оплаты, чтобы попробовать снова.",
    error_insufficient: "Недостаточно средств на тестовой карте. Деньги не списаны. Вернитесь к \
                         странице оплаты, чтобы попробовать снова.",
    paid_title: "Оплата прошла",
    paid_message: "Песочница списала оплату с тестовой карты. Токены зачислены.",
    unknown_title: "Платёж не найден",
    unknown_message: "Тестового платежа с таким номером нет.",
    retry_title: "Попробуйте снова",
    unavailable_message: "Учёт платежей сейчас недоступен.",
    not_recorded_message: "Не удалось записать платёж; попробуйте снова.",
    nothing_title: "Оплачивать нечего",
};

impl Lang {
    fn texts(self) -> &'static Texts {
        match self {
            Lang::En => &EN,
            Lang::Ru => &RU,
        }
    }

    /// "500 tokens", "500 токенов" (Russian plural forms).
    fn tokens(self, n: u64) -> String {
        let word = match self {
            Lang::En if n == 1 => "token",
            Lang::En => "tokens",
            Lang::Ru => match (n % 10, n % 100) {
                (1, r) if r != 11 => "токен",
                (2..=4, r) if !(12..=14).contains(&r) => "токена",
                _ => "токенов",
            },
        };
        format!("{n} {word}")
    }

    /// "This payment is already failed." in this language.
    fn already(self, status: PaymentStatus) -> String {
        match self {
            Lang::En => format!(
                "This payment is already {}.",
                status.as_str().replace('_', " ")
            ),
            Lang::Ru => {
                let word = match status {
                    PaymentStatus::Created => "создан",
                    PaymentStatus::Pending => "ожидает оплаты",
                    PaymentStatus::Succeeded => "оплачен",
                    PaymentStatus::PartiallyRefunded => "частично возвращён",
                    PaymentStatus::Refunded => "возвращён",
                    PaymentStatus::Disputed => "оспорен",
                    PaymentStatus::Failed => "не прошёл",
                    PaymentStatus::Expired => "истёк",
                    PaymentStatus::Canceled => "отменён",
                    _ => "закрыт",
                };
                format!("Этот платёж уже {word}.")
            }
        }
    }

    /// The amount as plain text for when the page's script does not run ("25.00 USD", "25,00 USD");
    /// the script replaces it with `Intl.NumberFormat`'s rendering.
    fn amount(self, money: Money) -> String {
        let text = money.to_string();
        match self {
            Lang::En => text,
            Lang::Ru => text.replacen('.', ",", 1),
        }
    }
}

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

/// Fills `{{KEY}}` placeholders: `markup` with trusted, static fragments as they are, then
/// `values` HTML-escaped (everything that may come from a request goes there).
fn render(template: &str, markup: &[(&str, &'static str)], values: &[(&str, &str)]) -> String {
    let page = markup.iter().fold(template.to_owned(), |page, (k, v)| {
        page.replace(&format!("{{{{{k}}}}}"), v)
    });
    values.iter().fold(page, |page, (k, v)| {
        page.replace(&format!("{{{{{k}}}}}"), &escape(v))
    })
}

/// A fresh nonce for the page's inline script (hex of 16 random bytes), or `None` without
/// randomness: then no script runs and the plain amount stays.
fn script_nonce() -> Option<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).ok()?;
    Some(hex::encode(bytes))
}

/// An HTML page with the sandbox's headers: a Content-Security-Policy that lets only the page's
/// own inline script run (by nonce) and its form post only back here, and no caching or referrer
/// (the form echoes what was typed).
fn html(status: StatusCode, page: String, nonce: Option<&str>) -> Response {
    let script = nonce.map_or_else(|| "'none'".to_owned(), |n| format!("'nonce-{n}'"));
    let csp = format!(
        "default-src 'none'; script-src {script}; style-src 'unsafe-inline'; img-src 'self' data:; \
         form-action 'self'; base-uri 'none'"
    );
    let mut response = (status, Html(page)).into_response();
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The values both pages share: the language, the way back to the payment page, the list of
/// test cards.
fn shared_values(lang: Lang, back: &str) -> [(&'static str, &str); 9] {
    let t = lang.texts();
    [
        ("LANG", lang.code()),
        ("BADGE", t.badge),
        ("RETURN_URL", back),
        ("BACK", t.back),
        ("CARDS_TITLE", t.cards_title),
        ("PAYS", t.pays),
        ("DECLINED", t.declined),
        ("INSUFFICIENT", t.insufficient),
        ("PAST_EXPIRY", t.past_expiry),
    ]
}

/// Relative to /…/sandbox/checkout/{id}: the payment page of the same mount, under any prefix.
fn return_url(payment_id: &str) -> String {
    format!("../../miniapp/?payment_id={payment_id}")
}

fn result_page(
    lang: Lang,
    status: StatusCode,
    title: &str,
    message: &str,
    payment_id: &str,
) -> Response {
    let t = lang.texts();
    let back = return_url(payment_id);
    let mut values = shared_values(lang, &back).to_vec();
    values.extend([
        ("PAGE_TITLE", t.result_title),
        ("BANNER", t.banner_done),
        ("TITLE", title),
        ("MESSAGE", message),
        ("REJECTED", t.rejected),
    ]);
    let page = render(RESULT_PAGE, &[], &values);
    html(status, page, None)
}

async fn sandbox_payment(state: &AppState, id: &str, lang: Lang) -> Result<Payment, Response> {
    let t = lang.texts();
    let not_found = || {
        result_page(
            lang,
            StatusCode::NOT_FOUND,
            t.unknown_title,
            t.unknown_message,
            "",
        )
    };
    let id = PaymentId::new(id).map_err(|_| not_found())?;
    let payment = state.ledger().payment(&id).await.map_err(|e| {
        tracing::warn!(error = %e, "sandbox: storage error");
        result_page(
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            t.retry_title,
            t.unavailable_message,
            id.as_str(),
        )
    })?;
    match payment {
        Some(p) if p.provider.as_str() == "sandbox" => Ok(p),
        _ => Err(not_found()),
    }
}

/// A field of the card form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    CardNumber,
    Expiry,
    Cvc,
}

/// What the form shows besides the order: the buyer's input to keep (never the CVC), an error
/// and the field it is about, and whether the payment is closed (a decline was recorded: the
/// form shows what was tried, and the way back to the payment page).
#[derive(Debug, Default)]
struct FormState<'a> {
    card_number: &'a str,
    expiry: &'a str,
    name: &'a str,
    error: &'a str,
    invalid: Option<Field>,
    closed: bool,
}

/// At most `max` characters of what was typed, for showing it again.
fn kept(s: &str, max: usize) -> &str {
    s.char_indices().nth(max).map_or(s, |(i, _)| &s[..i])
}

fn form_page(payment: &Payment, lang: Lang, status: StatusCode, form: &FormState<'_>) -> Response {
    let t = lang.texts();
    let price = payment.price;
    let invalid = |field| {
        if form.invalid == Some(field) {
            "true"
        } else {
            "false"
        }
    };
    let back = return_url(payment.id.as_str());
    let nonce = script_nonce();
    let amount = lang.amount(price);
    let amount_minor = price.minor_units().to_string();
    let currency = price.currency();
    let exponent = currency.exponent().to_string();
    let credits = lang.tokens(payment.tokens.get());
    let mut values = shared_values(lang, &back).to_vec();
    values.extend([
        ("NONCE", nonce.as_deref().unwrap_or("")),
        ("PAGE_TITLE", t.checkout_title),
        ("BANNER", t.banner),
        ("HEADING", t.heading),
        ("INTRO", t.intro),
        ("PAYMENT_ID", payment.id.as_str()),
        ("AMOUNT", &amount),
        ("AMOUNT_MINOR", &amount_minor),
        ("CURRENCY", currency.code()),
        ("EXPONENT", &exponent),
        ("CREDITS", &credits),
        ("LABEL_CARD_NUMBER", t.card_number),
        ("LABEL_EXPIRY", t.expiry),
        ("LABEL_CVC", t.cvc),
        ("LABEL_NAME", t.name),
        ("NAME_PLACEHOLDER", t.name_placeholder),
        ("CARD_NUMBER", kept(form.card_number, 32)),
        ("EXPIRY", kept(form.expiry, 16)),
        ("NAME", kept(form.name, 100)),
        ("ERROR", form.error),
        ("PAY", t.pay),
        ("REJECTED", t.rejected),
        ("CARDS_HINT", t.cards_hint),
        ("FOOT", t.foot),
    ]);
    let page = render(
        FORM_PAGE,
        &[
            ("CARD_NUMBER_INVALID", invalid(Field::CardNumber)),
            ("EXPIRY_INVALID", invalid(Field::Expiry)),
            ("CVC_INVALID", invalid(Field::Cvc)),
            ("SUBMIT_STATE", if form.closed { "disabled" } else { "" }),
            ("BACK_STATE", if form.closed { "" } else { "hidden" }),
        ],
        &values,
    );
    html(status, page, nonce.as_deref())
}

fn already(payment: &Payment, lang: Lang) -> Option<Response> {
    (payment.status != PaymentStatus::Pending).then(|| {
        result_page(
            lang,
            StatusCode::OK,
            lang.texts().nothing_title,
            &lang.already(payment.status),
            payment.id.as_str(),
        )
    })
}

/// `GET /sandbox/checkout/{payment_id}[?lang=en|ru]`: the language from `lang`, else from
/// `Accept-Language`, else English.
async fn checkout_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let asked = crate::http::query_param(&uri, "lang");
    let lang = Lang::pick(asked.as_deref(), &headers);
    match sandbox_payment(&state, &id, lang).await {
        Ok(payment) => already(&payment, lang)
            .unwrap_or_else(|| form_page(&payment, lang, StatusCode::OK, &FormState::default())),
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
    /// The cardholder's name; optional, only shown again.
    #[serde(default)]
    name: String,
    /// The page's language (`en`, `ru`), kept across the post.
    #[serde(default)]
    lang: String,
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
    headers: HeaderMap,
    Form(form): Form<CardForm>,
) -> Response {
    let lang = Lang::pick(Some(&form.lang), &headers);
    let t = lang.texts();
    let payment = match sandbox_payment(&state, &id, lang).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    if let Some(page) = already(&payment, lang) {
        return page;
    }
    let typed = FormState {
        card_number: &form.card_number,
        expiry: &form.expiry,
        name: &form.name,
        ..FormState::default()
    };
    let refuse = |field, error| {
        let shown = FormState {
            error,
            invalid: Some(field),
            ..typed
        };
        form_page(&payment, lang, StatusCode::UNPROCESSABLE_ENTITY, &shown)
    };
    let number: String = form
        .card_number
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    match expiry_ok(&form.expiry, state.clock().now()) {
        Err(()) => return refuse(Field::Expiry, t.error_expiry_format),
        // Refused here, as a card form does: no event, the payment stays open.
        Ok(false) => return refuse(Field::Expiry, t.error_expired),
        Ok(true) => {}
    }
    if !(3..=4).contains(&form.cvc.trim().len())
        || !form.cvc.trim().chars().all(|c| c.is_ascii_digit())
    {
        return refuse(Field::Cvc, t.error_cvc);
    }
    let (outcome, declined) = match number.as_str() {
        "4242424242424242" => ("paid", None),
        "4000000000000002" => ("declined", Some(t.error_declined)),
        "4000000000009995" => ("insufficient_funds", Some(t.error_insufficient)),
        _ => return refuse(Field::CardNumber, t.error_card),
    };
    let webhook = sandbox.signed_event(&payment, outcome);
    match crate::http::handle_webhook(&state, sandbox.id(), &webhook).await {
        Ok(_) => match declined {
            // The decline is recorded (the payment failed, with its reason); the form shows
            // what was tried, why it failed and the way back.
            Some(error) => {
                let shown = FormState {
                    error,
                    invalid: Some(Field::CardNumber),
                    closed: true,
                    ..typed
                };
                form_page(&payment, lang, StatusCode::OK, &shown)
            }
            None => result_page(
                lang,
                StatusCode::OK,
                t.paid_title,
                t.paid_message,
                payment.id.as_str(),
            ),
        },
        Err(e) => {
            tracing::warn!(code = e.code(), "sandbox event not applied");
            result_page(
                lang,
                e.status(),
                t.retry_title,
                t.not_recorded_message,
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
    fn templates_escape_values_but_not_static_markup() {
        assert_eq!(
            render(
                "<p {{A}}>{{X}}</p>",
                &[("A", "hidden")],
                &[("X", "<script>&\"'")]
            ),
            "<p hidden>&lt;script&gt;&amp;&quot;&#39;</p>"
        );
    }

    #[test]
    fn the_language_comes_from_lang_then_accept_language_then_english() {
        let accept = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static(v));
            h
        };
        let none = HeaderMap::new();
        assert_eq!(Lang::pick(Some("ru"), &none), Lang::Ru);
        assert_eq!(Lang::pick(Some("en"), &accept("ru-RU,ru;q=0.9")), Lang::En);
        // Exactly `en` or `ru`; anything else falls through to the header.
        for odd in ["RU", "ru-RU", "de", "", " ru"] {
            assert_eq!(Lang::pick(Some(odd), &accept("ru")), Lang::Ru, "{odd:?}");
            assert_eq!(Lang::pick(Some(odd), &none), Lang::En, "{odd:?}");
        }
        assert_eq!(
            Lang::pick(None, &accept("ru-RU,ru;q=0.9,en;q=0.8")),
            Lang::Ru
        );
        assert_eq!(
            Lang::pick(None, &accept("de-DE,de;q=0.9,ru;q=0.5,en;q=0.4")),
            Lang::Ru
        );
        assert_eq!(
            Lang::pick(None, &accept("en-US,en;q=0.9,ru;q=0.8")),
            Lang::En
        );
        assert_eq!(
            Lang::pick(None, &accept("en;q=0.5, ru")),
            Lang::Ru,
            "by preference"
        );
        assert_eq!(
            Lang::pick(None, &accept("ru;q=0, en;q=0.1")),
            Lang::En,
            "q=0 is a refusal"
        );
        assert_eq!(Lang::pick(None, &accept("de, fr;q=0.5, *")), Lang::En);
        assert_eq!(
            Lang::pick(None, &accept("ru;q=abc")),
            Lang::En,
            "malformed q"
        );
        assert_eq!(Lang::pick(None, &none), Lang::En);
    }

    #[test]
    fn russian_plurals_and_amounts() {
        let words: Vec<String> = [1, 2, 5, 11, 21, 22, 100, 112, 500]
            .into_iter()
            .map(|n| Lang::Ru.tokens(n))
            .collect();
        assert_eq!(
            words,
            [
                "1 токен",
                "2 токена",
                "5 токенов",
                "11 токенов",
                "21 токен",
                "22 токена",
                "100 токенов",
                "112 токенов",
                "500 токенов"
            ]
        );
        assert_eq!(Lang::En.tokens(1), "1 token");
        assert_eq!(Lang::Ru.amount(Money::usd_cents(2500)), "25,00 USD");
        assert_eq!(Lang::En.amount(Money::usd_cents(2500)), "25.00 USD");
        assert_eq!(Lang::Ru.amount(Money::new(1250, Currency::XTR)), "1250 XTR");
    }

    #[test]
    fn kept_input_is_cut_on_a_character_boundary() {
        assert_eq!(kept("Иван", 2), "Ив");
        assert_eq!(kept("abc", 10), "abc");
    }

    #[tokio::test]
    async fn every_placeholder_of_both_pages_is_filled() {
        let payment = miniapp_core::payment::example_pending_payment();
        for lang in [Lang::En, Lang::Ru] {
            for page in [
                form_page(&payment, lang, StatusCode::OK, &FormState::default()),
                result_page(lang, StatusCode::OK, "t", "m", "pay_1"),
            ] {
                let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
                    .to_str()
                    .unwrap()
                    .to_owned();
                assert!(csp.contains("default-src 'none'"), "{csp}");
                let body = axum::body::to_bytes(page.into_body(), usize::MAX)
                    .await
                    .unwrap();
                let body = String::from_utf8(body.to_vec()).unwrap();
                assert!(!body.contains("{{"), "{lang:?}: {body}");
                assert!(body.contains(&format!("<html lang=\"{}\">", lang.code())));
            }
        }
    }
}
