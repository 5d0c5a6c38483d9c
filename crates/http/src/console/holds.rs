//! Legal holds in the console, for admins only: the tenant's holds (active and released),
//! placing a hold on one call from its page, and releasing a hold. Placing and releasing
//! go through the same services as `/admin/governance/holds`, which audit them.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use callvault_core::governance::Selector;
use callvault_core::Guid;
use callvault_services::governance::NewHold;
use callvault_services::ServiceError;
use chrono_tz::Tz;
use serde::Deserialize;
use uuid::Uuid;

use super::call::visible;
use super::govern::{hold_row, HoldRow};
use super::page::{self, Nav};
use super::session::Viewer;
use crate::AppState;

#[derive(Template)]
#[template(path = "console/holds.html")]
struct HoldsPage {
    nav: Option<Nav>,
    holds: Vec<HoldRow>,
    csrf: String,
}

/// The tenant's time zone, in which the console shows times.
pub async fn time_zone(state: &AppState, viewer: &Viewer) -> Result<Tz, Response> {
    match state.vault.tenant(viewer.principal.tenant).await {
        Ok(t) => Ok(t
            .and_then(|t| t.time_zone.parse::<Tz>().ok())
            .unwrap_or(Tz::UTC)),
        Err(e) => Err(page::service_error(viewer.nav(), e)),
    }
}

/// The tenant's time zone for a page only admins may see; the refusal otherwise.
pub async fn admin_time_zone(
    state: &AppState,
    viewer: &Viewer,
    what: &str,
) -> Result<Tz, Response> {
    if let Some(refused) = viewer.admin_only(what) {
        return Err(refused);
    }
    time_zone(state, viewer).await
}

/// `/holds`: every hold of the tenant, active ones first, newest first within each.
pub async fn list(State(state): State<AppState>, viewer: Viewer) -> Response {
    let tz = match admin_time_zone(&state, &viewer, "see legal holds").await {
        Ok(tz) => tz,
        Err(resp) => return resp,
    };
    let mut holds = match state.vault.holds(viewer.principal.tenant).await {
        Ok(h) => h,
        Err(e) => return page::service_error(viewer.nav(), e),
    };
    holds.sort_by_key(|h| std::cmp::Reverse((h.is_active(), h.created_at)));
    let page = HoldsPage {
        nav: Some(viewer.nav()),
        holds: holds.into_iter().map(|h| hold_row(h, tz)).collect(),
        csrf: viewer.csrf(),
    };
    page::render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct PlaceForm {
    csrf: Option<String>,
    #[serde(default)]
    case_name: String,
    #[serde(default)]
    reason: String,
}

/// Places a hold on one call (a selector naming its GUID), then shows its page again.
pub async fn place(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(guid): Path<String>,
    Form(f): Form<PlaceForm>,
) -> Response {
    if let Some(refused) =
        viewer.admin_form(&state, &headers, f.csrf.as_deref(), "place legal holds")
    {
        return refused;
    }
    let i = match visible(&state, &viewer, &guid).await {
        Ok(i) => i,
        Err(resp) => return resp,
    };
    let new = NewHold {
        case_name: f.case_name.trim().to_string(),
        reason: f.reason.trim().to_string(),
        selector: Selector {
            guids: vec![i.meta.guid.clone()],
            ..Selector::default()
        },
    };
    match state
        .vault
        .create_hold(&viewer.actor("place hold"), new)
        .await
    {
        Ok(_) => Redirect::to(&format!("/calls/{}#holds-h", i.meta.guid)).into_response(),
        Err(e) => page::service_error(viewer.nav(), e),
    }
}

#[derive(Deserialize)]
pub struct ReleaseForm {
    csrf: Option<String>,
    /// The call whose page the form was on, to return to; the holds page without.
    call: Option<String>,
}

/// Releases a hold and returns to the page the form was on.
pub async fn release(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<ReleaseForm>,
) -> Response {
    if let Some(refused) =
        viewer.admin_form(&state, &headers, f.csrf.as_deref(), "release legal holds")
    {
        return refused;
    }
    let no_hold = |viewer: &Viewer| {
        page::message(
            StatusCode::NOT_FOUND,
            Some(viewer.nav()),
            "Not found",
            "There is no such hold.",
        )
    };
    let Ok(id) = Uuid::parse_str(&id) else {
        return no_hold(&viewer);
    };
    let back = match f.call.as_deref().map(|g| Guid::parse("call", g)) {
        Some(Ok(g)) => format!("/calls/{g}#holds-h"),
        Some(Err(_)) | None => "/holds".to_string(),
    };
    match state
        .vault
        .release_hold(&viewer.actor("release hold"), id)
        .await
    {
        Ok(_) => Redirect::to(&back).into_response(),
        Err(ServiceError::NotFound(_)) => no_hold(&viewer),
        Err(e) => page::service_error(viewer.nav(), e),
    }
}
