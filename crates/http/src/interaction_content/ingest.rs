//! callvault's ingest endpoints (scope `interaction-content:write`); the platform has no
//! public ingest API, so these follow its naming and shapes.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use callvault_core::time::parse_instant;
use callvault_core::{
    Attributes, ContentKey, ContentType, Direction, Guid, InteractionMeta, Invalid, Scope,
};
use callvault_services::ingest::ContentUpload;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::wire;
use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::AppState;

/// Parses a JSON object body, naming the offending field on failure.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    // serde would also read a struct from an array, and name the field `[0]`.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::bad_request(
            "body",
            "The body must be a JSON object",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner().to_string();
        // serde names a missing or unknown field only in its message: `missing field `x``.
        let named = ["missing field `", "unknown field `"]
            .iter()
            .find_map(|p| inner.strip_prefix(p))
            .and_then(|rest| rest.split('`').next());
        let field = match (path.as_str(), named) {
            (".", Some(n)) => n.to_string(),
            (".", None) => "body".to_string(),
            // An unknown field is already the last step of the path; a missing one is not.
            (p, Some(n)) if p.rsplit('.').next() == Some(n) => p.to_string(),
            (p, Some(n)) => format!("{p}.{n}"),
            (p, None) => p.to_string(),
        };
        ApiError::bad_request(&field, format!("Invalid JSON body at '{field}': {inner}"))
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum AgentRef {
    Id(String),
    Object { id: String },
}

/// The body of `PUT /interactions/{guid}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InteractionBody {
    start: String,
    end: Option<String>,
    direction: String,
    #[serde(default)]
    connect_from: String,
    #[serde(default)]
    connect_to: String,
    caller_name: Option<String>,
    #[serde(default)]
    handling_agents: Vec<AgentRef>,
    #[serde(default)]
    extensions: Vec<String>,
    queue_id: Option<String>,
    queue_name: Option<String>,
    channel: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    attributes: Attributes,
}

impl InteractionBody {
    pub(super) fn into_meta(self, guid: Guid) -> Result<InteractionMeta, Invalid> {
        Ok(InteractionMeta {
            guid,
            start: parse_instant("start", &self.start)?,
            end: self
                .end
                .as_deref()
                .map(|e| parse_instant("end", e))
                .transpose()?,
            direction: Direction::parse("direction", &self.direction)?,
            connect_from: self.connect_from.into(),
            connect_to: self.connect_to.into(),
            caller_name: self.caller_name.map(Into::into),
            handling_agents: self
                .handling_agents
                .into_iter()
                .map(|a| match a {
                    AgentRef::Id(id) | AgentRef::Object { id } => id.into(),
                })
                .collect(),
            extensions: self.extensions,
            queue_id: self.queue_id.map(Into::into),
            queue_name: self.queue_name.map(Into::into),
            channel: self.channel.map(Into::into),
            attributes: self.attributes,
        })
    }
}

#[utoipa::path(
    put,
    path = "/interactions/{guid}",
    tag = "Ingest",
    params(("guid" = String, Path, format = Uuid, min_length = 36, max_length = 36, description = "36-character interaction GUID chosen by the client")),
    request_body(content = InteractionBody),
    responses(
        (status = 201, description = "Created; body is the interaction"),
        (status = 200, description = "Updated; body is the interaction"),
        (status = 400, description = "A malformed field, named in `field`"),
    ),
    security(("bearer" = ["interaction-content:write"]))
)]
pub async fn put_interaction(
    State(state): State<AppState>,
    auth: Authed,
    Path(guid): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let tenant = auth.require(Scope::ContentWrite)?.tenant;
    let guid = Guid::parse("guid", &guid)?;
    let body: InteractionBody = parse_json(&body)?;
    let meta = body.into_meta(guid)?;
    let (interaction, created) = state.vault.upsert_interaction(tenant, &meta).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, wire::interaction_body(&interaction)).into_response())
}

/// The query of a content upload, for the document ([`upload_from`] reads it).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, non_snake_case)]
pub(super) struct UploadParams {
    /// Content type; required when contentKey is a UUID
    r#type: Option<String>,
    /// Voicemail only
    owningAgent: Option<String>,
    /// ivrAudioRecording only
    owningInteractionPlan: Option<String>,
    /// Content version
    version: Option<u32>,
    /// Duration for content whose bytes carry none; audio durations are read from the bytes
    durationMs: Option<u64>,
}

fn header_str(headers: &HeaderMap, name: &str) -> ApiResult<Option<String>> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim().to_string()))
            .map_err(|_| ApiError::bad_request(name, format!("{name} is not valid text"))),
    }
}

/// An upload whose body is the content: its media type and length are the request's.
fn body_upload(headers: &HeaderMap, params: &Params) -> ApiResult<ContentUpload> {
    let media_type = header_str(headers, "content-type")?
        .ok_or_else(|| ApiError::bad_request("Content-Type", "Content-Type is required"))?;
    let expected_len = header_str(headers, "content-length")?
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                ApiError::bad_request("Content-Length", "Content-Length is not a number")
            })
        })
        .transpose()?;
    upload_from(headers, params, media_type, expected_len)
}

/// What the client declares about an upload: in the query, and its digest in a header.
pub(super) fn upload_from(
    headers: &HeaderMap,
    params: &Params,
    media_type: String,
    expected_len: Option<u64>,
) -> ApiResult<ContentUpload> {
    let expected_sha256 = header_str(headers, "x-content-sha256")?;
    if let Some(s) = &expected_sha256 {
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::bad_request(
                "X-Content-SHA256",
                "X-Content-SHA256 must be 64 hex digits",
            ));
        }
    }
    let number = |name: &str| -> ApiResult<Option<u64>> {
        params
            .get(name)
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(name, format!("{name} must be a non-negative integer"))
                })
            })
            .transpose()
    };
    let content_type = params
        .get("type")
        .map(|t| {
            ContentType::parse(t).ok_or_else(|| {
                ApiError::bad_request("type", format!("type '{t}' is not a content type"))
            })
        })
        .transpose()?;
    let version = number("version")?
        .map(|v| {
            u32::try_from(v).map_err(|_| ApiError::bad_request("version", "version is too large"))
        })
        .transpose()?;
    Ok(ContentUpload {
        content_type,
        media_type,
        expected_len,
        expected_sha256: expected_sha256.map(|s| s.to_ascii_lowercase()),
        owning_agent: params.get("owningAgent").map(str::to_string),
        owning_interaction_plan: params.get("owningInteractionPlan").map(str::to_string),
        version,
        duration_ms: number("durationMs")?,
    })
}

#[utoipa::path(
    put,
    path = "/interactions/{guid}/content/{contentKey}",
    tag = "Ingest",
    params(
        ("guid" = String, Path, format = Uuid, min_length = 36, max_length = 36, description = "GUID of an existing interaction"),
        ("contentKey" = String, Path, description = "Type name for single-instance types; a UUID for voicemail, screen, IVR and video recordings"),
        UploadParams,
        ("X-Content-SHA256" = Option<String>, Header, description = "Expected SHA-256 (hex) of the body"),
    ),
    request_body(content = Vec<u8>, description = "The content bytes, streamed", content_type = "application/octet-stream"),
    responses(
        (status = 201, description = "Stored, durable; body is the content item"),
        (status = 200, description = "Replaced an item with the same key"),
        (status = 400, description = "Bad key, type, digest or length, named in `field`"),
        (status = 404, description = "No such interaction"),
        (status = 413, description = "Larger than the configured limit"),
        (status = 415, description = "The bytes are not the declared media type"),
    ),
    security(("bearer" = ["interaction-content:write"]))
)]
pub async fn put_content(
    State(state): State<AppState>,
    auth: Authed,
    Path((guid, key)): Path<(String, String)>,
    params: Params,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let tenant = auth.require(Scope::ContentWrite)?.tenant;
    let guid = Guid::parse("guid", &guid)?;
    let key = ContentKey::parse("contentKey", &key)?;
    let upload = body_upload(&headers, &params)?;
    let stream = body.into_data_stream();
    let (item, created) = state
        .vault
        .put_content(tenant, &guid, &key, upload, stream)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, wire::content_body(&item)).into_response())
}
