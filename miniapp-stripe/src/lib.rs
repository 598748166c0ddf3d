//! Stripe Checkout for miniapp: **not implemented yet**.
//!
//! This crate is a documented placeholder so the workspace layout of `DESIGN.md` §1 exists from
//! the start. The `StripeProvider` (Checkout sessions over reqwest with rustls, verified webhooks,
//! refunds and reconciliation) arrives with its own issue. Until then it exposes nothing but the
//! core re-export, and depending on it gives you no payment provider.
#![forbid(unsafe_code)]

pub use miniapp_core as core;
