//! Where "now" comes from: one injectable [`Clock`] for every store, route and background task,
//! so tests move time forward instead of sleeping or rewriting timestamps.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use miniapp_core::clock::{Clock, ClockExt, ManualClock, SharedClock};
//!
//! let manual = Arc::new(ManualClock::at_unix(1_700_000_000));
//! let clock: SharedClock = manual.clone(); // what stores and the app take
//! assert_eq!(clock.unix_now(), 1_700_000_000);
//!
//! manual.advance(Duration::from_secs(15 * 60)); // a quarter of an hour, instantly
//! assert_eq!(clock.unix_now(), 1_700_000_900);
//! ```
//!
//! Only wall-clock time is here (timestamps that are stored or compared with stored ones). Timeouts
//! and deadlines measure elapsed time with the runtime's monotonic clock, which tests control
//! separately (tokio's paused time).

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time.
///
/// # Contract
/// - `now` is cheap and never blocks; it may be called while a store holds a lock.
/// - It is shared by everything in one app, so every timestamp of one payment comes from one
///   source. It need not be monotonic (the system clock is not), and nothing relies on that.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// Conveniences for every [`Clock`].
pub trait ClockExt: Clock {
    /// The current time in whole Unix seconds (0 before 1970, which no real clock reports).
    fn unix_now(&self) -> u64 {
        unix_seconds(self.now())
    }
}

impl<C: Clock + ?Sized> ClockExt for C {}

/// A clock shared by the parts of an app.
pub type SharedClock = Arc<dyn Clock>;

/// Whole Unix seconds of `time` (0 before 1970).
pub fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The operating system's clock: what every constructor uses unless told otherwise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemClock;

impl SystemClock {
    /// The system clock as a [`SharedClock`].
    pub fn shared() -> SharedClock {
        Arc::new(SystemClock)
    }
}

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to: for tests and simulations.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<SystemTime>,
}

impl ManualClock {
    /// A clock standing at `now`.
    pub fn new(now: SystemTime) -> ManualClock {
        ManualClock {
            now: Mutex::new(now),
        }
    }

    /// A clock standing at `secs` Unix seconds.
    pub fn at_unix(secs: u64) -> ManualClock {
        ManualClock::new(UNIX_EPOCH + Duration::from_secs(secs))
    }

    /// A clock standing at the system clock's current time (then frozen there).
    pub fn starting_now() -> ManualClock {
        ManualClock::new(SystemTime::now())
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }

    /// Sets the clock to `to` (backwards too: real clocks jump).
    pub fn set(&self, to: SystemTime) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = ManualClock::at_unix(100);
        assert_eq!(clock.unix_now(), 100);
        assert_eq!(clock.unix_now(), 100);
        clock.advance(Duration::from_millis(1_500));
        assert_eq!(clock.unix_now(), 101);
        clock.set(UNIX_EPOCH + Duration::from_secs(50));
        assert_eq!(clock.unix_now(), 50);
    }

    #[test]
    fn times_before_1970_are_zero_seconds() {
        assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_secs(5)), 0);
        let system: SharedClock = SystemClock::shared();
        assert!(system.unix_now() > 1_700_000_000);
    }
}
