//! callvault's governance API under `/admin/governance/` (scope `callvault:governance`):
//! legal holds, retention policies and their dry run. docs/governance.md has the rules.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use callvault_core::governance::Selector;
use callvault_core::time::format_utc_millis as time;
use callvault_core::{LegalHold, RetentionPolicy, Scope};
use callvault_services::governance::{NewHold, PolicySpec};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::interaction_content::parse_json;
use crate::params::NoParams;
use crate::AppState;

const DIALECT: &str = "governance";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_hold, list_holds))
        .routes(routes!(get_hold))
        .routes(routes!(release_hold))
        .routes(routes!(create_policy, list_policies))
        .routes(routes!(get_policy, replace_policy, delete_policy))
        .routes(routes!(dry_run))
}

/// The body of `POST /admin/governance/holds`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HoldBody {
    case_name: String,
    reason: String,
    /// GUIDs and/or a query: `guids` (at most 10,000), `startFrom`, `startTo`, `direction`,
    /// `number`, `handlingAgent`, `queueId`, `recordingKind`, `attributes` (name to value),
    /// `contentTypes`. Content ingested later that matches is held too.
    #[serde(default)]
    #[schema(value_type = Object)]
    selector: Selector,
}

/// A hold as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HoldWire {
    id: Uuid,
    case_name: String,
    reason: String,
    #[schema(value_type = Object)]
    selector: Selector,
    created_by: String,
    created_at: String,
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    released_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    released_by: Option<String>,
}

fn hold_wire(h: LegalHold) -> HoldWire {
    HoldWire {
        id: h.id,
        active: h.is_active(),
        case_name: h.case_name,
        reason: h.reason,
        selector: h.selector,
        created_by: h.created_by,
        created_at: time(h.created_at),
        released_at: h.released_at.map(time),
        released_by: h.released_by,
    }
}

/// The body of `POST` and `PUT` on retention policies.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyBody {
    name: String,
    /// Which content the policy covers: the hold selector's fields; `contentTypes` limits
    /// it to those items (the interaction itself is then never deleted by it).
    #[serde(default)]
    #[schema(value_type = Object)]
    selector: Selector,
    /// Deletion is refused, by every API, until this many days after the interaction's start.
    #[serde(default)]
    min_days: Option<u32>,
    /// Retention deletes it this many days after the interaction's start.
    #[serde(default)]
    max_days: Option<u32>,
    /// Defaults to false: create a policy disabled, dry-run it, then enable it.
    #[serde(default)]
    enabled: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyWire {
    id: Uuid,
    name: String,
    #[schema(value_type = Object)]
    selector: Selector,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_days: Option<u32>,
    enabled: bool,
    created_at: String,
    updated_at: String,
}

fn policy_wire(p: RetentionPolicy) -> PolicyWire {
    PolicyWire {
        id: p.id,
        name: p.name,
        selector: p.selector,
        min_days: p.min_days,
        max_days: p.max_days,
        enabled: p.enabled,
        created_at: time(p.created_at),
        updated_at: time(p.updated_at),
    }
}

/// What a policy would delete today.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DryRun {
    /// Interactions that would be removed whole (metadata and content).
    interactions: u64,
    /// Content items that would be removed, those of whole interactions included.
    items: u64,
    bytes: u64,
    /// GUIDs of some of the interactions concerned, oldest first.
    sample: Vec<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Holds {
    holds: Vec<HoldWire>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Policies {
    policies: Vec<PolicyWire>,
}

fn id_of(raw: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ApiError::bad_request("id", "id must be a UUID"))
}

fn spec(b: PolicyBody) -> PolicySpec {
    PolicySpec {
        name: b.name,
        selector: b.selector,
        min_days: b.min_days,
        max_days: b.max_days,
        enabled: b.enabled,
    }
}

#[utoipa::path(
    post,
    path = "/admin/governance/holds",
    tag = "Governance",
    request_body = HoldBody,
    responses(
        (status = 201, body = HoldWire, description = "Placed: from now on nothing it covers can be deleted"),
        (status = 400, description = "A bad field, named in `field`"),
    ),
    security(("bearer" = ["callvault:governance"]))
)]
pub async fn create_hold(
    State(state): State<AppState>,
    auth: Authed,
    _: NoParams,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<HoldWire>)> {
    auth.require(Scope::Governance)?;
    let b: HoldBody = parse_json(&body)?;
    let hold = state
        .vault
        .create_hold(
            &auth.actor(DIALECT, "create hold"),
            NewHold {
                case_name: b.case_name,
                reason: b.reason,
                selector: b.selector,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(hold_wire(hold))))
}

#[utoipa::path(
    get,
    path = "/admin/governance/holds",
    tag = "Governance",
    responses((status = 200, body = Holds, description = "Every hold of the tenant, newest first, released ones included")),
    security(("bearer" = ["callvault:governance"]))
)]
pub async fn list_holds(
    State(state): State<AppState>,
    auth: Authed,
    _: NoParams,
) -> ApiResult<Json<Holds>> {
    let tenant = auth.require(Scope::Governance)?.tenant;
    let holds = state.vault.holds(tenant).await?;
    Ok(Json(Holds {
        holds: holds.into_iter().map(hold_wire).collect(),
    }))
}

#[utoipa::path(
    get,
    path = "/admin/governance/holds/{id}",
    tag = "Governance",
    params(("id" = String, Path, description = "Hold id (UUID)")),
    responses(
        (status = 200, body = HoldWire),
        (status = 404, description = "No such hold here"),
    ),
    security(("bearer" = ["callvault:governance"]))
)]
pub async fn get_hold(
    State(state): State<AppState>,
    auth: Authed,
    _: NoParams,
    Path(id): Path<String>,
) -> ApiResult<Json<HoldWire>> {
    let tenant = auth.require(Scope::Governance)?.tenant;
    Ok(Json(hold_wire(
        state.vault.hold(tenant, id_of(&id)?).await?,
    )))
}

#[utoipa::path(
    post,
    path = "/admin/governance/holds/{id}/release",
    tag = "Governance",
    params(("id" = String, Path, description = "Hold id (UUID)")),
    responses(
        (status = 200, body = HoldWire, description = "Released (or already released); nothing is deleted by the release"),
        (status = 404, description = "No such hold here"),
    ),
    security(("bearer" = ["callvault:governance"]))
)]
pub async fn release_hold(
    State(state): State<AppState>,
    auth: Authed,
    _: NoParams,
    Path(id): Path<String>,
) -> ApiResult<Json<HoldWire>> {
    auth.require(Scope::Governance)?;
    let hold = state
        .vault
        .release_hold(&auth.actor(DIALECT, "release hold"), id_of(&id)?)
        .await?;
    Ok(Json(hold_wire(hold)))
}

#[utoipa::path(
    post,
    path = "/admin/governance/retention-policies",
    tag = "Governance",
    request_body = PolicyBody,
    responses(
        (status = 201, body = PolicyWire),
        (status = 400, description = "A bad field, named in `field`"),
        (status = 409, description = "Another policy has this name"),
    ),
    security(("bearer" = ["callvault:governance"]))
)]
pub async fn create_policy(
    State(state): State<AppState>,
    auth: Authed,
    _: NoParams,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<PolicyWire>)> {
    auth.require(Scope::Governance)?;
    let b: PolicyBody = parse_json(&body)?;
    let p = state
        .vault
        .put_policy(&auth.actor(DIALECT, "create policy"), None, spec(b))
        .await?;
    Ok((StatusCode::CREATED, Json(policy_wire(p))))
}

#[utoipa::path(
    get,
    path = "/admin/governance/retention-policies",
    tag = "Governance",
    responses((status = 200, body = Policies, description = "Every policy of the tenant, by name")),
    security(("bearer" = ["callvault:governance"]))
)]
pub async fn list_policies(
    State(state): State<AppState>,
    auth: Authed,
    _: NoParams,
) -> ApiResult<Json<Policies>> {
    let tenant = auth.require(Scope::Governance)?.tenant;
    let policies = state.vault.policies(tenant).await?;
    Ok(Json(Policies {
        policies: policies.into_iter().map(policy_wire).collect(),
    }))
}

#[utoipa::path(
    get,
    path = "/admin/governance/retention-policies/{id}",
    tag = "Governance",
    params(("id" = String, Path, description = "Policy id (UUID)")),
    responses((status = 200, body = PolicyWire), (status = 404, description = "No such policy here")),
    security(("bearer" = ["callvault:governance"]))
)]
pub async fn get_policy(
    State(state): State<AppState>,
    auth: Authed,
    _: NoParams,
    Path(id): Path<String>,
) -> ApiResult<Json<PolicyWire>> {
    let tenant = auth.require(Scope::Governance)?.tenant;
    Ok(Json(policy_wire(
        state.vault.policy(tenant, id_of(&id)?).await?,
    )))
}

#[utoipa::path(
    put,
    path = "/admin/governance/retention-policies/{id}",
    tag = "Governance",
    params(("id" = String, Path, description = "Policy id (UUID)")),
    request_body = PolicyBody,
    responses(
        (status = 200, body = PolicyWire, description = "Replaced"),
        (status = 400, description = "A bad field, named in `field`"),
        (status = 404, description = "No such policy here"),
        (status = 409, description = "Another policy has this name"),
    ),
    security(("bearer" = ["callvault:governance"]))
)]
pub async fn replace_policy(
    State(state): State<AppState>,
    auth: Authed,
    _: NoParams,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<PolicyWire>> {
    auth.require(Scope::Governance)?;
    let id = id_of(&id)?;
    let b: PolicyBody = parse_json(&body)?;
    let p = state
        .vault
        .put_policy(&auth.actor(DIALECT, "replace policy"), Some(id), spec(b))
        .await?;
    Ok(Json(policy_wire(p)))
}

#[utoipa::path(
    delete,
    path = "/admin/governance/retention-policies/{id}",
    tag = "Governance",
    params(("id" = String, Path, description = "Policy id (UUID)")),
    responses((status = 204, description = "Removed; nothing is deleted by the removal"), (status = 404, description = "No such policy here")),
    security(("bearer" = ["callvault:governance"]))
)]
pub async fn delete_policy(
    State(state): State<AppState>,
    auth: Authed,
    _: NoParams,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    auth.require(Scope::Governance)?;
    state
        .vault
        .delete_policy(&auth.actor(DIALECT, "remove policy"), id_of(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/admin/governance/retention-policies/{id}/dry-run",
    tag = "Governance",
    params(("id" = String, Path, description = "Policy id (UUID)")),
    responses(
        (status = 200, body = DryRun, description = "What retention would delete today with this policy enabled: counts, bytes and a sample of GUIDs; nothing is deleted"),
        (status = 404, description = "No such policy here"),
    ),
    security(("bearer" = ["callvault:governance"]))
)]
pub async fn dry_run(
    State(state): State<AppState>,
    auth: Authed,
    _: NoParams,
    Path(id): Path<String>,
) -> ApiResult<Json<DryRun>> {
    let tenant = auth.require(Scope::Governance)?.tenant;
    let policy = state.vault.policy(tenant, id_of(&id)?).await?;
    let r = state.vault.dry_run(tenant, &policy).await?;
    Ok(Json(DryRun {
        interactions: r.interactions,
        items: r.items,
        bytes: r.bytes,
        sample: r.sample,
    }))
}
