//! Erasure by data subject under `/admin/governance/erasures` (scope
//! `callvault:governance`). The subject travels in the body, never in the URL, so that
//! it stays out of access logs.

use axum::extract::State;
use axum::Json;
use callvault_core::Scope;
use callvault_services::erasure::{ErasureReport, PastErasure, Subject};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authed;
use crate::error::ApiResult;
use crate::interaction_content::parse_json;
use crate::params::NoParams;
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(preview))
        .routes(routes!(erase))
        .routes(routes!(lookup))
}

/// Whose data: a phone number or address as stored (caller or called party), and
/// optionally the period of the interactions' start.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubjectBody {
    subject: String,
    #[serde(default)]
    from: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    to: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<SubjectBody> for Subject {
    fn from(b: SubjectBody) -> Self {
        Subject {
            address: b.subject,
            from: b.from,
            to: b.to,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Erasures {
    #[schema(value_type = Vec<Object>)]
    erasures: Vec<PastErasure>,
}

#[utoipa::path(
    post,
    path = "/admin/governance/erasures/preview",
    tag = "Governance",
    request_body = SubjectBody,
    responses(
        (status = 200, body = Object, description = "`{subjectHash, erased, items, kept}`: what an erasure would delete now, and what holds or minimums would keep; nothing is deleted"),
        (status = 400, description = "A bad field, named in `field`"),
    ),
    security(("bearer" = ["callvault:governance"]))
)]
pub async fn preview(
    State(state): State<AppState>,
    auth: Authed,
    _: NoParams,
    body: axum::body::Bytes,
) -> ApiResult<Json<ErasureReport>> {
    let tenant = auth.require(Scope::Governance)?.tenant;
    let b: SubjectBody = parse_json(&body)?;
    Ok(Json(state.vault.erasure_preview(tenant, &b.into()).await?))
}

#[utoipa::path(
    post,
    path = "/admin/governance/erasures",
    tag = "Governance",
    request_body = SubjectBody,
    responses(
        (status = 200, body = Object, description = "`{subjectHash, erased, items, kept}`: erased with content, transcripts and metadata; held items are kept and listed with the reason"),
        (status = 400, description = "A bad field, named in `field`"),
    ),
    security(("bearer" = ["callvault:governance"]))
)]
pub async fn erase(
    State(state): State<AppState>,
    auth: Authed,
    _: NoParams,
    body: axum::body::Bytes,
) -> ApiResult<Json<ErasureReport>> {
    auth.require(Scope::Governance)?;
    let b: SubjectBody = parse_json(&body)?;
    let actor = auth.actor("governance", "erase subject");
    Ok(Json(state.vault.erase(&actor, &b.into()).await?))
}

#[utoipa::path(
    post,
    path = "/admin/governance/erasures/lookup",
    tag = "Governance",
    request_body = SubjectBody,
    responses(
        (status = 200, body = Erasures, description = "Every recorded erasure of the subject: when, by whom, how much"),
        (status = 400, description = "A bad field, named in `field`"),
    ),
    security(("bearer" = ["callvault:governance"]))
)]
pub async fn lookup(
    State(state): State<AppState>,
    auth: Authed,
    _: NoParams,
    body: axum::body::Bytes,
) -> ApiResult<Json<Erasures>> {
    let tenant = auth.require(Scope::Governance)?.tenant;
    let b: SubjectBody = parse_json(&body)?;
    let s: Subject = b.into();
    s.validate()?;
    Ok(Json(Erasures {
        erasures: state.vault.erasures_of(tenant, &s.address).await?,
    }))
}
