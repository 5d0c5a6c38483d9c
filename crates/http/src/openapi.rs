//! The OpenAPI 3 document served at `/openapi.json`, generated from the handlers'
//! annotations so that it cannot drift from the routes.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::interaction_content as ic;

#[derive(OpenApi)]
#[openapi(
    info(title = "callvault", description = "Self-hosted vault for call recordings and interaction content"),
    paths(
        crate::oauth::token,
        ic::search,
        ic::get_interaction,
        ic::delete_interaction,
        ic::delete_batch,
        ic::download,
        ic::delete_content,
        ic::put_interaction,
        ic::put_content,
        crate::tenant_admin::new_api_token,
        crate::recordings_files::list_xml,
        crate::recordings_files::list_csv,
        crate::recordings_files::download,
        crate::call_recording::list_company,
        crate::call_recording::list_user,
        crate::call_recording::get_company,
        crate::call_recording::get_user,
        crate::call_recording::delete_company,
        crate::call_recording::delete_user,
        crate::call_recording::audio,
        crate::call_recording::list_transcriptions,
        crate::call_recording::get_transcription,
        crate::call_recording::create_company,
        crate::call_recording::create_company_transcriptions,
        crate::call_recording::create_user,
        crate::call_recording::list_recordings,
        crate::call_recording::list_with_transcriptions,
        crate::call_recording::get_recordings,
        crate::call_recording::get_with_transcriptions,
        crate::call_recording::retrieve,
        crate::call_recording::retrieve_with_transcriptions,
        crate::export::create_storage,
        crate::export::list_storages,
        crate::export::get_storage,
        crate::export::delete_storage,
        crate::export::schedule_recurring,
        crate::export::schedule_batch,
        crate::export::list_jobs,
        crate::export::get_job,
        crate::export::job_action,
    ),
    modifiers(&Bearer),
    tags(
        (name = "Interaction Content", description = "The platform's Interaction Content API"),
        (name = "Ingest", description = "callvault's own ingest API"),
        (name = "Auth", description = "OAuth2 client credentials"),
        (name = "Call Recording", description = "The business phone system's Call Recording API (bearer tokens from /token)"),
        (name = "Tenant administration", description = "callvault's tenant settings"),
        (name = "Interaction Content Export", description = "The platform's Interaction Content Export API: external storage and export jobs"),
        (name = "Recordings files", description = "The virtual contact center's Recordings API (HTTP Basic: tenant name and API token)"),
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
