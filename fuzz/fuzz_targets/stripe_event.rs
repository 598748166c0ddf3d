//! Stripe event mapping on arbitrary bodies: errors, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = miniapp_stripe::map_event(data);
});
