//! PayPal's untrusted input: webhook bodies (as read once PayPal has verified them), events of
//! PayPal's event list, and stored history cursors: errors, never panics; a cursor that parses
//! prints back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = miniapp_paypal::fuzzing::webhook_body(data);
    let _ = miniapp_paypal::fuzzing::listed_event(data);
    if let Ok(text) = std::str::from_utf8(data) {
        miniapp_paypal::fuzzing::history_cursor(text);
    }
});
