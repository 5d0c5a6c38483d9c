//! Sessions of the web console. A tenant user signs in with the tenant's name, their login
//! and password (the users and argon2 hashes of the password grant) and gets an access
//! token like the password grant's, without a refresh token: the console keeps it in a
//! cookie, so a session lasts as long as a token, every check of it is the API's bearer
//! check, and signing out deletes it. A token needs an issuing client, so each tenant has
//! one console client, created at its first console sign-in, whose secret nobody holds;
//! revoking that client ends every console session of the tenant.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use callvault_core::{
    AuditRecord, ContentItem, Guid, Interaction, LegalHold, Rules, ScopeSet, TenantId, User,
};
use callvault_storage::meta::ApiClient;
use callvault_storage::StoreError;
use chrono::Utc;
use futures::StreamExt;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::audit::{Actor, AuditFilter};
use crate::auth::{hash_secret, random_token, verify_password, AuthService, DUMMY_HASH};
use crate::error::{ServiceError, ServiceResult};
use crate::Vault;

/// A signed-in console user; the plain token exists only here and in their cookie.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    pub token: String,
    pub expires_in: u64,
    pub user: User,
}

/// The id of a tenant's console client: fixed, so every node finds the same one.
pub fn console_client_id(tenant: TenantId) -> String {
    format!("cvc_console_{}", tenant.0)
}

/// The token a console form carries to prove it was rendered for this session: an HMAC
/// keyed by the session token, so only a holder of the session (which the cookie keeps
/// from page script) can make it, and the page that shows it reveals nothing of the key.
pub fn form_token(session: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(session.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(b"callvault console form");
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Whether a form's token was made for `session` (compared in constant time).
pub fn form_token_matches(session: &str, presented: &str) -> bool {
    bool::from(form_token(session).as_bytes().ct_eq(presented.as_bytes()))
}

impl AuthService {
    /// Signs a user of the named tenant in. Unknown tenants and logins are checked
    /// against a fixed hash, so every failure takes as long as a wrong password; all
    /// answer the same `Unauthenticated("invalid_grant")`.
    pub async fn console_sign_in(
        &self,
        tenant_name: &str,
        login: &str,
        password: &str,
    ) -> ServiceResult<ConsoleSession> {
        let tenant = self.store.tenant_by_name(tenant_name).await?;
        let (client, record) = match &tenant {
            Some(t) => (
                Some(self.console_client(t.id).await?),
                self.store.user_by_login(t.id, login).await?,
            ),
            None => (None, None),
        };
        let hash = record
            .as_ref()
            .map_or(DUMMY_HASH.to_string(), |r| r.password_hash.clone());
        let ok = verify_password(password.to_string(), hash).await?;
        let (Some(client), Some(record), true) = (client, record, ok) else {
            return Err(ServiceError::Unauthenticated("invalid_grant".into()));
        };
        let scopes = Self::user_scopes(&ScopeSet::default())?;
        let issued = self
            .issue(&client, Some(&record.user), scopes, false)
            .await?;
        Ok(ConsoleSession {
            token: issued.access_token,
            expires_in: issued.expires_in,
            user: record.user,
        })
    }

    /// Ends a session: its token is deleted, and forgotten by this process at once.
    pub async fn sign_out(&self, token: &str) -> ServiceResult<()> {
        let hash = hash_secret(token);
        self.store.delete_token(&hash).await?;
        self.cache().remove(&hash);
        Ok(())
    }

    /// The tenant's console client, created on first use (a node that loses the race to
    /// create it reads the winner's).
    async fn console_client(&self, tenant: TenantId) -> ServiceResult<ApiClient> {
        let id = console_client_id(tenant);
        if let Some(c) = self.store.client_by_id(&id).await? {
            return Ok(c);
        }
        let client = ApiClient {
            client_id: id.clone(),
            tenant_id: tenant,
            name: "console".into(),
            secret_hash: hash_secret(&random_token("cvcs_")),
            scopes: Self::user_scopes(&ScopeSet::default())?.to_string(),
            created_at: Utc::now(),
            revoked_at: None,
        };
        match self.store.create_client(&client).await {
            Ok(()) => Ok(client),
            Err(StoreError::Conflict(_)) => self
                .store
                .client_by_id(&id)
                .await?
                .ok_or_else(|| ServiceError::NotFound(format!("client {id}"))),
            Err(e) => Err(e.into()),
        }
    }
}

impl Vault {
    /// The bytes of a small item (a transcript, a chat, a summary) for showing it to
    /// `actor`, who reads it whole: recorded as a download. Larger items are refused; the
    /// console offers those as downloads only.
    pub async fn read_document(
        &self,
        actor: &Actor,
        guid: &Guid,
        item: &ContentItem,
        max: u64,
    ) -> ServiceResult<Vec<u8>> {
        if item.length > max {
            return Err(ServiceError::PayloadTooLarge(format!(
                "{} is {} bytes, more than the {max} shown in a page",
                item.key, item.length
            )));
        }
        let mut read = self.open_content(actor, guid, item, None).await?;
        let mut out = Vec::with_capacity(item.length as usize);
        while let Some(chunk) = read.stream.next().await {
            let chunk = chunk
                .map_err(|e| ServiceError::Unavailable(format!("reading {}: {e}", item.key)))?;
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

/// What governs one interaction, for the console's interaction page.
#[derive(Debug, Clone)]
pub struct Governance {
    /// The holds whose selector covers the interaction, active or released, newest first.
    pub holds: Vec<LegalHold>,
    pub rules: Rules,
}

impl Vault {
    /// The tenant's rules as they bear on `i`: the holds that cover it, and the rules
    /// from which [`Rules::retention_of`] reckons its retention.
    pub async fn governance_of(
        &self,
        tenant: TenantId,
        i: &Interaction,
    ) -> ServiceResult<Governance> {
        let rules = self.store.rules(tenant).await?;
        let mut holds: Vec<LegalHold> = self
            .holds(tenant)
            .await?
            .into_iter()
            .filter(|h| h.selector.covers(i))
            .collect();
        holds.sort_by_key(|h| std::cmp::Reverse(h.created_at));
        Ok(Governance { holds, rules })
    }

    /// The tenant's audit records before `before_seq`, newest first: the console reads
    /// a trail from its latest entries back.
    pub async fn audit_newest(
        &self,
        tenant: TenantId,
        filter: &AuditFilter,
        before_seq: Option<i64>,
        limit: u32,
    ) -> ServiceResult<Vec<AuditRecord>> {
        self.audit.flush().await;
        Ok(self
            .store
            .audit_page_newest(tenant, filter, before_seq, limit)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_token_belongs_to_its_session() {
        let t = form_token("cvat_one");
        assert!(form_token_matches("cvat_one", &t));
        assert!(!form_token_matches("cvat_two", &t));
        assert!(!form_token_matches("cvat_one", ""));
        assert!(!t.contains("cvat_one"));
    }
}
