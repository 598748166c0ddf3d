//! The history catch-up's cursor: where the next read of PayPal's event list starts, and how
//! long a stretch it reads. PayPal's list is filtered by time, so the cursor is a time; the
//! stretch is sized from how crowded the list was last time, for about three pages, and kept in
//! the cursor, so a narrowing survives between calls and each call stays a few requests long.

use std::time::Duration;

use miniapp_core::event::ProviderEvent;
use miniapp_core::provider::ProviderError;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::wire::malformed;

/// How far behind now the list is read: an event appears in PayPal's list some time after its
/// `create_time`, and a stretch read too early would miss it for good.
pub(crate) const LAG: Duration = Duration::from_secs(5 * 60);
/// The longest stretch one call reads, in seconds.
pub(crate) const MAX_SPAN: i64 = 3600;
/// The shortest stretch a crowded one is cut down to, in seconds.
pub(crate) const MIN_SPAN: i64 = 10;
/// Events asked for per page.
pub(crate) const PAGE_SIZE: usize = 100;
/// Pages read of a stretch before it counts as crowded; of a stretch as short as it gets.
pub(crate) const PAGES: usize = 5;
pub(crate) const PAGES_AT_MIN_SPAN: usize = 20;
/// The time within which a stretch's later pages must come (the catch-up gives each call 12 s;
/// the first page may take a few).
pub(crate) const TIME_BUDGET: Duration = Duration::from_secs(6);
/// The events a stretch is sized for: three pages.
const TARGET_EVENTS: i64 = 300;

/// How the read of a stretch ended.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// Every page was read.
    Whole,
    /// Later pages did not come within [`TIME_BUDGET`].
    OutOfTime,
    /// The pages allowed were read and more remain (or a `next` link was not followed).
    #[default]
    Cut,
}

/// What one read of a stretch of the list found.
#[derive(Debug, Default)]
pub(crate) struct Stretch {
    /// Our events, oldest first.
    pub(crate) events: Vec<ProviderEvent>,
    pub(crate) end: End,
    /// Listed events read, ours or not.
    pub(crate) listed: usize,
    first: Option<OffsetDateTime>,
    last: Option<OffsetDateTime>,
}

impl Stretch {
    /// One listed event read, created at `created` when it says.
    pub(crate) fn saw(&mut self, created: Option<OffsetDateTime>) {
        self.listed += 1;
        if let Some(t) = created {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
    }

    /// The stretch that would hold about [`TARGET_EVENTS`] at the density seen over `seconds`.
    fn sized(&self, seconds: i64) -> i64 {
        let listed = i64::try_from(self.listed).unwrap_or(i64::MAX).max(1);
        seconds.max(1).saturating_mul(TARGET_EVENTS) / listed
    }
}

/// `from` (RFC 3339, whole seconds, UTC) and the stretch to read next, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) from: OffsetDateTime,
    pub(crate) span: i64,
}

impl Cursor {
    /// Where a catch-up with no cursor, or one ahead of the clock, starts.
    pub(crate) fn start(readable: OffsetDateTime) -> Cursor {
        Cursor {
            from: readable,
            span: MAX_SPAN,
        }
    }

    /// `2026-11-30T00:00:00Z` (an hour's stretch) or `2026-11-30T00:00:00Z;span=900`.
    ///
    /// # Errors
    /// [`ProviderError::MalformedPayload`] for anything else, a span outside ten seconds to an
    /// hour, or a year outside 1970 to 9000.
    pub(crate) fn parse(text: &str) -> Result<Cursor, ProviderError> {
        let bad = || malformed(format!("history cursor {text:?}"));
        let (time, span) = match text.split_once(";span=") {
            Some((time, span)) => (time, span.parse::<i64>().map_err(|_| bad())?),
            None => (text, MAX_SPAN),
        };
        let from = OffsetDateTime::parse(time, &Rfc3339)
            .ok()
            .and_then(|t| t.checked_to_offset(time::UtcOffset::UTC))
            .ok_or_else(bad)?;
        // Years we can add an hour to and print back in RFC 3339's four digits.
        if !(MIN_SPAN..=MAX_SPAN).contains(&span) || !(1970..=9000).contains(&from.year()) {
            return Err(bad());
        }
        Ok(Cursor {
            from: whole_seconds(from)?,
            span,
        })
    }

    pub(crate) fn render(&self) -> Result<String, ProviderError> {
        let time = rfc3339(self.from)?;
        Ok(if self.span == MAX_SPAN {
            time
        } else {
            format!("{time};span={}", self.span)
        })
    }

    /// The end of the stretch this cursor reads, at most `readable`.
    pub(crate) fn to(&self, readable: OffsetDateTime) -> OffsetDateTime {
        readable.min(self.from + time::Duration::seconds(self.span))
    }

    /// Whether the stretch up to `to` is as short as it gets.
    pub(crate) fn at_least(&self, to: OffsetDateTime) -> bool {
        (to - self.from).whole_seconds() <= MIN_SPAN
    }

    /// After the stretch up to `to` was read whole: on from there, sized for the density seen.
    pub(crate) fn after(&self, to: OffsetDateTime, read: &Stretch) -> Cursor {
        let seconds = (to - self.from).whole_seconds();
        let span = if read.listed == 0 {
            MAX_SPAN
        } else {
            read.sized(seconds)
        };
        Cursor {
            from: to,
            span: span.clamp(MIN_SPAN, MAX_SPAN),
        }
    }

    /// After the stretch up to `to` was too crowded to read whole: the same start, a stretch
    /// sized for the density seen, and at most half the one tried, so it always shrinks.
    pub(crate) fn narrowed(&self, to: OffsetDateTime, read: &Stretch) -> Cursor {
        let tried = (to - self.from).whole_seconds();
        let seen = match (read.first, read.last) {
            (Some(first), Some(last)) => (last - first).whole_seconds(),
            _ => tried,
        };
        Cursor {
            from: self.from,
            span: read.sized(seen).min(tried / 2).max(MIN_SPAN),
        }
    }
}

/// `at` as PayPal's list takes it and the cursor keeps it: RFC 3339 in UTC (`…Z`).
pub(crate) fn rfc3339(at: OffsetDateTime) -> Result<String, ProviderError> {
    at.checked_to_offset(time::UtcOffset::UTC)
        .ok_or_else(|| malformed(format!("time {at} has no UTC form")))?
        .format(&Rfc3339)
        .map_err(|e| malformed(format!("time {at}: {e}")))
}

pub(crate) fn whole_seconds(at: OffsetDateTime) -> Result<OffsetDateTime, ProviderError> {
    at.replace_nanosecond(0)
        .map_err(|e| malformed(format!("time {at}: {e}")))
}

/// For `fuzz/`: a cursor that parses prints back to text that parses to the same cursor.
/// Panicking is how a fuzz target reports a finding.
#[cfg(feature = "fuzzing")]
#[allow(clippy::panic)]
pub(crate) fn round_trip(text: &str) {
    if let Ok(cursor) = Cursor::parse(text) {
        let printed = cursor
            .render()
            .unwrap_or_else(|e| panic!("{text:?} parsed, not printed: {e}"));
        assert_eq!(
            Cursor::parse(&printed).ok(),
            Some(cursor),
            "{text:?} → {printed:?}"
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &Rfc3339).unwrap()
    }

    /// `n` listed events spread over `seconds` from `start`.
    fn stretch(n: usize, start: OffsetDateTime, seconds: i64, whole: bool) -> Stretch {
        let mut s = Stretch {
            end: if whole { End::Whole } else { End::Cut },
            ..Stretch::default()
        };
        for i in 0..n {
            let offset = seconds * i64::try_from(i).unwrap() / i64::try_from(n.max(2) - 1).unwrap();
            s.saw(Some(start + time::Duration::seconds(offset)));
        }
        s
    }

    #[test]
    fn a_cursor_renders_and_parses_back() {
        let c = Cursor::parse("2026-11-30T00:00:00Z").unwrap();
        assert_eq!(c, Cursor::start(at("2026-11-30T00:00:00Z")));
        assert_eq!(c.render().unwrap(), "2026-11-30T00:00:00Z");
        let narrow = Cursor { span: 900, ..c };
        assert_eq!(narrow.render().unwrap(), "2026-11-30T00:00:00Z;span=900");
        assert_eq!(Cursor::parse(&narrow.render().unwrap()).unwrap(), narrow);
        // Offsets and fractions are normalised; anything else is refused.
        let odd = Cursor::parse("2026-11-30T03:00:00.750+03:00").unwrap();
        assert_eq!(odd.render().unwrap(), "2026-11-30T00:00:00Z");
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "1700000000",
            "2026-11-30T00:00:00Z;span=",
            "2026-11-30T00:00:00Z;span=9",
            "2026-11-30T00:00:00Z;span=3601",
            "2026-11-30T00:00:00Z;span=-60",
            "9999-12-31T23:59:59-01:00",
            "9999-12-31T23:30:00Z",
            "0001-01-01T00:00:00Z",
        ] {
            assert!(Cursor::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_stretch_is_sized_for_three_pages_and_a_crowded_one_always_shrinks() {
        let c = Cursor::parse("2026-11-30T00:00:00Z").unwrap();
        let far = at("2026-12-01T00:00:00Z");
        let to = c.to(far);
        assert_eq!(to, at("2026-11-30T01:00:00Z"));
        // 600 events an hour: 300 of them fit in half an hour.
        let read = stretch(600, c.from, 3600, true);
        assert_eq!(
            c.after(to, &read),
            Cursor {
                from: to,
                span: 1800
            }
        );
        // A quiet hour, or an empty one: an hour.
        assert_eq!(c.after(to, &stretch(10, c.from, 3600, true)).span, MAX_SPAN);
        assert_eq!(c.after(to, &Stretch::default()).span, MAX_SPAN);
        // 500 events seen in the last 5 minutes of the hour: 3 minutes' worth next, same start.
        let crowded = stretch(500, to - time::Duration::seconds(300), 300, false);
        assert_eq!(
            c.narrowed(to, &crowded),
            Cursor {
                from: c.from,
                span: 180
            }
        );
        // Seen spread over the whole stretch (as if PayPal listed oldest first): at most half of it.
        let spread = stretch(500, c.from, 3600, false);
        assert_eq!(c.narrowed(to, &spread).span, 1800);
        // All in one second: the shortest stretch, which is then read with more pages.
        let burst = stretch(500, to, 0, false);
        let shortest = c.narrowed(to, &burst);
        assert_eq!(shortest.span, MIN_SPAN);
        assert!(shortest.at_least(shortest.to(far)));
        assert!(!c.at_least(to));
        // Near now the stretch tried is shorter than the span: half of what was tried.
        let near = c.from + time::Duration::seconds(100);
        assert_eq!(c.narrowed(near, &stretch(500, c.from, 100, false)).span, 50);
    }
}
