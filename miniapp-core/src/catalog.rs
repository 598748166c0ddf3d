//! Token packages, their prices, the payment methods that sell them, and the matching of a client's
//! order against them.
//!
//! The server is the price authority: [`Catalog::quote`] takes what the page sent, compares it
//! with the catalog and returns the catalog's price. The client's amount is never used as a price.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::money::{AmountError, Currency, Money, TokenAmount};

/// A package of tokens and its price in one or more currencies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenPackage {
    tokens: TokenAmount,
    prices: Vec<Money>,
}

impl TokenPackage {
    /// A package of `tokens` sold for `price`; add further currencies with [`TokenPackage::with_price`].
    pub fn new(tokens: TokenAmount, price: Money) -> TokenPackage {
        TokenPackage {
            tokens,
            prices: vec![price],
        }
    }

    /// The same package with a price in one more currency (e.g. XTR for Telegram Stars).
    #[must_use]
    pub fn with_price(mut self, price: Money) -> TokenPackage {
        self.prices.push(price);
        self
    }

    /// How many tokens the package credits.
    pub fn tokens(&self) -> TokenAmount {
        self.tokens
    }

    /// All prices of the package, the primary one first.
    pub fn prices(&self) -> &[Money] {
        &self.prices
    }

    /// The price in `currency`, if the package is sold in it.
    pub fn price_in(&self, currency: Currency) -> Option<Money> {
        self.prices
            .iter()
            .copied()
            .find(|p| p.currency() == currency)
    }
}

/// Why a custom catalog was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// No packages at all.
    #[error("a catalog needs at least one package")]
    Empty,
    /// Two packages with the same number of tokens (an order names a package by its tokens).
    #[error("two packages have {0} tokens")]
    DuplicateTokens(u64),
    /// A zero price.
    #[error("package of {tokens} tokens has a zero price in {currency}")]
    ZeroPrice {
        /// The package.
        tokens: u64,
        /// The currency of the zero price.
        currency: Currency,
    },
    /// Two prices in the same currency for one package.
    #[error("package of {tokens} tokens has two prices in {currency}")]
    DuplicateCurrency {
        /// The package.
        tokens: u64,
        /// The repeated currency.
        currency: Currency,
    },
    /// A price above [`crate::money::MAX_MINOR_UNITS`].
    #[error("package of {tokens} tokens has a price that is too large")]
    PriceTooLarge {
        /// The package.
        tokens: u64,
    },
}

/// A validated list of token packages, ordered by token count.
///
/// ```
/// use miniapp_core::catalog::Catalog;
/// use miniapp_core::money::{Currency, Money};
/// let catalog = Catalog::default();
/// let tokens: Vec<u64> = catalog.packages().iter().map(|p| p.tokens().get()).collect();
/// assert_eq!(tokens, [100, 200, 500, 1000]);
/// assert_eq!(catalog.package(500).unwrap().price_in(Currency::USD), Some(Money::usd_cents(2500)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Catalog {
    packages: Vec<TokenPackage>,
}

impl Catalog {
    /// A catalog from packages: at least one, unique token counts, positive prices, one price per
    /// currency per package.
    ///
    /// # Errors
    /// [`CatalogError`] naming the first rule broken.
    pub fn new(mut packages: Vec<TokenPackage>) -> Result<Catalog, CatalogError> {
        if packages.is_empty() {
            return Err(CatalogError::Empty);
        }
        packages.sort_by_key(TokenPackage::tokens);
        let mut seen_tokens = BTreeSet::new();
        for package in &packages {
            let tokens = package.tokens.get();
            if !seen_tokens.insert(tokens) {
                return Err(CatalogError::DuplicateTokens(tokens));
            }
            let mut seen_currencies = BTreeSet::new();
            for price in &package.prices {
                if price.is_zero() {
                    return Err(CatalogError::ZeroPrice {
                        tokens,
                        currency: price.currency(),
                    });
                }
                if price.minor_units() > crate::money::MAX_MINOR_UNITS {
                    return Err(CatalogError::PriceTooLarge { tokens });
                }
                if !seen_currencies.insert(price.currency()) {
                    return Err(CatalogError::DuplicateCurrency {
                        tokens,
                        currency: price.currency(),
                    });
                }
            }
        }
        Ok(Catalog { packages })
    }

    /// The packages, fewest tokens first.
    pub fn packages(&self) -> &[TokenPackage] {
        &self.packages
    }

    /// The package with exactly `tokens` tokens.
    pub fn package(&self, tokens: u64) -> Option<&TokenPackage> {
        self.packages.iter().find(|p| p.tokens.get() == tokens)
    }

    /// Matches what a client asked for against the catalog and the enabled payment methods.
    ///
    /// Checks, in this order: the method is enabled (`unsupported_method`), the currency is the
    /// one that method charges (`unsupported_currency`), a package has exactly `credits` tokens
    /// (`unknown_package`) and is priced in that currency (`unsupported_currency`), and the
    /// client's amount equals the catalog price exactly (`price_mismatch`, which also covers an
    /// amount that is not valid money).
    ///
    /// # Errors
    /// [`OrderError`], whose [`OrderError::code`] is the stable code the HTTP API returns.
    ///
    /// ```
    /// use miniapp_core::catalog::{Catalog, ClientOrder, MethodOffer, OrderError, PaymentMethod};
    /// use miniapp_core::money::{Currency, Money};
    /// let catalog = Catalog::default();
    /// let card = [MethodOffer::new(PaymentMethod::card(), Currency::USD)];
    /// let order = ClientOrder {
    ///     credits: 500,
    ///     amount: serde_json::json!(25.0),
    ///     currency: "USD".into(),
    ///     payment_method: "card".into(),
    /// };
    /// let quote = catalog.quote(&order, &card).unwrap();
    /// assert_eq!(quote.price, Money::usd_cents(2500));
    ///
    /// let cheaper = ClientOrder { amount: serde_json::json!(5), ..order };
    /// assert!(matches!(catalog.quote(&cheaper, &card), Err(OrderError::PriceMismatch { .. })));
    /// ```
    pub fn quote(&self, order: &ClientOrder, methods: &[MethodOffer]) -> Result<Quote, OrderError> {
        let offer = methods
            .iter()
            .find(|m| m.method.as_str() == order.payment_method)
            .ok_or_else(|| OrderError::UnsupportedMethod(truncate(&order.payment_method)))?;
        let currency = Currency::from_code(&order.currency)
            .filter(|c| *c == offer.currency)
            .ok_or_else(|| OrderError::UnsupportedCurrency(truncate(&order.currency)))?;
        let package = self
            .package(order.credits)
            .ok_or(OrderError::UnknownPackage(order.credits))?;
        let price = package
            .price_in(currency)
            .ok_or_else(|| OrderError::UnsupportedCurrency(currency.code().to_owned()))?;
        match Money::from_json(&order.amount, currency) {
            Ok(amount) if amount == price => {}
            Ok(_) => {
                return Err(OrderError::PriceMismatch {
                    expected: price,
                    reason: None,
                });
            }
            Err(e) => {
                return Err(OrderError::PriceMismatch {
                    expected: price,
                    reason: Some(e),
                });
            }
        }
        Ok(Quote {
            tokens: package.tokens,
            price,
            method: offer.method.clone(),
        })
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(32).collect()
}

impl Default for Catalog {
    /// 100 tokens = $5, 200 = $10, 500 = $25, 1000 = $50; in Telegram Stars 250, 500, 1250 and
    /// 2500 XTR (about $0.02 a Star, what a user pays for Stars in the Telegram apps).
    fn default() -> Catalog {
        let package = |tokens: u64, cents: u64, stars: u64| {
            TokenPackage::new(TokenAmount(tokens), Money::usd_cents(cents))
                .with_price(Money::new(stars, Currency::XTR))
        };
        Catalog {
            packages: vec![
                package(100, 500, 250),
                package(200, 1000, 500),
                package(500, 2500, 1250),
                package(1000, 5000, 2500),
            ],
        }
    }
}

/// A payment method id as the page sends it (`"card"`, `"stars"`, `"yookassa"`): 1 to 32 lower-case
/// ASCII letters, digits or `_`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PaymentMethod(String);

impl PaymentMethod {
    /// A method id, or `None` if it breaks the character rules.
    pub fn new(id: &str) -> Option<PaymentMethod> {
        let ok = (1..=32).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        ok.then(|| PaymentMethod(id.to_owned()))
    }

    /// Bank cards (Visa, MasterCard), e.g. through Stripe Checkout.
    pub fn card() -> PaymentMethod {
        PaymentMethod("card".to_owned())
    }

    /// Telegram Stars.
    pub fn stars() -> PaymentMethod {
        PaymentMethod("stars".to_owned())
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PaymentMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for PaymentMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PaymentMethod {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PaymentMethod::new(&s).ok_or_else(|| serde::de::Error::custom("invalid payment method id"))
    }
}

/// An enabled payment method and the one currency it charges in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MethodOffer {
    /// The method.
    pub method: PaymentMethod,
    /// The currency its prices are taken in.
    pub currency: Currency,
}

impl MethodOffer {
    /// `method` charging in `currency`.
    pub fn new(method: PaymentMethod, currency: Currency) -> MethodOffer {
        MethodOffer { method, currency }
    }
}

/// What a page sends to buy a package, as in the product document's `create-payment` body.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ClientOrder {
    /// Tokens of the package the user chose.
    pub credits: u64,
    /// The amount the page displayed: a JSON number or string, only compared with the catalog.
    pub amount: serde_json::Value,
    /// ISO currency code the page displayed.
    pub currency: String,
    /// Method id (`"card"`, `"stars"`).
    pub payment_method: String,
}

/// The catalog's answer to a valid order: what is sold, for how much, by which method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// Tokens to credit once paid.
    pub tokens: TokenAmount,
    /// The catalog price (never the client's amount).
    pub price: Money,
    /// The method chosen.
    pub method: PaymentMethod,
}

/// Why an order does not match the catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OrderError {
    /// No package has that many tokens.
    #[error("there is no package of {0} tokens")]
    UnknownPackage(u64),
    /// The client's amount differs from the catalog price or is not valid money.
    #[error("the amount does not match the price {expected}")]
    PriceMismatch {
        /// The catalog price.
        expected: Money,
        /// Set when the amount could not even be read as money.
        reason: Option<AmountError>,
    },
    /// The currency is unknown, not the one the method charges, or the package has no price in it.
    #[error("currency {0:?} is not accepted for this payment method")]
    UnsupportedCurrency(String),
    /// The method is not enabled.
    #[error("payment method {0:?} is not available")]
    UnsupportedMethod(String),
}

impl OrderError {
    /// The stable machine-readable code: `unknown_package`, `price_mismatch`,
    /// `unsupported_currency` or `unsupported_method`.
    pub fn code(&self) -> &'static str {
        match self {
            OrderError::UnknownPackage(_) => "unknown_package",
            OrderError::PriceMismatch { .. } => "price_mismatch",
            OrderError::UnsupportedCurrency(_) => "unsupported_currency",
            OrderError::UnsupportedMethod(_) => "unsupported_method",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tokens(n: u64) -> TokenAmount {
        TokenAmount::new(n).unwrap_or_else(|| unreachable!())
    }

    fn order(credits: u64, amount: serde_json::Value, currency: &str, method: &str) -> ClientOrder {
        ClientOrder {
            credits,
            amount,
            currency: currency.into(),
            payment_method: method.into(),
        }
    }

    fn offers() -> Vec<MethodOffer> {
        vec![
            MethodOffer::new(PaymentMethod::card(), Currency::USD),
            MethodOffer::new(PaymentMethod::stars(), Currency::XTR),
        ]
    }

    #[test]
    fn default_catalog_prices() {
        let c = Catalog::default();
        let usd: Vec<(u64, u64)> = c
            .packages()
            .iter()
            .map(|p| {
                (
                    p.tokens().get(),
                    p.price_in(Currency::USD).map_or(0, |m| m.minor_units()),
                )
            })
            .collect();
        assert_eq!(usd, [(100, 500), (200, 1000), (500, 2500), (1000, 5000)]);
        assert!(
            Catalog::new(c.packages().to_vec()).is_ok(),
            "the default passes its own rules"
        );
    }

    #[test]
    fn quotes_valid_orders_at_the_catalog_price() {
        let c = Catalog::default();
        for amount in [json!(25), json!(25.0), json!("25.00"), json!("25")] {
            let q = c.quote(&order(500, amount, "USD", "card"), &offers());
            assert_eq!(
                q.map(|q| (q.tokens.get(), q.price)),
                Ok((500, Money::usd_cents(2500)))
            );
        }
        let q = c.quote(&order(500, json!(1250), "XTR", "stars"), &offers());
        assert_eq!(q.map(|q| q.price), Ok(Money::new(1250, Currency::XTR)));
        let lower = c.quote(&order(100, json!(5), "usd", "card"), &offers());
        assert!(lower.is_ok(), "currency codes are case-insensitive");
    }

    #[test]
    fn order_errors_have_stable_codes() {
        let c = Catalog::default();
        let code = |o: ClientOrder| c.quote(&o, &offers()).map(|_| ()).map_err(|e| e.code());
        assert_eq!(
            code(order(150, json!(7.5), "USD", "card")),
            Err("unknown_package")
        );
        assert_eq!(
            code(order(0, json!(0), "USD", "card")),
            Err("unknown_package")
        );
        assert_eq!(
            code(order(500, json!(5), "USD", "card")),
            Err("price_mismatch")
        );
        assert_eq!(
            code(order(500, json!(25.01), "USD", "card")),
            Err("price_mismatch")
        );
        assert_eq!(
            code(order(500, json!(-25), "USD", "card")),
            Err("price_mismatch")
        );
        assert_eq!(
            code(order(500, json!("NaN"), "USD", "card")),
            Err("price_mismatch")
        );
        assert_eq!(
            code(order(500, json!(null), "USD", "card")),
            Err("price_mismatch")
        );
        assert_eq!(
            code(order(500, json!(25), "EUR", "card")),
            Err("unsupported_currency")
        );
        assert_eq!(
            code(order(500, json!(25), "XTR", "card")),
            Err("unsupported_currency")
        );
        assert_eq!(
            code(order(500, json!(25), "", "card")),
            Err("unsupported_currency")
        );
        assert_eq!(
            code(order(500, json!(25), "USD", "paypal")),
            Err("unsupported_method")
        );
        assert_eq!(
            code(order(500, json!(25), "USD", "CARD")),
            Err("unsupported_method")
        );
    }

    #[test]
    fn method_must_be_enabled() {
        let c = Catalog::default();
        let card_only = [MethodOffer::new(PaymentMethod::card(), Currency::USD)];
        let e = c.quote(&order(500, json!(1250), "XTR", "stars"), &card_only);
        assert_eq!(e.map_err(|e| e.code()), Err("unsupported_method"));
    }

    #[test]
    fn package_without_price_in_currency() {
        let c = Catalog::new(vec![TokenPackage::new(tokens(10), Money::usd_cents(100))])
            .unwrap_or_else(|e| panic!("{e}"));
        let e = c.quote(&order(10, json!(1), "XTR", "stars"), &offers());
        assert_eq!(e.map_err(|e| e.code()), Err("unsupported_currency"));
    }

    #[test]
    fn custom_catalogs_are_validated() {
        let p = |t: u64, cents: u64| TokenPackage::new(tokens(t), Money::usd_cents(cents));
        assert_eq!(Catalog::new(vec![]), Err(CatalogError::Empty));
        assert_eq!(
            Catalog::new(vec![p(10, 100), p(10, 200)]),
            Err(CatalogError::DuplicateTokens(10))
        );
        assert!(matches!(
            Catalog::new(vec![p(10, 0)]),
            Err(CatalogError::ZeroPrice { .. })
        ));
        let twice = p(10, 100).with_price(Money::usd_cents(200));
        assert!(matches!(
            Catalog::new(vec![twice]),
            Err(CatalogError::DuplicateCurrency { .. })
        ));
        let sorted = Catalog::new(vec![p(50, 100), p(10, 20)]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sorted.packages()[0].tokens().get(), 10);
        let rub = p(10, 100).with_price(Money::new(9900, Currency::RUB));
        assert!(Catalog::new(vec![rub]).is_ok());
    }

    #[test]
    fn method_ids() {
        assert!(PaymentMethod::new("yoo_kassa2").is_some());
        assert!(PaymentMethod::new("").is_none());
        assert!(PaymentMethod::new("Card").is_none());
        assert!(PaymentMethod::new(&"a".repeat(33)).is_none());
    }
}
