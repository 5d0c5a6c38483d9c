//! `serve --demo`: a `demo` tenant full of realistic data on first start, and on every
//! start a fresh client secret and token printed with working curl examples.

use callvault_core::{ContentType, InteractionQuery, Role, Scope, ScopeSet};
use callvault_services::demo::seed_demo;
use callvault_services::Vault;
use chrono::{Duration, Utc};

use crate::admin;
use crate::governance_cmd::cli_actor;

pub const DEMO_TENANT: &str = "demo";
const DEMO_CLIENT: &str = "demo";
/// Demo sign-ins for the Call Recording API's password grant. Printed on every start:
/// they only ever guard demo data.
pub const DEMO_ADMIN: (&str, &str) = ("demo.admin", "demo-admin-pass");
pub const DEMO_USER: (&str, &str) = ("demo.user", "demo-user-pass");

pub struct DemoAccess {
    pub client_id: String,
    pub client_secret: String,
    pub token: String,
    pub sample_guid: Option<String>,
    pub sample_key: Option<String>,
    /// The tenant's Recordings API token (HTTP Basic password).
    pub api_token: String,
    /// A listed file name of the Recordings API, for a download example.
    pub sample_file: Option<String>,
    /// Whether transcription is on, with which engine, or why not.
    pub transcription: String,
}

/// An account admin, and an agent who owns on-demand recordings and handled calls.
async fn create_users(vault: &Vault, tenant: &callvault_core::Tenant) -> anyhow::Result<()> {
    let on_demand = InteractionQuery {
        recording_kind: Some(callvault_core::interaction::RecordingKind::OnDemand),
        with_content: Some(ContentType::CallRecording),
        ..Default::default()
    };
    let owner = vault
        .search_from(&cli_actor(tenant.id, "demo setup"), &on_demand, 0, 1)
        .await?
        .first()
        .and_then(|i| i.meta.attributes.owning_user_id.clone());
    vault
        .auth
        .create_user(tenant.id, None, DEMO_ADMIN.0, DEMO_ADMIN.1, Role::Admin)
        .await?;
    vault
        .auth
        .create_user(
            tenant.id,
            owner.as_deref(),
            DEMO_USER.0,
            DEMO_USER.1,
            Role::Agent,
        )
        .await?;
    Ok(())
}

pub async fn prepare(vault: &Vault, interactions: usize) -> anyhow::Result<DemoAccess> {
    let tenant = match vault.tenant_by_name(DEMO_TENANT).await? {
        Some(t) => t,
        None => {
            let t = admin::create_tenant(vault, DEMO_TENANT, "Europe/London").await?;
            eprintln!(
                "Seeding the demo tenant with {interactions} interactions (first start only)..."
            );
            let report = seed_demo(vault, t.id, Utc::now(), interactions, 7).await?;
            eprintln!(
                "Seeded {} interactions, {} content items, {} bytes in {:.1?}.",
                report.interactions, report.content_items, report.bytes, report.elapsed
            );
            create_users(vault, &t).await?;
            t
        }
    };
    let existing = vault.list_clients(tenant.id).await?;
    let creds = match existing
        .iter()
        .find(|c| c.name == DEMO_CLIENT && c.revoked_at.is_none())
    {
        Some(c) => vault.auth.rotate_secret(tenant.id, &c.client_id).await?,
        None => {
            vault
                .auth
                .create_client(tenant.id, DEMO_CLIENT, ScopeSet::from_scopes(Scope::ALL))
                .await?
        }
    };
    let token = vault
        .auth
        .issue_token(&creds.client_id, &creds.client_secret, &ScopeSet::default())
        .await?;
    let now = Utc::now();
    let filter = InteractionQuery {
        start: Some((now - Duration::days(7), now)),
        with_content: Some(ContentType::CallRecording),
        ..Default::default()
    };
    let recent = vault
        .search_from(&cli_actor(tenant.id, "demo setup"), &filter, 0, 50)
        .await?;
    let sample = recent
        .iter()
        .rev()
        .find(|i| i.content.iter().any(|c| c.key == "callRecording"));
    let api_token = vault.auth.new_tenant_api_token(tenant.id).await?;
    let tz = tenant.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let sample_file = sample
        .and_then(|i| callvault_http::recordings_files::record::record(i, tz))
        .and_then(|r| r.get("filename").map(str::to_string));
    Ok(DemoAccess {
        api_token,
        sample_file,
        client_id: creds.client_id,
        client_secret: creds.client_secret,
        token: token.access_token,
        sample_guid: sample.map(|i| i.meta.guid.to_string()),
        sample_key: sample.map(|_| "callRecording".to_string()),
        transcription: match vault.transcription.default_engine() {
            (engine, None) => format!("on ({})", engine.as_str()),
            (_, Some(why)) => {
                format!("OFF ({why}); searches find only chat transcripts until it is on")
            }
        },
    })
}

pub fn banner(base: &str, d: &DemoAccess) -> String {
    let now = Utc::now();
    let start = (now - Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let end = now.format("%Y-%m-%dT%H:%M:%SZ");
    let insecure = if base.starts_with("https") { "-k " } else { "" };
    let mut s = format!(
        "\ncallvault demo is ready at {base}\n\n\
         web console:   {base}/\n\
         sign in as     tenant {DEMO_TENANT}, login {admin} / password {admin_pw} (account admin)\n\
         or             tenant {DEMO_TENANT}, login {user} / password {user_pw} (agent: the calls they handled and their own recordings)\n\n\
         tenant:        {DEMO_TENANT}\n\
         client_id:     {}\n\
         client_secret: {}\n\
         access token (1 hour):\n  {}\n\n\
         export TOKEN={}\n\n\
         # Search the last day (v3: continuation tokens)\n\
         curl {insecure}-s \"{base}/interaction-content/interactions?start={start}&end={end}&limit=5\" \\\n  \
           -H \"Authorization: Bearer $TOKEN\" -H \"Accept: application/vnd.newvoicemedia.v3+json\"\n\n\
         # The same with page numbers (v2)\n\
         curl {insecure}-s \"{base}/interaction-content/interactions?start={start}&end={end}&limit=5&page=2\" \\\n  \
           -H \"Authorization: Bearer $TOKEN\" -H \"Accept: application/vnd.newvoicemedia.v2+json\"\n\n\
         # A new token by the client credentials grant\n\
         curl {insecure}-s -X POST {base}/Auth/connect/token -u '{}:{}' \\\n  \
           -d grant_type=client_credentials -d 'scope=interaction-content:read'\n",
        d.client_id,
        d.client_secret,
        d.token,
        d.token,
        d.client_id,
        d.client_secret,
        admin = DEMO_ADMIN.0,
        admin_pw = DEMO_ADMIN.1,
        user = DEMO_USER.0,
        user_pw = DEMO_USER.1,
    );
    if let (Some(guid), Some(key)) = (&d.sample_guid, &d.sample_key) {
        s.push_str(&format!(
            "\n# One interaction, and its recording (Range requests work too)\n\
             curl {insecure}-s {base}/interaction-content/interactions/{guid} \\\n  \
               -H \"Authorization: Bearer $TOKEN\" -H \"Accept: application/vnd.newvoicemedia.v3+json\"\n\
             curl {insecure}-s -o recording.mp3 {base}/interaction-content/interactions/{guid}/content/{key} \\\n  \
               -H \"Authorization: Bearer $TOKEN\"\n"
        ));
    }
    s.push_str(&format!(
        "\n# Recordings files API (HTTP Basic: tenant name and API token): yesterday, as XML and CSV\n\
         curl {insecure}-s -u '{DEMO_TENANT}:{token}' \"{base}/api/recordings/files.xml?d=today-1d,today\"\n\
         curl {insecure}-s -u '{DEMO_TENANT}:{token}' \"{base}/api/recordings/files.csv?d=today-1d,today&tz=America/New_York&n=51\"\n",
        token = d.api_token
    ));
    if let Some(file) = &d.sample_file {
        s.push_str(&format!(
            "curl {insecure}-s -u '{DEMO_TENANT}:{}' -o file.mp3 {base}/api/recordings/files/{file}\n",
            d.api_token
        ));
    }
    s.push_str(&format!(
        "\n# Call Recording API: sign in with the password grant (admin: {admin}; plain user: {user} / {user_pw})\n\
         export VBC_TOKEN=$(curl {insecure}-s -X POST {base}/token -u '{id}:{secret}' \\\n  \
           -d grant_type=password -d username={admin} -d password={admin_pw} | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/')\n\
         curl {insecure}-s \"{base}/call_recording/v1/api/accounts/self/company_call_recordings?page_size=2\" -H \"Authorization: Bearer $VBC_TOKEN\"\n",
        admin = DEMO_ADMIN.0,
        admin_pw = DEMO_ADMIN.1,
        user = DEMO_USER.0,
        user_pw = DEMO_USER.1,
        id = d.client_id,
        secret = d.client_secret,
    ));
    let week_ago = (now - Duration::days(7)).format("%Y-%m-%dT%H:%M:%SZ");
    let half_day_ago = (now - Duration::hours(13)).format("%Y-%m-%dT%H:%M:%SZ");
    s.push_str(&format!(
        "\n# Export API: a directory target (under the data directory's exports/), then last week's inbound recordings\n\
         export SID=$(curl {insecure}-s -X POST {base}/interaction-content-export/external-storage \\\n  \
           -H \"Authorization: Bearer $TOKEN\" -H \"Content-Type: application/json\" \\\n  \
           -d '{{\"name\":\"demo-archive\",\"storageProvider\":\"local\",\"configuration\":{{\"path\":\"demo-archive\"}}}}' | sed 's/.*\"id\":\"\\([^\"]*\\)\".*/\\1/')\n\
         curl {insecure}-s -X POST {base}/interaction-content-export/interactions/jobs/schedule-batch-export \\\n  \
           -H \"Authorization: Bearer $TOKEN\" -H \"Content-Type: application/json\" \\\n  \
           -d '{{\"startDate\":\"{week_ago}\",\"endDate\":\"{half_day_ago}\",\"filters\":{{\"contentTypes\":[\"callRecording\"],\"initialDirection\":[\"inbound\"]}},\"externalStorageId\":\"'$SID'\"}}'\n\
         curl {insecure}-s \"{base}/interaction-content-export/interactions/jobs\" -H \"Authorization: Bearer $TOKEN\"\n"
    ));
    s.push_str(&format!(
        "\n# What was said: transcripts are made in the background, newest call first\n\
         curl {insecure}-s {base}/transcripts/status -H \"Authorization: Bearer $TOKEN\"\n\
         curl {insecure}-s \"{base}/transcripts/search?q=refund&limit=3\" -H \"Authorization: Bearer $TOKEN\"\n\
         curl {insecure}-s \"{base}/transcripts/search?q=%22phones+have+been+dropping%22\" -H \"Authorization: Bearer $TOKEN\"\n"
    ));
    s.push_str(&format!("transcription: {}\n", d.transcription));
    s.push_str(&format!(
        "\nOpenAPI: {base}/openapi.json   metrics: {base}/metrics\n"
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_banner_names_the_console_and_its_sign_ins() {
        let d = DemoAccess {
            client_id: "cvc_1".into(),
            client_secret: "cvcs_1".into(),
            token: "cvat_1".into(),
            sample_guid: None,
            sample_key: None,
            api_token: "cvtt_1".into(),
            sample_file: None,
            transcription: "off".into(),
        };
        let b = banner("http://127.0.0.1:8080", &d);
        assert!(b.contains("web console:   http://127.0.0.1:8080/\n"), "{b}");
        assert!(
            b.contains("login demo.admin / password demo-admin-pass"),
            "{b}"
        );
        assert!(
            b.contains("login demo.user / password demo-user-pass"),
            "{b}"
        );
    }
}
