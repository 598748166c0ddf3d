//! The `/api/miniapp/*` handlers.

use axum::Extension;
use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use miniapp_core::catalog::ClientOrder;
use miniapp_core::ids::{IdempotencyKey, PaymentId, UserId};
use miniapp_core::init_data::sign;
use miniapp_core::ledger::{HistoryQuery, JournalEntry, NewPayment};
use miniapp_core::money::Money;
use miniapp_core::payment::{Payment, PaymentStatus};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

use super::AppState;
use super::checkout::ensure_checkout;
use super::error::ApiError;
use super::extract::{authenticate, json_body, valid_email};
use super::state::Auth;

type ApiResult = Result<Response, ApiError>;

fn money(m: Money) -> Value {
    json!({ "currency": m.currency().code(), "amount": m.to_decimal_string(), "amount_minor": m.minor_units() })
}

pub(crate) fn rfc3339(unix: u64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// `2026-11-29 12:00` (UTC), for messages.
pub(crate) fn date_only(unix: u64) -> String {
    let full = rfc3339(unix);
    full.get(..16).map(|s| s.replace('T', " ")).unwrap_or(full)
}

/// `GET /api/miniapp/packages`
pub(crate) async fn packages(State(state): State<AppState>) -> Response {
    let default_currency = state.inner.methods[0].offer.currency;
    let packages: Vec<Value> = state
        .inner
        .catalog
        .packages()
        .iter()
        .map(|p| {
            let primary = p.price_in(default_currency).unwrap_or(p.prices()[0]);
            json!({
                "credits": p.tokens().get(),
                "amount": primary.to_decimal_string(),
                "amount_minor": primary.minor_units(),
                "currency": primary.currency().code(),
                "prices": p.prices().iter().map(|m| money(*m)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let methods: Vec<Value> = state
        .inner
        .methods
        .iter()
        .map(|m| json!({ "id": m.offer.method.as_str(), "currency": m.offer.currency.code(), "opens": m.opens, "test": m.provider.is_test() }))
        .collect();
    Json(json!({
        "success": true,
        "currency": default_currency.code(),
        "packages": packages,
        "methods": methods,
        "sandbox": state.inner.methods.iter().any(|m| m.provider.is_test()),
        "dev_login": state.is_development(),
        "bot_url": state.bot_url(),
    }))
    .into_response()
}

#[derive(Deserialize)]
pub(crate) struct CreatePaymentBody {
    #[serde(default)]
    email: Option<String>,
    credits: u64,
    amount: Value,
    currency: String,
    payment_method: String,
    #[serde(default)]
    user_id: Option<i64>,
    #[serde(default)]
    init_data: Option<String>,
}

fn payment_reply(state: &AppState, p: &Payment) -> Value {
    let opens = state.method(p.method.as_str()).map(|m| m.opens);
    json!({
        "success": true,
        "payment_id": p.id.as_str(),
        "payment_url": p.checkout_url,
        "status": p.status.as_str(),
        "credits": p.tokens.get(),
        "amount": p.price.to_decimal_string(),
        "amount_minor": p.price.minor_units(),
        "currency": p.price.currency().code(),
        "opens": opens,
    })
}

/// Open payments older than this no longer count against a user's limit (a checkout expires
/// within the hour; one that is still `pending` later was abandoned).
const OPEN_WINDOW_SECS: u64 = 3600;

/// An open payment younger than this, for the same package, method and e-mail, is handed out
/// again instead of a new one: well inside the shortest checkout lifetime (Stripe's 30 minutes).
pub(crate) const REUSE_WINDOW_SECS: u64 = 15 * 60;

/// `POST /api/miniapp/create-payment`
pub(crate) async fn create_payment(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let body: CreatePaymentBody = json_body(&headers, body).await?;
    let caller = match authenticate(&state, &headers, body.init_data.as_deref()) {
        Ok(caller) => caller,
        // Only requests nobody can vouch for count per address: buyers behind one proxy or NAT
        // share an address, and one client's junk must not lock them all out.
        Err(e) => {
            if let Some(limits) = &state.inner.limits {
                limits.check_address(&headers, peer.as_ref().map(|Extension(p)| p))?;
            }
            return Err(e);
        }
    };
    if let Some(claimed) = body.user_id
        && claimed != caller.user.get()
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "user_mismatch",
            "user_id is not the user of the init data",
        ));
    }
    if let Some(limits) = &state.inner.limits {
        limits.check_user(caller.user.get())?;
    }
    let order = ClientOrder {
        credits: body.credits,
        amount: body.amount,
        currency: body.currency,
        payment_method: body.payment_method,
    };
    let quote = state.inner.catalog.quote(&order, &state.offers())?;
    let email = match body
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        Some(e) if valid_email(e) => Some(e.to_owned()),
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_email",
                "the e-mail address is not valid",
            ));
        }
        None => None,
    };
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|k| IdempotencyKey::new(k).ok())
                .ok_or_else(|| {
                    ApiError::invalid_request(
                        "Idempotency-Key must be 1 to 255 printable ASCII characters",
                    )
                })?,
        ),
    };
    let method = state.method(quote.method.as_str()).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_method",
            "payment method is not available",
        )
    })?;
    let now = state.unix_now();
    let open = state
        .inner
        .ledger
        .open_payments(caller.user, now.saturating_sub(OPEN_WINDOW_SECS))
        .await?;
    let replay =
        idempotency_key.is_some() && open.iter().any(|p| p.idempotency_key == idempotency_key);
    // The same order again (a second tap, a reopened page): the checkout already opened for it.
    let reusable = open.iter().find(|p| {
        p.provider == *method.provider.id()
            && p.method == quote.method
            && p.tokens == quote.tokens
            && p.price == quote.price
            && p.email == email
            && now.saturating_sub(p.created_at) < REUSE_WINDOW_SECS
    });
    let payment = match reusable {
        Some(p) if !replay => {
            // The handoff page asks by this request's key, which the reused payment does not
            // carry.
            if let Some(key) = &idempotency_key
                && p.idempotency_key.as_ref() != Some(key)
            {
                state
                    .inner
                    .handoff_aliases
                    .remember(caller.user, key.clone(), p.id.clone(), now);
            }
            p.clone()
        }
        _ => {
            let limit = state.inner.settings.max_open_payments;
            // A payment whose checkout could not open within the reuse window never will
            // (`payment_closed`): it does not hold a place.
            let holding = open
                .iter()
                .filter(|p| {
                    p.checkout_url.is_some() || now.saturating_sub(p.created_at) < REUSE_WINDOW_SECS
                })
                .count();
            if limit > 0 && !replay && holding >= usize::try_from(limit).unwrap_or(usize::MAX) {
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_open_payments",
                    format!(
                        "{limit} payments are already waiting to be paid; pay or close one of them first"
                    ),
                ));
            }
            let id = PaymentId::generate().map_err(|e| {
                tracing::error!(error = %e, "no randomness for a payment id");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            })?;
            state
                .inner
                .ledger
                .create_payment(NewPayment {
                    id,
                    user_id: caller.user,
                    provider: method.provider.id().clone(),
                    method: quote.method.clone(),
                    tokens: quote.tokens,
                    price: quote.price,
                    email,
                    idempotency_key,
                    language: caller.language.clone(),
                })
                .await?
        }
    };
    let had_checkout = payment.checkout_url.is_some();
    let payment = ensure_checkout(&state, method, payment).await?;
    if !had_checkout {
        crate::metrics::payment_created(&payment);
        tracing::info!(payment = %payment.id, user = %payment.user_id, tokens = payment.tokens.get(), "payment created");
    }
    Ok(Json(payment_reply(&state, &payment)).into_response())
}

/// The longest `wait` of `payment-status`, in seconds.
pub(crate) const MAX_STATUS_WAIT_SECS: u64 = 30;

#[derive(Deserialize, Default)]
pub(crate) struct StatusParams {
    wait: Option<String>,
    status: Option<String>,
}

/// `?wait=<1..30>&status=<status>`: `Some` when the request may wait for `status` to change.
fn status_wait(params: &StatusParams) -> Result<Option<(Duration, PaymentStatus)>, ApiError> {
    let Some(wait) = &params.wait else {
        return Ok(None);
    };
    let secs = wait
        .parse::<u64>()
        .ok()
        .filter(|s| (1..=MAX_STATUS_WAIT_SECS).contains(s))
        .ok_or_else(|| {
            ApiError::invalid_request("wait must be a whole number of seconds, 1 to 30")
        })?;
    let status = params
        .status
        .as_deref()
        .and_then(PaymentStatus::parse)
        .ok_or_else(|| {
            ApiError::invalid_request(
                "with wait, status must be the status the page knows (e.g. pending)",
            )
        })?;
    Ok(Some((Duration::from_secs(secs), status)))
}

/// `GET /api/miniapp/payment-status/{payment_id}[?wait=<1..30>&status=<status>]`
///
/// With `wait`, a payment still in `status` is answered when its status changes (woken by the
/// ledger's commit, on PostgreSQL from any instance) or when `wait` seconds pass, whichever is
/// first; the answer is always a fresh read. Without it, the product document's plain poll.
pub(crate) async fn payment_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    params: Result<Query<StatusParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let caller = authenticate(&state, &headers, None)?;
    let Query(params) = params
        .map_err(|_| ApiError::invalid_request("the query must be wait=<1..30>&status=<status>"))?;
    let wait = status_wait(&params)?;
    let id = PaymentId::new(id).map_err(|_| ApiError::not_found())?;
    // Nothing of the request is needed once the caller is known; a waiting request keeps none.
    drop((headers, params));
    // The reads are boxed, the plain one too: a future is as large as its largest state, and a
    // request spends its wait holding only the waiter and a timer, not room for a ledger query
    // (thousands of requests may wait at once).
    let read = |state, id| Box::pin(status_reply(state, caller.user, id));
    let Some((wait, known)) = wait else {
        let (_, reply) = read(&state, &id).await?;
        return Ok(Json(reply).into_response());
    };
    // Subscribed before the read: a change committed after it wakes this request, one committed
    // before it is what the read sees.
    let waiter = state.inner.waiters.waiter(&id);
    let woken = waiter.notified();
    tokio::pin!(woken);
    woken.as_mut().enable();
    let (status, reply) = read(&state, &id).await?;
    if status != known {
        return Ok(Json(reply).into_response());
    }
    tokio::select! {
        () = woken => {}
        () = tokio::time::sleep(wait) => {}
        () = state.inner.waiters.closing() => {}
    }
    let (_, reply) = read(&state, &id).await?;
    Ok(Json(reply).into_response())
}

#[derive(Deserialize)]
pub(crate) struct ReturnParams {
    payment_id: Option<String>,
    checkout: Option<String>,
}

/// `GET /api/miniapp/checkout-return?payment_id=…&checkout=success|cancel`: where a checkout
/// that needs us to act on the buyer's return (PayPal, whose money moves only when we capture
/// the approved order) sends the buyer back. A pending payment is checked with its provider at
/// once (the reconciler's usual spacing still applies), then the buyer is sent on to the page
/// with the same two parameters. Unauthenticated by nature (the buyer arrives from the
/// provider's site, often in another browser): it only asks the provider what is true, which
/// anyone may trigger without effect, and answers the same redirect whatever it finds.
pub(crate) async fn checkout_return(
    State(state): State<AppState>,
    params: Result<Query<ReturnParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let params = params.map(|Query(p)| p).ok();
    let id = params
        .as_ref()
        .and_then(|p| p.payment_id.as_deref())
        .and_then(|v| PaymentId::new(v).ok());
    let checkout = match params.as_ref().and_then(|p| p.checkout.as_deref()) {
        Some("success") => "success",
        _ => "cancel",
    };
    let Some(id) = id else {
        return axum::response::Redirect::to("../../miniapp/").into_response();
    };
    if checkout == "success"
        && let Ok(Some(payment)) = state.inner.ledger.payment(&id).await
    {
        let now = state.unix_now();
        let _ = Box::pin(state.inner.reconciler.on_checkout_return(payment, now)).await;
    }
    // Relative, so it works under any prefix the routes are nested at.
    axum::response::Redirect::to(&format!(
        "../../miniapp/?payment_id={id}&checkout={checkout}"
    ))
    .into_response()
}

/// A fresh read of the payment (reconciled with its provider when it is due) and its answer.
async fn status_reply(
    state: &AppState,
    user: UserId,
    id: &PaymentId,
) -> Result<(PaymentStatus, Value), ApiError> {
    let (payment, mut balance) = state.inner.ledger.payment_with_balance(user, id).await?;
    crate::metrics::status_read();
    let status_before = payment.status;
    let payment = state
        .inner
        .reconciler
        .on_status_poll(payment, state.unix_now())
        .await;
    if payment.status != status_before {
        // Reconciliation moved money: read the balance again.
        balance = state.inner.ledger.balance(user).await?;
        crate::metrics::status_read();
    }
    let mut reply = json!({
        "success": true,
        "payment_id": payment.id.as_str(),
        "status": payment.status.as_str(),
        "amount": payment.price.to_decimal_string(),
        "amount_minor": payment.price.minor_units(),
        "currency": payment.price.currency().code(),
        "credits": payment.tokens.get(),
        "created_at": rfc3339(payment.created_at),
        "balance": balance.balance,
    });
    // Why the payment (or its last failed attempt) failed, while no money was taken: a payment
    // that was paid after a declined attempt is not a failure.
    if let Some(reason) = payment.facts.failure_reason
        && payment.facts.paid.is_none()
    {
        reply["failure_code"] = json!(reason.code());
    }
    // While the payment is open, its checkout: a page that came back knowing only the payment
    // id can still offer "open the payment page again".
    if matches!(
        payment.status,
        PaymentStatus::Created | PaymentStatus::Pending
    ) && let Some(url) = &payment.checkout_url
    {
        reply["payment_url"] = json!(url);
        reply["opens"] = json!(state.method(payment.method.as_str()).map(|m| m.opens));
    }
    Ok((payment.status, reply))
}

/// `GET /api/miniapp/balance`
pub(crate) async fn balance(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    let caller = authenticate(&state, &headers, None)?;
    let b = state.inner.ledger.balance(caller.user).await?;
    Ok(Json(json!({
        "success": true,
        "balance": b.balance,
        "total_deposited": b.total_deposited,
        "total_spent": b.total_spent,
    }))
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct HistoryParams {
    before: Option<i64>,
    limit: Option<u32>,
}

pub(crate) fn entry_json(e: &JournalEntry) -> Value {
    json!({
        "id": e.id,
        "kind": e.kind.as_str(),
        "delta": e.delta,
        "balance_after": e.balance_after,
        "payment_id": e.payment_id.as_ref().map(PaymentId::as_str),
        "memo": e.memo,
        "created_at": rfc3339(e.created_at),
    })
}

/// `GET /api/miniapp/history?before=&limit=`
pub(crate) async fn history(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<HistoryParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let caller = authenticate(&state, &headers, None)?;
    let Query(params) = params.map_err(|e| ApiError::invalid_request(e.body_text()))?;
    let page = state
        .inner
        .ledger
        .history(
            caller.user,
            HistoryQuery {
                before: params.before,
                limit: params.limit.unwrap_or(20),
            },
        )
        .await?;
    Ok(Json(json!({
        "success": true,
        "entries": page.entries.iter().map(entry_json).collect::<Vec<_>>(),
        "next_before": page.next_before,
    }))
    .into_response())
}

/// The lengths of key `GET /api/miniapp/handoff` accepts. The key is the only secret of the
/// handoff (it has no init data), so a short, guessable one is refused: 32 characters are 128
/// random bits as hex and more in base64url.
const HANDOFF_KEY_LEN: std::ops::RangeInclusive<usize> = 32..=128;

/// How many of a user's latest journal entries the handoff reads for a payment that closed
/// paid (an open payment is found among the user's open payments).
const HANDOFF_JOURNAL_DEPTH: u32 = 10;

#[derive(Deserialize)]
pub(crate) struct HandoffParams {
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    key: Option<String>,
}

/// `GET /api/miniapp/handoff?user_id=&key=`: the checkout of the payment that `user_id`
/// created with `Idempotency-Key: key`, for a browser the page opened inside the user's tap
/// (Telegram allows `openLink` only in a user gesture, before create-payment has answered).
/// Never cached (`no-store`); the key is never logged.
pub(crate) async fn handoff(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    params: Result<Query<HandoffParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let peer = peer.as_ref().map(|Extension(p)| p);
    let mut response = match handoff_state(&state, peer, &headers, params).await {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    };
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

async fn handoff_state(
    state: &AppState,
    peer: Option<&ConnectInfo<SocketAddr>>,
    headers: &HeaderMap,
    params: Result<Query<HandoffParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Value, ApiError> {
    if let Some(limits) = &state.inner.limits {
        limits.check_handoff(headers, peer)?;
    }
    // The rejection's own text is not echoed: it may quote the query, key included.
    let Query(params) = params
        .map_err(|_| ApiError::invalid_request("the query must be user_id=<id>&key=<key>"))?;
    let user = params
        .user_id
        .as_deref()
        .and_then(|u| u.parse::<i64>().ok())
        .and_then(UserId::new)
        .ok_or_else(|| ApiError::invalid_request("user_id must be a positive integer"))?;
    let key = params
        .key
        .as_deref()
        .filter(|k| {
            HANDOFF_KEY_LEN.contains(&k.len())
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
        .and_then(|k| IdempotencyKey::new(k).ok())
        .ok_or_else(|| {
            ApiError::invalid_request("key must be 32 to 128 characters of A-Z, a-z, 0-9, _ and -")
        })?;
    let ledger = &state.inner.ledger;
    let now = state.unix_now();
    let open = ledger
        .open_payments(user, now.saturating_sub(OPEN_WINDOW_SECS))
        .await?;
    let alias = state.inner.handoff_aliases.lookup(user, &key, now);
    if let Some(p) = open
        .iter()
        .find(|p| p.idempotency_key.as_ref() == Some(&key) || alias.as_ref() == Some(&p.id))
    {
        return Ok(match &p.checkout_url {
            Some(url) => json!({ "success": true, "state": "ready", "payment_url": url }),
            None => json!({ "success": true, "state": "preparing" }),
        });
    }
    // No longer open: a paid one is found through its credit among the latest journal entries.
    let page = ledger
        .history(user, HistoryQuery::latest(HANDOFF_JOURNAL_DEPTH))
        .await?;
    let mut read: Vec<&PaymentId> = Vec::new();
    // Only a credit means the payment was paid: the other entries need no read.
    let credited = page
        .entries
        .iter()
        .filter(|e| e.kind == miniapp_core::ledger::EntryKind::Credit);
    for id in credited.filter_map(|e| e.payment_id.as_ref()) {
        if read.contains(&id) {
            continue;
        }
        read.push(id);
        if let Some(p) = ledger.payment(id).await?
            && p.user_id == user
            && (p.idempotency_key.as_ref() == Some(&key) || alias.as_ref() == Some(&p.id))
        {
            return Ok(json!({ "success": true, "state": "closed", "status": p.status.as_str() }));
        }
    }
    Ok(json!({ "success": true, "state": "preparing" }))
}

#[derive(Deserialize, Default)]
pub(crate) struct DevLoginBody {
    #[serde(default)]
    language_code: Option<String>,
}

/// The local test user of development mode.
pub const DEV_USER_ID: i64 = 100_000_001;

/// `POST /api/miniapp/dev-login` (development mode only; the route is not mounted otherwise).
pub(crate) async fn dev_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let Auth::Development(token) = &state.inner.auth else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such route",
        ));
    };
    let has_body = headers.get(axum::http::header::CONTENT_TYPE).is_some();
    let body: DevLoginBody = if has_body {
        json_body(&headers, body).await?
    } else {
        DevLoginBody::default()
    };
    let language = body
        .language_code
        .filter(|l| l.len() <= 8 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or_else(|| "en".into());
    let user = json!({
        "id": DEV_USER_ID, "first_name": "Dev", "last_name": "User", "username": "dev_user",
        "language_code": language, "allows_write_to_pm": true,
    })
    .to_string();
    let auth_date = state.unix_now().to_string();
    let init_data = sign(
        &[
            ("user", &user),
            ("auth_date", &auth_date),
            ("query_id", "dev"),
        ],
        token,
    );
    Ok(
        Json(json!({ "success": true, "init_data": init_data, "user_id": DEV_USER_ID }))
            .into_response(),
    )
}

/// `GET /healthz`
pub(crate) async fn healthz(State(state): State<AppState>) -> Response {
    match state.inner.ledger.ping().await {
        Ok(()) => Json(json!({ "status": "ok", "database": "ok" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "degraded", "database": "unavailable" })),
            )
                .into_response()
        }
    }
}

/// The user id of the development user, for the demo's log line.
pub fn dev_user() -> UserId {
    UserId::new(DEV_USER_ID).unwrap_or_else(|| unreachable!("a positive constant"))
}
