//! The ledger: payments, balances and the append-only journal, behind the [`LedgerStore`] trait.
//!
//! The money rules live here and in [`crate::payment`] once: [`plan_event`] and [`plan_spend`]
//! decide, a store only provides locking and persistence. [`InMemoryLedger`] is the reference
//! store; the SQL stores must behave the same (the `miniapp_core::conformance` (feature `conformance`) suite checks it).

mod admin;
mod memory;
mod plan;

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::catalog::PaymentMethod;
use crate::event::ProviderEvent;
use crate::ids::{IdempotencyKey, PaymentId, ProviderId, ProviderRef, UserId};
use crate::money::{Money, TokenAmount};
use crate::payment::{NoEffect, Payment, PaymentStatus, RefundPolicy};

pub use admin::{
    AdjustReceipt, Anomalies, AuditReport, CreditMismatch, LedgerAdmin, OperatorNote,
    ProviderTotal, QueuedRefund, RecordedEvent, Resolution, ResolutionPlan, ResolutionRecord,
    UnsentNotification, adjustment_key, plan_adjustment, plan_resolution,
};
pub use memory::InMemoryLedger;
pub use plan::{EventPlan, plan_event, plan_spend};

/// Kinds of journal entries. Only [`EntryKind::Clawback`] may take a balance below zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EntryKind {
    /// Tokens credited for a paid payment (positive).
    Credit,
    /// Tokens spent by the user (negative).
    Spend,
    /// Tokens taken back after a refund or a lost dispute (negative).
    Clawback,
    /// Tokens given back because a refund that had taken them failed (positive).
    Restore,
    /// A correction by a person (either sign), with who ([`JournalEntry::actor`]) and why
    /// ([`JournalEntry::memo`]); never below zero. See [`LedgerAdmin::adjust`].
    Adjustment,
}

impl EntryKind {
    /// Stable snake_case name for storage.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Credit => "credit",
            EntryKind::Spend => "spend",
            EntryKind::Clawback => "clawback",
            EntryKind::Adjustment => "adjustment",
            EntryKind::Restore => "restore",
        }
    }

    /// Parses [`EntryKind::as_str`] back.
    pub fn parse(s: &str) -> Option<EntryKind> {
        [
            EntryKind::Credit,
            EntryKind::Spend,
            EntryKind::Clawback,
            EntryKind::Adjustment,
            EntryKind::Restore,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One line of a user's journal. The journal is append-only and the balance always equals the sum
/// of its deltas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Position in the store's journal; later entries have larger ids.
    pub id: i64,
    /// Whose balance.
    pub user_id: UserId,
    /// What kind of movement.
    pub kind: EntryKind,
    /// Signed change of the balance.
    pub delta: i64,
    /// Balance right after this entry.
    pub balance_after: i64,
    /// The payment behind a credit or clawback.
    pub payment_id: Option<PaymentId>,
    /// The caller's key behind a spend.
    pub idempotency_key: Option<IdempotencyKey>,
    /// Free text from the spender (what was bought), or an adjustment's reason.
    pub memo: Option<String>,
    /// Unix seconds.
    pub created_at: u64,
    /// Who made an adjustment (`None` for entries the system made).
    pub actor: Option<String>,
}

/// A user's balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// Whose.
    pub user_id: UserId,
    /// Tokens available; negative only after a clawback (a debt).
    pub balance: i64,
    /// Sum of all credits.
    pub total_deposited: u64,
    /// Sum of all spends.
    pub total_spent: u64,
}

impl Balance {
    /// The balance of a user who never had any entry.
    pub fn empty(user_id: UserId) -> Balance {
        Balance {
            user_id,
            balance: 0,
            total_deposited: 0,
            total_spent: 0,
        }
    }
}

/// A payment to record, before any checkout exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    /// Our id (usually [`PaymentId::generate`]).
    pub id: PaymentId,
    /// The buyer (from verified init data, never from the request body).
    pub user_id: UserId,
    /// The provider that will take the money.
    pub provider: ProviderId,
    /// The method.
    pub method: PaymentMethod,
    /// Tokens sold (from the catalog).
    pub tokens: TokenAmount,
    /// Price (from the catalog).
    pub price: Money,
    /// Receipt email.
    pub email: Option<String>,
    /// Creation with the same (user, key) returns the first payment.
    pub idempotency_key: Option<IdempotencyKey>,
    /// The buyer's language (`ru`, `en`, …), for the payment-success notification.
    pub language: Option<String>,
}

impl NewPayment {
    /// Whether `payment` is this same order (tokens, price, provider, method): what makes a
    /// repeated creation with one idempotency key return the first payment instead of
    /// [`LedgerError::IdempotencyConflict`].
    pub fn same_order(&self, payment: &Payment) -> bool {
        payment.tokens == self.tokens
            && payment.price == self.price
            && payment.provider == self.provider
            && payment.method == self.method
    }
}

/// A checkout the provider opened for a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutRecord {
    /// The provider's reference of the checkout.
    pub checkout_ref: crate::ids::ProviderRef,
    /// Where the payer goes.
    pub url: String,
}

/// A spend of tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendRequest {
    /// Whose tokens.
    pub user_id: UserId,
    /// How many.
    pub amount: TokenAmount,
    /// Retrying with the same key returns the first result and spends nothing more.
    pub idempotency_key: IdempotencyKey,
    /// What was bought, for the history (at most 200 characters are kept).
    pub memo: Option<String>,
}

/// A successful spend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendReceipt {
    /// The journal entry of the spend.
    pub entry: JournalEntry,
    /// `true` when this key had already been spent and nothing new happened.
    pub replayed: bool,
}

/// What applying an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventReceipt {
    /// The payment after the event.
    pub payment: Payment,
    /// The event id had been applied before: nothing happened now.
    pub duplicate: bool,
    /// Status before the event.
    pub status_before: PaymentStatus,
    /// Tokens credited by this event (this is the moment to notify the user).
    pub credited: u64,
    /// Tokens taken from the balance by this event.
    pub clawed_back: u64,
    /// Tokens reversed but not taken (cap-at-zero policy).
    pub written_off: u64,
    /// Tokens given back because a refund that had taken them failed.
    pub restored: u64,
    /// Why the event changed nothing, when it did not: a plain repeat of known facts, or an
    /// anomaly ([`NoEffect::is_anomaly`]) such as a duplicate charge, which the caller must not
    /// let pass silently. `None` for a redelivered event id (`duplicate`), which was decided the
    /// first time.
    pub no_effect: Option<NoEffect>,
}

impl EventReceipt {
    /// The answer to an event id applied before: nothing happened now.
    pub fn redelivered(payment: Payment) -> EventReceipt {
        EventReceipt {
            status_before: payment.status,
            payment,
            duplicate: true,
            credited: 0,
            clawed_back: 0,
            written_off: 0,
            restored: 0,
            no_effect: None,
        }
    }
}

/// A provider event that matched no payment when it arrived
/// ([`ProviderEvent::may_precede_its_payment`]), kept until a success teaches its payment the
/// charge reference it names: see [`LedgerStoreExt::apply_or_hold`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldEvent {
    /// The provider that sent it.
    pub provider: ProviderId,
    /// The event as verified.
    pub event: ProviderEvent,
    /// When it was first kept (unix seconds).
    pub received_at: u64,
}

/// What [`LedgerStoreExt::apply_or_hold`] did with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // one per event, moved once: boxing buys nothing
pub enum Applied {
    /// The event's payment is known: applied (or recognised as a redelivery).
    Matched {
        /// What the event did.
        receipt: EventReceipt,
        /// Events held for this payment's charge and applied now, in the order they arrived.
        released: Vec<(HeldEvent, EventReceipt)>,
    },
    /// No payment is known for the charge yet: kept durably, applied when its success lands or
    /// by the sweep ([`LedgerStoreExt::release_held`]).
    Held,
}

/// A payment-success notification in the outbox. The row is written in the same transaction as
/// the credit, so a restart between commit and send loses nothing, and once per payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The credited payment (one notification per payment).
    pub payment_id: PaymentId,
    /// Whom to tell.
    pub user_id: UserId,
    /// Tokens credited.
    pub tokens: TokenAmount,
    /// What was paid.
    pub amount: Money,
    /// The buyer's language, if known.
    pub language: Option<String>,
    /// The provider that took the money (a test provider's messages say so).
    pub provider: ProviderId,
    /// Delivery attempts before this one.
    pub attempts: u32,
}

/// How the work on a claimed entry of a durable queue ended: a payment-success notification
/// ([`NotificationOutbox`]) or the refund of a duplicate charge ([`RefundQueue`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimOutcome {
    /// Done: the notification was delivered, the charge refunded (or had been already).
    Done,
    /// Not done this time (the messenger or the provider could not be reached, or said so); try
    /// again at `not_before` (unix seconds).
    Retry {
        /// Earliest next attempt.
        not_before: u64,
        /// What went wrong.
        error: String,
    },
    /// Will never be done by retrying (the user blocked the bot; the provider refused or cannot
    /// refund, so a person has to); recorded, no more attempts.
    Failed {
        /// Why.
        error: String,
    },
}

/// A page of history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    /// Entries, newest first.
    pub entries: Vec<JournalEntry>,
    /// Pass as `before` to get the next (older) page; `None` at the end.
    pub next_before: Option<i64>,
}

/// Which page of history to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Only entries with an id below this.
    pub before: Option<i64>,
    /// Page size, clamped to 1..=100.
    pub limit: u32,
}

impl HistoryQuery {
    /// The newest `limit` entries.
    pub fn latest(limit: u32) -> HistoryQuery {
        HistoryQuery {
            before: None,
            limit,
        }
    }

    /// The page size actually used.
    pub fn clamped_limit(&self) -> u32 {
        self.limit.clamp(1, 100)
    }
}

/// The one error type of [`LedgerStore`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// No such payment, or the event's provider is not the payment's provider.
    #[error("unknown payment")]
    UnknownPayment,
    /// The user has fewer tokens than the spend needs (or owes tokens).
    #[error("insufficient funds: balance {balance}, needed {requested}")]
    InsufficientFunds {
        /// Balance at the time.
        balance: i64,
        /// Tokens asked for.
        requested: u64,
    },
    /// An idempotency key was reused for a different request.
    #[error("idempotency key was already used for a different request")]
    IdempotencyConflict,
    /// The payment already has a different checkout.
    #[error("the payment already has another checkout")]
    CheckoutConflict,
    /// An operator's action does not apply (resolving a payment that has nothing to resolve,
    /// crediting one that is not conflicted, …); nothing was changed.
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// A value read from storage breaks an invariant (corruption or a foreign writer).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// The storage cannot be reached or refused the work for now; retrying later may succeed.
    /// The HTTP layer answers 503.
    #[error("storage unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Any other storage failure, with its cause.
    #[error("storage error")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl LedgerError {
    /// Whether the storage was unreachable or busy, so the same call may succeed later (HTTP
    /// 503). [`LedgerError::Backend`] is a storage failure too (HTTP 500) but not known to pass.
    pub fn is_transient(&self) -> bool {
        matches!(self, LedgerError::Unavailable(_))
    }
}

/// Durable storage of payments, balances and the journal.
///
/// # Contract
/// - Every method is atomic: it either commits all its effects or none.
/// - [`LedgerStore::apply_event`] runs [`plan_event`] while holding the payment (and the user's
///   balance) exclusively, records the event id (unique per provider; a recorded id returns
///   `duplicate: true` and changes nothing), persists the plan, and returns only after commit.
///   A credit is unique per (provider, provider payment reference), enforced by storage.
/// - [`LedgerStore::spend`] runs [`plan_spend`] under the same exclusivity; a spend is unique per
///   (user, idempotency key): a repeat returns the first entry with `replayed: true`, a repeat
///   with another amount is [`LedgerError::IdempotencyConflict`], and insufficient funds is
///   [`LedgerError::InsufficientFunds`] with nothing recorded.
/// - No entry but a [`EntryKind::Clawback`] takes the balance below zero (a positive entry may
///   leave a debt smaller: a user who owes tokens can still be credited), and the balance always
///   equals the sum of the user's journal deltas. Journal entries are never changed or deleted.
/// - [`LedgerStore::hold_event`] keeps an event durably, once per (provider, event id);
///   [`LedgerStore::held_events`] lists only those whose id [`LedgerStore::apply_event`] has not
///   recorded, so applying a held event is what releases it (exactly once, by the event id).
/// - Creating a payment with an idempotency key already used by the same user returns the first
///   payment if the order is the same, [`LedgerError::IdempotencyConflict`] otherwise.
/// - A commit that credits a payment also enqueues its [`Notification`], in the same
///   transaction and at most once per payment; [`NotificationOutbox`] hands each out once.
/// - Failures of the storage itself are [`LedgerError::Unavailable`] or
///   [`LedgerError::Backend`]; no method panics on bad data.
///
/// The behaviours are specified by the functions of `miniapp_core::conformance` (feature `conformance`) (feature
/// `conformance`), which every store runs.
#[async_trait]
pub trait LedgerStore: Send + Sync + fmt::Debug {
    /// Records a new payment in status `created`.
    async fn create_payment(&self, new: NewPayment) -> Result<Payment, LedgerError>;

    /// Records the provider checkout of a payment (status `pending`). Attaching the same checkout
    /// again is a no-op; a different one is [`LedgerError::CheckoutConflict`].
    async fn attach_checkout(
        &self,
        id: &PaymentId,
        checkout: &CheckoutRecord,
    ) -> Result<Payment, LedgerError>;

    /// Gives up the checkout attempt `failed` of a payment that has no checkout yet, because the
    /// provider failed, refused or did not answer in time: the payment's
    /// [`Payment::checkout_attempt`] becomes `failed + 1`, so the next request for it uses a
    /// fresh provider idempotency key instead of one whose stored error the provider would
    /// replay. Safe because no checkout URL of attempt `failed` was handed out. A no-op (returning
    /// the payment as it is) when a checkout is attached, the payment is no longer `created`, or
    /// the attempt has already moved past `failed` (a concurrent request gave it up first).
    async fn abandon_checkout_attempt(
        &self,
        id: &PaymentId,
        failed: u32,
    ) -> Result<Payment, LedgerError>;

    /// A user's open payments (status `created` or `pending`) created at or after
    /// `created_from` (unix seconds), newest first, at most 100: what the abuse limits count,
    /// and where a repeated order finds the checkout it can reuse.
    async fn open_payments(
        &self,
        user: UserId,
        created_from: u64,
    ) -> Result<Vec<Payment>, LedgerError>;

    /// Up to `limit` payments still `created` (no checkout was ever attached) that were created
    /// before `created_before` (unix seconds, exclusive), oldest first: payments whose checkout
    /// never opened, which the sweep closes as expired.
    async fn unstarted_payments(
        &self,
        created_before: u64,
        limit: u32,
    ) -> Result<Vec<Payment>, LedgerError>;

    /// Applies a verified provider event (see the contract above).
    async fn apply_event(
        &self,
        provider: &ProviderId,
        event: &ProviderEvent,
        policy: RefundPolicy,
    ) -> Result<EventReceipt, LedgerError>;

    /// Keeps `event`, which matched no payment, until its payment is known (see
    /// [`LedgerStoreExt::apply_or_hold`]). Keeping the same event id again is a no-op, and so is
    /// keeping an event whose id was already applied.
    async fn hold_event(
        &self,
        provider: &ProviderId,
        event: &ProviderEvent,
    ) -> Result<(), LedgerError>;

    /// Held events whose id has not been applied since, received at or after `received_from`
    /// (unix seconds), oldest first, at most `limit`: those naming `charge` (a provider and its
    /// charge reference), or, without one, those whose charge a payment now knows (the ones
    /// that can be applied: events of other products on the same account never crowd them
    /// out).
    async fn held_events(
        &self,
        charge: Option<(&ProviderId, &ProviderRef)>,
        received_from: u64,
        limit: u32,
    ) -> Result<Vec<HeldEvent>, LedgerError>;

    /// Where the catch-up from `provider`'s own history stopped
    /// ([`crate::provider::PaymentProvider::fetch_history`]); `None` before the first time.
    async fn provider_cursor(&self, provider: &ProviderId) -> Result<Option<String>, LedgerError>;

    /// Stores the catch-up cursor of `provider` (at most 500 characters).
    async fn save_provider_cursor(
        &self,
        provider: &ProviderId,
        cursor: &str,
    ) -> Result<(), LedgerError>;

    /// Spends tokens (see the contract above).
    async fn spend(&self, request: &SpendRequest) -> Result<SpendReceipt, LedgerError>;

    /// A user's balance (zero for an unknown user).
    async fn balance(&self, user: UserId) -> Result<Balance, LedgerError>;

    /// A payment by id.
    async fn payment(&self, id: &PaymentId) -> Result<Option<Payment>, LedgerError>;

    /// A payment of `user` and that user's balance, for status polling (the hottest read).
    /// A payment that is missing or belongs to another user is [`LedgerError::UnknownPayment`],
    /// so callers cannot tell the two apart. The default makes two reads; SQL stores override it
    /// with one query, one round trip.
    async fn payment_with_balance(
        &self,
        user: UserId,
        id: &PaymentId,
    ) -> Result<(Payment, Balance), LedgerError> {
        let payment = LedgerStoreExt::own_payment(self, user, id).await?;
        Ok((payment, self.balance(user).await?))
    }

    /// Up to `limit` payments still [`PaymentStatus::Pending`] that were created in
    /// `[created_from, created_to]` (unix seconds, both inclusive), newest first, ties in
    /// descending id order: what the reconciliation sweep asks the providers about. With
    /// `before_id`, payments created at exactly `created_to` are listed only when their id sorts
    /// below it, so the last payment of a page is the cursor of the next:
    /// `(created_to, before_id) = (last.created_at, Some(&last.id))`.
    async fn pending_payments(
        &self,
        created_from: u64,
        created_to: u64,
        before_id: Option<&PaymentId>,
        limit: u32,
    ) -> Result<Vec<Payment>, LedgerError>;

    /// A page of a user's journal, newest first.
    async fn history(&self, user: UserId, query: HistoryQuery) -> Result<HistoryPage, LedgerError>;

    /// Whether the storage answers (health checks). The default, for stores without a remote
    /// side, always succeeds.
    async fn ping(&self) -> Result<(), LedgerError> {
        Ok(())
    }

    /// Registers `hook`, called with a payment's id after a change of its status committed in
    /// this process (a page waiting for the status is answered at once instead of at its next
    /// poll). Returns whether this store announces changes; the default announces none and
    /// returns `false`, and waiting pages then re-read the status when their wait ends.
    ///
    /// # Contract
    ///
    /// - A hook runs after the commit, never inside it, and never for a change that rolled back.
    /// - Every change of [`Payment::status`] made through this store is announced at least once;
    ///   an announcement without a change is allowed (a hook re-reads, it does not trust).
    /// - Hooks must not block: they hand the id on and return.
    fn watch_status(&self, hook: StatusHook) -> bool {
        let _ = hook;
        false
    }
}

/// What [`LedgerStore::watch_status`] calls after a payment's status changed.
pub type StatusHook = std::sync::Arc<dyn Fn(&PaymentId) + Send + Sync>;

/// The hooks of a store that announces status changes ([`LedgerStore::watch_status`]).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use miniapp_core::ids::PaymentId;
/// use miniapp_core::ledger::StatusHooks;
///
/// let hooks = StatusHooks::default();
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink = seen.clone();
/// hooks.add(Arc::new(move |id: &PaymentId| sink.lock().unwrap().push(id.clone())));
/// let id = PaymentId::new("pay_1").unwrap();
/// hooks.announce(&id);
/// assert_eq!(*seen.lock().unwrap(), vec![id]);
/// ```
#[derive(Default)]
pub struct StatusHooks {
    hooks: std::sync::RwLock<Vec<StatusHook>>,
}

impl fmt::Debug for StatusHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatusHooks").finish_non_exhaustive()
    }
}

impl StatusHooks {
    /// Adds a hook.
    pub fn add(&self, hook: StatusHook) {
        self.hooks
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(hook);
    }

    /// Calls every hook with `id`.
    pub fn announce(&self, id: &PaymentId) {
        let hooks = self
            .hooks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for hook in hooks {
            hook(id);
        }
    }
}

/// The outbox of payment-success notifications. [`LedgerStore::apply_event`] writes a
/// [`Notification`] in the same transaction as the credit it announces (so a restart between the
/// commit and the message loses nothing); this trait hands them out for delivery and records how
/// each delivery ended. The SQL stores and [`InMemoryLedger`] implement both traits over one
/// database.
///
/// # Contract
/// - A claimed notification is handed to no one else while its lease runs.
/// - A claim whose lease ran out without an outcome (the sender died mid-send) is never handed
///   out again but recorded as `unknown`: at most once per payment.
/// - [`ClaimOutcome::Retry`] makes it due again at its `not_before`; [`ClaimOutcome::Done`]
///   (delivered) and [`ClaimOutcome::Failed`] end it.
///
/// The behaviours are specified by the outbox functions of `miniapp_core::conformance` (feature
/// `conformance`): `credit_enqueues_one_notification`,
/// `notification_retry_failure_and_stale_claims`, `concurrent_claims_never_share`.
#[async_trait]
pub trait NotificationOutbox: Send + Sync + fmt::Debug {
    /// Claims up to `limit` notifications that are due at `now`, for `lease_secs` (see the
    /// contract above).
    async fn claim_notifications(
        &self,
        now: u64,
        lease_secs: u64,
        limit: u32,
    ) -> Result<Vec<Notification>, LedgerError>;

    /// Records the outcome of a claimed notification.
    async fn finish_notification(
        &self,
        payment: &PaymentId,
        outcome: &ClaimOutcome,
        now: u64,
    ) -> Result<(), LedgerError>;
}

/// An extra charge of a paid payment (a [`NoEffect::DuplicateCharge`]) to be given back to the
/// payer: written by [`LedgerStore::apply_event`] in the same transaction that records the
/// duplicate, once per charge, and handed out by a [`RefundQueue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRefund {
    /// The payment that was paid twice.
    pub payment_id: PaymentId,
    /// Who paid.
    pub user_id: UserId,
    /// The provider that took the extra money.
    pub provider: ProviderId,
    /// The extra charge (a Stripe payment intent, a Stars charge id); never the credited one.
    pub charge_ref: crate::ids::ProviderRef,
    /// What the extra charge took.
    pub amount: Money,
    /// Why it is refunded.
    pub reason: RefundReason,
    /// Attempts before this one.
    pub attempts: u32,
}

/// Why a charge is in the [`RefundQueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RefundReason {
    /// A second charge of a paid payment ([`NoEffect::DuplicateCharge`]); queued by the ledger.
    DuplicateCharge,
    /// An operator decided to give the payment's money back ([`LedgerAdmin::resolve`] with
    /// [`Resolution::Refund`]).
    Operator,
}

impl RefundReason {
    /// The stable name used in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundReason::DuplicateCharge => "duplicate_charge",
            RefundReason::Operator => "operator",
        }
    }

    /// Parses [`RefundReason::as_str`] back.
    pub fn parse(s: &str) -> Option<RefundReason> {
        [RefundReason::DuplicateCharge, RefundReason::Operator]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// The durable queue of [`ChargeRefund`]s: extra charges to give back.
///
/// # Contract
/// - [`LedgerStore::apply_event`] enqueues one refund per (provider, extra charge), in the
///   transaction that records the duplicate charge: redelivery, restarts and several instances
///   never enqueue it twice.
/// - A claimed refund is handed to no one else while its lease runs. A claim whose lease ran out
///   without an outcome (the worker died mid-call) is handed out again: refunding is idempotent
///   at the provider (the charge is the key), so asking twice refunds once.
/// - [`ClaimOutcome::Retry`] makes it due again at its `not_before`; [`ClaimOutcome::Done`]
///   (refunded) and [`ClaimOutcome::Failed`] end it.
///
/// Specified by the conformance functions `duplicate_charge_enqueues_one_refund` and
/// `refund_claims_lease_retry_and_end` (feature `conformance`).
#[async_trait]
pub trait RefundQueue: Send + Sync + fmt::Debug {
    /// Claims up to `limit` refunds that are due at `now`, for `lease_secs`.
    async fn claim_refunds(
        &self,
        now: u64,
        lease_secs: u64,
        limit: u32,
    ) -> Result<Vec<ChargeRefund>, LedgerError>;

    /// Records the outcome of a claimed refund.
    async fn finish_refund(
        &self,
        provider: &ProviderId,
        charge: &crate::ids::ProviderRef,
        outcome: &ClaimOutcome,
        now: u64,
    ) -> Result<(), LedgerError>;
}

/// Conveniences built on [`LedgerStore`]; implemented for every store.
#[async_trait]
pub trait LedgerStoreExt: LedgerStore {
    /// The whole journal of a user, oldest first (pages through [`LedgerStore::history`]).
    ///
    /// # Errors
    /// As [`LedgerStore::history`].
    async fn full_journal(&self, user: UserId) -> Result<Vec<JournalEntry>, LedgerError> {
        let mut all = Vec::new();
        let mut before = None;
        loop {
            let page = self
                .history(user, HistoryQuery { before, limit: 100 })
                .await?;
            all.extend(page.entries);
            match page.next_before {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        all.reverse();
        Ok(all)
    }

    /// Applies `event`, keeping it for later when it may have overtaken its payment's success
    /// ([`ProviderEvent::may_precede_its_payment`]) and no payment knows its charge yet; and,
    /// once the event's payment knows its charge, applies what was held for that charge. So a
    /// dispute that arrives before its success is neither lost nor applied twice: whatever the
    /// order, the payment ends where the natural order leads (conformance:
    /// `early_events_end_as_in_natural_order`).
    ///
    /// Held events whose success lands while this process dies are applied by
    /// [`LedgerStoreExt::release_held`], which the sweep runs.
    ///
    /// # Errors
    /// [`LedgerError::UnknownPayment`] for an event that names a payment we do not have, or that
    /// cannot precede its payment (not ours: acknowledge it); otherwise as
    /// [`LedgerStore::apply_event`].
    async fn apply_or_hold(
        &self,
        provider: &ProviderId,
        event: &ProviderEvent,
        policy: RefundPolicy,
    ) -> Result<Applied, LedgerError> {
        let receipt = match self.apply_event(provider, event, policy).await {
            Ok(receipt) => receipt,
            Err(LedgerError::UnknownPayment) if event.may_precede_its_payment() => {
                self.hold_event(provider, event).await?;
                // The success may have committed between the miss and the hold, and released
                // what was held then, without this event: ask once more.
                match self.apply_event(provider, event, policy).await {
                    Ok(receipt) => receipt,
                    Err(LedgerError::UnknownPayment) => return Ok(Applied::Held),
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        // Only a newly applied success can teach a payment its charge, so only it looks for
        // held events (one query, not one per webhook). The event itself is committed: a
        // failure to release must not fail it (its provider would redeliver it forever); the
        // sweep's `release_held` applies what is left, and reports the error, later.
        let teaches_charge =
            !receipt.duplicate && matches!(event.kind, crate::event::EventKind::Succeeded { .. });
        let released = match (&receipt.payment.payment_ref, teaches_charge) {
            (Some(charge), true) => {
                match self.held_events(Some((provider, charge)), 0, 100).await {
                    Ok(held) => self.apply_held(held, policy).await.unwrap_or_default(),
                    Err(_) => Vec::new(),
                }
            }
            _ => Vec::new(),
        };
        Ok(Applied::Matched { receipt, released })
    }

    /// Applies every held event received at or after `received_from` whose payment is now
    /// known (at most `limit` are looked at): what the sweep runs, for events whose success
    /// landed while the process that should have released them died.
    ///
    /// # Errors
    /// As [`LedgerStore::apply_event`].
    async fn release_held(
        &self,
        received_from: u64,
        limit: u32,
        policy: RefundPolicy,
    ) -> Result<Vec<(HeldEvent, EventReceipt)>, LedgerError> {
        let held = self.held_events(None, received_from, limit).await?;
        self.apply_held(held, policy).await
    }

    /// Applies `held` events in order, skipping those whose payment is still unknown.
    ///
    /// # Errors
    /// As [`LedgerStore::apply_event`].
    async fn apply_held(
        &self,
        held: Vec<HeldEvent>,
        policy: RefundPolicy,
    ) -> Result<Vec<(HeldEvent, EventReceipt)>, LedgerError> {
        let mut applied = Vec::new();
        for h in held {
            match self.apply_event(&h.provider, &h.event, policy).await {
                Ok(receipt) => applied.push((h, receipt)),
                Err(LedgerError::UnknownPayment) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(applied)
    }

    /// A payment that must exist and belong to `user`: a payment of another user is reported
    /// exactly like a missing one.
    ///
    /// # Errors
    /// [`LedgerError::UnknownPayment`] when missing or not the user's.
    async fn own_payment(&self, user: UserId, id: &PaymentId) -> Result<Payment, LedgerError> {
        match self.payment(id).await? {
            Some(p) if p.user_id == user => Ok(p),
            _ => Err(LedgerError::UnknownPayment),
        }
    }
}

impl<T: LedgerStore + ?Sized> LedgerStoreExt for T {}
