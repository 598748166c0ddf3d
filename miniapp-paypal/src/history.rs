//! The history catch-up's cursor: where the next read of PayPal's event list starts, and how
//! long a stretch it reads. PayPal's list is filtered by time, so the cursor is a time; the
//! stretch shrinks while the list is crowded and grows back once it is not, and it is kept in the
//! cursor so that a narrowing survives between calls (each call stays a few requests long,
//! within the catch-up's deadline).

use std::time::Duration;

use miniapp_core::provider::ProviderError;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::wire::malformed;

/// How far behind now the list is read: an event appears in PayPal's list some time after its
/// `create_time`, and a stretch read too early would miss it for good.
pub(crate) const LAG: Duration = Duration::from_secs(5 * 60);
/// The longest stretch one call reads, in seconds: a day of outage is caught up in five
/// catch-ups (each makes up to five calls).
pub(crate) const MAX_SPAN: i64 = 3600;
/// The shortest stretch a crowded one is cut down to, in seconds.
pub(crate) const MIN_SPAN: i64 = 60;

/// `from` (RFC 3339, whole seconds, UTC) and the stretch to try, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) from: OffsetDateTime,
    pub(crate) span: i64,
}

impl Cursor {
    /// `2026-11-30T00:00:00Z` (an hour's stretch) or `2026-11-30T00:00:00Z;span=900`.
    pub(crate) fn parse(text: &str) -> Result<Cursor, ProviderError> {
        let bad = || malformed(format!("history cursor {text:?}"));
        let (time, span) = match text.split_once(";span=") {
            Some((time, span)) => (time, span.parse::<i64>().map_err(|_| bad())?),
            None => (text, MAX_SPAN),
        };
        let from = OffsetDateTime::parse(time, &Rfc3339).map_err(|_| bad())?;
        if !(MIN_SPAN..=MAX_SPAN).contains(&span) {
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

    /// After a stretch ending at `to` was read whole: on from there, the stretch doubled.
    pub(crate) fn after(&self, to: OffsetDateTime) -> Cursor {
        Cursor {
            from: to,
            span: (self.span * 2).min(MAX_SPAN),
        }
    }

    /// After a stretch too crowded to read whole: the same start, a quarter of the stretch.
    /// `None` when it is as short as it gets.
    pub(crate) fn narrowed(&self) -> Option<Cursor> {
        (self.span > MIN_SPAN).then(|| Cursor {
            from: self.from,
            span: (self.span / 4).max(MIN_SPAN),
        })
    }
}

/// `at` as PayPal's list takes it and the cursor keeps it: RFC 3339 in UTC (`…Z`).
pub(crate) fn rfc3339(at: OffsetDateTime) -> Result<String, ProviderError> {
    at.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .map_err(|e| malformed(format!("time {at}: {e}")))
}

pub(crate) fn whole_seconds(at: OffsetDateTime) -> Result<OffsetDateTime, ProviderError> {
    at.replace_nanosecond(0)
        .map_err(|e| malformed(format!("time {at}: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_cursor_renders_and_parses_back_and_its_stretch_narrows_and_grows_within_bounds() {
        let c = Cursor::parse("2026-11-30T00:00:00Z").unwrap();
        assert_eq!(c.span, MAX_SPAN);
        assert_eq!(c.render().unwrap(), "2026-11-30T00:00:00Z");
        let spans: Vec<i64> = std::iter::successors(Some(c), Cursor::narrowed)
            .map(|c| c.span)
            .collect();
        assert_eq!(spans, [3600, 900, 225, 60]);
        let narrow = c.narrowed().unwrap();
        assert_eq!(narrow.render().unwrap(), "2026-11-30T00:00:00Z;span=900");
        assert_eq!(Cursor::parse(&narrow.render().unwrap()).unwrap(), narrow);
        let to = narrow.to(OffsetDateTime::parse("2026-12-01T00:00:00Z", &Rfc3339).unwrap());
        assert_eq!(rfc3339(to).unwrap(), "2026-11-30T00:15:00Z");
        assert_eq!(narrow.after(to).span, 1800);
        assert_eq!(narrow.after(to).after(to).after(to).span, MAX_SPAN);
        // Offsets and fractions are normalised; anything else is refused.
        let odd = Cursor::parse("2026-11-30T03:00:00.750+03:00").unwrap();
        assert_eq!(odd.render().unwrap(), "2026-11-30T00:00:00Z");
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "1700000000",
            "2026-11-30T00:00:00Z;span=",
            "2026-11-30T00:00:00Z;span=59",
            "2026-11-30T00:00:00Z;span=3601",
            "2026-11-30T00:00:00Z;span=-60",
        ] {
            assert!(Cursor::parse(bad).is_err(), "{bad:?}");
        }
    }
}
