//! Administration commands: tenants and API clients. Each prints a human summary, or
//! with `--json` one JSON object for scripts.

use callvault_core::{ScopeSet, Tenant};
use callvault_services::auth::ClientCredentials;
use callvault_services::Vault;
use serde_json::{json, Value};

pub fn print(json_out: bool, value: Value, human: String) {
    if json_out {
        println!("{value}");
    } else {
        println!("{human}");
    }
}

pub async fn tenant_by_name(vault: &Vault, name: &str) -> anyhow::Result<Tenant> {
    vault.tenant_by_name(name).await?.ok_or_else(|| {
        anyhow::anyhow!(
            "tenant '{name}' does not exist (create it with: callvault tenant create {name})"
        )
    })
}

pub async fn create_tenant(vault: &Vault, name: &str, time_zone: &str) -> anyhow::Result<Tenant> {
    Ok(vault.create_tenant(name, time_zone).await?)
}

pub fn tenant_json(t: &Tenant) -> Value {
    json!({ "id": t.id.0, "name": t.name, "timeZone": t.time_zone, "createdAt": t.created_at.to_rfc3339() })
}

pub fn credentials_json(tenant: &str, c: &ClientCredentials) -> Value {
    json!({
        "tenant": tenant,
        "clientId": c.client_id,
        "clientSecret": c.client_secret,
        "scopes": c.scopes.to_string(),
    })
}

pub fn credentials_human(tenant: &str, c: &ClientCredentials) -> String {
    format!(
        "tenant:        {tenant}\nclient_id:     {}\nclient_secret: {}\nscopes:        {}\n\nThe secret is shown once; store it now.",
        c.client_id, c.client_secret, c.scopes
    )
}

pub async fn create_client(
    vault: &Vault,
    tenant_name: &str,
    name: &str,
    scopes: &str,
) -> anyhow::Result<ClientCredentials> {
    let tenant = tenant_by_name(vault, tenant_name).await?;
    let scopes = ScopeSet::parse("scopes", scopes)?;
    Ok(vault.auth.create_client(tenant.id, name, scopes).await?)
}

pub async fn list_clients(vault: &Vault, tenant_name: &str) -> anyhow::Result<Value> {
    let tenant = tenant_by_name(vault, tenant_name).await?;
    let clients = vault.list_clients(tenant.id).await?;
    Ok(Value::Array(
        clients
            .iter()
            .map(|c| {
                json!({
                    "clientId": c.client_id,
                    "name": c.name,
                    "scopes": c.scopes,
                    "createdAt": c.created_at.to_rfc3339(),
                    "revokedAt": c.revoked_at.map(|r| r.to_rfc3339()),
                })
            })
            .collect(),
    ))
}
