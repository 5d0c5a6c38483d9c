//! Query parameters of the recording listings (`002`): filters, order and paging. Names
//! are taken as the seed writes them; unknown names are ignored, bad values are a 400
//! naming the parameter.

use callvault_core::time::parse_instant;
use callvault_core::{ContentType, Direction, Guid, InteractionQuery, Invalid};

/// Largest `page_size` accepted; documented in docs/decisions.md.
pub const MAX_PAGE_SIZE: u64 = 100;
pub const DEFAULT_PAGE_SIZE: u64 = 10;

pub struct Listing {
    pub query: InteractionQuery,
    pub page: u64,
    pub page_size: u64,
    /// Filters and order as given, for the HAL links.
    pub kept: Vec<(String, String)>,
}

const FILTERS: [&str; 11] = [
    "call_direction",
    "call_id",
    "caller_id",
    "cnam",
    "dnis",
    "duration:gte",
    "duration:lte",
    "extension",
    "start:gte",
    "start:lte",
    "order",
];

/// `+0000` offsets arrive as ` 0000` when a client does not URL-encode the `+`.
fn instant(field: &str, v: &str) -> Result<chrono::DateTime<chrono::Utc>, Invalid> {
    let fixed = match v.rfind(' ') {
        Some(i) if i > 10 && v[i + 1..].bytes().all(|b| b.is_ascii_digit() || b == b':') => {
            format!("{}+{}", &v[..i], &v[i + 1..])
        }
        _ => v.to_string(),
    };
    parse_instant(field, &fixed).map_err(|_| {
        Invalid::new(
            field,
            format!("{field} '{v}' is not a date like 2019-01-01T00:00:00+0000"),
        )
    })
}

fn number(field: &str, v: &str) -> Result<u64, Invalid> {
    v.trim()
        .parse::<u64>()
        .map_err(|_| Invalid::new(field, format!("{field} must be a non-negative integer")))
}

impl Listing {
    /// The total and the requested page, newest first unless asked otherwise.
    pub async fn fetch(
        &self,
        state: &crate::AppState,
        actor: &callvault_services::audit::Actor,
    ) -> Result<(u64, Vec<callvault_core::Interaction>), crate::error::ApiError> {
        let offset = (self.page - 1).saturating_mul(self.page_size);
        let limit = u32::try_from(self.page_size).unwrap_or(u32::MAX);
        let page = state
            .vault
            .search_offset(actor, &self.query, offset, limit)
            .await?;
        Ok((page.total, page.items))
    }
}

pub fn parse(pairs: &[(String, String)]) -> Result<Listing, Invalid> {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let mut q = InteractionQuery {
        with_content: Some(ContentType::CallRecording),
        newest_first: true,
        ..Default::default()
    };
    if let Some(d) = get("call_direction") {
        q.direction = Some(match d.to_ascii_uppercase().as_str() {
            "INBOUND" => Direction::Inbound,
            "OUTBOUND" => Direction::Outbound,
            "INTRA_PBX" => Direction::Internal,
            _ => {
                return Err(Invalid::new(
                    "call_direction",
                    format!("call_direction '{d}' is not one of INBOUND, OUTBOUND, INTRA_PBX"),
                ))
            }
        });
    }
    if let Some(id) = get("call_id") {
        q.guid = Some(Guid::parse("call_id", id)?);
    }
    q.connect_from = get("caller_id").map(str::to_string);
    q.caller_name = get("cnam").map(str::to_string);
    q.connect_to = get("dnis").map(str::to_string);
    q.extension = get("extension").map(str::to_string);
    q.recording_ms = (
        get("duration:gte")
            .map(|v| number("duration:gte", v))
            .transpose()?,
        get("duration:lte")
            .map(|v| number("duration:lte", v))
            .transpose()?,
    );
    let from = get("start:gte")
        .map(|v| instant("start:gte", v))
        .transpose()?;
    let to = get("start:lte")
        .map(|v| instant("start:lte", v))
        .transpose()?;
    if from.is_some() || to.is_some() {
        let lo = from.unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        let hi = to.unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
        if hi < lo {
            return Err(Invalid::new("start:lte", "start:lte is before start:gte"));
        }
        q.start = Some((lo, hi));
    }
    if let Some(o) = get("order") {
        q.newest_first = match o.to_ascii_lowercase().as_str() {
            "start:desc" | "desc" => true,
            "start:asc" | "asc" => false,
            _ => {
                return Err(Invalid::new(
                    "order",
                    format!("order '{o}' is not start:DESC or start:ASC"),
                ))
            }
        };
    }
    let page = match get("page") {
        Some(p) => match number("page", p)? {
            0 => return Err(Invalid::new("page", "page numbers start at 1")),
            n => n,
        },
        None => 1,
    };
    let page_size = match get("page_size") {
        Some(s) => match number("page_size", s)? {
            n if (1..=MAX_PAGE_SIZE).contains(&n) => n,
            _ => {
                return Err(Invalid::new(
                    "page_size",
                    format!("page_size must be between 1 and {MAX_PAGE_SIZE}"),
                ))
            }
        },
        None => DEFAULT_PAGE_SIZE,
    };
    let kept = pairs
        .iter()
        .filter(|(k, _)| FILTERS.contains(&k.as_str()))
        .cloned()
        .collect();
    Ok(Listing {
        query: q,
        page,
        page_size,
        kept,
    })
}
