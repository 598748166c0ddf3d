//! Keys of the checkout handoff that name another key's payment.
//!
//! `create-payment` hands out an open payment of the same order again (a reopened Mini App taps
//! Pay once more), although the request carries a fresh `Idempotency-Key`. The handoff page
//! (`GET /api/miniapp/handoff`) asks by that fresh key, which no payment carries; this map tells
//! it which payment the key was answered with. It lives in the process that answered: with
//! several instances and no sticky routing, a handoff asked on another instance waits in vain and
//! the page's "Open the payment page again" opens the checkout instead (docs/http-api.md).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use miniapp_core::ids::{IdempotencyKey, PaymentId, UserId};

/// At most this many aliases are kept; older than [`TTL_SECS`] are dropped first. Past it a new
/// alias is not kept (the handoff then waits in vain, as on another instance).
const MAX: usize = 10_000;
/// An alias is useful only while its payment's checkout can be opened.
const TTL_SECS: u64 = 3600;

#[derive(Debug, Default)]
pub(crate) struct HandoffAliases {
    map: Mutex<HashMap<(UserId, IdempotencyKey), (PaymentId, u64)>>,
}

impl HandoffAliases {
    /// `key` of `user` was answered with `payment` at `now` (unix seconds).
    pub(crate) fn remember(&self, user: UserId, key: IdempotencyKey, payment: PaymentId, now: u64) {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX {
            map.retain(|_, (_, at)| now.saturating_sub(*at) < TTL_SECS);
        }
        if map.len() < MAX {
            map.insert((user, key), (payment, now));
        }
    }

    /// The payment `key` of `user` was answered with, if recent.
    pub(crate) fn lookup(&self, user: UserId, key: &IdempotencyKey, now: u64) -> Option<PaymentId> {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&(user, key.clone()))
            .filter(|(_, at)| now.saturating_sub(*at) < TTL_SECS)
            .map(|(id, _)| id.clone())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn an_alias_is_per_user_and_expires() {
        let aliases = HandoffAliases::default();
        let alice = UserId::new(1).unwrap();
        let bob = UserId::new(2).unwrap();
        let key = IdempotencyKey::new("k".repeat(32)).unwrap();
        let id = PaymentId::new("pay_0123456789abcdef0123456789abcdef").unwrap();
        aliases.remember(alice, key.clone(), id.clone(), 1000);
        assert_eq!(aliases.lookup(alice, &key, 1000 + TTL_SECS - 1), Some(id));
        assert_eq!(
            aliases.lookup(bob, &key, 1000),
            None,
            "never another user's"
        );
        assert_eq!(
            aliases.lookup(alice, &key, 1000 + TTL_SECS),
            None,
            "expired"
        );
    }
}
