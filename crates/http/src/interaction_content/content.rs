//! `GET` and `DELETE /interactions/{guid}/content/{contentKey}` (`001`, `004`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use callvault_core::{Guid, Scope};

use crate::auth::Authed;
use crate::error::ApiResult;
use crate::range::serve_content;
use crate::AppState;
use callvault_core::content::extension_for;

#[utoipa::path(
    get,
    path = "/interactions/{guid}/content/{contentKey}",
    tag = "Interaction Content",
    params(
        ("guid" = String, Path, format = Uuid, min_length = 36, max_length = 36, description = "36-character interaction GUID"),
        ("contentKey" = String, Path, description = "A type name (callRecording, transcript, ...) or a unique identifier"),
        ("Range" = Option<String>, Header, description = "A single byte range, e.g. bytes=0-1023"),
    ),
    responses(
        (status = 200, description = "The content bytes, with Content-Type, Content-Length and ETag"),
        (status = 206, description = "The requested byte range"),
        (status = 304, description = "If-None-Match matched the ETag"),
        (status = 404, description = "No such interaction or content"),
        (status = 416, description = "The range lies outside the content"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn download(
    State(state): State<AppState>,
    auth: Authed,
    headers: HeaderMap,
    Path((guid, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let tenant = auth.require(Scope::ContentRead)?.tenant;
    let guid = Guid::parse("guid", &guid)?;
    let (_, item) = state.vault.content_item(tenant, &guid, &key).await?;
    let filename = format!("{guid}-{}.{}", item.key, extension_for(&item.media_type));
    let actor = auth.actor(super::DIALECT, "download content");
    serve_content(&state.vault, &actor, &guid, &item, &headers, &filename).await
}

#[utoipa::path(
    delete,
    path = "/interactions/{guid}/content/{contentKey}",
    tag = "Interaction Content",
    params(
        ("guid" = String, Path, format = Uuid, min_length = 36, max_length = 36, description = "36-character interaction GUID"),
        ("contentKey" = String, Path, description = "A type name or a unique identifier (legacy voicemail-123 accepted)"),
    ),
    responses(
        (status = 204, description = "Deleted; the bytes are removed from storage"),
        (status = 404, description = "No such interaction or content"),
    ),
    security(("bearer" = ["interaction-content:delete"]))
)]
pub async fn delete_content(
    State(state): State<AppState>,
    auth: Authed,
    Path((guid, key)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    auth.require(Scope::ContentDelete)?;
    let guid = Guid::parse("guid", &guid)?;
    let actor = auth.actor(super::DIALECT, "delete content");
    state.vault.delete_content(&actor, &guid, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}
