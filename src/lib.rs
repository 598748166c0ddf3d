//! miniapp: sell prepaid tokens from a Telegram bot through a Mini App payment page.
//!
//! For now this facade re-exports [`miniapp_core`]; the HTTP API, the bot glue, Telegram Stars
//! and the sandbox provider arrive with their issues.
//!
//! ```
//! let catalog = miniapp::catalog::Catalog::default();
//! assert_eq!(catalog.packages().len(), 4);
//! ```
#![forbid(unsafe_code)]

pub use miniapp_core::*;
