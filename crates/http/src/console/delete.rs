//! Deleting a call from its page: admins only, a form with the session's token from this
//! origin, through the services' delete (which holds and retention minimums refuse; the
//! page then says why).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use callvault_services::ServiceError;

use super::call::{self, visible};
use super::page;
use super::session::Viewer;
use super::sign_in::CsrfForm;
use crate::AppState;

pub async fn delete(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(guid): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = viewer.form_refusal(&state, &headers, f.csrf.as_deref()) {
        return refused;
    }
    let i = match visible(&state, &viewer, &guid).await {
        Ok(i) => i,
        Err(resp) => return resp,
    };
    if let Some(refused) = viewer.admin_only("delete calls") {
        return refused;
    }
    let actor = viewer.actor("delete");
    match state.vault.delete_interaction(&actor, &i.meta.guid).await {
        Ok(_) => Redirect::to(&format!("/?deleted={}", i.meta.guid)).into_response(),
        Err(ServiceError::Conflict(why)) => {
            call::render(&state, &viewer, &i, Some(why), None).await
        }
        Err(e) => page::service_error(viewer.nav(), e),
    }
}
