//! The OpenAPI document served at `/openapi.json`. Its paths come from the routers
//! themselves (utoipa-axum's `OpenApiRouter`: every route is registered with its
//! handler's annotation), so a route cannot be served without being documented; this
//! module adds what is common to all of them.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::webhooks_api::EventSchemas;

#[derive(OpenApi)]
#[openapi(
    info(title = "callvault", description = "Self-hosted vault for call recordings and interaction content"),
    modifiers(&Bearer, &EventSchemas),
    tags(
        (name = "Interaction Content", description = "The platform's Interaction Content API"),
        (name = "Ingest", description = "callvault's own ingest API"),
        (name = "Auth", description = "OAuth2 client credentials"),
        (name = "Call Recording", description = "The business phone system's Call Recording API (bearer tokens from /token)"),
        (name = "Tenant administration", description = "callvault's tenant settings"),
        (name = "Audit", description = "callvault's audit trail: every access and governance action, hash-chained per tenant (scope callvault:audit)"),
        (name = "Transcripts", description = "callvault's search by what was said, re-transcription and transcription status; transcripts are the `transcript` items every dialect serves"),
        (name = "Webhooks", description = "callvault's signed webhooks (scope callvault:webhooks): CloudEvents 1.0, a Vonage-Signature JWT (HS256) over the body's SHA-256"),
        (name = "Governance", description = "callvault's legal holds and retention policies (scope callvault:governance); every dialect's deletes obey them"),
        (name = "Interaction Content Export", description = "The platform's Interaction Content Export API: external storage and export jobs"),
        (name = "Recordings files", description = "The virtual contact center's Recordings API (HTTP Basic: tenant name and API token)"),
        (name = "Operations", description = "Liveness, readiness, metrics and this document"),
    )
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
    }
}

/// The document as served: its JSON, written once when the router is built.
///
/// Kept as bytes rather than as utoipa's structure, which took 2.5 MB of the idle
/// server's 3.5 MB heap and was cloned whole for every request of `/openapi.json`.
#[derive(Clone)]
pub struct Document(pub bytes::Bytes);

impl Document {
    pub fn of(doc: utoipa::openapi::OpenApi) -> Self {
        let json = serde_json::to_vec(&finish(doc))
            .expect("an OpenAPI document has string keys only, so it always serializes");
        Self(json.into())
    }
}

/// The routers' document, finished: a handler served under several paths (the Call
/// Recording API's four prefixes, the token endpoint's aliases) appears once per path,
/// and each copy after the first gets an operation id of its own, as OpenAPI requires;
/// axum's catch-all `{*name}` is written as OpenAPI's `{name}`; and every operation
/// declares the errors the shared plumbing answers, which the handlers' annotations need
/// not repeat: 401 and 403 where it is secured, 400 where it takes input, 404 where its
/// path names a resource.
fn finish(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    let paths = std::mem::take(&mut doc.paths.paths);
    for (path, mut item) in paths {
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in ops.into_iter().flatten() {
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let has_input =
                op.parameters.as_ref().is_some_and(|p| !p.is_empty()) || op.request_body.is_some();
            let common = [
                (
                    secured,
                    "401",
                    "Missing, unknown, revoked or expired credentials",
                ),
                (
                    secured,
                    "403",
                    "The credentials lack the scope or role this needs",
                ),
                (
                    has_input,
                    "400",
                    "A malformed parameter or body, named in the error",
                ),
                (
                    path.contains('{'),
                    "404",
                    "No such resource for this tenant",
                ),
            ];
            for (applies, status, description) in common {
                if applies {
                    op.responses
                        .responses
                        .entry(status.into())
                        .or_insert_with(|| utoipa::openapi::Response::new(description).into());
                }
            }
            if let Some(id) = op.operation_id.take() {
                let n = seen.entry(id.clone()).or_insert(0);
                *n += 1;
                op.operation_id = Some(if *n == 1 { id } else { format!("{id}_{n}") });
            }
        }
        doc.paths.paths.insert(path.replace("{*", "{"), item);
    }
    doc
}

#[cfg(test)]
mod tests {
    /// Routes are added only through utoipa-axum's `routes!`, which documents them: a
    /// plain axum `.route(...)` anywhere in this crate would serve a path the document
    /// does not have. The web console (`console/`) is the exception: its pages are for
    /// people, not part of the API.
    #[test]
    fn no_route_is_added_undocumented() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut offenders = Vec::new();
        let mut dirs = vec![root];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    if !path.ends_with("console") {
                        dirs.push(path);
                    }
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    let undocumented =
                        [".route", ".route_service", ".nest_service"].map(|p| format!("{p}("));
                    for (n, line) in text.lines().enumerate() {
                        let code = line.split("//").next().unwrap_or_default();
                        if undocumented.iter().any(|p| code.contains(p.as_str())) {
                            offenders.push(format!("{}:{}", path.display(), n + 1));
                        }
                    }
                }
            }
        }
        assert!(offenders.is_empty(), "undocumented routes: {offenders:?}");
    }
}
