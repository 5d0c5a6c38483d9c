//! The platform versions its JSON by media type in the Accept header
//! (`application/vnd.newvoicemedia.v3+json`); a missing or unknown version is a 400. A
//! negotiated answer is labelled with the version it was negotiated as.

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

pub const V2_JSON: &str = "application/vnd.newvoicemedia.v2+json";
pub const V3_JSON: &str = "application/vnd.newvoicemedia.v3+json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    /// Page/limit paging with page counts.
    V2,
    /// Continuation-token paging.
    V3,
}

impl ApiVersion {
    pub const fn media_type(self) -> &'static str {
        match self {
            ApiVersion::V2 => V2_JSON,
            ApiVersion::V3 => V3_JSON,
        }
    }

    /// A JSON `body`, served as this version's media type.
    pub fn respond(self, body: Vec<u8>) -> Response {
        let media_type = HeaderValue::from_static(self.media_type());
        ([(header::CONTENT_TYPE, media_type)], body).into_response()
    }
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
    let names: Vec<&str> = valid.iter().map(|v| v.media_type()).collect();
    Err(ApiError::bad_request(
        "Accept",
        format!("Invalid api-version! Valid values: {}", names.join(", ")),
    ))
}
