//! Money as integer minor units of an ISO 4217 currency, and the parsing of amounts a page sends.
//!
//! There are no floats here on purpose: a price is `minor units × 10^-exponent` of its currency,
//! and an amount typed or sent by a client is parsed from its decimal text, never rounded.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An ISO 4217 currency code with the number of decimals its minor unit has.
///
/// The well-known ones are associated constants; [`Currency::from_code`] recognises them by code
/// (case-insensitively) and [`Currency::new`] builds any other.
///
/// ```
/// use miniapp_core::money::Currency;
/// assert_eq!(Currency::from_code("usd"), Some(Currency::USD));
/// assert_eq!(Currency::XTR.exponent(), 0);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

impl Currency {
    /// US dollar, two decimals.
    pub const USD: Currency = Currency {
        code: *b"USD",
        exponent: 2,
    };
    /// Euro, two decimals.
    pub const EUR: Currency = Currency {
        code: *b"EUR",
        exponent: 2,
    };
    /// Russian rouble, two decimals (YooKassa-style providers).
    pub const RUB: Currency = Currency {
        code: *b"RUB",
        exponent: 2,
    };
    /// Kazakhstani tenge, two decimals (Kaspi-style providers).
    pub const KZT: Currency = Currency {
        code: *b"KZT",
        exponent: 2,
    };
    /// Telegram Stars: whole units only.
    pub const XTR: Currency = Currency {
        code: *b"XTR",
        exponent: 0,
    };

    const KNOWN: [Currency; 5] = [Self::USD, Self::EUR, Self::RUB, Self::KZT, Self::XTR];

    /// A currency from three ASCII letters (normalised to upper case) and its number of decimals.
    ///
    /// Returns `None` unless the code is three ASCII letters and the exponent is at most 4.
    pub fn new(code: &str, exponent: u8) -> Option<Currency> {
        let bytes: [u8; 3] = code.as_bytes().try_into().ok()?;
        if !bytes.iter().all(u8::is_ascii_alphabetic) || exponent > 4 {
            return None;
        }
        Some(Currency {
            code: bytes.map(|b| b.to_ascii_uppercase()),
            exponent,
        })
    }

    /// One of the built-in currencies by code, case-insensitively (`"usd"`, `"XTR"`, …).
    pub fn from_code(code: &str) -> Option<Currency> {
        let probe = Currency::new(code, 0)?;
        Self::KNOWN.into_iter().find(|c| c.code == probe.code)
    }

    /// The upper-case ISO code, e.g. `"USD"`.
    pub fn code(&self) -> &str {
        // The constructor admits only ASCII letters.
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    /// How many decimals the minor unit has (USD 2, XTR 0).
    pub fn exponent(&self) -> u8 {
        self.exponent
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Currency::from_code(&code)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown currency {code:?}")))
    }
}

/// An amount of money: integer minor units of one currency (cents for USD, whole Stars for XTR).
///
/// ```
/// use miniapp_core::money::{Currency, Money};
/// let price = Money::new(2500, Currency::USD);
/// assert_eq!(price.to_string(), "25.00 USD");
/// assert_eq!(Money::parse("25", Currency::USD), Ok(price));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    minor: u64,
    currency: Currency,
}

/// The largest amount of minor units accepted anywhere: keeps every sum and product of amounts
/// far from `u64`/`i64` overflow (10^15 cents is ten trillion dollars).
pub const MAX_MINOR_UNITS: u64 = 1_000_000_000_000_000;

impl Money {
    /// `minor` units of `currency` (for USD, cents).
    pub const fn new(minor: u64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    /// US dollars from cents.
    pub const fn usd_cents(cents: u64) -> Money {
        Money::new(cents, Currency::USD)
    }

    /// The amount in minor units.
    pub fn minor_units(&self) -> u64 {
        self.minor
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Whether the amount is zero.
    pub fn is_zero(&self) -> bool {
        self.minor == 0
    }

    /// Parses the decimal text a page sends (`"5"`, `"5.0"`, `"25.00"`) into `currency`.
    ///
    /// # Errors
    /// [`AmountError`] for anything that is not a plain non-negative decimal with at most two
    /// fraction digits, that is not a whole number of the currency's minor units, or that is
    /// larger than [`MAX_MINOR_UNITS`].
    pub fn parse(text: &str, currency: Currency) -> Result<Money, AmountError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(AmountError::NotANumber);
        }
        if text.starts_with('-') {
            return Err(AmountError::Negative);
        }
        let (int_part, frac_part) = match text.split_once('.') {
            Some((i, f)) => (i, f),
            None => (text, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int_part.is_empty() || !all_digits(int_part) || !all_digits(frac_part) {
            return Err(AmountError::NotANumber);
        }
        if text.ends_with('.') {
            return Err(AmountError::NotANumber);
        }
        if frac_part.len() > 2 {
            return Err(AmountError::TooManyDecimals);
        }
        let exponent = u32::from(currency.exponent());
        let frac_digits = u32::try_from(frac_part.len()).map_err(|_| AmountError::OutOfRange)?;
        // Digits below the currency's minor unit must all be zero ("5.00" Stars is 5 Stars).
        let (kept, dropped) = frac_part.split_at(frac_part.len().min(exponent as usize));
        if dropped.bytes().any(|b| b != b'0') {
            return Err(AmountError::NotRepresentable);
        }
        let scale = 10u64.pow(exponent);
        let int_value: u64 = if int_part.len() > 16 {
            return Err(AmountError::OutOfRange);
        } else {
            int_part.parse().map_err(|_| AmountError::OutOfRange)?
        };
        let kept_value: u64 = if kept.is_empty() {
            0
        } else {
            kept.parse().map_err(|_| AmountError::NotANumber)?
        };
        let kept_scale = 10u64.pow(exponent - frac_digits.min(exponent));
        let minor = int_value
            .checked_mul(scale)
            .and_then(|v| v.checked_add(kept_value * kept_scale))
            .filter(|v| *v <= MAX_MINOR_UNITS)
            .ok_or(AmountError::OutOfRange)?;
        Ok(Money::new(minor, currency))
    }

    /// Parses an amount as it arrives in JSON: a number (`5`, `5.0`, `25`) or a string (`"5.00"`).
    ///
    /// A JSON number is read through its shortest round-trip decimal form, so `5.1` is `5.10`
    /// but `0.30000000000000004` has too many decimals and is refused.
    ///
    /// # Errors
    /// As [`Money::parse`], plus [`AmountError::NotANumber`] for other JSON types.
    pub fn from_json(value: &serde_json::Value, currency: Currency) -> Result<Money, AmountError> {
        match value {
            serde_json::Value::String(s) => Money::parse(s, currency),
            serde_json::Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    return Money::parse(&u.to_string(), currency);
                }
                if n.as_i64().is_some() {
                    return Err(AmountError::Negative);
                }
                match n.as_f64() {
                    // Rust's Display for f64 is the shortest round-trip form without exponent.
                    Some(f) if f.is_finite() => Money::parse(&format!("{f}"), currency),
                    _ => Err(AmountError::NotANumber),
                }
            }
            _ => Err(AmountError::NotANumber),
        }
    }

    /// The amount as a plain decimal string in major units: `"25.00"` for 2500 cents.
    pub fn to_decimal_string(&self) -> String {
        let exp = u32::from(self.currency.exponent());
        if exp == 0 {
            return self.minor.to_string();
        }
        let scale = 10u64.pow(exp);
        format!(
            "{}.{:0width$}",
            self.minor / scale,
            self.minor % scale,
            width = exp as usize
        )
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

/// Why an amount sent by a client could not be read as money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AmountError {
    /// Not a plain decimal number (also NaN, Infinity, exponents, empty text, other JSON types).
    #[error("amount is not a plain decimal number")]
    NotANumber,
    /// Below zero.
    #[error("amount must not be negative")]
    Negative,
    /// More than two digits after the decimal point.
    #[error("amount has more than two decimals")]
    TooManyDecimals,
    /// Not a whole number of the currency's minor units (e.g. `1.5` Stars).
    #[error("amount is not a whole number of the currency's smallest unit")]
    NotRepresentable,
    /// Larger than [`MAX_MINOR_UNITS`].
    #[error("amount is too large")]
    OutOfRange,
}

/// A positive number of tokens, at most [`TokenAmount::MAX`].
///
/// ```
/// use miniapp_core::money::TokenAmount;
/// assert_eq!(TokenAmount::new(500).map(|t| t.get()), Some(500));
/// assert!(TokenAmount::new(0).is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TokenAmount(pub(crate) u64);

impl TokenAmount {
    /// The largest token amount (10^15), so balances and sums stay far inside `i64`.
    pub const MAX: u64 = 1_000_000_000_000_000;

    /// A token amount, or `None` for zero or anything above [`TokenAmount::MAX`].
    pub const fn new(tokens: u64) -> Option<TokenAmount> {
        if tokens == 0 || tokens > Self::MAX {
            None
        } else {
            Some(TokenAmount(tokens))
        }
    }

    /// The number of tokens.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The number of tokens as a signed journal delta (always fits: see [`TokenAmount::MAX`]).
    pub fn as_i64(self) -> i64 {
        i64::try_from(self.0).unwrap_or(i64::MAX)
    }
}

impl fmt::Debug for TokenAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} tokens", self.0)
    }
}

impl fmt::Display for TokenAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for TokenAmount {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let n: u64 = s.parse().map_err(|_| AmountError::NotANumber)?;
        TokenAmount::new(n).ok_or(AmountError::OutOfRange)
    }
}

impl<'de> Deserialize<'de> for TokenAmount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(d)?;
        TokenAmount::new(n).ok_or_else(|| {
            serde::de::Error::custom(format!("token amount must be 1..={}", TokenAmount::MAX))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(text: &str) -> Result<u64, AmountError> {
        Money::parse(text, Currency::USD).map(|m| m.minor_units())
    }

    #[test]
    fn parses_what_pages_send() {
        assert_eq!(usd("5"), Ok(500));
        assert_eq!(usd("5.0"), Ok(500));
        assert_eq!(usd("5.00"), Ok(500));
        assert_eq!(usd("25"), Ok(2500));
        assert_eq!(usd("0.01"), Ok(1));
        assert_eq!(usd(" 10.5 "), Ok(1050));
    }

    #[test]
    fn rejects_bad_amounts() {
        assert_eq!(usd("-5"), Err(AmountError::Negative));
        assert_eq!(usd("-0"), Err(AmountError::Negative));
        assert_eq!(usd("NaN"), Err(AmountError::NotANumber));
        assert_eq!(usd("Infinity"), Err(AmountError::NotANumber));
        assert_eq!(usd("inf"), Err(AmountError::NotANumber));
        assert_eq!(usd("5.001"), Err(AmountError::TooManyDecimals));
        assert_eq!(usd("5.000"), Err(AmountError::TooManyDecimals));
        assert_eq!(usd("1e3"), Err(AmountError::NotANumber));
        assert_eq!(usd(""), Err(AmountError::NotANumber));
        assert_eq!(usd("."), Err(AmountError::NotANumber));
        assert_eq!(usd("5."), Err(AmountError::NotANumber));
        assert_eq!(usd(".5"), Err(AmountError::NotANumber));
        assert_eq!(usd("+5"), Err(AmountError::NotANumber));
        assert_eq!(usd("5,00"), Err(AmountError::NotANumber));
        assert_eq!(usd("0x10"), Err(AmountError::NotANumber));
        assert_eq!(usd("99999999999999999999"), Err(AmountError::OutOfRange));
        assert_eq!(usd("10000000000000.01"), Err(AmountError::OutOfRange));
    }

    #[test]
    fn whole_units_only_for_stars() {
        assert_eq!(
            Money::parse("250", Currency::XTR).map(|m| m.minor_units()),
            Ok(250)
        );
        assert_eq!(
            Money::parse("250.00", Currency::XTR).map(|m| m.minor_units()),
            Ok(250)
        );
        assert_eq!(
            Money::parse("1.5", Currency::XTR),
            Err(AmountError::NotRepresentable)
        );
    }

    #[test]
    fn json_numbers_and_strings() {
        let parse =
            |v: serde_json::Value| Money::from_json(&v, Currency::USD).map(|m| m.minor_units());
        assert_eq!(parse(serde_json::json!(5)), Ok(500));
        assert_eq!(parse(serde_json::json!(5.0)), Ok(500));
        assert_eq!(parse(serde_json::json!(25)), Ok(2500));
        assert_eq!(parse(serde_json::json!(5.1)), Ok(510));
        assert_eq!(parse(serde_json::json!("5.00")), Ok(500));
        assert_eq!(parse(serde_json::json!(-5)), Err(AmountError::Negative));
        assert_eq!(parse(serde_json::json!(-5.5)), Err(AmountError::Negative));
        assert_eq!(
            parse(serde_json::json!(0.1 + 0.2)),
            Err(AmountError::TooManyDecimals)
        );
        assert_eq!(
            parse(serde_json::json!(1e300)),
            Err(AmountError::OutOfRange)
        );
        assert_eq!(parse(serde_json::json!(null)), Err(AmountError::NotANumber));
        assert_eq!(parse(serde_json::json!(true)), Err(AmountError::NotANumber));
        assert_eq!(parse(serde_json::json!([5])), Err(AmountError::NotANumber));
        assert_eq!(
            parse(serde_json::json!("NaN")),
            Err(AmountError::NotANumber)
        );
    }

    #[test]
    fn displays_major_units() {
        assert_eq!(Money::usd_cents(2500).to_decimal_string(), "25.00");
        assert_eq!(Money::usd_cents(5).to_decimal_string(), "0.05");
        assert_eq!(Money::new(250, Currency::XTR).to_string(), "250 XTR");
    }

    #[test]
    fn currency_codes() {
        assert_eq!(Currency::from_code("xtr"), Some(Currency::XTR));
        assert_eq!(Currency::from_code("ABC"), None);
        assert_eq!(
            Currency::new("abc", 2).map(|c| c.code().to_owned()),
            Some("ABC".into())
        );
        assert_eq!(Currency::new("AB1", 2), None);
        assert_eq!(Currency::new("ABCD", 2), None);
        assert_eq!(Currency::new("ABC", 9), None);
    }

    #[test]
    fn token_amounts_are_positive_and_bounded() {
        assert!(TokenAmount::new(0).is_none());
        assert!(TokenAmount::new(TokenAmount::MAX + 1).is_none());
        assert_eq!(
            TokenAmount::new(TokenAmount::MAX).map(TokenAmount::as_i64),
            Some(10i64.pow(15))
        );
        assert!(serde_json::from_str::<TokenAmount>("0").is_err());
        assert!(serde_json::from_str::<TokenAmount>("-1").is_err());
    }
}
