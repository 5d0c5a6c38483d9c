//! ISO 8601 parsing and formatting shared by the dialects.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, SecondsFormat, Timelike, Utc};
use serde::ser::Error as _;
use serde::{Serialize, Serializer};

use crate::Invalid;

/// Parses an ISO 8601 instant. Accepts RFC 3339 (`2021-01-01T00:00:00Z`,
/// `2021-12-01T14:18:23.857+01:00`), a date-time without offset (taken as UTC), a space
/// instead of `T`, and a bare date (midnight UTC), because clients of the platform send
/// all of these.
pub fn parse_instant(field: &str, s: &str) -> Result<DateTime<Utc>, Invalid> {
    let t = s.trim();
    let bad = || {
        Invalid::new(
            field,
            format!("{field} '{s}' is not a valid ISO 8601 date, e.g. 2021-01-01T00:00:00Z"),
        )
    };
    if t.is_empty() || t.len() > 40 {
        return Err(bad());
    }
    let mut normalised = if t.len() > 10 && t.as_bytes()[10] == b' ' {
        format!("{}T{}", &t[..10], &t[11..])
    } else {
        t.to_string()
    };
    // A `+01:00` offset sent without URL-encoding arrives as ` 01:00`.
    if let Some(i) = normalised.rfind(' ') {
        if i > 10
            && normalised[i + 1..]
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b':')
        {
            normalised.replace_range(i..=i, "+");
        }
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(&normalised) {
        return Ok(dt.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%z",
        "%Y-%m-%dT%H:%M:%S%.f%#z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(&normalised, fmt) {
            return Ok(dt.with_timezone(&Utc));
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(&normalised, fmt) {
            return Ok(naive.and_utc());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(&normalised, "%Y-%m-%d") {
        return Ok(date.and_hms_opt(0, 0, 0).ok_or_else(bad)?.and_utc());
    }
    Err(bad())
}

/// RFC 3339 in UTC with milliseconds, as the JSON APIs write times.
pub fn format_utc_millis(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `2020-02-16T14:11:56Z`: whole seconds in UTC, as the platform writes timestamps.
pub fn format_utc_seconds(t: DateTime<Utc>) -> String {
    UtcSeconds(t).to_string()
}

/// [`format_utc_seconds`] as a value that writes itself, so that a page of a thousand
/// timestamps is serialized into the response without a string for each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UtcSeconds(pub DateTime<Utc>);

impl UtcSeconds {
    /// The 20 bytes of a four-digit year's timestamp; `None` for other years and a leap
    /// second, which chrono writes. Digits are placed by hand: through `core::fmt` the
    /// six `{:02}` fields were a twentieth of the server's CPU on a search page.
    pub fn fixed(&self) -> Option<[u8; 20]> {
        let t = self.0;
        let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
        if t.nanosecond() >= 1_000_000_000 {
            return None;
        }
        let mut b = *b"0000-00-00T00:00:00Z";
        let two = |b: &mut [u8; 20], at: usize, v: u32| {
            b[at] = b'0' + (v / 10) as u8;
            b[at + 1] = b'0' + (v % 10) as u8;
        };
        two(&mut b, 0, year / 100);
        two(&mut b, 2, year % 100);
        two(&mut b, 5, t.month());
        two(&mut b, 8, t.day());
        two(&mut b, 11, t.hour());
        two(&mut b, 14, t.minute());
        two(&mut b, 17, t.second());
        Some(b)
    }
}

impl fmt::Display for UtcSeconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.fixed() {
            // Only ASCII digits and separators were written.
            Some(b) => f.write_str(std::str::from_utf8(&b).map_err(|_| fmt::Error)?),
            None => f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Secs, true)),
        }
    }
}

impl Serialize for UtcSeconds {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.fixed() {
            Some(b) => s.serialize_str(std::str::from_utf8(&b).map_err(S::Error::custom)?),
            None => s.collect_str(self),
        }
    }
}

/// The wait before try `failures + 1` of a job that keeps failing: `first`, doubling
/// with each failure, never more than `cap`. One rule for every runner (exports,
/// transcription), each with its own first wait and cap.
pub fn doubling_backoff(
    first: chrono::Duration,
    cap: chrono::Duration,
    failures: u32,
) -> chrono::Duration {
    let factor = 1i32 << failures.saturating_sub(1).min(20);
    (first * factor).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_its_first_wait_up_to_its_cap() {
        let m = chrono::Duration::minutes;
        let waits: Vec<i64> = (0..10)
            .map(|f| doubling_backoff(m(1), m(60), f).num_minutes())
            .collect();
        assert_eq!(waits, [1, 1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(doubling_backoff(m(1), m(60), u32::MAX), m(60));
    }
    use chrono::TimeZone;
    use proptest::prelude::*;

    #[test]
    fn accepted_forms() {
        let want = Utc.with_ymd_and_hms(2021, 12, 1, 14, 18, 23).unwrap();
        for s in [
            "2021-12-01T14:18:23Z",
            "2021-12-01T14:18:23.000Z",
            "2021-12-01T15:18:23+01:00",
            "2021-12-01T15:18:23+0100",
            "2021-12-01T15:18:23 01:00",
            "2021-12-01 14:18:23Z",
            "2021-12-01T14:18:23",
        ] {
            assert_eq!(parse_instant("start", s).unwrap(), want, "{s}");
        }
        assert_eq!(
            parse_instant("start", "2021-12-01").unwrap(),
            Utc.with_ymd_and_hms(2021, 12, 1, 0, 0, 0).unwrap()
        );
        for s in [
            "",
            "yesterday",
            "2021-13-01T00:00:00Z",
            "2021-12-01T25:00:00Z",
            "12/01/2021",
        ] {
            let e = parse_instant("start", s).unwrap_err();
            assert_eq!(e.field, "start");
        }
    }

    proptest! {
        #[test]
        fn round_trips_any_instant(secs in 0i64..4_102_444_800, millis in 0u32..1000, off_min in -840i32..=840) {
            let t = Utc.timestamp_opt(secs, millis * 1_000_000).unwrap();
            let off = chrono::FixedOffset::east_opt(off_min * 60).unwrap();
            let s = t.with_timezone(&off).to_rfc3339_opts(SecondsFormat::Millis, false);
            prop_assert_eq!(parse_instant("start", &s).unwrap(), t);
            let z = format_utc_seconds(t);
            prop_assert_eq!(parse_instant("start", &z).unwrap().timestamp(), secs);
        }

        #[test]
        fn utc_seconds_are_written_as_chrono_writes_them(us in -100_000_000_000_000_000i64..400_000_000_000_000_000) {
            let t = DateTime::from_timestamp_micros(us).unwrap();
            let chrono = t.to_rfc3339_opts(SecondsFormat::Secs, true);
            prop_assert_eq!(UtcSeconds(t).to_string(), chrono.clone());
            prop_assert_eq!(serde_json::to_string(&UtcSeconds(t)).unwrap(), format!("\"{chrono}\""));
        }

        #[test]
        fn never_panics(s in "\\PC{0,60}") {
            let _ = parse_instant("start", &s);
        }
    }
}
