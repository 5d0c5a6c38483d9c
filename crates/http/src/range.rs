//! Streaming a stored content item with the HTTP caching and range semantics every
//! dialect's download endpoint shares: strong ETag (the SHA-256), conditional requests,
//! single byte ranges (206) and unsatisfiable ranges (416).
//!
//! A request for several ranges gets the whole representation (200), which RFC 9110
//! allows; recording players ask for one range at a time.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use callvault_core::ContentItem;
use callvault_services::Vault;

use crate::error::{ApiError, ApiResult};

pub fn etag_of(item: &ContentItem) -> String {
    format!("\"{}\"", item.sha256)
}

fn matches_etag(header_value: Option<&HeaderValue>, etag: &str) -> bool {
    header_value.and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(',').any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag
        })
    })
}

/// What the Range header asks for, once checked against the length.
enum Wanted {
    Whole,
    Part(u64, u64),
    Unsatisfiable,
}

fn wanted(headers: &HeaderMap, etag: &str, len: u64) -> Wanted {
    let Some(range) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Wanted::Whole;
    };
    if let Some(if_range) = headers.get(header::IF_RANGE) {
        if if_range.to_str().ok() != Some(etag) {
            return Wanted::Whole;
        }
    }
    let Ok(parsed) = http_range_header::parse_range_header(range) else {
        return Wanted::Whole;
    };
    if len == 0 {
        return Wanted::Unsatisfiable;
    }
    match parsed.validate(len) {
        Ok(ranges) if ranges.len() == 1 => Wanted::Part(*ranges[0].start(), *ranges[0].end()),
        Ok(_) => Wanted::Whole,
        Err(_) => Wanted::Unsatisfiable,
    }
}

/// What a read is recorded as in the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// A play when the range is part of the content, else a download (every API's rule).
    ByRange,
    /// A play whatever the range: the reads of a player, whose first request asks for
    /// `bytes=0-`.
    Playback,
}

/// Streams `item` of interaction `guid` to `actor`, honouring conditional and range
/// headers; the read is recorded as a play or a download.
pub async fn serve_content(
    vault: &Vault,
    actor: &callvault_services::audit::Actor,
    guid: &callvault_core::Guid,
    item: &ContentItem,
    headers: &HeaderMap,
    filename: &str,
) -> ApiResult<Response> {
    serve_read(
        vault,
        actor,
        (guid, item),
        headers,
        filename,
        Reading::ByRange,
    )
    .await
}

/// [`serve_content`], recording the read as `reading` says.
pub async fn serve_read(
    vault: &Vault,
    actor: &callvault_services::audit::Actor,
    (guid, item): (&callvault_core::Guid, &ContentItem),
    headers: &HeaderMap,
    filename: &str,
    reading: Reading,
) -> ApiResult<Response> {
    let etag = etag_of(item);
    let mut common = HeaderMap::new();
    let put = |h: &mut HeaderMap, name, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    put(&mut common, header::ETAG, etag.clone());
    put(&mut common, header::ACCEPT_RANGES, "bytes".into());
    put(
        &mut common,
        header::LAST_MODIFIED,
        item.last_modified
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string(),
    );
    put(
        &mut common,
        header::CACHE_CONTROL,
        "private, max-age=0, must-revalidate".into(),
    );
    if matches_etag(headers.get(header::IF_NONE_MATCH), &etag) {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    let (status, range) = match wanted(headers, &etag, item.length) {
        Wanted::Whole => (StatusCode::OK, None),
        Wanted::Part(a, b) => (StatusCode::PARTIAL_CONTENT, Some(a..b + 1)),
        Wanted::Unsatisfiable => {
            put(
                &mut common,
                header::CONTENT_RANGE,
                format!("bytes */{}", item.length),
            );
            let err = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                format!(
                    "The requested range is not satisfiable for {} bytes",
                    item.length
                ),
            );
            return Ok((common, err).into_response());
        }
    };
    let read = match reading {
        Reading::ByRange => vault.open_content(actor, guid, item, range.clone()).await?,
        Reading::Playback => {
            vault
                .open_playback(actor, guid, item, range.clone())
                .await?
        }
    };
    if let Some(r) = &range {
        put(
            &mut common,
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{}", r.start, r.end - 1, item.length),
        );
    }
    put(
        &mut common,
        header::CONTENT_TYPE,
        item.media_type.to_string(),
    );
    put(&mut common, header::CONTENT_LENGTH, read.len.to_string());
    put(
        &mut common,
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{filename}\""),
    );
    Ok((status, common, Body::from_stream(read.stream)).into_response())
}
