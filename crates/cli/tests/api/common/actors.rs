//! The actors a test needs, built per tenant: API clients with scopes and their tokens,
//! and users (admins, reviewers or agents) signed in with the password grant.

use callvault_core::Role;
use reqwest::StatusCode;
use serde_json::Value;

use super::{TestServer, ALL_SCOPES};

/// A tenant of the test server, to build actors in.
pub struct TenantActors<'a> {
    s: &'a TestServer,
    pub tenant: callvault_core::Tenant,
}

/// A user signed in through `/token` (password grant).
pub struct SignedIn {
    pub id: String,
    pub access_token: String,
    pub refresh_token: String,
}

impl TestServer {
    /// The tenant `name`, created (in UTC) if it does not exist.
    pub async fn tenant(&self, name: &str) -> TenantActors<'_> {
        let tenant = match self.vault.tenant_by_name(name).await.unwrap() {
            Some(t) => t,
            None => self.vault.create_tenant(name, "UTC").await.unwrap(),
        };
        TenantActors { s: self, tenant }
    }
}

impl TenantActors<'_> {
    /// A new API client with `scopes`: (client_id, secret).
    pub async fn client(&self, scopes: &str) -> (String, String) {
        self.s.tenant_client(&self.tenant.name, scopes).await
    }

    /// A bearer token of a new client with `scopes` (client credentials).
    pub async fn token(&self, scopes: &str) -> String {
        self.s.token(&self.tenant.name, scopes).await
    }

    /// A new user with a login and password, signed in through a new client: an admin,
    /// or else an agent.
    pub async fn user(&self, login: &str, admin: bool) -> SignedIn {
        let role = if admin { Role::Admin } else { Role::Agent };
        self.user_as(login, role).await
    }

    /// A new user of `role`, signed in through a new client.
    pub async fn user_as(&self, login: &str, role: Role) -> SignedIn {
        let password = format!("{login}-password");
        let user = self
            .s
            .vault
            .auth
            .create_user(self.tenant.id, None, login, &password, role)
            .await
            .unwrap();
        let (id, secret) = self.client(ALL_SCOPES).await;
        let form = [
            ("grant_type", "password"),
            ("username", login),
            ("password", password.as_str()),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
        ];
        let r = self
            .s
            .http
            .post(self.s.url("/token"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        SignedIn {
            id: user.id,
            access_token: body["access_token"].as_str().unwrap().into(),
            refresh_token: body["refresh_token"].as_str().unwrap_or_default().into(),
        }
    }
}
