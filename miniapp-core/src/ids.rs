//! Identifiers: each one a newtype that can only hold a valid value.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// An identifier string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {rule}")]
pub struct IdError {
    /// Which identifier.
    pub what: &'static str,
    /// The rule it breaks.
    pub rule: &'static str,
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $rule:literal, $max:expr, $ok:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            #[doc = concat!("A ", $what, ", or an error unless it is ", $rule, ".")]
            ///
            /// # Errors
            /// [`IdError`] naming the rule.
            pub fn new(value: impl Into<String>) -> Result<$name, IdError> {
                let value: String = value.into();
                let ok: fn(u8) -> bool = $ok;
                if value.is_empty() || value.len() > $max || !value.bytes().all(ok) {
                    return Err(IdError { what: $what, rule: $rule });
                }
                Ok($name(value))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                $name::new(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $name::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
            }
        }
    };
}

fn id_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn printable(b: u8) -> bool {
    b.is_ascii_graphic()
}

string_id!(
    /// Our id of a payment: 1–64 of `[A-Za-z0-9_-]`. Generated ids look like `pay_<32 hex>`. It
    /// doubles as the provider's idempotency key and as the Telegram invoice payload (≤ 128 bytes).
    PaymentId, "payment id", "1 to 64 ASCII letters, digits, '_' or '-'", 64, id_char
);

impl PaymentId {
    /// A fresh random id, `pay_` and 128 random bits in hex.
    ///
    /// # Errors
    /// [`IdError`] only if the operating system has no randomness to give.
    pub fn generate() -> Result<PaymentId, IdError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|_| IdError {
            what: "payment id",
            rule: "needs system randomness",
        })?;
        Ok(PaymentId(format!("pay_{}", hex::encode(bytes))))
    }

    /// Whether this id has the shape [`PaymentId::generate`] gives (`pay_` and 32 lower-case hex
    /// digits): a provider that finds our payment id in another system's field (PayPal's
    /// `custom_id`) tells ours from other integrations' by it.
    ///
    /// ```
    /// use miniapp_core::ids::PaymentId;
    /// assert!(PaymentId::generate().unwrap().is_generated());
    /// assert!(!PaymentId::new("pay_example").unwrap().is_generated());
    /// assert!(!PaymentId::new("pay_0123456789ABCDEF0123456789ABCDEF").unwrap().is_generated());
    /// ```
    pub fn is_generated(&self) -> bool {
        self.0.len() == 36
            && self.0.starts_with("pay_")
            && self.0[4..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }
}

string_id!(
    /// A payment provider's id as used in routes and storage: `stripe`, `stars`, `sandbox`.
    ProviderId, "provider id", "1 to 32 lower-case ASCII letters, digits or '_'", 32,
    |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'
);

string_id!(
    /// The provider's reference of a checkout or payment (`cs_…`, `pi_…`, a Telegram charge id).
    ProviderRef, "provider reference", "1 to 255 printable ASCII characters", 255, printable
);

string_id!(
    /// The provider's id of one event (`evt_…`), used to recognise redeliveries.
    ProviderEventId, "provider event id", "1 to 255 printable ASCII characters", 255, printable
);

string_id!(
    /// A caller-chosen key that makes an operation safe to retry: the same key gives the first
    /// result again.
    IdempotencyKey, "idempotency key", "1 to 255 printable ASCII characters", 255, printable
);

/// A Telegram user id (positive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UserId(i64);

impl UserId {
    /// A user id, or `None` unless positive.
    pub const fn new(id: i64) -> Option<UserId> {
        if id > 0 { Some(UserId(id)) } else { None }
    }

    /// The numeric id.
    pub const fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for UserId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        UserId::new(i64::deserialize(d)?)
            .ok_or_else(|| serde::de::Error::custom("user id must be positive"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_ids() {
        let id = PaymentId::generate().unwrap();
        assert!(id.as_str().starts_with("pay_") && id.as_str().len() == 36);
        assert_ne!(id, PaymentId::generate().unwrap());
        assert!(PaymentId::new("123").is_ok());
        for bad in ["", "a b", "a/b", "ü", &"a".repeat(65)] {
            assert!(PaymentId::new(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<PaymentId>("\"../etc\"").is_err());
    }

    #[test]
    fn other_ids() {
        assert!(ProviderId::new("stripe").is_ok());
        assert!(ProviderId::new("Stripe").is_err());
        assert!(ProviderRef::new("cs_test_123").is_ok());
        assert!(ProviderRef::new("a b").is_err());
        assert!(IdempotencyKey::new("x".repeat(256)).is_err());
        assert_eq!(UserId::new(0), None);
        assert!(serde_json::from_str::<UserId>("-5").is_err());
    }
}
