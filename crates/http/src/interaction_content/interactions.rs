//! `GET` and `DELETE /interactions/{guid}`, and `POST /interactions/delete-batch`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use callvault_core::{Guid, Scope};
use serde::Deserialize;
use serde_json::{json, Value};

use super::version::{negotiate, ApiVersion, V2_JSON, V3_JSON};
use super::wire;
use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::AppState;

pub const MAX_BATCH: usize = 1000;

#[utoipa::path(
    get,
    path = "/interactions/{guid}",
    tag = "Interaction Content",
    description = "One interaction and its content. The `Accept` header must name \
        `application/vnd.newvoicemedia.v3+json` or `application/vnd.newvoicemedia.v2+json` \
        (the two are the same here); the interaction is served as the version negotiated. \
        A missing or other version is a 400 naming `Accept`.",
    params(("guid" = String, Path, format = Uuid, min_length = 36, max_length = 36, description = "36-character interaction GUID")),
    responses(
        (status = 200, description = "The interaction and its content, as the version negotiated",
            content((Object = V3_JSON), (Object = V2_JSON))),
        (status = 400, description = "A malformed GUID, or an `Accept` header without a v2 or v3 media type; `field` names it"),
        (status = 404, description = "No such interaction in this tenant"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn get_interaction(
    State(state): State<AppState>,
    auth: Authed,
    headers: HeaderMap,
    Path(guid): Path<String>,
) -> ApiResult<Response> {
    let tenant = auth.require(Scope::ContentRead)?.tenant;
    let version = negotiate(&headers, &[ApiVersion::V2, ApiVersion::V3])?;
    let guid = Guid::parse("guid", &guid)?;
    let interaction = state.vault.interaction(tenant, &guid).await?;
    let actor = auth.actor(super::DIALECT, "get interaction");
    state.vault.viewed(&actor, &interaction).await;
    Ok(version.respond(wire::interaction_body(&interaction).0))
}

#[utoipa::path(
    delete,
    path = "/interactions/{guid}",
    tag = "Interaction Content",
    params(("guid" = String, Path, format = Uuid, min_length = 36, max_length = 36, description = "36-character interaction GUID")),
    responses(
        (status = 204, description = "The interaction and all its content are gone"),
        (status = 404, description = "No such interaction in this tenant"),
    ),
    security(("bearer" = ["interaction-content:delete"]))
)]
pub async fn delete_interaction(
    State(state): State<AppState>,
    auth: Authed,
    Path(guid): Path<String>,
) -> ApiResult<StatusCode> {
    auth.require(Scope::ContentDelete)?;
    let guid = Guid::parse("guid", &guid)?;
    let actor = auth.actor(super::DIALECT, "delete interaction");
    state.vault.delete_interaction(&actor, &guid).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteBatch {
    /// 1 to 1000 interaction GUIDs.
    #[schema(min_items = 1, max_items = 1000)]
    guids: Vec<String>,
}

#[utoipa::path(
    post,
    path = "/interactions/delete-batch",
    tag = "Interaction Content",
    request_body(content = DeleteBatch, description = "1 to 1000 GUIDs"),
    responses(
        (status = 200, description = "`{\"failures\": [{guid, message, statusCode}]}`; empty when all were deleted"),
        (status = 400, description = "A malformed body, or no GUIDs or more than 1000; `field` names `guids`"),
    ),
    security(("bearer" = ["interaction-content:delete"]))
)]
pub async fn delete_batch(
    State(state): State<AppState>,
    auth: Authed,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    auth.require(Scope::ContentDelete)?;
    let actor = auth.actor(super::DIALECT, "delete batch");
    let batch: DeleteBatch = super::ingest::parse_json(&body)?;
    if batch.guids.is_empty() || batch.guids.len() > MAX_BATCH {
        return Err(ApiError::bad_request(
            "guids",
            format!("guids must hold 1 to {MAX_BATCH} GUIDs"),
        ));
    }
    // A spawned task is not cancelled with the request (a timeout or a client hanging up),
    // so every deletion it starts finishes, bytes included.
    let vault = state.vault.clone();
    let work = tokio::spawn(async move {
        let mut failures = Vec::new();
        for raw in &batch.guids {
            let outcome = match Guid::parse("guids", raw) {
                Ok(guid) => vault
                    .delete_interaction(&actor, &guid)
                    .await
                    .map(|_| ())
                    .map_err(ApiError::from),
                Err(e) => Err(e.into()),
            };
            if let Err(e) = outcome {
                if e.status.is_server_error() {
                    return Err(e);
                }
                failures.push(
                    json!({ "guid": raw, "message": e.message, "statusCode": e.status.as_u16() }),
                );
            }
        }
        Ok(failures)
    });
    let failures = work.await.map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("batch delete failed: {e}"),
        )
    })??;
    Ok(Json(json!({ "failures": failures })))
}
