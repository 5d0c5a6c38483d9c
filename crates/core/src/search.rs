//! The search rules of `GET /interactions` (`001`), shared by every dialect that searches.

use chrono::{DateTime, Duration, Utc};

use crate::{Direction, InteractionQuery, Invalid};

pub const MAX_SEARCH_RANGE_DAYS: i64 = 7;
pub const MAX_SEARCH_LIMIT: u32 = 1000;
pub const MAX_PREFIX_LEN: usize = 50;

/// A validated interaction search. Both ends of the range are inclusive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SearchFilter {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub handling_agent_id: Option<String>,
    pub connect_from_prefix: Option<String>,
    pub connect_to_prefix: Option<String>,
    pub direction: Option<Direction>,
}

impl SearchFilter {
    pub fn to_query(&self) -> InteractionQuery {
        InteractionQuery {
            start: Some((self.start, self.end)),
            end: None,
            direction: self.direction,
            handling_agent: self.handling_agent_id.clone(),
            connect_from_prefix: self.connect_from_prefix.clone(),
            connect_to_prefix: self.connect_to_prefix.clone(),
            ..Default::default()
        }
    }

    pub fn validate(&self) -> Result<(), Invalid> {
        if self.end < self.start {
            return Err(Invalid::new("end", "end must not be before start"));
        }
        if self.end - self.start > Duration::days(MAX_SEARCH_RANGE_DAYS) {
            return Err(Invalid::new(
                "end",
                format!(
                    "The maximum date range between start and end is {MAX_SEARCH_RANGE_DAYS} days"
                ),
            ));
        }
        for (field, p) in [
            ("connectFrom", &self.connect_from_prefix),
            ("connectTo", &self.connect_to_prefix),
        ] {
            if let Some(p) = p {
                validate_prefix(field, p)?;
            }
        }
        Ok(())
    }
}

pub fn validate_prefix(field: &str, p: &str) -> Result<(), Invalid> {
    let n = p.chars().count();
    if n == 0 || n > MAX_PREFIX_LEN {
        return Err(Invalid::new(
            field,
            format!("{field} must be between 1 and {MAX_PREFIX_LEN} characters in length"),
        ));
    }
    Ok(())
}

/// Parses a page size the way `001` states it: an integer from 1 to `max`.
pub fn parse_limit(field: &str, s: &str, max: u32) -> Result<u32, Invalid> {
    match s.trim().parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(Invalid::new(
            field,
            format!("{field} must be an integer between 1 and {max}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn filter(days: i64) -> SearchFilter {
        let start = Utc.with_ymd_and_hms(2021, 1, 1, 0, 0, 0).unwrap();
        SearchFilter {
            start,
            end: start + Duration::days(days),
            handling_agent_id: None,
            connect_from_prefix: None,
            connect_to_prefix: None,
            direction: None,
        }
    }

    #[test]
    fn range_rules() {
        assert!(filter(7).validate().is_ok());
        assert_eq!(filter(8).validate().unwrap_err().field, "end");
        assert_eq!(filter(-1).validate().unwrap_err().field, "end");
        let mut f = filter(1);
        f.connect_to_prefix = Some("x".repeat(51));
        assert_eq!(f.validate().unwrap_err().field, "connectTo");
    }

    #[test]
    fn limits() {
        assert_eq!(parse_limit("limit", "1000", 1000).unwrap(), 1000);
        for bad in ["0", "1001", "-1", "ten", ""] {
            assert!(parse_limit("limit", bad, 1000).is_err(), "{bad}");
        }
    }
}
