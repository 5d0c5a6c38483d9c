//! `GET /interactions` (`001`).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use callvault_core::search::{parse_limit, MAX_SEARCH_LIMIT};
use callvault_core::time::parse_instant;
use callvault_core::{Direction, Interaction, Scope, SearchFilter};
use serde::Serialize;

use super::version::{negotiate, ApiVersion, V2_JSON, V3_JSON};
use super::wire;
use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::AppState;

fn filter_from(params: &Params) -> ApiResult<SearchFilter> {
    let start = parse_instant("start", params.required("start")?)?;
    let end = parse_instant("end", params.required("end")?)?;
    let text = |name: &str| params.get(name).map(str::to_string);
    let filter = SearchFilter {
        start,
        end,
        handling_agent_id: match params.get("handlingAgentId") {
            Some(a) if a.is_empty() || a.len() > 64 => {
                return Err(ApiError::bad_request(
                    "handlingAgentId",
                    "handlingAgentId must be 1 to 64 characters",
                ))
            }
            other => other.map(str::to_string),
        },
        connect_from_prefix: text("connectFrom"),
        connect_to_prefix: text("connectTo"),
        direction: params
            .get("direction")
            .map(|d| Direction::parse("direction", d))
            .transpose()?,
    };
    filter.validate()?;
    Ok(filter)
}

/// `{"items": [...], "meta": {...}}`: the items written by the wire module, the meta by
/// serde.
fn page<M: Serialize>(items: &[Interaction], meta: &M) -> Vec<u8> {
    let mut out = Vec::with_capacity(wire::page_size_hint(items.len()));
    out.extend_from_slice(b"{\"items\":");
    wire::write_interactions(&mut out, items);
    out.extend_from_slice(b",\"meta\":");
    // A struct of numbers and an optional string always serializes.
    let _ = serde_json::to_writer(&mut out, meta);
    out.push(b'}');
    out
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct V3Meta {
    next_continuation_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct V2Meta {
    page: u32,
    count: usize,
    page_count: u64,
    total_count: u64,
}

#[utoipa::path(
    get,
    path = "/interactions",
    tag = "Interaction Content",
    description = "Interactions with content in a time window. The `Accept` header chooses the \
        version: `application/vnd.newvoicemedia.v3+json` pages with continuation tokens, \
        `application/vnd.newvoicemedia.v2+json` with `page` and `limit`; the page is served \
        as the version negotiated. A missing or other version is a 400 naming `Accept`.",
    params(
        ("start" = String, Query, example = "2021-12-01T14:18:23.857Z", description = "Inclusive ISO 8601 start; at most 7 days before end"),
        ("end" = String, Query, example = "2021-12-06T14:18:23.857Z", description = "Inclusive ISO 8601 end"),
        ("handlingAgentId" = Option<String>, Query, description = "Agent who handled the interaction"),
        ("connectFrom" = Option<String>, Query, description = "Starts-with match on the initiating address, 1..50 characters"),
        ("connectTo" = Option<String>, Query, description = "Starts-with match on the receiving address, 1..50 characters"),
        ("direction" = Option<String>, Query, description = "inbound, outbound or internal"),
        ("continuationToken" = Option<String>, Query, description = "v3: token from the previous page"),
        ("page" = Option<u32>, Query, minimum = 1, maximum = 2147483647, description = "v2: 1-based page number"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Page size, 1..1000, default 1000"),
    ),
    responses(
        (status = 200, description = "A page of interactions with content, as the version negotiated",
            content((Object = V3_JSON), (Object = V2_JSON))),
        (status = 400, description = "A malformed parameter, or an `Accept` header without a v2 or v3 media type; `field` names it"),
        (status = 401, description = "Missing, invalid or expired token"),
        (status = 403, description = "Token lacks interaction-content:read"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn search(
    State(state): State<AppState>,
    auth: Authed,
    headers: HeaderMap,
    params: Params,
) -> ApiResult<Response> {
    auth.require(Scope::ContentRead)?;
    let actor = auth.actor(super::DIALECT, "search");
    let version = negotiate(&headers, &[ApiVersion::V2, ApiVersion::V3])?;
    let filter = filter_from(&params)?.to_query();
    let limit = match params.get("limit") {
        Some(l) => parse_limit("limit", l, MAX_SEARCH_LIMIT)?,
        None => MAX_SEARCH_LIMIT,
    };
    let vault = &state.vault;
    match version {
        ApiVersion::V3 => {
            let token = params.get("continuationToken").filter(|t| !t.is_empty());
            let page = vault
                .search_keyset(&actor, &filter, "continuationToken", token, limit)
                .await?;
            let meta = V3Meta {
                next_continuation_token: page.next_token,
            };
            Ok(version.respond(self::page(&page.items, &meta)))
        }
        ApiVersion::V2 => {
            let page = match params.get("page") {
                Some(p) => parse_limit("page", p, i32::MAX as u32)?,
                None => 1,
            };
            let offset = u64::from(page - 1) * u64::from(limit);
            let found = vault.search_offset(&actor, &filter, offset, limit).await?;
            let (total, items) = (found.total, found.items);
            let page_count = total.div_ceil(u64::from(limit));
            let meta = V2Meta {
                page,
                count: items.len(),
                page_count,
                total_count: total,
            };
            Ok(version.respond(self::page(&items, &meta)))
        }
    }
}
