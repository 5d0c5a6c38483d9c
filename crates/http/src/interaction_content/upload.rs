//! One request per recording: an interaction and one content item together, as a
//! `multipart/form-data` form, stored in one transaction. For recorders that have both
//! at hand when a call ends, this halves the requests of `PUT /interactions/{guid}`
//! followed by `PUT .../content/{contentKey}`, and a refused upload leaves nothing
//! behind.

use axum::extract::multipart::{Field, Multipart, MultipartRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use callvault_core::{ContentKey, Guid, Scope};

use super::ingest::{parse_json, upload_from, InteractionBody, UploadParams};
use super::wire;
use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::AppState;

/// The interaction part is JSON; a larger one is not an interaction.
const MAX_INTERACTION_BYTES: usize = 1024 * 1024;

/// The form: the interaction's JSON, then the content's bytes.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Describes the form for the OpenAPI document only.
pub struct InteractionWithContent {
    /// The interaction, as the body of `PUT /interactions/{guid}` (`application/json`).
    interaction: InteractionBody,
    /// The content's bytes; the part's own `Content-Type` is the content's media type.
    #[schema(value_type = String, format = Binary)]
    content: Vec<u8>,
}

#[utoipa::path(
    put,
    path = "/interactions/{guid}/with-content/{contentKey}",
    tag = "Ingest",
    params(
        ("guid" = String, Path, format = Uuid, min_length = 36, max_length = 36, description = "36-character interaction GUID chosen by the client"),
        ("contentKey" = String, Path, description = "Type name for single-instance types; a UUID for voicemail, screen, IVR and video recordings"),
        UploadParams,
        ("X-Content-SHA256" = Option<String>, Header, description = "Expected SHA-256 (hex) of the content part"),
    ),
    request_body(
        content = InteractionWithContent,
        content_type = "multipart/form-data",
        description = "Two parts in this order: `interaction` (JSON) and `content` (the bytes, with their own Content-Type). Parts after `content` are not read."
    ),
    responses(
        (status = 201, description = "Interaction created with its content, durable; body is the interaction"),
        (status = 200, description = "Interaction updated and the content stored; body is the interaction"),
        (status = 400, description = "A malformed field or part, named in `field`"),
        (status = 413, description = "Larger than the configured limit"),
        (status = 415, description = "Not a multipart form, or the bytes are not the declared media type"),
    ),
    security(("bearer" = ["interaction-content:write"]))
)]
pub async fn put_with_content(
    State(state): State<AppState>,
    auth: Authed,
    Path((guid, key)): Path<(String, String)>,
    params: Params,
    headers: HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let tenant = auth.require(Scope::ContentWrite)?.tenant;
    let guid = Guid::parse("guid", &guid)?;
    let key = ContentKey::parse("contentKey", &key)?;
    let mut form = form.map_err(|e| ApiError {
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        message: format!("the body must be a multipart/form-data form: {e}"),
        field: Some("Content-Type".into()),
    })?;
    let interaction = part(&mut form, "interaction").await?;
    let json = read_capped(interaction).await?;
    let meta = parse_json::<InteractionBody>(&json)
        .map_err(|e| within("interaction", e))?
        .into_meta(guid)
        .map_err(|e| within("interaction", e.into()))?;
    let content = part(&mut form, "content").await?;
    let media_type = content.content_type().map(str::to_string).ok_or_else(|| {
        ApiError::bad_request("content", "the 'content' part needs a Content-Type")
    })?;
    let upload = upload_from(&headers, &params, media_type, None)?;
    let (interaction, created) = state
        .vault
        .upsert_with_content(tenant, &meta, &key, upload, content)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, wire::interaction_body(&interaction)).into_response())
}

/// The form's next part, which must be `name`.
async fn part<'a>(form: &'a mut Multipart, name: &str) -> ApiResult<Field<'a>> {
    let field = form
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(name, format!("the form is malformed: {e}")))?
        .ok_or_else(|| ApiError::bad_request(name, format!("the form has no '{name}' part")))?;
    match field.name() {
        Some(n) if n == name => Ok(field),
        other => Err(ApiError::bad_request(
            name,
            format!(
                "expected the part '{name}' here, found '{}'; the parts are 'interaction', then 'content'",
                other.unwrap_or("")
            ),
        )),
    }
}

async fn read_capped(mut field: Field<'_>) -> ApiResult<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| ApiError::bad_request("interaction", format!("the form is malformed: {e}")))?
    {
        if out.len() + chunk.len() > MAX_INTERACTION_BYTES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the 'interaction' part is larger than {MAX_INTERACTION_BYTES} bytes"),
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Names a field of the interaction part as `interaction.<field>`.
fn within(part: &str, mut e: ApiError) -> ApiError {
    e.field = Some(match e.field.as_deref() {
        None | Some("body") => part.to_string(),
        Some(f) => format!("{part}.{f}"),
    });
    e
}
