//! The date grammar of the Recordings files API (`003`).
//!
//! ```text
//! d          = point | point "," point
//! point      = "today" [ "-" days "d" ] | date [ sep time ] [ zone ]
//! date       = YYYY-MM-DD | YYYYMMDD
//! sep        = "T" | " "
//! time       = HH:MM[:SS[.fff]] | HHMM[SS]
//! zone       = "Z" | ("+" | "-") HH[:MM | MM]
//! ```
//!
//! A point without a zone is local time in `tz=` (an IANA name) or else the tenant's zone;
//! a point without a time is that day's midnight. A single point selects from that point to
//! the next local midnight; a range `a,b` selects `[a, b)`, so `d=today-1d,today` is
//! yesterday. Where DST makes local midnight not exist, the day begins at the first instant
//! after the gap; where a time is ambiguous, the earlier one is used. A `+` decoded to a
//! space by form decoding (`13:15 01:00`) is read as the `+` the client meant.

use callvault_core::Invalid;
use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The inputs that give relative and zone-less dates a meaning.
#[derive(Debug, Clone, Copy)]
pub struct DateContext {
    pub now: DateTime<Utc>,
    pub tz: Tz,
}

/// `[start, end)` in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// A parsed point and whether it named a time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    pub at: DateTime<Utc>,
    pub has_time: bool,
}

pub fn parse_tz(field: &str, s: &str) -> Result<Tz, Invalid> {
    s.parse::<Tz>().map_err(|_| {
        Invalid::new(
            field,
            format!("{field} '{s}' is not an IANA time zone, e.g. America/New_York"),
        )
    })
}

fn bad(field: &str, s: &str) -> Invalid {
    Invalid::new(
        field,
        format!("{field} '{s}' is not a date: use 2007-08-05, 2007-08-05 13:15Z, 20070805T1315Z or today-1d"),
    )
}

/// Local midnight, or the first instant after a DST gap that swallowed it.
pub fn local_start_of_day(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    local_instant(tz, day.and_time(NaiveTime::MIN))
}

/// A local wall-clock time as an instant: the earlier of two in an overlap, the first
/// instant after the gap in a gap.
fn local_instant(tz: Tz, naive: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => {
            let mut probe = naive;
            for _ in 0..(26 * 60) {
                probe += Duration::minutes(1);
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    // Probing keeps the seconds of `naive`; the gap ends on a whole minute.
                    let t = t.with_timezone(&Utc);
                    return t - Duration::seconds(t.timestamp().rem_euclid(60));
                }
            }
            naive.and_utc()
        }
    }
}

fn digits(s: &str, n: usize) -> Option<u32> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    let (y, m, d) = if s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-' {
        (&s[0..4], &s[5..7], &s[8..10])
    } else if s.len() == 8 {
        (&s[0..4], &s[4..6], &s[6..8])
    } else {
        return None;
    };
    NaiveDate::from_ymd_opt(digits(y, 4)? as i32, digits(m, 2)?, digits(d, 2)?)
}

fn parse_time(s: &str) -> Option<NaiveTime> {
    let (main, frac) = match s.split_once('.') {
        Some((m, f)) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
            (m, format!("{f:0<9}").parse::<u32>().ok()?)
        }
        Some(_) => return None,
        None => (s, 0),
    };
    let parts: Vec<&str> = if main.contains(':') {
        main.split(':').collect()
    } else if main.len() == 4 || main.len() == 6 {
        (0..main.len())
            .step_by(2)
            .map(|i| &main[i..i + 2])
            .collect()
    } else {
        return None;
    };
    let h = digits(parts.first()?, 2)?;
    let m = digits(parts.get(1)?, 2)?;
    let sec = match parts.get(2) {
        Some(p) => digits(p, 2)?,
        None => 0,
    };
    if parts.len() > 3 {
        return None;
    }
    NaiveTime::from_hms_nano_opt(h, m, sec, frac)
}

/// Splits a trailing zone designator off a time; answers the offset in seconds.
fn split_zone(s: &str) -> Option<(&str, Option<i32>)> {
    if let Some(t) = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        return Some((t, Some(0)));
    }
    let Some(pos) = s.rfind(['+', '-', ' ']) else {
        return Some((s, None));
    };
    let (time, zone) = (&s[..pos], &s[pos + 1..]);
    let sign = if s.as_bytes()[pos] == b'-' { -1 } else { 1 };
    let zone = zone.replace(':', "");
    let (h, m) = match zone.len() {
        2 => (digits(&zone, 2)?, 0),
        4 => (digits(&zone[..2], 2)?, digits(&zone[2..], 2)?),
        _ => return None,
    };
    if h > 14 || m > 59 {
        return None;
    }
    Some((time, Some(sign * (h as i32 * 3600 + m as i32 * 60))))
}

pub fn parse_point(field: &str, raw: &str, ctx: &DateContext) -> Result<Point, Invalid> {
    let s = raw.trim();
    if s.len() > 40 || !s.is_ascii() {
        return Err(bad(field, raw));
    }
    if let Some(rest) = s.strip_prefix("today") {
        let days = match rest {
            "" => 0,
            r => r
                .strip_prefix('-')
                .and_then(|r| r.strip_suffix('d'))
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| *n <= 36_500)
                .ok_or_else(|| bad(field, raw))?,
        };
        let today = ctx.now.with_timezone(&ctx.tz).date_naive();
        let day = today - Duration::days(i64::from(days));
        return Ok(Point {
            at: local_start_of_day(ctx.tz, day),
            has_time: false,
        });
    }
    let (date_part, time_part) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let date = parse_date(date_part).ok_or_else(|| bad(field, raw))?;
    let Some(time_part) = time_part else {
        return Ok(Point {
            at: local_start_of_day(ctx.tz, date),
            has_time: false,
        });
    };
    let (time, offset) = split_zone(time_part).ok_or_else(|| bad(field, raw))?;
    let time = parse_time(time).ok_or_else(|| bad(field, raw))?;
    let naive = date.and_time(time);
    let at = match offset {
        Some(secs) => {
            let off = chrono::FixedOffset::east_opt(secs).ok_or_else(|| bad(field, raw))?;
            off.from_local_datetime(&naive)
                .single()
                .ok_or_else(|| bad(field, raw))?
                .with_timezone(&Utc)
        }
        None => local_instant(ctx.tz, naive),
    };
    Ok(Point { at, has_time: true })
}

/// Parses `d=`.
pub fn parse_range(field: &str, raw: &str, ctx: &DateContext) -> Result<Range, Invalid> {
    let parts: Vec<&str> = raw.split(',').collect();
    match parts.as_slice() {
        [one] => {
            let p = parse_point(field, one, ctx)?;
            let local_day = p.at.with_timezone(&ctx.tz).date_naive();
            let next = local_day.succ_opt().ok_or_else(|| bad(field, raw))?;
            Ok(Range {
                start: p.at,
                end: local_start_of_day(ctx.tz, next),
            })
        }
        [a, b] => {
            let start = parse_point(field, a, ctx)?.at;
            let end = parse_point(field, b, ctx)?.at;
            if end < start {
                return Err(Invalid::new(
                    field,
                    format!("{field}: the second date is before the first"),
                ));
            }
            Ok(Range { start, end })
        }
        _ => Err(Invalid::new(
            field,
            format!("{field} takes one date or two separated by a comma"),
        )),
    }
}

/// `2008-02-14T10:12:13-08:00`: the instant in the zone's offset at that moment.
pub fn format_local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ctx(tz: &str) -> DateContext {
        DateContext {
            now: Utc.with_ymd_and_hms(2008, 2, 14, 18, 12, 13).unwrap(),
            tz: tz.parse().unwrap(),
        }
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, mi, s).unwrap()
    }

    #[test]
    fn seed_examples() {
        let ny = ctx("America/New_York");
        let r = parse_range("d", "2007-08-05", &ny).unwrap();
        assert_eq!(
            r,
            Range {
                start: utc(2007, 8, 5, 4, 0, 0),
                end: utc(2007, 8, 6, 4, 0, 0)
            }
        );
        let r = parse_range("d", "2007-08-05,2007-08-07", &ny).unwrap();
        assert_eq!(
            (r.start, r.end),
            (utc(2007, 8, 5, 4, 0, 0), utc(2007, 8, 7, 4, 0, 0))
        );
        let r = parse_range("d", "2007-08-05 13:15Z,2007-08-07 14:30Z", &ny).unwrap();
        assert_eq!(
            (r.start, r.end),
            (utc(2007, 8, 5, 13, 15, 0), utc(2007, 8, 7, 14, 30, 0))
        );
        let compact = parse_range("d", "20070805T1315Z,20070807T1430Z", &ny).unwrap();
        assert_eq!(compact, r);
        let denver = ctx("America/Denver");
        let r = parse_range("d", "today-1d,today", &denver).unwrap();
        assert_eq!(
            (r.start, r.end),
            (utc(2008, 2, 13, 7, 0, 0), utc(2008, 2, 14, 7, 0, 0))
        );
        let p = parse_point("finish-date", "2007-12-19 19:16:58Z", &ny).unwrap();
        assert_eq!(
            p,
            Point {
                at: utc(2007, 12, 19, 19, 16, 58),
                has_time: true
            }
        );
        assert_eq!(
            format_local(
                utc(2008, 2, 14, 18, 12, 13),
                "America/Los_Angeles".parse().unwrap()
            ),
            "2008-02-14T10:12:13-08:00"
        );
    }

    #[test]
    fn offsets_and_decoded_plus() {
        let c = ctx("UTC");
        for s in [
            "2007-08-05T13:15+01:00",
            "2007-08-05T13:15+0100",
            "2007-08-05 13:15 01:00",
            "2007-08-05T13:15+01",
            "2007-08-05T12:15:00.000Z",
        ] {
            assert_eq!(
                parse_point("d", s, &c).unwrap().at,
                utc(2007, 8, 5, 12, 15, 0),
                "{s}"
            );
        }
        assert_eq!(
            parse_point("d", "2007-08-05T13:15-08:00", &c).unwrap().at,
            utc(2007, 8, 5, 21, 15, 0)
        );
    }

    #[test]
    fn dst_edges() {
        // Sao Paulo's DST began at midnight: 2018-11-04 00:00 did not exist.
        let sp = ctx("America/Sao_Paulo");
        let p = parse_point("d", "2018-11-04", &sp).unwrap();
        assert_eq!(
            p.at,
            utc(2018, 11, 4, 3, 0, 0),
            "the day begins when the gap ends (01:00 -02)"
        );
        // New York 2021-11-07 01:30 happened twice; the earlier is used.
        let ny = ctx("America/New_York");
        assert_eq!(
            parse_point("d", "2021-11-07 01:30", &ny).unwrap().at,
            utc(2021, 11, 7, 5, 30, 0)
        );
        // A spring-forward day is 23 hours long.
        let r = parse_range("d", "2021-03-14", &ny).unwrap();
        assert_eq!(r.end - r.start, Duration::hours(23));
    }

    #[test]
    fn rejects() {
        let c = ctx("UTC");
        for s in [
            "",
            "yesterday",
            "today+1d",
            "today-xd",
            "2007-13-01",
            "2007-02-30",
            "2007-08-05T25:00Z",
            "2007-08-05T13:15+15:00",
            "07-08-05",
            "2007-08-05,2007-08-04",
            "a,b,c",
            "2007-08-05T13",
        ] {
            assert!(parse_range("d", s, &c).is_err(), "{s}");
        }
        assert!(parse_tz("tz", "Mars/Olympus").is_err());
    }

    fn zones() -> impl Strategy<Value = Tz> {
        prop::sample::select(chrono_tz::TZ_VARIANTS.to_vec())
    }

    proptest! {
        #[test]
        fn any_local_day_parses_in_every_form(tz in zones(), days in 0i64..40_000, h in 0u32..24, m in 0u32..60, s in 0u32..60) {
            let c = DateContext { now: utc(2030, 1, 1, 0, 0, 0), tz };
            let day = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + Duration::days(days);
            let a = parse_point("d", &day.format("%Y-%m-%d").to_string(), &c).unwrap();
            let b = parse_point("d", &day.format("%Y%m%d").to_string(), &c).unwrap();
            prop_assert_eq!(a, b);
            prop_assert_eq!(a.at, local_start_of_day(tz, day));
            let r = parse_range("d", &day.format("%Y-%m-%d").to_string(), &c).unwrap();
            prop_assert!(r.end > r.start);
            prop_assert!(r.end - r.start <= Duration::hours(27) && r.end - r.start >= Duration::hours(20));
            let naive = day.and_hms_opt(h, m, s).unwrap();
            let utc_s = naive.format("%Y-%m-%dT%H:%M:%SZ").to_string();
            let compact = naive.format("%Y%m%dT%H%M%SZ").to_string();
            prop_assert_eq!(parse_point("d", &utc_s, &c).unwrap().at, naive.and_utc());
            prop_assert_eq!(parse_point("d", &compact, &c).unwrap().at, naive.and_utc());
            let t = naive.and_utc();
            let shown = format_local(t, tz);
            // The format carries offsets in minutes; a few zones' local mean times before
            // 1972 had seconds too (Africa/Monrovia: -00:44:30), which no client's date
            // format can say.
            use chrono::Offset as _;
            if tz.offset_from_utc_datetime(&naive).fix().local_minus_utc() % 60 == 0 {
                prop_assert_eq!(parse_point("d", &shown, &c).unwrap().at, t, "the response format parses back");
            }
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}", tz in zones()) {
            let c = DateContext { now: utc(2030, 1, 1, 0, 0, 0), tz };
            let _ = parse_range("d", &s, &c);
        }
    }
}
