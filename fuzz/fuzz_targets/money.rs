//! Amount parsing: never panics, and what parses prints back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use miniapp_core::money::{Currency, Money};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for currency in [Currency::USD, Currency::XTR] {
        if let Ok(m) = Money::parse(&text, currency) {
            assert_eq!(Money::parse(&m.to_decimal_string(), currency), Ok(m));
        }
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = Money::from_json(&v, Currency::USD);
    }
});
