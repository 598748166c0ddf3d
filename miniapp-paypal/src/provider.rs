//! [`PayPalProvider`]: the [`PaymentProvider`] on PayPal's Orders v2 API.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use miniapp_core::clock::{ClockExt, SharedClock, SystemClock};
use miniapp_core::event::{EventKind, FailureReason, ProviderEvent};
use miniapp_core::ids::{PaymentId, ProviderId};
use miniapp_core::ledger::{ChargeRefund, LedgerStore};
use miniapp_core::payment::Payment;
use miniapp_core::provider::{
    Checkout, CheckoutRequest, HistoryBatch, PaymentProvider, ProviderError, WebhookRequest,
};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::client::{CallError, Client};
use crate::config::{PayPalConfig, PayPalEnvironment};
use crate::history;
use crate::wire::{self, EventList, Order, Subject, malformed};

/// The PayPal provider (id `paypal`). Build it from a [`PayPalConfig`].
pub struct PayPalProvider {
    id: ProviderId,
    config: PayPalConfig,
    client: Client,
    clock: SharedClock,
    ledger: Option<Arc<dyn LedgerStore>>,
}

impl fmt::Debug for PayPalProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayPalProvider")
            .field("id", &self.id)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The longest webhook header value we pass on to PayPal's verification (PayPal's own limits
/// are 50 to 500 characters; a certificate URL is about 90).
const MAX_HEADER: usize = 1024;

/// Where PayPal's signing certificates live; a webhook naming another place is not PayPal's and
/// is refused before PayPal is asked.
const CERT_URL_PREFIXES: [&str; 4] = [
    "https://api.paypal.com/v1/notifications/certs/",
    "https://api.sandbox.paypal.com/v1/notifications/certs/",
    "https://api-m.paypal.com/v1/notifications/certs/",
    "https://api-m.sandbox.paypal.com/v1/notifications/certs/",
];

const EVENTS_PATH: &str = "/v1/notifications/webhooks-events";

#[derive(Deserialize)]
struct Verification {
    verification_status: String,
}

impl PayPalProvider {
    /// A provider for `config`.
    ///
    /// ```
    /// use miniapp_core::provider::PaymentProvider;
    /// use miniapp_paypal::{PayPalConfig, PayPalEnvironment, PayPalProvider};
    /// let config = PayPalConfig::new("id", "s3cr3t-value", "WH1", PayPalEnvironment::Sandbox, "https://bot.example");
    /// let paypal = PayPalProvider::new(config).unwrap();
    /// assert_eq!(paypal.id().as_str(), "paypal");
    /// assert!(paypal.is_test()); // the sandbox moves no real money
    /// assert!(!format!("{paypal:?}").contains("s3cr3t-value"));
    /// ```
    ///
    /// # Errors
    /// [`ProviderError::Unavailable`] when the HTTP client cannot be built.
    pub fn new(config: PayPalConfig) -> Result<PayPalProvider, ProviderError> {
        let client = Client::new(
            &config.api_base,
            config.client_id.clone(),
            config.client_secret.clone(),
            config.timeout,
        )?;
        Ok(PayPalProvider {
            id: ProviderId::new("paypal").map_err(|e| malformed(e.to_string()))?,
            config,
            client,
            clock: SystemClock::shared(),
            ledger: None,
        })
    }

    /// Lets `CHECKOUT.ORDER.APPROVED` capture: only an order that is the checkout of a PayPal
    /// payment `ledger` holds is captured there. An order that merely looks like ours (another
    /// deployment on the same PayPal app, a payment lost with a restored database) is left
    /// alone: captured, its money would be taken and credited to no one. Without a ledger,
    /// approvals are captured only on the buyer's return and by reconciliation, which start
    /// from stored payments.
    #[must_use]
    pub fn with_ledger(mut self, ledger: Arc<dyn LedgerStore>) -> PayPalProvider {
        self.ledger = Some(ledger);
        self
    }

    /// Whether `order` is the checkout of a PayPal payment the ledger holds (see
    /// [`PayPalProvider::with_ledger`]).
    async fn holds(&self, payment_id: &PaymentId, order: &Order) -> Result<bool, ProviderError> {
        let Some(ledger) = &self.ledger else {
            return Ok(false);
        };
        let payment = ledger
            .payment(payment_id)
            .await
            .map_err(|e| crate::client::unavailable_error(format!("the ledger: {e}")))?;
        Ok(payment.is_some_and(|p| {
            p.provider == self.id
                && p.checkout_ref.as_ref().map(|r| r.as_str()) == Some(order.id.as_str())
        }))
    }

    /// Reads "now" from `clock` (the app's) instead of the system clock: it decides when an
    /// order nobody approved has expired and which stretch of PayPal's event list
    /// [`PaymentProvider::fetch_history`] reads.
    #[must_use]
    pub fn with_clock(mut self, clock: SharedClock) -> PayPalProvider {
        self.clock = clock;
        self
    }

    /// The buyer comes back through `miniapp::http`'s `checkout-return` route, which captures
    /// the approved order at once (through reconciliation) and sends them on to the page.
    fn return_url(&self, id: &PaymentId, checkout: &str) -> String {
        format!(
            "{}/api/miniapp/checkout-return?payment_id={id}&checkout={checkout}",
            self.config.public_base_url
        )
    }

    /// Captures an approved order, once: every call for one order carries the same
    /// `PayPal-Request-Id`, so PayPal answers a repeat with the first capture, and an order
    /// captured under another id (`ORDER_ALREADY_CAPTURED`) is read instead. An order not
    /// approved yet gives no events; a declined funding source is an attempt that failed (the
    /// buyer may pick another one on PayPal's page).
    async fn capture(
        &self,
        order_id: &str,
        payment_id: &PaymentId,
    ) -> Result<Vec<ProviderEvent>, ProviderError> {
        let path = format!("/v2/checkout/orders/{}/capture", path_segment(order_id)?);
        let key = format!("miniapp-capture-{order_id}");
        match self
            .client
            .call(Method::POST, &path, Some("{}"), Some(&key))
            .await
        {
            Ok(body) => wire::order_events(&decode::<Order>(&body)?, payment_id),
            Err(e) => match e.issue() {
                Some("ORDER_ALREADY_CAPTURED") => self.read_order(order_id, payment_id).await,
                Some("ORDER_NOT_APPROVED" | "PAYER_ACTION_REQUIRED") => Ok(Vec::new()),
                Some("INSTRUMENT_DECLINED") => Ok(vec![wire::fact(
                    &format!("capture_declined_{order_id}"),
                    payment_id,
                    order_id,
                    EventKind::AttemptFailed {
                        reason: FailureReason::CardDeclined,
                    },
                )?]),
                // Another order of this payment was captured already (PayPal's "block duplicate
                // invoice ids"): that capture's own events carry the money.
                Some("DUPLICATE_INVOICE_ID") => {
                    tracing::warn!(
                        order = order_id,
                        "PayPal refused a second capture for one payment"
                    );
                    Ok(Vec::new())
                }
                Some(
                    "TRANSACTION_REFUSED"
                    | "PAYER_CANNOT_PAY"
                    | "PAYEE_BLOCKED_TRANSACTION"
                    | "MAX_NUMBER_OF_PAYMENT_ATTEMPTS_EXCEEDED"
                    | "COMPLIANCE_VIOLATION",
                ) => Ok(vec![wire::fact(
                    &format!("capture_refused_{order_id}"),
                    payment_id,
                    order_id,
                    EventKind::Failed {
                        reason: Some(FailureReason::CardDeclined),
                    },
                )?]),
                _ => Err(e.into()),
            },
        }
    }

    async fn read_order(
        &self,
        order_id: &str,
        payment_id: &PaymentId,
    ) -> Result<Vec<ProviderEvent>, ProviderError> {
        let order = self.get_order(order_id).await?;
        wire::order_events(&order, payment_id)
    }

    /// An order of `payment_id` as events, captured first when it is approved (the buyer came
    /// back, or PayPal said so).
    async fn settle(
        &self,
        order: &Order,
        payment_id: &PaymentId,
    ) -> Result<Vec<ProviderEvent>, ProviderError> {
        if order.status == "APPROVED" {
            self.capture(&order.id, payment_id).await
        } else {
            wire::order_events(order, payment_id)
        }
    }

    async fn get_order(&self, order_id: &str) -> Result<Order, ProviderError> {
        self.read(&format!("/v2/checkout/orders/{}", path_segment(order_id)?))
            .await
    }

    /// `GET path`, decoded.
    async fn read<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, ProviderError> {
        let body = self
            .client
            .call(Method::GET, path, None, None)
            .await
            .map_err(ProviderError::from)?;
        decode(&body)
    }

    /// What PayPal's event list holds for `[from, to]`, read as far as `pages` pages and the
    /// time budget go. PayPal's `next` links are followed for their query only, always to the
    /// API we talk to, whatever host they name.
    async fn read_stretch(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
        pages: usize,
    ) -> Result<history::Stretch, ProviderError> {
        let started = tokio::time::Instant::now();
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("page_size", &history::PAGE_SIZE.to_string())
            .append_pair("start_time", &history::rfc3339(from)?)
            .append_pair("end_time", &history::rfc3339(to)?)
            .finish();
        let mut path = format!("{EVENTS_PATH}?{query}");
        let mut stretch = history::Stretch::default();
        let mut listed = Vec::new();
        for page_number in 1..=pages {
            let page: EventList = if page_number == 1 {
                self.read(&path).await?
            } else {
                // Later pages only within the budget: a call the catch-up's deadline cuts
                // short saves nothing.
                let left = history::TIME_BUDGET.saturating_sub(started.elapsed());
                match tokio::time::timeout(left, self.read(&path)).await {
                    Ok(page) => page?,
                    Err(_) => {
                        stretch.end = history::End::OutOfTime;
                        break;
                    }
                }
            };
            for raw in &page.events {
                match wire::listed_event(raw) {
                    Ok((created, events)) => {
                        let created =
                            created.and_then(|t| OffsetDateTime::parse(&t, &Rfc3339).ok());
                        stretch.saw(created);
                        if !events.is_empty() {
                            listed.push((created, events));
                        }
                    }
                    // One unreadable event must not stop the catch-up behind it forever.
                    Err(e) => {
                        stretch.saw(None);
                        tracing::warn!(error = %e, "an event of PayPal's event list was not understood; skipped");
                    }
                }
            }
            let Some(next) = page.next() else {
                stretch.end = history::End::Whole;
                break;
            };
            if page_number == pages {
                break;
            }
            let Some(next) = next_page(next) else {
                // Not followed, and not an error that would stop the catch-up for good: the
                // stretch counts as crowded and is read in shorter ones.
                tracing::warn!(
                    link = next,
                    "PayPal's next page of events is not a page of its event list; not followed"
                );
                break;
            };
            path = next;
        }
        // PayPal lists newest first; the ledger wants them as they happened.
        listed.sort_by_key(|(created, _)| *created);
        stretch.events = listed.into_iter().flat_map(|(_, e)| e).collect();
        Ok(stretch)
    }

    /// Asks PayPal whether the webhook is authentic (`POST /v1/notifications/verify-webhook-signature`
    /// with our webhook id). The event goes back byte for byte, spliced in as raw JSON: PayPal
    /// checks a CRC32 of the bytes it signed, which re-serialising would change.
    async fn verify(&self, request: &WebhookRequest) -> Result<(), ProviderError> {
        let header = |name: &'static str| {
            request
                .header(name)
                .filter(|v| !v.is_empty() && v.len() <= MAX_HEADER)
                .ok_or_else(|| ProviderError::InvalidSignature(format!("no usable {name} header")))
        };
        let (algo, cert_url) = (header("PAYPAL-AUTH-ALGO")?, header("PAYPAL-CERT-URL")?);
        // Cheap checks first: a flood of forgeries must not each cost a call to PayPal.
        if algo != "SHA256withRSA" {
            return Err(ProviderError::InvalidSignature(
                "PAYPAL-AUTH-ALGO is not SHA256withRSA".into(),
            ));
        }
        if !CERT_URL_PREFIXES.iter().any(|p| cert_url.starts_with(p)) {
            return Err(ProviderError::InvalidSignature(
                "PAYPAL-CERT-URL is not one of PayPal's".into(),
            ));
        }
        let fields = [
            ("auth_algo", algo),
            ("cert_url", cert_url),
            ("transmission_id", header("PAYPAL-TRANSMISSION-ID")?),
            ("transmission_sig", header("PAYPAL-TRANSMISSION-SIG")?),
            ("transmission_time", header("PAYPAL-TRANSMISSION-TIME")?),
        ];
        // The whole body, whitespace included: it is what PayPal signed.
        let event = std::str::from_utf8(&request.body)
            .ok()
            .filter(|text| {
                serde_json::from_str::<&serde_json::value::RawValue>(text)
                    .is_ok_and(|raw| raw.get().starts_with('{'))
            })
            .ok_or_else(|| {
                ProviderError::InvalidSignature("the webhook body is not a JSON object".into())
            })?;
        let mut body = serde_json::Map::new();
        for (k, v) in fields {
            body.insert(k.to_owned(), json!(v));
        }
        body.insert("webhook_id".to_owned(), json!(self.config.webhook_id));
        let mut body = serde_json::to_string(&body).map_err(|e| malformed(e.to_string()))?;
        // `{…}` + `,"webhook_event":<the bytes as received>}`
        body.pop();
        body.push_str(",\"webhook_event\":");
        body.push_str(event);
        body.push('}');
        let answer = self
            .client
            .call(
                Method::POST,
                "/v1/notifications/verify-webhook-signature",
                Some(&body),
                None,
            )
            .await
            .map_err(|e| match e {
                // PayPal refusing the verification request itself (a malformed header value)
                // is a verdict on the webhook, not an outage.
                CallError::Api(f) if f.status == 400 || f.status == 422 => {
                    ProviderError::InvalidSignature(format!("PayPal refused to verify it: {f}"))
                }
                other => other.into(),
            })?;
        let verdict: Verification = decode(&answer)?;
        if verdict.verification_status == "SUCCESS" {
            Ok(())
        } else {
            Err(ProviderError::InvalidSignature(format!(
                "PayPal says {}",
                verdict.verification_status
            )))
        }
    }
}

/// The list path and query of a `next` link that names a page of the event list. Its host is
/// not used: PayPal names `api.paypal.com` where we call `api-m.paypal.com`, and our token goes
/// only to the API we were configured with.
fn next_page(href: &str) -> Option<String> {
    let url = reqwest::Url::parse(href).ok()?;
    let query = url.query().filter(|q| !q.is_empty())?;
    (url.path() == EVENTS_PATH).then(|| format!("{EVENTS_PATH}?{query}"))
}

/// An id from PayPal or from storage, made safe to put in a path: PayPal's ids are letters and
/// digits (`^[A-Z0-9]+$` for orders).
fn path_segment(id: &str) -> Result<&str, ProviderError> {
    if wire::is_paypal_id(id) {
        Ok(id)
    } else {
        Err(malformed(format!("not a PayPal id: {id:?}")))
    }
}

/// A successful answer of another shape is PayPal being unavailable (a proxy's page, a
/// truncated body), not a verdict on the payment.
fn decode<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ProviderError> {
    serde_json::from_slice(body).map_err(|e| {
        crate::client::unavailable_error(format!("PayPal's answer is not the JSON expected: {e}"))
    })
}

#[async_trait]
impl PaymentProvider for PayPalProvider {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    /// `POST /v2/checkout/orders`: intent `CAPTURE`, one purchase unit of the catalog's price
    /// with our payment id as `custom_id` and `invoice_id`, PayPal's page with "Pay now" and no
    /// shipping, return and cancel links to our page, and
    /// `PayPal-Request-Id: miniapp-order-<idempotency key>`, so every repeat of one attempt gets
    /// the same order. The buyer goes to its `payer-action` (or `approve`) link.
    async fn create_checkout(&self, r: &CheckoutRequest) -> Result<Checkout, ProviderError> {
        let id = r.payment_id.as_str();
        let description = match r.language.as_deref() {
            Some(l) if l.starts_with("ru") => format!("{} токенов", r.tokens),
            _ => format!("{} tokens", r.tokens),
        };
        let mut experience = json!({
            "shipping_preference": "NO_SHIPPING",
            "user_action": "PAY_NOW",
            "return_url": self.return_url(&r.payment_id, "success"),
            "cancel_url": self.return_url(&r.payment_id, "cancel"),
        });
        if let Some(l) = r.language.as_deref() {
            let locale = match l {
                l if l.starts_with("ru") => "ru-RU",
                _ => "en-US",
            };
            experience["locale"] = json!(locale);
        }
        let body = json!({
            "intent": "CAPTURE",
            "purchase_units": [{
                "amount": {
                    "currency_code": r.price.currency().code(),
                    "value": r.price.to_decimal_string(),
                },
                "custom_id": id,
                "invoice_id": id,
                "description": description,
            }],
            "payment_source": {"paypal": {"experience_context": experience}},
        })
        .to_string();
        let key = format!("miniapp-order-{}", r.idempotency_key());
        let answer = self
            .client
            .call(Method::POST, "/v2/checkout/orders", Some(&body), Some(&key))
            .await
            .map_err(ProviderError::from)?;
        let order: Order = decode(&answer)?;
        let url = order
            .links
            .iter()
            .find(|l| l.rel == "payer-action" || l.rel == "approve")
            .map(|l| l.href.clone())
            .filter(|u| u.starts_with("https://") || miniapp_core::provider::is_loopback_http(u))
            .ok_or_else(|| {
                crate::client::unavailable_error("PayPal's order has no approval link")
            })?;
        Ok(Checkout {
            checkout_ref: wire::reference(&order.id)?,
            url,
            // PayPal gives a buyer three hours from the order's creation to approve it.
            expires_at: Some(r.created_at + self.config.approval_window.as_secs()),
        })
    }

    /// Verifies with PayPal, then reads what the webhook names back from PayPal's API and maps
    /// that (the body's own content is never trusted: PayPal signs only a CRC32 of it).
    /// `CHECKOUT.ORDER.APPROVED` captures the order here (idempotently) when it is the checkout
    /// of a payment the ledger holds ([`PayPalProvider::with_ledger`]).
    async fn parse_webhook(
        &self,
        request: &WebhookRequest,
        _now: SystemTime,
    ) -> Result<Vec<ProviderEvent>, ProviderError> {
        self.verify(request).await?;
        let Some(named) = wire::map_webhook(&request.body)? else {
            return Ok(Vec::new());
        };
        if named.subject == Subject::Approval {
            let order = self.get_order(&named.id).await?;
            let Some(payment_id) = order.ours() else {
                tracing::warn!(order = %order.id, "an approved PayPal order that is not ours; not captured");
                return Ok(Vec::new());
            };
            if !self.holds(&payment_id, &order).await? {
                tracing::warn!(order = %order.id, payment = %payment_id, "an approved PayPal order that is no checkout of this ledger's; not captured here");
                return Ok(Vec::new());
            }
            return self.settle(&order, &payment_id).await;
        }
        let answer = self
            .client
            .call(Method::GET, &named.subject.path(&named.id), None, None)
            .await?;
        let object: &serde_json::value::RawValue = decode(&answer)?;
        wire::subject_events(named.event, named.subject, object.get())
    }

    /// Reads the order; an approved one is captured first (the buyer came back, or the
    /// `CHECKOUT.ORDER.APPROVED` webhook was lost).
    async fn fetch_status(&self, payment: &Payment) -> Result<Vec<ProviderEvent>, ProviderError> {
        let Some(order_id) = &payment.checkout_ref else {
            return Ok(Vec::new());
        };
        let path = format!("/v2/checkout/orders/{}", path_segment(order_id.as_str())?);
        let order: Order = match self.client.call(Method::GET, &path, None, None).await {
            Ok(body) => decode(&body)?,
            // PayPal forgets an order nobody approved once its approval window is over: after
            // twice that window (three hours to reach PayPal, three to approve), a missing order
            // is a checkout that expired unpaid.
            Err(e)
                if e.issue() == Some("INVALID_RESOURCE_ID")
                    && self.clock.unix_now()
                        > payment.created_at + 2 * self.config.approval_window.as_secs() =>
            {
                return Ok(vec![wire::fact(
                    &format!("reconcile_{order_id}_expired"),
                    &payment.id,
                    order_id.as_str(),
                    EventKind::Expired,
                )?]);
            }
            Err(e) => return Err(e.into()),
        };
        self.settle(&order, &payment.id).await
    }

    /// Reads PayPal's event list (`GET /v1/notifications/webhooks-events`) by time: the cursor
    /// is where the last stretch read ended (RFC 3339, whole seconds, UTC) and how long a
    /// stretch to read next (`;span=<seconds>`, an hour when absent), and each call reads on
    /// from there, up to five minutes before now (an event shows in the list some time after
    /// it happened). The first call only sets the cursor: a new install does not replay the
    /// account's past. Events are mapped from the resources the list carries, under the ids
    /// their webhooks carry, so an event whose webhook did arrive is a repeat.
    ///
    /// The next stretch is sized from the last one's density, for about three pages of events.
    /// A stretch that does not fit in five pages (or whose later pages do not come within 6 s)
    /// is not applied in part: the call returns no events and a shorter stretch, sized from
    /// what it saw, down to ten seconds. Ten seconds are read with up to 20 pages; when PayPal
    /// is too slow for them the cursor stays (read again next time), and what does not fit
    /// even in 20 pages is passed with a warning. A cursor ahead of the clock (the clock went
    /// back) is moved back to now's point: a stretch read twice only repeats events.
    async fn fetch_history(&self, cursor: Option<&str>) -> Result<HistoryBatch, ProviderError> {
        let now = history::whole_seconds(OffsetDateTime::from(self.clock.now()))?;
        let readable = now - history::LAG;
        let batch = |events, cursor: Option<history::Cursor>, more| {
            Ok(HistoryBatch {
                events,
                cursor: cursor.map(|c| c.render()).transpose()?,
                more,
            })
        };
        let Some(cursor) = cursor else {
            return batch(Vec::new(), Some(history::Cursor::start(readable)), false);
        };
        let cursor = history::Cursor::parse(cursor)?;
        if cursor.from > readable {
            tracing::warn!(cursor = %history::rfc3339(cursor.from)?, "the PayPal history cursor is ahead of the clock; moved back (are the instances' clocks in sync?)");
            return batch(Vec::new(), Some(history::Cursor::start(readable)), false);
        }
        if cursor.from == readable {
            return batch(Vec::new(), None, false);
        }
        let to = cursor.to(readable);
        let at_least = cursor.at_least(to);
        let pages = if at_least {
            history::PAGES_AT_MIN_SPAN
        } else {
            history::PAGES
        };
        let stretch = self.read_stretch(cursor.from, to, pages).await?;
        if stretch.end != history::End::Whole {
            if !at_least {
                return batch(Vec::new(), Some(cursor.narrowed(to, &stretch)), true);
            }
            if stretch.end == history::End::OutOfTime {
                // PayPal is slow, not the list too full: the same ten seconds next time,
                // rather than passing events that a faster answer would have shown.
                tracing::warn!(from = %history::rfc3339(cursor.from)?, read = stretch.listed, "PayPal's event list answered too slowly to read ten seconds of it; read again next time");
                return batch(Vec::new(), None, false);
            }
            tracing::warn!(from = %history::rfc3339(cursor.from)?, to = %history::rfc3339(to)?, read = stretch.listed, "ten seconds of PayPal's event list hold more than 20 pages (or a next link that is not one); the oldest of them were passed");
        }
        let next = cursor.after(to, &stretch);
        let events = stretch.events;
        batch(events, Some(next), to < readable)
    }

    /// `POST /v2/payments/captures/{capture}/refund` of the whole amount, keyed
    /// `PayPal-Request-Id: miniapp-refund-<capture>` (PayPal keeps refund keys 45 days), so a
    /// repeated call refunds once; `CAPTURE_FULLY_REFUNDED` counts as done.
    async fn refund_charge(&self, refund: &ChargeRefund) -> Result<(), ProviderError> {
        let capture = path_segment(refund.charge_ref.as_str())?;
        let body = json!({
            "amount": {
                "currency_code": refund.amount.currency().code(),
                "value": refund.amount.to_decimal_string(),
            },
            "note_to_payer": format!("Refund of a duplicate payment ({})", refund.payment_id),
        })
        .to_string();
        let key = format!("miniapp-refund-{capture}");
        match self
            .client
            .call(
                Method::POST,
                &format!("/v2/payments/captures/{capture}/refund"),
                Some(&body),
                Some(&key),
            )
            .await
        {
            Ok(body) => match decode::<wire::Refund>(&body)?.status.as_str() {
                "FAILED" | "CANCELLED" => Err(ProviderError::Rejected {
                    code: "REFUND_FAILED".into(),
                    message: format!("PayPal did not refund capture {capture}"),
                }),
                _ => Ok(()),
            },
            Err(e) if e.issue() == Some("CAPTURE_FULLY_REFUNDED") => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn is_test(&self) -> bool {
        self.config.environment == PayPalEnvironment::Sandbox
    }
}
