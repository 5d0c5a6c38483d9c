//! The metadata store's interfaces, one trait per concern, and the values they exchange.
//! [`crate::SqlStore`] implements them all, once, for both databases.

use async_trait::async_trait;
use callvault_core::{
    AuditEvent, ContentItem, DeleteCause, Guid, Interaction, InteractionMeta, InteractionQuery,
    Job, JobKind, JobStatus, Role, Tenant, TenantId, User,
};
use chrono::{DateTime, Utc};

use crate::audit::AuditStore;
use crate::error::StoreResult;
use crate::export::ExportStore;
use crate::governance::GovernanceStore;
use crate::lease::LeaseStore;
use crate::locks::KeyGuard;
use crate::transcription::{Derived, TranscriptionStore};
use crate::webhook::WebhookStore;

pub use callvault_core::query::{PageStart, SearchCursor};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClient {
    pub client_id: String,
    pub tenant_id: TenantId,
    pub name: String,
    pub secret_hash: Vec<u8>,
    pub scopes: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// An access or refresh token as stored: only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub token_hash: Vec<u8>,
    pub tenant_id: TenantId,
    pub client_id: String,
    /// The user a password-grant token acts for; `None` for client credentials.
    pub user_id: Option<String>,
    pub scopes: String,
    pub expires_at: DateTime<Utc>,
}

/// A user with the hash to check a password against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub user: User,
    /// PHC string (argon2id).
    pub password_hash: String,
}

/// Result of storing a content item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutContentOutcome {
    pub created: bool,
    /// A blob the replaced item used that no item references any more.
    pub released_blob: Option<String>,
}

/// Result of removing content: the removed items and the blobs nothing references now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    pub items: Vec<ContentItem>,
    pub released_blobs: Vec<String>,
}

/// One deletion of a retention batch: the interaction whole (`key` `None`) or one item,
/// with the record that commits with it.
#[derive(Debug, Clone)]
pub struct Expiring {
    pub guid: Guid,
    pub key: Option<String>,
    pub audit: AuditEvent,
}

/// Tenants and their settings.
#[async_trait]
pub trait TenantStore: Send + Sync + 'static {
    async fn create_tenant(&self, name: &str, time_zone: &str) -> StoreResult<Tenant>;
    async fn tenant_by_name(&self, name: &str) -> StoreResult<Option<Tenant>>;
    async fn tenant_by_id(&self, id: TenantId) -> StoreResult<Option<Tenant>>;
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>>;
    /// Answers whether the tenant exists.
    async fn set_tenant_time_zone(&self, id: TenantId, time_zone: &str) -> StoreResult<bool>;
    /// Replaces the tenant's API token (a new token revokes the old one).
    async fn set_tenant_api_token(&self, tenant: TenantId, token_hash: &[u8]) -> StoreResult<()>;
    async fn tenant_api_token(&self, tenant: TenantId) -> StoreResult<Option<Vec<u8>>>;
    /// A persistent named secret, created from `init` on first use. Shared by every node
    /// on the same database, so continuation tokens verify on any of them.
    async fn secret(&self, name: &str, init: &[u8]) -> StoreResult<Vec<u8>>;
    /// Cheap liveness check for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;
}

/// API clients and the access and refresh tokens issued to them.
#[async_trait]
pub trait ClientStore: Send + Sync + 'static {
    async fn create_client(&self, client: &ApiClient) -> StoreResult<()>;
    async fn client_by_id(&self, client_id: &str) -> StoreResult<Option<ApiClient>>;
    async fn list_clients(&self, tenant: TenantId) -> StoreResult<Vec<ApiClient>>;
    async fn set_client_secret(&self, client_id: &str, secret_hash: &[u8]) -> StoreResult<bool>;
    /// Revokes a client and every token issued to it.
    async fn revoke_client(&self, client_id: &str) -> StoreResult<bool>;

    async fn insert_token(&self, token: &AccessToken) -> StoreResult<()>;
    async fn token_by_hash(&self, token_hash: &[u8]) -> StoreResult<Option<AccessToken>>;
    /// Removes one access token (a sign-out); whether it existed.
    async fn delete_token(&self, token_hash: &[u8]) -> StoreResult<bool>;
    async fn delete_expired_tokens(&self, now: DateTime<Utc>) -> StoreResult<u64>;

    async fn insert_refresh_token(&self, token: &AccessToken) -> StoreResult<()>;
    /// Removes and answers a refresh token of `client_id`, so that each is used once; a
    /// token of another client is left alone (presenting it must not burn it).
    async fn take_refresh_token(
        &self,
        token_hash: &[u8],
        client_id: &str,
    ) -> StoreResult<Option<AccessToken>>;
}

/// Users: agents who sign in with a login and password.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Gives an agent (`id`, created if new; the next free numeric id when `None`) a login
    /// and password. `Conflict` if the login is taken or the agent already has one.
    async fn create_user(
        &self,
        tenant: TenantId,
        id: Option<&str>,
        login: &str,
        password_hash: &str,
        role: Role,
    ) -> StoreResult<User>;
    async fn user_by_login(&self, tenant: TenantId, login: &str)
        -> StoreResult<Option<UserRecord>>;
    async fn user_by_id(&self, tenant: TenantId, id: &str) -> StoreResult<Option<User>>;
    /// The tenant's users (agents with a login; not agents only named by interactions),
    /// by login, bytewise.
    async fn list_users(&self, tenant: TenantId) -> StoreResult<Vec<User>>;
}

/// Interactions and their lookups.
#[async_trait]
pub trait InteractionStore: Send + Sync + 'static {
    /// Creates or updates an interaction by GUID; answers it and whether it was created.
    async fn upsert_interaction(
        &self,
        tenant: TenantId,
        meta: &InteractionMeta,
    ) -> StoreResult<(Interaction, bool)>;
    async fn get_interaction(
        &self,
        tenant: TenantId,
        guid: &Guid,
    ) -> StoreResult<Option<Interaction>>;
    /// The interaction with a per-tenant sequence number, for dialects with integer ids.
    async fn interaction_by_number(
        &self,
        tenant: TenantId,
        number: i64,
    ) -> StoreResult<Option<Interaction>>;
    /// Interactions by store id, within a tenant, with their content, in id order.
    async fn interactions_by_ids(
        &self,
        tenant: TenantId,
        ids: &[i64],
    ) -> StoreResult<Vec<Interaction>>;
}

/// Search and count over a tenant's interactions with content.
#[async_trait]
pub trait SearchStore: Send + Sync + 'static {
    /// Interactions matching the query, ordered by `(start, id)`.
    async fn search(
        &self,
        tenant: TenantId,
        query: &InteractionQuery,
        page: PageStart,
        limit: u32,
    ) -> StoreResult<Vec<Interaction>>;
    async fn count(&self, tenant: TenantId, query: &InteractionQuery) -> StoreResult<u64>;
}

/// Content items, each write in one transaction with its interaction's content count.
#[async_trait]
pub trait ContentStore: Send + Sync + 'static {
    /// Stores a content item of an existing interaction, replacing one with the same key,
    /// with what is derived from it (its text index rows, its transcription job), in one
    /// transaction. Storing a transcript settles the interaction's job as ready.
    /// Answers `None` when the interaction does not exist.
    async fn put_content_derived(
        &self,
        tenant: TenantId,
        guid: &Guid,
        item: &ContentItem,
        derived: &Derived,
    ) -> StoreResult<Option<PutContentOutcome>>;
    /// Creates or updates an interaction and stores a content item of it in one
    /// transaction, for a client that sends both in one request: it sees both or neither.
    /// Answers the interaction with its content, whether it was created, and the item's
    /// outcome.
    async fn upsert_with_content(
        &self,
        tenant: TenantId,
        meta: &InteractionMeta,
        item: &ContentItem,
        derived: &Derived,
    ) -> StoreResult<(Interaction, bool, PutContentOutcome)>;
    /// [`ContentStore::put_content_derived`] with nothing derived.
    async fn put_content(
        &self,
        tenant: TenantId,
        guid: &Guid,
        item: &ContentItem,
    ) -> StoreResult<Option<PutContentOutcome>> {
        self.put_content_derived(tenant, guid, item, &Derived::default())
            .await
    }
    async fn delete_content(
        &self,
        tenant: TenantId,
        guid: &Guid,
        key: &str,
        cause: DeleteCause,
        audit: &AuditEvent,
    ) -> StoreResult<Option<Removed>>;
    /// Both deletes obey the tenant's legal holds and retention policies, decided inside
    /// the delete's transaction (`StoreError::Refused` says why not), and append `audit`
    /// to the audit trail in that same transaction.
    async fn delete_interaction(
        &self,
        tenant: TenantId,
        guid: &Guid,
        cause: DeleteCause,
        audit: &AuditEvent,
    ) -> StoreResult<Option<Removed>>;

    /// Retention's deletions, in one transaction, each through the delete gate with cause
    /// `Retention`: per entry what was removed (`None`: already gone), or why not.
    async fn delete_expired(
        &self,
        tenant: TenantId,
        batch: &[Expiring],
    ) -> StoreResult<Vec<Result<Option<Removed>, callvault_core::Refusal>>>;

    /// Whether any content item references the blob.
    async fn blob_referenced(&self, blob_key: &str) -> StoreResult<bool>;
    /// Held while a blob is committed and referenced, or checked and removed.
    async fn lock_blob(&self, blob_key: &str) -> KeyGuard;
}

/// Bulk-export jobs of the Call Recording API and their frozen item lists.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    async fn create_job(&self, job: &Job) -> StoreResult<()>;
    async fn job(&self, tenant: TenantId, id: &str) -> StoreResult<Option<Job>>;
    /// A creator's jobs of some kinds, newest first, with the total.
    async fn list_jobs(
        &self,
        tenant: TenantId,
        kinds: &[JobKind],
        owner: &str,
        status: Option<JobStatus>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<(u64, Vec<Job>)>;
    /// Takes the oldest pending job, or one whose runner's lease lapsed, and leases it.
    async fn claim_job(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<Job>>;
    /// Drops a job's items, so that a re-run starts clean.
    async fn reset_job_items(&self, id: &str) -> StoreResult<()>;
    /// Appends items and records progress, extending the lease.
    async fn add_job_items(
        &self,
        id: &str,
        first_seq: u64,
        interaction_ids: &[i64],
        files_total: u64,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn finish_job(
        &self,
        id: &str,
        status: JobStatus,
        error: Option<&str>,
        valid_until: Option<DateTime<Utc>>,
    ) -> StoreResult<()>;
    /// A page of a job's items in order: `(seq, interaction id)`.
    async fn job_items(&self, id: &str, after_seq: i64, limit: u32)
        -> StoreResult<Vec<(i64, i64)>>;
    /// Marks complete jobs past their validity expired and drops their items.
    async fn expire_jobs(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

/// Everything the services need of the metadata store.
pub trait Store:
    TenantStore
    + ClientStore
    + UserStore
    + InteractionStore
    + SearchStore
    + ContentStore
    + JobStore
    + ExportStore
    + GovernanceStore
    + AuditStore
    + LeaseStore
    + TranscriptionStore
    + WebhookStore
{
}

impl<T> Store for T where
    T: TenantStore
        + ClientStore
        + UserStore
        + InteractionStore
        + SearchStore
        + ContentStore
        + JobStore
        + ExportStore
        + GovernanceStore
        + AuditStore
        + LeaseStore
        + TranscriptionStore
        + WebhookStore
{
}
