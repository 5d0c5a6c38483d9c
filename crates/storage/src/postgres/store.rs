//! `MetadataStore` for PostgreSQL: the trait surface, delegating to the per-concern modules.

use async_trait::async_trait;
use callvault_core::{
    ContentItem, Guid, Interaction, InteractionMeta, InteractionQuery, Job, JobStatus, Tenant,
    TenantId, User,
};
use chrono::{DateTime, Utc};

use super::PgStore;
use crate::error::StoreResult;
use crate::locks::KeyGuard;
use crate::meta::{
    AccessToken, ApiClient, MetadataStore, PageStart, PutContentOutcome, Removed, UserRecord,
};

#[async_trait]
impl MetadataStore for PgStore {
    async fn create_tenant(&self, name: &str, time_zone: &str) -> StoreResult<Tenant> {
        self.create_tenant_impl(name, time_zone).await
    }
    async fn tenant_by_name(&self, name: &str) -> StoreResult<Option<Tenant>> {
        self.tenant_by_name_impl(name).await
    }
    async fn tenant_by_id(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        self.tenant_by_id_impl(id).await
    }
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        self.list_tenants_impl().await
    }
    async fn set_tenant_time_zone(&self, id: TenantId, time_zone: &str) -> StoreResult<bool> {
        self.set_tenant_time_zone_impl(id, time_zone).await
    }
    async fn upsert_interaction(
        &self,
        tenant: TenantId,
        meta: &InteractionMeta,
    ) -> StoreResult<(Interaction, bool)> {
        self.upsert_interaction_impl(tenant, meta).await
    }
    async fn get_interaction(
        &self,
        tenant: TenantId,
        guid: &Guid,
    ) -> StoreResult<Option<Interaction>> {
        self.get_interaction_impl(tenant, guid).await
    }
    async fn search(
        &self,
        tenant: TenantId,
        query: &InteractionQuery,
        page: PageStart,
        limit: u32,
    ) -> StoreResult<Vec<Interaction>> {
        self.search_impl(tenant, query, page, limit).await
    }
    async fn count(&self, tenant: TenantId, query: &InteractionQuery) -> StoreResult<u64> {
        self.count_impl(tenant, query).await
    }
    async fn interaction_by_number(
        &self,
        tenant: TenantId,
        number: i64,
    ) -> StoreResult<Option<Interaction>> {
        self.by_number_impl(tenant, number).await
    }
    async fn put_content(
        &self,
        tenant: TenantId,
        guid: &Guid,
        item: &ContentItem,
    ) -> StoreResult<Option<PutContentOutcome>> {
        self.put_content_impl(tenant, guid, item).await
    }
    async fn delete_content(
        &self,
        tenant: TenantId,
        guid: &Guid,
        key: &str,
    ) -> StoreResult<Option<Removed>> {
        self.delete_content_impl(tenant, guid, key).await
    }
    async fn delete_interaction(
        &self,
        tenant: TenantId,
        guid: &Guid,
    ) -> StoreResult<Option<Removed>> {
        self.delete_interaction_impl(tenant, guid).await
    }
    async fn blob_referenced(&self, blob_key: &str) -> StoreResult<bool> {
        self.blob_referenced_impl(blob_key).await
    }
    async fn lock_blob(&self, blob_key: &str) -> KeyGuard {
        self.locks.lock(blob_key).await
    }
    async fn create_client(&self, client: &ApiClient) -> StoreResult<()> {
        self.create_client_impl(client).await
    }
    async fn client_by_id(&self, client_id: &str) -> StoreResult<Option<ApiClient>> {
        self.client_by_id_impl(client_id).await
    }
    async fn list_clients(&self, tenant: TenantId) -> StoreResult<Vec<ApiClient>> {
        self.list_clients_impl(tenant).await
    }
    async fn set_client_secret(&self, client_id: &str, secret_hash: &[u8]) -> StoreResult<bool> {
        self.set_client_secret_impl(client_id, secret_hash).await
    }
    async fn revoke_client(&self, client_id: &str) -> StoreResult<bool> {
        self.revoke_client_impl(client_id).await
    }
    async fn insert_token(&self, token: &AccessToken) -> StoreResult<()> {
        self.insert_token_impl(token).await
    }
    async fn token_by_hash(&self, token_hash: &[u8]) -> StoreResult<Option<AccessToken>> {
        self.token_by_hash_impl(token_hash).await
    }
    async fn create_user(
        &self,
        tenant: TenantId,
        id: Option<&str>,
        login: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> StoreResult<User> {
        self.create_user_impl(tenant, id, login, password_hash, is_admin)
            .await
    }
    async fn user_by_login(
        &self,
        tenant: TenantId,
        login: &str,
    ) -> StoreResult<Option<UserRecord>> {
        self.user_by_login_impl(tenant, login).await
    }
    async fn user_by_id(&self, tenant: TenantId, id: &str) -> StoreResult<Option<User>> {
        self.user_by_id_impl(tenant, id).await
    }
    async fn insert_refresh_token(&self, token: &AccessToken) -> StoreResult<()> {
        self.insert_refresh_token_impl(token).await
    }
    async fn take_refresh_token(&self, token_hash: &[u8]) -> StoreResult<Option<AccessToken>> {
        self.take_refresh_token_impl(token_hash).await
    }
    async fn delete_expired_tokens(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.delete_expired_tokens_impl(now).await
    }
    async fn set_tenant_api_token(&self, tenant: TenantId, token_hash: &[u8]) -> StoreResult<()> {
        self.set_tenant_api_token_impl(tenant, token_hash).await
    }
    async fn tenant_api_token(&self, tenant: TenantId) -> StoreResult<Option<Vec<u8>>> {
        self.tenant_api_token_impl(tenant).await
    }
    async fn create_job(&self, job: &Job) -> StoreResult<()> {
        self.create_job_impl(job).await
    }
    async fn job(&self, tenant: TenantId, id: &str) -> StoreResult<Option<Job>> {
        self.job_impl(tenant, id).await
    }
    async fn list_jobs(
        &self,
        tenant: TenantId,
        kinds: &[&str],
        owner: &str,
        status: Option<JobStatus>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<(u64, Vec<Job>)> {
        self.list_jobs_impl(tenant, kinds, owner, status, offset, limit)
            .await
    }
    async fn claim_job(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<Job>> {
        self.claim_job_impl(now, lease_until).await
    }
    async fn reset_job_items(&self, id: &str) -> StoreResult<()> {
        self.reset_job_items_impl(id).await
    }
    async fn add_job_items(
        &self,
        id: &str,
        first_seq: u64,
        interaction_ids: &[i64],
        files_total: u64,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.add_job_items_impl(id, first_seq, interaction_ids, files_total, lease_until)
            .await
    }
    async fn finish_job(
        &self,
        id: &str,
        status: JobStatus,
        error: Option<&str>,
        valid_until: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        self.finish_job_impl(id, status, error, valid_until).await
    }
    async fn job_items(
        &self,
        id: &str,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<(i64, i64)>> {
        self.job_items_impl(id, after_seq, limit).await
    }
    async fn interactions_by_ids(
        &self,
        tenant: TenantId,
        ids: &[i64],
    ) -> StoreResult<Vec<Interaction>> {
        self.interactions_by_ids_impl(tenant, ids).await
    }
    async fn expire_jobs(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.expire_jobs_impl(now).await
    }
    async fn secret(&self, name: &str, init: &[u8]) -> StoreResult<Vec<u8>> {
        self.secret_impl(name, init).await
    }
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
