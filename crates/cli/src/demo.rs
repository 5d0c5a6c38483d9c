//! `serve --demo`: a `demo` tenant full of realistic data on first start, and on every
//! start a fresh client secret and token printed with working curl examples.

use callvault_core::{Scope, ScopeSet, SearchFilter};
use callvault_services::demo::seed_demo;
use callvault_services::Vault;
use callvault_storage::meta::PageStart;
use chrono::{Duration, Utc};

use crate::admin;

pub const DEMO_TENANT: &str = "demo";
const DEMO_CLIENT: &str = "demo";

pub struct DemoAccess {
    pub client_id: String,
    pub client_secret: String,
    pub token: String,
    pub sample_guid: Option<String>,
    pub sample_key: Option<String>,
}

pub async fn prepare(vault: &Vault, interactions: usize) -> anyhow::Result<DemoAccess> {
    let tenant = match vault.meta.tenant_by_name(DEMO_TENANT).await? {
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
            t
        }
    };
    let existing = vault.meta.list_clients(tenant.id).await?;
    let creds = match existing
        .iter()
        .find(|c| c.name == DEMO_CLIENT && c.revoked_at.is_none())
    {
        Some(c) => vault.auth.rotate_secret(&c.client_id).await?,
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
    let filter = SearchFilter {
        start: now - Duration::days(7),
        end: now,
        handling_agent_id: None,
        connect_from_prefix: None,
        connect_to_prefix: None,
        direction: None,
    };
    let recent = vault
        .meta
        .search(tenant.id, &filter, PageStart::Offset(0), 50)
        .await?;
    let sample = recent
        .iter()
        .rev()
        .find(|i| i.content.iter().any(|c| c.key == "callRecording"));
    Ok(DemoAccess {
        client_id: creds.client_id,
        client_secret: creds.client_secret,
        token: token.access_token,
        sample_guid: sample.map(|i| i.meta.guid.to_string()),
        sample_key: sample.map(|_| "callRecording".to_string()),
    })
}

pub fn banner(base: &str, d: &DemoAccess) -> String {
    let now = Utc::now();
    let start = (now - Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let end = now.format("%Y-%m-%dT%H:%M:%SZ");
    let insecure = if base.starts_with("https") { "-k " } else { "" };
    let mut s = format!(
        "\ncallvault demo is ready at {base}\n\n\
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
        d.client_id, d.client_secret, d.token, d.token, d.client_id, d.client_secret
    );
    if let (Some(guid), Some(key)) = (&d.sample_guid, &d.sample_key) {
        s.push_str(&format!(
            "\n# One interaction, and its recording (Range requests work too)\n\
             curl {insecure}-s {base}/interaction-content/interactions/{guid} \\\n  \
               -H \"Authorization: Bearer $TOKEN\" -H \"Accept: application/vnd.newvoicemedia.v3+json\"\n\
             curl {insecure}-s -o recording.wav {base}/interaction-content/interactions/{guid}/content/{key} \\\n  \
               -H \"Authorization: Bearer $TOKEN\"\n"
        ));
    }
    s.push_str(&format!(
        "\nOpenAPI: {base}/openapi.json   metrics: {base}/metrics\n"
    ));
    s
}
