//! The platform versions its JSON by media type in the Accept header
//! (`application/vnd.newvoicemedia.v3+json`); a missing or unknown version is a 400.

use axum::http::{header, HeaderMap};

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    /// Page/limit paging with page counts.
    V2,
    /// Continuation-token paging.
    V3,
}

const PREFIX: &str = "application/vnd.newvoicemedia.v";

pub fn negotiate(headers: &HeaderMap, valid: &[ApiVersion]) -> Result<ApiVersion, ApiError> {
    let accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok());
    for value in accept {
        for media in value.split(',') {
            let essence = media
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if let Some(rest) = essence
                .strip_prefix(PREFIX)
                .and_then(|r| r.strip_suffix("+json"))
            {
                let found = match rest {
                    "2" => Some(ApiVersion::V2),
                    "3" => Some(ApiVersion::V3),
                    _ => None,
                };
                if let Some(v) = found.filter(|v| valid.contains(v)) {
                    return Ok(v);
                }
            }
        }
    }
    let names: Vec<String> = valid
        .iter()
        .map(|v| format!("{PREFIX}{}+json", if *v == ApiVersion::V2 { 2 } else { 3 }))
        .collect();
    Err(ApiError::bad_request(
        "Accept",
        format!("Invalid api-version! Valid values: {}", names.join(", ")),
    ))
}
