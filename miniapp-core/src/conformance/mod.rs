//! The shared conformance suites: the executable specification of
//! [`LedgerStore`](crate::ledger::LedgerStore),
//! [`NotificationOutbox`](crate::ledger::NotificationOutbox) and
//! [`PaymentProvider`](crate::provider::PaymentProvider) (feature `conformance`).
//!
//! Each public async function checks one behaviour and panics with a message when the
//! implementation breaks it, so it is meant to be called from a test. The functions are
//! runtime-agnostic (concurrency uses `join_all`); every one uses fresh users and payments, so they
//! may share a store, but the intended use is a fresh store per function:
//!
//! ```ignore
//! // in your store's tests (needs tokio as a dev-dependency):
//! miniapp_core::ledger_conformance!(async { MyStore::connect_fresh().await });
//! ```
//!
//! The list of functions is not API-stable: new behaviours get new functions.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod ledger;
mod provider;

pub use ledger::*;
pub use provider::*;

/// Generates one `#[tokio::test]` per provider conformance function, each on a harness made by
/// `$make` (an expression evaluating to a future of a
/// [`ProviderHarness`](crate::conformance::ProviderHarness)); the pipeline runs
/// on a fresh [`InMemoryLedger`](crate::ledger::InMemoryLedger).
///
/// Needs `tokio` (with `macros` and `rt-multi-thread`) as a dev-dependency of the calling crate.
///
/// ```ignore
/// // in your provider crate's tests:
/// miniapp_core::provider_conformance!(async { MyHarness::start().await });
/// ```
#[macro_export]
macro_rules! provider_conformance {
    ($make:expr) => {
        $crate::provider_conformance!(@tests $make;
            checkout_creation_is_idempotent,
            paid_webhook_maps_to_succeeded,
            other_webhooks_map_to_their_events,
            forged_webhook_is_rejected,
            garbage_webhooks_are_rejected,
        );
        #[tokio::test]
        async fn webhook_pipeline_credits_once() {
            let harness = $make.await;
            $crate::conformance::webhook_pipeline_credits_once(
                &harness,
                &$crate::ledger::InMemoryLedger::new(),
            )
            .await;
        }
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let harness = $make.await;
                $crate::conformance::$name(&harness).await;
            }
        )*
    };
}

/// Generates one `#[tokio::test]` per ledger and outbox conformance function, each on a store
/// made by `$make` (an expression evaluating to a future of a value that derefs to a store
/// implementing both `LedgerStore` and `NotificationOutbox`).
///
/// Needs `tokio` (with `macros` and `rt-multi-thread`) as a dev-dependency of the calling crate.
///
/// `ledger_conformance!(optional: $make)` takes a `$make` that yields an `Option`; `None` means the
/// backing service is not configured and the test returns early (the maker should say so loudly,
/// and fail instead when running under CI).
#[macro_export]
macro_rules! ledger_conformance {
    (optional: $make:expr) => {
        $crate::ledger_conformance!(@each (optional) $make);
    };
    (@each $mode:tt $make:expr) => {
        $crate::ledger_conformance!(@tests $mode $make;
            event_applied_twice_credits_once,
            concurrent_duplicate_events_credit_once,
            event_orderings_converge,
            stale_events_are_noops,
            amount_mismatch_conflicts,
            currency_mismatch_conflicts,
            success_after_expiry_credits,
            partial_refunds_reverse_proportionally,
            refund_after_partial_spend_creates_debt,
            refund_after_partial_spend_caps_at_zero,
            debt_blocks_spending_until_repaid,
            lost_dispute_claws_back_and_won_dispute_restores,
            concurrent_spends_never_overdraw,
            spend_is_idempotent,
            spend_key_reuse_with_other_amount_conflicts,
            insufficient_funds_is_an_error,
            history_is_ordered_and_paged,
            unknown_payment_is_rejected,
            payment_with_balance_is_owner_only,
            pending_payments_lists_only_pending_in_the_window,
            event_from_other_provider_is_rejected,
            payment_creation_is_idempotent,
            checkout_attach_is_idempotent,
            concurrent_mixed_traffic_keeps_balances_consistent,
            failed_checkout_attempt_moves_on_once,
            open_payments_lists_only_the_users_open_payments,
            unstarted_payments_lists_only_created_ones,
            a_second_capture_is_reported_and_credits_nothing,
            refunds_and_disputes_of_another_charge_take_nothing_back,
            a_refund_in_another_currency_is_reported,
            early_events_end_as_in_natural_order,
            held_events_are_released_by_the_sweep_once,
            provider_cursors_are_kept_per_provider,
            a_failed_refund_gives_back_what_it_took_once,
            positive_entries_may_leave_a_debt_smaller,
            failure_reason_is_kept_with_the_payment,
            status_changes_are_announced,
        );
    };
    (@tests $mode:tt $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let store = $crate::ledger_conformance!(@make $mode $make);
                $crate::conformance::$name(&*store).await;
            }
        )*
        // The notification outbox, on the same store (its rows are written by the ledger).
        $crate::ledger_conformance!(@outbox $mode $make;
            credit_enqueues_one_notification,
            notification_retry_failure_and_stale_claims,
            concurrent_claims_never_share,
            duplicate_charge_enqueues_one_refund,
            refund_claims_lease_retry_and_end,
        );
    };
    (@outbox $mode:tt $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let store = $crate::ledger_conformance!(@make $mode $make);
                $crate::conformance::$name(&*store, &*store).await;
            }
        )*
    };
    (@make (required) $make:expr) => {
        $make.await
    };
    (@make (optional) $make:expr) => {
        match $make.await {
            Some(store) => store,
            None => return,
        }
    };
    ($make:expr) => {
        $crate::ledger_conformance!(@each (required) $make);
    };
}
