//! OAuth2 client credentials: API clients, access tokens, and checking both.
//!
//! Client secrets and access tokens are 256-bit random values, so a single SHA-256 is a
//! sufficient one-way hash (a slow password hash protects low-entropy secrets, which these
//! are not). Only the hashes are stored; comparisons are constant-time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use callvault_core::{Invalid, Role, Scope, ScopeSet, Tenant, TenantId, User};
use callvault_storage::meta::{AccessToken, ApiClient};
use callvault_storage::prelude::*;
use callvault_storage::StoreError;
use chrono::Utc;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{ServiceError, ServiceResult};

const TOKEN_PREFIX: &str = "cvat_";
const TENANT_TOKEN_PREFIX: &str = "cvtt_";
const REFRESH_PREFIX: &str = "cvrt_";
/// Refresh tokens outlive access tokens so that a client signs in with a password rarely.
const REFRESH_TTL: chrono::Duration = chrono::Duration::days(30);
const SECRET_PREFIX: &str = "cvcs_";

/// Who is calling, after their bearer token checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant: TenantId,
    pub client_id: String,
    pub scopes: ScopeSet,
    /// The signed-in user, for tokens from the password grant.
    pub user: Option<User>,
}

/// A freshly issued access token; the plain value exists only here.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: u64,
    pub scopes: ScopeSet,
    /// For user tokens: exchanges once for a new pair (the refresh_token grant).
    pub refresh_token: Option<String>,
}

/// A freshly created or rotated client; the plain secret exists only here.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub client_id: String,
    pub name: String,
    pub client_secret: String,
    pub tenant: TenantId,
    pub scopes: ScopeSet,
}

/// How long a checked bearer token is trusted without asking the store again: the bound
/// on how late a revocation made by another process (the CLI) or node takes effect;
/// revoking through this process clears its entries at once. One token query per token
/// per second is cheap next to what a busy client does with it.
pub const CACHE_TTL: Duration = Duration::from_secs(1);
const CACHE_MAX: usize = 10_000;

pub struct AuthService {
    pub(crate) store: Arc<dyn Store>,
    ttl: Duration,
    /// Token hash to principal, so that a download costs no token query.
    checked: Mutex<HashMap<Vec<u8>, (Principal, Instant)>>,
    /// Budgets of failed sign-ins; the token endpoint checks and charges them.
    pub sign_in: crate::signin::SignInLimits,
}

/// The one answer for a client that is unknown, revoked, or another tenant's.
fn no_client(client_id: &str) -> ServiceError {
    ServiceError::NotFound(format!("active client '{client_id}' not found"))
}

pub(crate) fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

impl AuthService {
    pub fn new(store: Arc<dyn Store>, ttl: Duration) -> Self {
        Self {
            store,
            ttl,
            checked: Mutex::new(HashMap::new()),
            sign_in: Default::default(),
        }
    }

    /// A new client of `tenant` with `scopes`; its name is what people call it (shown in
    /// the console and `client list`).
    pub async fn create_client(
        &self,
        tenant: TenantId,
        name: &str,
        scopes: ScopeSet,
    ) -> ServiceResult<ClientCredentials> {
        if name.trim().is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
            return Err(Invalid::new(
                "name",
                "a client's name must be 1 to 128 printable characters",
            )
            .into());
        }
        if scopes.is_empty() {
            return Err(Invalid::new("scopes", "a client needs at least one scope").into());
        }
        let mut id = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut id);
        let client_id = format!("cvc_{}", hex::encode(id));
        let client_secret = random_token(SECRET_PREFIX);
        self.store
            .create_client(&ApiClient {
                client_id: client_id.clone(),
                tenant_id: tenant,
                name: name.to_string(),
                secret_hash: hash_secret(&client_secret),
                scopes: scopes.to_string(),
                created_at: Utc::now(),
                revoked_at: None,
            })
            .await?;
        Ok(ClientCredentials {
            client_id,
            name: name.to_string(),
            client_secret,
            tenant,
            scopes,
        })
    }

    /// Replaces the secret of `tenant`'s active client `client_id`; tokens already issued
    /// stay valid until they expire. Another tenant's client is not found, as an unknown
    /// or revoked one is.
    pub async fn rotate_secret(
        &self,
        tenant: TenantId,
        client_id: &str,
    ) -> ServiceResult<ClientCredentials> {
        let client = self.client_of(tenant, client_id).await?;
        let client_secret = random_token(SECRET_PREFIX);
        if !self
            .store
            .set_client_secret(client_id, &hash_secret(&client_secret))
            .await?
        {
            return Err(no_client(client_id));
        }
        let scopes = ScopeSet::parse("scopes", &client.scopes)?;
        Ok(ClientCredentials {
            client_id: client.client_id,
            name: client.name,
            client_secret,
            tenant: client.tenant_id,
            scopes,
        })
    }

    /// Revokes `tenant`'s active client `client_id` and every token it holds. Another
    /// tenant's client is not found, as an unknown or already revoked one is.
    pub async fn revoke(&self, tenant: TenantId, client_id: &str) -> ServiceResult<()> {
        self.client_of(tenant, client_id).await?;
        let revoked = self.store.revoke_client(client_id).await?;
        self.cache().retain(|_, (p, _)| p.client_id != client_id);
        if revoked {
            Ok(())
        } else {
            Err(no_client(client_id))
        }
    }

    /// The tenant that owns client `client_id`, for the operator (the CLI), who may act
    /// for any tenant and names a client by its id alone.
    pub async fn client_owner(&self, client_id: &str) -> ServiceResult<TenantId> {
        match self.store.client_by_id(client_id).await? {
            Some(c) => Ok(c.tenant_id),
            None => Err(no_client(client_id)),
        }
    }

    /// `tenant`'s active client `client_id`, to rotate or revoke. A client of another
    /// tenant answers exactly as an unknown id, so that no tenant learns of another's
    /// clients. The console's own client is refused: it has no secret anyone holds, and
    /// revoked it would lock every user of the tenant out of the console for good.
    async fn client_of(&self, tenant: TenantId, client_id: &str) -> ServiceResult<ApiClient> {
        if client_id == crate::console::console_client_id(tenant) {
            return Err(Invalid::new(
                "clientId",
                format!(
                    "'{client_id}' is the console's own client and cannot be rotated or \
                     revoked; a user's console sessions end when they sign out or expire"
                ),
            )
            .into());
        }
        match self.store.client_by_id(client_id).await? {
            Some(c) if c.tenant_id == tenant && c.revoked_at.is_none() => Ok(c),
            _ => Err(no_client(client_id)),
        }
    }

    async fn check_client(&self, client_id: &str, client_secret: &str) -> ServiceResult<ApiClient> {
        let client = self.store.client_by_id(client_id).await?;
        let presented = hash_secret(client_secret);
        match client {
            Some(c) if c.revoked_at.is_none() && bool::from(c.secret_hash.ct_eq(&presented)) => {
                Ok(c)
            }
            _ => Err(ServiceError::Unauthenticated("invalid_client".into())),
        }
    }

    fn narrow(client: &ApiClient, requested: &ScopeSet) -> ServiceResult<ScopeSet> {
        let granted = ScopeSet::parse("scope", &client.scopes)?;
        if requested.is_empty() {
            Ok(granted)
        } else if requested.is_subset_of(&granted) {
            Ok(requested.clone())
        } else {
            Err(ServiceError::Forbidden("invalid_scope".into()))
        }
    }

    /// What a signed-in user may do follows the user, not the application client they
    /// signed in through (as with the vendor's API): reading and deleting recordings,
    /// within what `Access` lets their role see (an account admin everything, a plain
    /// user their own on-demand recordings). A requested `scope` can only narrow that.
    /// The client's own scopes bound its client-credentials tokens alone.
    pub(crate) fn user_scopes(requested: &ScopeSet) -> ServiceResult<ScopeSet> {
        let role = ScopeSet::from_scopes([Scope::ContentRead, Scope::ContentDelete]);
        if requested.is_empty() {
            Ok(role)
        } else if requested.is_subset_of(&role) {
            Ok(requested.clone())
        } else {
            Err(ServiceError::Forbidden("invalid_scope".into()))
        }
    }

    /// A new access token of `client`, for `user` if given; with `refresh`, a user's
    /// token comes with a refresh token (the password grant's, not the console's).
    pub(crate) async fn issue(
        &self,
        client: &ApiClient,
        user: Option<&User>,
        scopes: ScopeSet,
        refresh: bool,
    ) -> ServiceResult<IssuedToken> {
        let access_token = random_token(TOKEN_PREFIX);
        let now = Utc::now();
        let stored = |token: &str, expires_at| AccessToken {
            token_hash: hash_secret(token),
            tenant_id: client.tenant_id,
            client_id: client.client_id.clone(),
            user_id: user.map(|u| u.id.clone()),
            scopes: scopes.to_string(),
            expires_at,
        };
        let ttl = chrono::Duration::from_std(self.ttl).unwrap_or_default();
        // A client revoked since it was checked gets no token (the insert requires it active).
        let revoked = |e: StoreError| match e {
            StoreError::NotFound(_) => ServiceError::Unauthenticated("invalid_client".into()),
            other => other.into(),
        };
        self.store
            .insert_token(&stored(&access_token, now + ttl))
            .await
            .map_err(revoked)?;
        let refresh_token = match user {
            Some(_) if refresh => {
                let t = random_token(REFRESH_PREFIX);
                self.store
                    .insert_refresh_token(&stored(&t, now + REFRESH_TTL))
                    .await?;
                Some(t)
            }
            _ => None,
        };
        Ok(IssuedToken {
            access_token,
            expires_in: self.ttl.as_secs(),
            scopes,
            refresh_token,
        })
    }

    /// The client credentials grant. `requested` empty means every scope of the client.
    pub async fn issue_token(
        &self,
        client_id: &str,
        client_secret: &str,
        requested: &ScopeSet,
    ) -> ServiceResult<IssuedToken> {
        let client = self.check_client(client_id, client_secret).await?;
        let scopes = Self::narrow(&client, requested)?;
        self.issue(&client, None, scopes, false).await
    }

    /// The resource owner password grant: a user of the client's tenant signs in.
    pub async fn password_grant(
        &self,
        client_id: &str,
        client_secret: &str,
        login: &str,
        password: &str,
        requested: &ScopeSet,
    ) -> ServiceResult<IssuedToken> {
        let client = self.check_client(client_id, client_secret).await?;
        let scopes = Self::user_scopes(requested)?;
        let mut record = self.store.user_by_login(client.tenant_id, login).await?;
        // The vendor's tutorials sign in as `firstname.lastname@vbc.prod`: a login that is
        // not found as given is looked up again without a known realm suffix.
        if record.is_none() {
            if let Some(bare) = without_realm(login) {
                record = self.store.user_by_login(client.tenant_id, bare).await?;
            }
        }
        // Unknown logins are checked against a fixed hash so both failures take as long.
        let hash = record
            .as_ref()
            .map_or(DUMMY_HASH.to_string(), |r| r.password_hash.clone());
        let ok = verify_password(password.to_string(), hash).await?;
        match record {
            Some(r) if ok => self.issue(&client, Some(&r.user), scopes, true).await,
            _ => Err(ServiceError::Unauthenticated("invalid_grant".into())),
        }
    }

    /// The refresh token grant; each refresh token is used once and replaced.
    pub async fn refresh_grant(
        &self,
        client_id: &str,
        client_secret: &str,
        refresh_token: &str,
    ) -> ServiceResult<IssuedToken> {
        let client = self.check_client(client_id, client_secret).await?;
        let stored = self
            .store
            .take_refresh_token(&hash_secret(refresh_token), &client.client_id)
            .await?;
        let stored = match stored {
            Some(t) if t.client_id == client.client_id && t.expires_at > Utc::now() => t,
            _ => return Err(ServiceError::Unauthenticated("invalid_grant".into())),
        };
        let user_id = stored.user_id.unwrap_or_default();
        let user = self
            .store
            .user_by_id(client.tenant_id, &user_id)
            .await?
            .ok_or_else(|| ServiceError::Unauthenticated("invalid_grant".into()))?;
        let scopes = ScopeSet::parse("scope", &stored.scopes)?;
        self.issue(&client, Some(&user), scopes, true).await
    }

    /// Creates a user who signs in with a password (stored as an argon2id hash).
    pub async fn create_user(
        &self,
        tenant: TenantId,
        id: Option<&str>,
        login: &str,
        password: &str,
        role: Role,
    ) -> ServiceResult<User> {
        if login.is_empty() || login.len() > 128 || login.chars().any(char::is_control) {
            return Err(
                Invalid::new("login", "login must be 1 to 128 printable characters").into(),
            );
        }
        if password.chars().count() < 8 {
            return Err(Invalid::new("password", "password must be at least 8 characters").into());
        }
        let hash = hash_password(password.to_string()).await?;
        if let Some(id) = id {
            callvault_core::interaction::check_identifier("id", id)?;
        }
        Ok(self
            .store
            .create_user(tenant, id, login, &hash, role)
            .await?)
    }

    /// Generates the tenant's API token for HTTP Basic dialects, revoking the previous one.
    pub async fn new_tenant_api_token(&self, tenant: TenantId) -> ServiceResult<String> {
        let token = random_token(TENANT_TOKEN_PREFIX);
        self.store
            .set_tenant_api_token(tenant, &hash_secret(&token))
            .await?;
        Ok(token)
    }

    /// Whether the tenant has an API token for HTTP Basic dialects.
    pub async fn has_tenant_api_token(&self, tenant: TenantId) -> ServiceResult<bool> {
        Ok(self.store.tenant_api_token(tenant).await?.is_some())
    }

    /// HTTP Basic with the tenant name as user and its API token as password. Unknown
    /// tenants and wrong tokens are indistinguishable to the caller.
    pub async fn authenticate_tenant(&self, name: &str, token: &str) -> ServiceResult<Tenant> {
        let denied = || ServiceError::Forbidden("Invalid tenant name or API token".into());
        let presented = hash_secret(token);
        let Some(tenant) = self.store.tenant_by_name(name).await? else {
            // The same second query as for a known tenant, so timing does not tell them apart.
            self.store.tenant_api_token(TenantId(0)).await?;
            return Err(denied());
        };
        match self.store.tenant_api_token(tenant.id).await? {
            Some(stored) if bool::from(stored.ct_eq(&presented)) => Ok(tenant),
            _ => Err(denied()),
        }
    }

    /// Checks a bearer token. The lookup is by hash, so timing reveals nothing about the
    /// stored tokens; the final comparison is constant-time all the same.
    pub async fn authenticate(&self, bearer: &str) -> ServiceResult<Principal> {
        if !bearer.starts_with(TOKEN_PREFIX) || bearer.len() > 128 {
            return Err(ServiceError::Unauthenticated(
                "The access token is invalid".into(),
            ));
        }
        let hash = hash_secret(bearer);
        if let Some((principal, until)) = self.cache().get(&hash) {
            if *until > Instant::now() {
                return Ok(principal.clone());
            }
        }
        let token = self.store.token_by_hash(&hash).await?;
        let token = match token {
            Some(t) if bool::from(t.token_hash.ct_eq(&hash)) => t,
            _ => {
                return Err(ServiceError::Unauthenticated(
                    "The access token is invalid".into(),
                ))
            }
        };
        if token.expires_at <= Utc::now() {
            return Err(ServiceError::Unauthenticated(
                "The access token has expired".into(),
            ));
        }
        let user = match &token.user_id {
            Some(id) => Some(
                self.store
                    .user_by_id(token.tenant_id, id)
                    .await?
                    .ok_or_else(|| {
                        ServiceError::Unauthenticated(
                            "The access token's user no longer exists".into(),
                        )
                    })?,
            ),
            None => None,
        };
        let principal = Principal {
            tenant: token.tenant_id,
            client_id: token.client_id,
            scopes: ScopeSet::parse("scope", &token.scopes)?,
            user,
        };
        let left = (token.expires_at - Utc::now()).to_std().unwrap_or_default();
        let mut cache = self.cache();
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(
            hash,
            (principal.clone(), Instant::now() + left.min(CACHE_TTL)),
        );
        Ok(principal)
    }

    pub(crate) fn cache(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, (Principal, Instant)>> {
        self.checked.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The realms the business-phone vendor appends to user names at sign-in.
pub const SIGN_IN_REALMS: [&str; 1] = ["vbc.prod"];

/// `login` without a trailing `@realm` of [`SIGN_IN_REALMS`], if it has one.
fn without_realm(login: &str) -> Option<&str> {
    let (bare, realm) = login.rsplit_once('@')?;
    (!bare.is_empty() && SIGN_IN_REALMS.contains(&realm)).then_some(bare)
}

/// A valid argon2id hash of a random password nobody knows, checked for unknown logins.
pub(crate) const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3xT0tJ0gqZ0iMSl4sQ1n1Pd7v0d5QnPrxRzzPq2XrG8";

async fn hash_password(password: String) -> ServiceResult<String> {
    let hashed = tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await;
    match hashed {
        Ok(Ok(h)) => Ok(h),
        Ok(Err(e)) => {
            Err(Invalid::new("password", format!("cannot hash the password: {e}")).into())
        }
        Err(e) => Err(Invalid::new("password", format!("cannot hash the password: {e}")).into()),
    }
}

/// Checks a password off the async threads (argon2 is deliberately slow).
pub(crate) async fn verify_password(password: String, hash: String) -> ServiceResult<bool> {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .map_err(|e| ServiceError::Unauthenticated(format!("password check failed: {e}")))
}
