//! callvault's webhook subscriptions under `/webhooks/subscriptions` (scope
//! `callvault:webhooks`): create, list, get, replace, delete, and each subscription's
//! deliveries with their last error. docs/webhooks.md has the events and the signature.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use callvault_core::time::format_utc_millis as time;
use callvault_core::webhook::{DeliveryState, EventType, Subscription};
use callvault_core::Scope;
use callvault_services::webhooks::Delivery;
use callvault_services::webhooks::SubscriptionSpec;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::interaction_content::parse_json;
use crate::params::{NoParams, Params};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get, replace, delete))
        .routes(routes!(deliveries))
        .routes(routes!(redeliver))
}

/// The body of a create or a replace.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubscriptionBody {
    /// 3 to 128 characters, unique in the tenant.
    name: String,
    /// https (http only for a host the operator lists in egress_allow).
    url: String,
    /// content.created, content.deleted, interaction.deleted, transcription.ready,
    /// transcription.failed (with or without the `com.callvault.` prefix); at least one.
    #[schema(min_items = 1)]
    events: Vec<String>,
    /// On unless false.
    #[serde(default)]
    enabled: Option<bool>,
    /// Base64, at least 16 bytes; generated (and shown once) when absent. On a replace,
    /// absent keeps the current key.
    #[serde(default)]
    signing_key: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionWire {
    id: Uuid,
    name: String,
    url: String,
    events: Vec<&'static str>,
    enabled: bool,
    created_at: String,
    updated_at: String,
    /// Only in the answer that generated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    signing_key: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Subscriptions {
    subscriptions: Vec<SubscriptionWire>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryWire {
    event_id: String,
    #[schema(example = "com.callvault.content.created")]
    event_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    event_time: String,
    /// pending, delivered or failed.
    status: &'static str,
    attempts: u32,
    next_attempt_at: Option<String>,
    last_error: Option<String>,
    delivered_at: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Deliveries {
    deliveries: Vec<DeliveryWire>,
}

fn wire(s: Subscription, key: Option<String>) -> SubscriptionWire {
    SubscriptionWire {
        id: s.id,
        name: s.name,
        url: s.url,
        events: s.events.iter().map(|e| e.as_str()).collect(),
        enabled: s.enabled,
        created_at: time(s.created_at),
        updated_at: time(s.updated_at),
        signing_key: key,
    }
}

fn spec(body: &[u8]) -> ApiResult<SubscriptionSpec> {
    let b: SubscriptionBody = parse_json(body)?;
    let events = b
        .events
        .iter()
        .map(|e| EventType::parse("events", e.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SubscriptionSpec {
        name: b.name,
        url: b.url,
        events,
        enabled: b.enabled.unwrap_or(true),
        key: b.signing_key,
    })
}

fn id_of(s: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(s.trim())
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, format!("subscription {s} not found")))
}

#[utoipa::path(post, path = "/webhooks/subscriptions", tag = "Webhooks",
    request_body = SubscriptionBody,
    responses(
        (status = 201, body = SubscriptionWire, description = "Created; `signingKey` is shown this once when it was generated"),
        (status = 400, description = "A bad field, named in `field`"),
        (status = 409, description = "The tenant has a subscription of that name"),
    ),
    security(("bearer" = ["callvault:webhooks"])))]
pub async fn create(
    State(state): State<AppState>,
    auth: Authed,
    _: NoParams,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<SubscriptionWire>)> {
    let tenant = auth.require(Scope::Webhooks)?.tenant;
    let c = state
        .vault
        .create_subscription(tenant, spec(&body)?)
        .await?;
    Ok((StatusCode::CREATED, Json(wire(c.subscription, c.key))))
}

#[utoipa::path(get, path = "/webhooks/subscriptions", tag = "Webhooks",
    responses((status = 200, body = Subscriptions, description = "The tenant's subscriptions, oldest first; keys are never shown")),
    security(("bearer" = ["callvault:webhooks"])))]
pub async fn list(
    State(state): State<AppState>,
    auth: Authed,
    _: NoParams,
) -> ApiResult<Json<Subscriptions>> {
    let tenant = auth.require(Scope::Webhooks)?.tenant;
    let subs = state.vault.subscriptions(tenant).await?;
    Ok(Json(Subscriptions {
        subscriptions: subs.into_iter().map(|s| wire(s, None)).collect(),
    }))
}

#[utoipa::path(get, path = "/webhooks/subscriptions/{id}", tag = "Webhooks",
    params(("id" = String, Path, description = "Subscription id")),
    responses((status = 200, body = SubscriptionWire), (status = 404, description = "No such subscription in the tenant")),
    security(("bearer" = ["callvault:webhooks"])))]
pub async fn get(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    _: NoParams,
) -> ApiResult<Json<SubscriptionWire>> {
    let tenant = auth.require(Scope::Webhooks)?.tenant;
    let s = state.vault.subscription(tenant, id_of(&id)?).await?;
    Ok(Json(wire(s, None)))
}

#[utoipa::path(put, path = "/webhooks/subscriptions/{id}", tag = "Webhooks",
    params(("id" = String, Path, description = "Subscription id")),
    request_body = SubscriptionBody,
    responses(
        (status = 200, body = SubscriptionWire, description = "Replaced"),
        (status = 400, description = "A bad field, named in `field`"),
        (status = 404, description = "No such subscription in the tenant"),
        (status = 409, description = "The tenant has another subscription of that name"),
    ),
    security(("bearer" = ["callvault:webhooks"])))]
pub async fn replace(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    _: NoParams,
    body: axum::body::Bytes,
) -> ApiResult<Json<SubscriptionWire>> {
    let tenant = auth.require(Scope::Webhooks)?.tenant;
    let id = id_of(&id)?;
    let s = state
        .vault
        .replace_subscription(tenant, id, spec(&body)?)
        .await?;
    Ok(Json(wire(s, None)))
}

#[utoipa::path(delete, path = "/webhooks/subscriptions/{id}", tag = "Webhooks",
    params(("id" = String, Path, description = "Subscription id")),
    responses((status = 204, description = "Deleted with its pending deliveries"), (status = 404, description = "No such subscription in the tenant")),
    security(("bearer" = ["callvault:webhooks"])))]
pub async fn delete(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    _: NoParams,
) -> ApiResult<StatusCode> {
    let tenant = auth.require(Scope::Webhooks)?.tenant;
    state.vault.delete_subscription(tenant, id_of(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn delivery_wire(d: Delivery) -> DeliveryWire {
    DeliveryWire {
        event_id: d.event_id,
        event_type: d.event_type.cloudevent_type(),
        subject: d.subject,
        event_time: time(d.event_at),
        status: d.state.as_str(),
        attempts: d.attempts,
        next_attempt_at: (d.state == DeliveryState::Pending).then(|| time(d.next_at)),
        last_error: d.last_error,
        delivered_at: d.delivered_at.map(time),
    }
}

#[utoipa::path(get, path = "/webhooks/subscriptions/{id}/deliveries", tag = "Webhooks",
    params(
        ("id" = String, Path, description = "Subscription id"),
        ("status" = Option<String>, Query, description = "pending, delivered or failed"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Newest first (default 100)"),
    ),
    responses((status = 200, body = Deliveries), (status = 400, description = "A bad parameter, named in `field`"), (status = 404, description = "No such subscription in the tenant")),
    security(("bearer" = ["callvault:webhooks"])))]
pub async fn deliveries(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<Deliveries>> {
    let tenant = auth.require(Scope::Webhooks)?.tenant;
    params.only(&["status", "limit"])?;
    let status = params
        .get("status")
        .map(|s| {
            DeliveryState::parse(s.trim()).ok_or_else(|| {
                ApiError::bad_request("status", "status must be pending, delivered or failed")
            })
        })
        .transpose()?;
    let limit = params.limit(100, 1000)?;
    let list = state
        .vault
        .deliveries(tenant, id_of(&id)?, status, limit)
        .await?;
    Ok(Json(Deliveries {
        deliveries: list.into_iter().map(delivery_wire).collect(),
    }))
}

#[utoipa::path(post, path = "/webhooks/subscriptions/{id}/deliveries/{eventId}/redeliver", tag = "Webhooks",
    params(
        ("id" = String, Path, description = "Subscription id"),
        ("eventId" = String, Path, description = "The failed delivery's event id"),
    ),
    responses((status = 202, description = "Queued again, due now, in its place in the subscription's order"), (status = 404, description = "No such failed delivery of the subscription")),
    security(("bearer" = ["callvault:webhooks"])))]
pub async fn redeliver(
    State(state): State<AppState>,
    auth: Authed,
    Path((id, event_id)): Path<(String, String)>,
    _: NoParams,
) -> ApiResult<StatusCode> {
    let tenant = auth.require(Scope::Webhooks)?.tenant;
    state
        .vault
        .redeliver(tenant, id_of(&id)?, event_id.trim())
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// The notification body and its event types as schemas of `/openapi.json`, built from
/// core's list of event types, so a new type is documented by being added there.
pub struct EventSchemas;

impl utoipa::Modify for EventSchemas {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let types: Vec<String> = EventType::ALL.iter().map(|t| t.cloudevent_type()).collect();
        let text = |description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(description))
        };
        let event_type = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(types))
            .description(Some("docs/webhooks.md gives each type's data"));
        let notification = ObjectBuilder::new()
            .description(Some(
                "A webhook notification: a CloudEvents 1.0 structured-mode body, sent with \
                 Content-Type application/cloudevents+json and a Vonage-Signature JWT (HS256 \
                 with the base64-decoded subscription key; claims iat, exp, jti and \
                 payload_hash, the hex SHA-256 of the body)",
            ))
            .property("specversion", text("Always 1.0"))
            .property("id", text("Unique per event, the same on every try"))
            .property("source", text("/callvault/tenants/{tenant id}"))
            .property("type", event_type)
            .property("time", text("When the change committed (RFC 3339)"))
            .property("subject", text("The interaction GUID, where there is one"))
            .property("datacontenttype", text("Always application/json"))
            .property(
                "data",
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .description(Some("The event's payload (docs/webhooks.md)")),
            )
            .required("specversion")
            .required("id")
            .required("source")
            .required("type")
            .required("time")
            .required("data");
        doc.components
            .get_or_insert_with(Default::default)
            .schemas
            .insert("WebhookNotification".into(), notification.into());
    }
}
