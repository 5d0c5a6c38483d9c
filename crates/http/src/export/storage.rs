//! `/external-storage`: the targets exports write to.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use callvault_core::Scope;
use callvault_services::export::{Credentials, NewStorage};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::wire;
use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::interaction_content::parse_json;
use crate::AppState;

/// The body of `POST /external-storage`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageBody {
    name: String,
    /// `s3`, `azureBlob` or `local`.
    storage_provider: String,
    /// s3: `bucket`, `region`, `endpoint`, `prefix`; azureBlob: `account`, `container`,
    /// `endpoint`, `prefix`; local: `path`
    /// (under the server's export root), `prefix`.
    #[schema(value_type = Object)]
    configuration: Value,
    /// s3: `accessKeyId`, `secretAccessKey`, `sessionToken`; azureBlob: `accountKey`.
    /// Stored encrypted, never returned.
    #[serde(default)]
    #[schema(value_type = Object)]
    credentials: Option<Value>,
}

pub fn storage_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::bad_request("id", "id must be a UUID"))
}

#[utoipa::path(
    post,
    path = "/external-storage",
    tag = "Interaction Content Export",
    request_body = StorageBody,
    responses(
        (status = 201, description = "Created after a test write succeeded; credentials are not echoed"),
        (status = 400, description = "A bad field, or the storage refused the test write (the reason is in `message`)"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn create_storage(
    State(state): State<AppState>,
    auth: Authed,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let tenant = auth.require(Scope::ContentRead)?.tenant;
    let b: StorageBody = parse_json(&body)?;
    let target = wire::target(&b.storage_provider, b.configuration)
        .map_err(|(field, msg)| ApiError::bad_request(&field, msg))?;
    let credentials: Credentials = match b.credentials {
        None | Some(Value::Null) => Credentials::default(),
        Some(v) => serde_json::from_value(v).map_err(|e| {
            ApiError::bad_request("credentials", format!("invalid credentials: {e}"))
        })?,
    };
    let created = state
        .vault
        .create_external_storage(
            tenant,
            NewStorage {
                name: b.name,
                target,
                credentials,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(wire::storage(&created))))
}

#[utoipa::path(
    get,
    path = "/external-storage",
    tag = "Interaction Content Export",
    responses((status = 200, description = "`{\"items\": [...]}`, oldest first")),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn list_storages(State(state): State<AppState>, auth: Authed) -> ApiResult<Json<Value>> {
    let tenant = auth.require(Scope::ContentRead)?.tenant;
    let items: Vec<Value> = state
        .vault
        .external_storages(tenant)
        .await?
        .iter()
        .map(wire::storage)
        .collect();
    Ok(Json(json!({ "items": items })))
}

#[utoipa::path(
    get,
    path = "/external-storage/{id}",
    tag = "Interaction Content Export",
    params(("id" = String, Path, format = Uuid, description = "External storage UUID")),
    responses(
        (status = 200, description = "The target, without credentials"),
        (status = 404, description = "No such storage in this tenant"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn get_storage(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let tenant = auth.require(Scope::ContentRead)?.tenant;
    let s = state
        .vault
        .external_storage(tenant, storage_id(&id)?)
        .await?;
    Ok(Json(wire::storage(&s)))
}

#[utoipa::path(
    delete,
    path = "/external-storage/{id}",
    tag = "Interaction Content Export",
    params(("id" = String, Path, format = Uuid, description = "External storage UUID")),
    responses(
        (status = 204, description = "Removed, with its finished jobs"),
        (status = 404, description = "No such storage in this tenant"),
        (status = 409, description = "A job that can still run uses it"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn delete_storage(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let tenant = auth.require(Scope::ContentRead)?.tenant;
    state
        .vault
        .delete_external_storage(tenant, storage_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
