//! Query variables of `/api/recordings/files` (`003`): `d`, `tz`, `n`, `start-date`,
//! `finish-date`, and `field=value` for any output field. Names are case-sensitive; an
//! unknown name is a 400 naming it.

use callvault_core::Invalid;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::dates::{parse_point, parse_range, parse_tz, DateContext, Range};
use super::record::FIELDS;

/// Records per response.
pub const PAGE: usize = 50;
/// `start-date` and `finish-date` match within this many seconds either way.
pub const TOLERANCE_SECS: i64 = 5;

#[derive(Debug, Clone)]
pub struct FilesQuery {
    pub range: Option<Range>,
    /// Inclusive window around `start-date`.
    pub start_window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Inclusive window around `finish-date` (ignored when `start-date` is given).
    pub finish_window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Records to skip: `n - 1`.
    pub skip: u64,
    /// `(field index, value)` equality filters on output fields.
    pub filters: Vec<(usize, String)>,
    pub tz: Tz,
}

const CONTROL: [&str; 5] = ["d", "tz", "n", "start-date", "finish-date"];

fn window(p: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    (
        p - Duration::seconds(TOLERANCE_SECS),
        p + Duration::seconds(TOLERANCE_SECS),
    )
}

pub fn parse(
    pairs: &[(String, String)],
    tenant_tz: Tz,
    now: DateTime<Utc>,
) -> Result<FilesQuery, Invalid> {
    for (i, (name, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(n, _)| n == name) {
            return Err(Invalid::new(
                name,
                format!("query variable '{name}' is given more than once"),
            ));
        }
        if name == "startDate" {
            return Err(Invalid::new(
                name,
                "filter by start time with start-date, not startDate",
            ));
        }
        if !CONTROL.contains(&name.as_str()) && !FIELDS.contains(&name.as_str()) {
            return Err(Invalid::new(
                name,
                format!(
                    "unknown query variable '{name}'; use d, tz, n, start-date, finish-date or an output field ({})",
                    FIELDS[1..].join(", ")
                ),
            ));
        }
    }
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let tz = match get("tz") {
        Some(t) => parse_tz("tz", t)?,
        None => tenant_tz,
    };
    let ctx = DateContext { now, tz };
    let range = get("d").map(|d| parse_range("d", d, &ctx)).transpose()?;
    let start_window = get("start-date")
        .map(|s| parse_point("start-date", s, &ctx))
        .transpose()?
        .map(|p| window(p.at));
    let finish_window = match (start_window, get("finish-date")) {
        (None, Some(f)) => Some(window(parse_point("finish-date", f, &ctx)?.at)),
        (Some(_), Some(f)) => {
            parse_point("finish-date", f, &ctx)?;
            None
        }
        (_, None) => None,
    };
    let skip = match get("n") {
        Some(n) => match n.parse::<u64>() {
            Ok(v) if v >= 1 => v - 1,
            _ => {
                return Err(Invalid::new(
                    "n",
                    "n must be a whole number from 1 (the first record)",
                ))
            }
        },
        None => 0,
    };
    let filters = pairs
        .iter()
        .filter_map(|(name, value)| {
            FIELDS
                .iter()
                .position(|f| f == name)
                .map(|i| (i, value.clone()))
        })
        .collect();
    Ok(FilesQuery {
        range,
        start_window,
        finish_window,
        skip,
        filters,
        tz,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn q(s: &str) -> Result<FilesQuery, Invalid> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(s.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        parse(
            &pairs,
            chrono_tz::UTC,
            Utc.with_ymd_and_hms(2008, 2, 14, 0, 0, 0).unwrap(),
        )
    }

    #[test]
    fn names_and_values() {
        let f = q("agentID=bill&channel=8005557780&phoneNumber=4155551234&finish-date=2007-12-19%2019:16:58Z").unwrap();
        assert_eq!(f.filters.len(), 3);
        let (a, b) = f.finish_window.unwrap();
        assert_eq!(b - a, Duration::seconds(10));
        assert_eq!(q("n=101").unwrap().skip, 100);
        for (bad, field) in [
            ("Start-Date=2007-01-01", "Start-Date"),
            ("startDate=2007-01-01", "startDate"),
            ("agentid=bill", "agentid"),
            ("n=0", "n"),
            ("n=x", "n"),
            ("d=tomorrow", "d"),
            ("tz=Nowhere/City", "tz"),
            ("channel=1&channel=2", "channel"),
            ("start-date=2007-01-01&finish-date=junk", "finish-date"),
        ] {
            assert_eq!(q(bad).unwrap_err().field, field, "{bad}");
        }
        let both = q("start-date=2007-01-01&finish-date=2007-01-02").unwrap();
        assert!(
            both.start_window.is_some() && both.finish_window.is_none(),
            "start-date wins"
        );
    }
}
