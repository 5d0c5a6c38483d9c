//! Company and on-demand call recordings: list, get, delete, and the audio.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use callvault_core::interaction::RecordingKind;
use callvault_core::{ContentItem, Interaction, Scope};
use serde_json::Value;

use super::context::{Ctx, Owner};
use super::{filters, hal, wire};
use crate::error::{ApiError, ApiResult};
use crate::range::serve_content;
use crate::AppState;
use callvault_core::content::extension_for;

fn self_href(ctx: &Ctx, account: &str, owner: &Owner, id: i64) -> String {
    match owner {
        Owner::Company => ctx.url(&format!("/accounts/{account}/company_call_recordings/{id}")),
        Owner::User(u) => ctx.url(&format!(
            "/accounts/{account}/users/{u}/call_recordings/{id}"
        )),
    }
}

fn render(ctx: &Ctx, account: &str, i: &Interaction, rec: &ContentItem) -> Value {
    let owner = Owner::of(i);
    let download = ctx.url(&format!("/audio/recording/{}", i.number));
    wire::recording(i, rec, self_href(ctx, account, &owner, i.number), download)
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("Recording {id} was not found"),
    )
}

/// The recording `id` if it exists, belongs to `owner` and the caller may see it.
async fn find(
    state: &AppState,
    ctx: &Ctx,
    id: &str,
    owner: &Owner,
) -> ApiResult<(Interaction, ContentItem)> {
    // A path id that is not a number names no recording: 404, as for any unknown id.
    let number: i64 = id.parse().map_err(|_| not_found(id))?;
    let i = state
        .vault
        .interaction_by_number(ctx.principal.tenant, number)
        .await?
        .ok_or_else(|| not_found(id))?;
    if &Owner::of(&i) != owner || !ctx.access().sees(&i) {
        return Err(not_found(id));
    }
    let rec = wire::recording_item(&i)
        .cloned()
        .ok_or_else(|| not_found(id))?;
    Ok((i, rec))
}

async fn list(
    state: &AppState,
    ctx: &Ctx,
    account: &str,
    owner: Owner,
    raw: Option<String>,
) -> ApiResult<Json<Value>> {
    ctx.require(Scope::ContentRead)?;
    let pairs = crate::params::given_pairs(raw.as_deref().unwrap_or_default());
    let mut listing = filters::parse(&pairs)?;
    let base_href = match &owner {
        Owner::Company => {
            listing.query.recording_kind = Some(RecordingKind::Company);
            ctx.url(&format!("/accounts/{account}/company_call_recordings"))
        }
        Owner::User(u) => {
            listing.query.recording_kind = Some(RecordingKind::OnDemand);
            listing.query.owning_user = Some(u.clone());
            ctx.url(&format!("/accounts/{account}/users/{u}/call_recordings"))
        }
    };
    ctx.access().narrow(&mut listing.query);
    let (total, items) = listing.fetch(state, &ctx.actor("list recordings")).await?;
    let rendered = items
        .iter()
        .filter_map(|i| wire::recording_item(i).map(|r| render(ctx, account, i, r)))
        .collect();
    Ok(Json(hal::page(
        "recordings",
        rendered,
        &base_href,
        &listing.kept,
        listing.page,
        listing.page_size,
        total,
    )))
}

#[utoipa::path(
    get,
    path = "/accounts/{account}/company_call_recordings",
    tag = "Call Recording",
    description = "Company call recordings: all of them for account admins and reviewers, those they handled for agents.",
    params(
        ("account" = String, Path, description = "self or the account id"),
        ("call_direction" = Option<String>, Query, description = "INBOUND, OUTBOUND or INTRA_PBX"),
        ("call_id" = Option<String>, Query, description = "Call id (the interaction GUID)"),
        ("caller_id" = Option<String>, Query, description = "Caller id, exact"),
        ("cnam" = Option<String>, Query, description = "Caller name, exact"),
        ("dnis" = Option<String>, Query, description = "Dialled number, exact"),
        ("duration:gte" = Option<u64>, Query, description = "Duration in ms, at least"),
        ("duration:lte" = Option<u64>, Query, description = "Duration in ms, at most"),
        ("extension" = Option<String>, Query, description = "Extension number"),
        ("start:gte" = Option<String>, Query, description = "Start at or after, e.g. 2019-01-01T00:00:00+0000"),
        ("start:lte" = Option<String>, Query, description = "Start at or before"),
        ("order" = Option<String>, Query, description = "start:DESC (default) or start:ASC"),
        ("page" = Option<u64>, Query, minimum = 1, description = "1-based page, default 1"),
        ("page_size" = Option<u64>, Query, minimum = 1, maximum = 100, description = "1..100, default 10"),
    ),
    responses(
        (status = 200, description = "HAL page: _embedded.recordings, _links, page, page_size, total_items, total_pages"),
        (status = 400, description = "A malformed filter or paging value, named in `field`"),
        (status = 403, description = "Not allowed for this user or token"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn list_company(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(account): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    ctx.account(&account)?;
    list(&state, &ctx, &account, Owner::Company, raw).await
}

#[utoipa::path(
    get,
    path = "/accounts/{account}/users/{user}/call_recordings",
    tag = "Call Recording",
    description = "A user's on-demand call recordings.",
    params(
        ("account" = String, Path, description = "self or the account id"),
        ("user" = String, Path, description = "self or a user id"),
        ("call_direction" = Option<String>, Query, description = "INBOUND, OUTBOUND or INTRA_PBX"),
        ("call_id" = Option<String>, Query, description = "Call id (the interaction GUID)"),
        ("caller_id" = Option<String>, Query, description = "Caller id, exact"),
        ("cnam" = Option<String>, Query, description = "Caller name, exact"),
        ("dnis" = Option<String>, Query, description = "Dialled number, exact"),
        ("duration:gte" = Option<u64>, Query, description = "Duration in ms, at least"),
        ("duration:lte" = Option<u64>, Query, description = "Duration in ms, at most"),
        ("extension" = Option<String>, Query, description = "Extension number"),
        ("start:gte" = Option<String>, Query, description = "Start at or after, e.g. 2019-01-01T00:00:00+0000"),
        ("start:lte" = Option<String>, Query, description = "Start at or before"),
        ("order" = Option<String>, Query, description = "start:DESC (default) or start:ASC"),
        ("page" = Option<u64>, Query, minimum = 1, description = "1-based page, default 1"),
        ("page_size" = Option<u64>, Query, minimum = 1, maximum = 100, description = "1..100, default 10"),
    ),
    responses(
        (status = 200, description = "HAL page: _embedded.recordings, _links, page, page_size, total_items, total_pages"),
        (status = 400, description = "A malformed filter or paging value, named in `field`"),
        (status = 403, description = "Not allowed for this user or token"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn list_user(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((account, user)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    ctx.account(&account)?;
    let user = ctx.user(&state, &user).await?;
    list(&state, &ctx, &account, Owner::User(user), raw).await
}

#[utoipa::path(
    get,
    path = "/accounts/{account}/company_call_recordings/{id}",
    tag = "Call Recording",
    description = "One company call recording.",
    params(
        ("account" = String, Path, description = "self or the account id"),
        ("id" = i64, Path, description = "Recording id"),
    ),
    responses(
        (status = 200, description = "The recording"),
        (status = 404, description = "No such recording here"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn get_company(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((account, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Scope::ContentRead)?;
    ctx.account(&account)?;
    let (i, rec) = find(&state, &ctx, &id, &Owner::Company).await?;
    state.vault.viewed(&ctx.actor("get recording"), &i).await;
    Ok(Json(render(&ctx, &account, &i, &rec)))
}

#[utoipa::path(
    get,
    path = "/accounts/{account}/users/{user}/call_recordings/{id}",
    tag = "Call Recording",
    description = "One on-demand call recording.",
    params(
        ("account" = String, Path, description = "self or the account id"),
        ("user" = String, Path, description = "self or a user id"),
        ("id" = i64, Path, description = "Recording id"),
    ),
    responses(
        (status = 200, description = "The recording"),
        (status = 404, description = "No such recording here"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn get_user(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((account, user, id)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Scope::ContentRead)?;
    ctx.account(&account)?;
    let user = ctx.user(&state, &user).await?;
    let (i, rec) = find(&state, &ctx, &id, &Owner::User(user)).await?;
    state.vault.viewed(&ctx.actor("get recording"), &i).await;
    Ok(Json(render(&ctx, &account, &i, &rec)))
}

async fn delete(state: &AppState, ctx: &Ctx, id: &str, owner: &Owner) -> ApiResult<StatusCode> {
    ctx.require(Scope::ContentDelete)?;
    ctx.may_delete(owner)?;
    let (i, rec) = find(state, ctx, id, owner).await?;
    state
        .vault
        .delete_content(&ctx.actor("delete recording"), &i.meta.guid, &rec.key)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete,
    path = "/accounts/{account}/company_call_recordings/{id}",
    tag = "Call Recording",
    description = "Delete a company call recording.",
    params(
        ("account" = String, Path, description = "self or the account id"),
        ("id" = i64, Path, description = "Recording id"),
    ),
    responses(
        (status = 204, description = "Deleted; the audio is removed from storage"),
        (status = 403, description = "Not allowed for this user: a reviewer deletes nothing, an agent only their own on-demand recordings"),
        (status = 404, description = "No such recording here"),
    ),
    security(("bearer" = ["interaction-content:delete"]))
)]
pub async fn delete_company(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((account, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    ctx.account(&account)?;
    delete(&state, &ctx, &id, &Owner::Company).await
}

#[utoipa::path(
    delete,
    path = "/accounts/{account}/users/{user}/call_recordings/{id}",
    tag = "Call Recording",
    description = "Delete an on-demand call recording.",
    params(
        ("account" = String, Path, description = "self or the account id"),
        ("user" = String, Path, description = "self or a user id"),
        ("id" = i64, Path, description = "Recording id"),
    ),
    responses(
        (status = 204, description = "Deleted; the audio is removed from storage"),
        (status = 403, description = "Not allowed for this user: a reviewer deletes nothing, an agent only their own on-demand recordings"),
        (status = 404, description = "No such recording here"),
    ),
    security(("bearer" = ["interaction-content:delete"]))
)]
pub async fn delete_user(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((account, user, id)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    ctx.account(&account)?;
    let user = ctx.user(&state, &user).await?;
    delete(&state, &ctx, &id, &Owner::User(user)).await
}

/// The audio of a recording the caller may see: any for an admin, a reviewer or a client
/// token; for an agent their own on-demand recordings and the calls they handled.
#[utoipa::path(
    get,
    path = "/audio/recording/{id}",
    tag = "Call Recording",
    description = "The recording's audio; Range requests answer 206.",
    params(
        ("id" = i64, Path, description = "Recording id"),
    ),
    responses(
        (status = 200, description = "The audio bytes"),
        (status = 206, description = "The requested byte range"),
        (status = 404, description = "No such recording for this caller"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn audio(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    ctx.require(Scope::ContentRead)?;
    let number: i64 = id.parse().map_err(|_| not_found(&id))?;
    let i = state
        .vault
        .interaction_by_number(ctx.principal.tenant, number)
        .await?
        .ok_or_else(|| not_found(&id))?;
    if !ctx.access().sees(&i) {
        return Err(not_found(&id));
    }
    let rec = wire::recording_item(&i).ok_or_else(|| not_found(&id))?;
    let name = format!(
        "{}.{}.{}",
        i.number,
        i.meta.guid,
        extension_for(&rec.media_type)
    );
    let actor = ctx.actor("download recording audio");
    serve_content(&state.vault, &actor, &i.meta.guid, rec, &headers, &name).await
}
