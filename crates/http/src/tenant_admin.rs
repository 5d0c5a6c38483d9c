//! Tenant administration over HTTP (scope `callvault:tenant-admin`): what the CLI's
//! `callvault tenant ...` commands do, for a tenant's own automation.

use axum::extract::State;
use axum::Json;
use callvault_core::Scope;
use serde_json::{json, Value};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(new_api_token))
}

#[utoipa::path(
    post,
    path = "/admin/tenant/api-token",
    tag = "Tenant administration",
    responses(
        (status = 200, description = "`{tenant, token}`: the new Recordings API token; the previous one stops working"),
        (status = 403, description = "Token lacks callvault:tenant-admin"),
    ),
    security(("bearer" = ["callvault:tenant-admin"]))
)]
pub async fn new_api_token(State(state): State<AppState>, auth: Authed) -> ApiResult<Json<Value>> {
    let tenant_id = auth.require(Scope::TenantAdmin)?.tenant;
    let tenant = state
        .vault
        .tenant(tenant_id)
        .await?
        .ok_or_else(|| ApiError::new(axum::http::StatusCode::NOT_FOUND, "tenant not found"))?;
    let token = state.vault.auth.new_tenant_api_token(tenant.id).await?;
    Ok(Json(json!({ "tenant": tenant.name, "token": token })))
}
