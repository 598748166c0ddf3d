//! Abuse limits of `create-payment`: a rate per verified user and per client address, and the
//! number of open payments per user (checked in the handler against the ledger). The checkout
//! handoff, which has no init data, is limited per client address by a limiter of its own.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, StatusCode};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::error::ApiError;

/// Several people can share one address (a carrier's NAT, an office), so an address may create
/// this many times the per-user rate.
const ADDRESS_FACTOR: u32 = 5;

/// Keys kept before forgotten ones are dropped: the limiters' memory stays bounded.
const MAX_KEYS: usize = 100_000;

/// The rate limiters of `create-payment` and of the checkout handoff.
pub(crate) struct RateLimits {
    per_user: DefaultKeyedRateLimiter<i64>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    /// `GET /api/miniapp/handoff` polls, per address: apart from `per_address`, so a page
    /// polling for its checkout and unauthenticated creates do not use up each other's allowance.
    handoff_per_address: DefaultKeyedRateLimiter<IpAddr>,
    trust_forwarded_for: bool,
    clock: DefaultClock,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("users", &self.per_user.len())
            .field("addresses", &self.per_address.len())
            .field("handoff_addresses", &self.handoff_per_address.len())
            .finish_non_exhaustive()
    }
}

impl RateLimits {
    /// Limits of `per_minute` creates per user (and five times that per address, and as many
    /// handoff polls per address), with the whole minute's allowance available at once; `None`
    /// when `per_minute` is 0 (disabled).
    pub(crate) fn new(per_minute: u32, trust_forwarded_for: bool) -> Option<RateLimits> {
        let user = NonZeroU32::new(per_minute)?;
        let address = NonZeroU32::new(per_minute.saturating_mul(ADDRESS_FACTOR))?;
        Some(RateLimits {
            per_user: RateLimiter::keyed(Quota::per_minute(user)),
            per_address: RateLimiter::keyed(Quota::per_minute(address)),
            handoff_per_address: RateLimiter::keyed(Quota::per_minute(address)),
            trust_forwarded_for,
            clock: DefaultClock::default(),
        })
    }

    /// Counts an unauthenticated request from its address (the peer, or the last
    /// `X-Forwarded-For` entry when the app is configured to trust its proxy; IPv6 by /64).
    /// Without a known address nothing is counted.
    pub(crate) fn check_address(
        &self,
        headers: &HeaderMap,
        peer: Option<&ConnectInfo<SocketAddr>>,
    ) -> Result<(), ApiError> {
        self.check_in(&self.per_address, headers, peer)
            .map_err(|wait| limited("too many payments started", wait))
    }

    /// Counts a checkout handoff poll from its address, as [`RateLimits::check_address`] does,
    /// in a limiter of its own.
    pub(crate) fn check_handoff(
        &self,
        headers: &HeaderMap,
        peer: Option<&ConnectInfo<SocketAddr>>,
    ) -> Result<(), ApiError> {
        self.check_in(&self.handoff_per_address, headers, peer)
            .map_err(|wait| limited("too many requests", wait))
    }

    /// Counts a request from its address in `limiter`; how long to wait when it is over.
    fn check_in(
        &self,
        limiter: &DefaultKeyedRateLimiter<IpAddr>,
        headers: &HeaderMap,
        peer: Option<&ConnectInfo<SocketAddr>>,
    ) -> Result<(), Duration> {
        let forwarded = self
            .trust_forwarded_for
            .then(|| forwarded_for(headers))
            .flatten();
        let Some(address) = forwarded.or_else(|| peer.map(|p| p.0.ip())) else {
            return Ok(());
        };
        let address = network_of(address);
        if limiter.len() > MAX_KEYS {
            limiter.retain_recent();
        }
        limiter
            .check_key(&address)
            .map_err(|wait| wait.wait_time_from(self.clock.now()))
    }

    /// Counts a request of a verified user.
    pub(crate) fn check_user(&self, user: i64) -> Result<(), ApiError> {
        if self.per_user.len() > MAX_KEYS {
            self.per_user.retain_recent();
        }
        self.per_user.check_key(&user).map_err(|wait| {
            limited(
                "too many payments started",
                wait.wait_time_from(self.clock.now()),
            )
        })
    }
}

/// The key of an address: IPv4 as it is, IPv6 by its /64 (one subscriber's network; a single
/// host can use any address inside it).
fn network_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

/// The address the nearest proxy appended: the last entry of the last `X-Forwarded-For` header.
/// Earlier entries are whatever the client claimed and are never trusted.
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()?
        .to_str()
        .ok()?
        .rsplit(',')
        .next()?
        .trim()
        .parse()
        .ok()
}

fn limited(what: &str, wait: Duration) -> ApiError {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("{what}; try again in {seconds} s"),
    )
    .with_retry_after(seconds.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_forwarded_address_counts() {
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", "1.1.1.1, 2.2.2.2".parse().unwrap());
        h.append("x-forwarded-for", "6.6.6.6, 10.0.0.7".parse().unwrap());
        assert_eq!(forwarded_for(&h), Some("10.0.0.7".parse().unwrap()));
        h.insert("x-forwarded-for", "not an address".parse().unwrap());
        assert_eq!(forwarded_for(&h), None);
    }

    #[test]
    fn ipv6_counts_by_its_64_network() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(network_of(a), network_of(b));
        assert_ne!(network_of(a), network_of(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(network_of(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn zero_disables_and_the_minute_allowance_is_exact() {
        assert!(RateLimits::new(0, false).is_none());
        let limits = RateLimits::new(3, false).unwrap();
        for _ in 0..3 {
            limits.check_user(7).unwrap();
        }
        let e = limits.check_user(7).unwrap_err();
        assert_eq!(
            (e.status(), e.code()),
            (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
        );
        limits.check_user(8).unwrap();
        let peer = ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 5000)));
        for _ in 0..15 {
            limits
                .check_address(&HeaderMap::new(), Some(&peer))
                .unwrap();
        }
        assert!(
            limits
                .check_address(&HeaderMap::new(), Some(&peer))
                .is_err()
        );
        assert!(limits.check_address(&HeaderMap::new(), None).is_ok());
        // Handoff polls have their own allowance: the exhausted create limit does not stop them.
        for _ in 0..15 {
            limits
                .check_handoff(&HeaderMap::new(), Some(&peer))
                .unwrap();
        }
        let e = limits
            .check_handoff(&HeaderMap::new(), Some(&peer))
            .unwrap_err();
        assert_eq!(e.code(), "rate_limited");
    }
}
