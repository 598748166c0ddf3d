//! PostgreSQL and SQLite ledgers for miniapp: **not implemented yet**.
//!
//! This crate is a documented placeholder so the workspace layout of `DESIGN.md` §1 exists from
//! the start. `PgLedgerStore` and `SqliteLedgerStore` (the `LedgerStore` contract enforced with
//! database constraints) arrive with their own issue; until then use
//! [`miniapp_core::ledger::InMemoryLedger`], which is not durable.
#![forbid(unsafe_code)]

pub use miniapp_core as core;
