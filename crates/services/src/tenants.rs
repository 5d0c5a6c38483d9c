//! Tenant administration (the CLI's `tenant` and `client list` commands, demo setup, the
//! console's administration pages) and the named leases that keep singleton background
//! work on one node.

use callvault_core::tenant::{validate_tenant_name, validate_time_zone};
use callvault_core::{Tenant, TenantId, User};
use callvault_storage::meta::ApiClient;
use chrono::{DateTime, Utc};

use crate::error::ServiceResult;
use crate::Vault;

impl Vault {
    /// Creates a tenant after checking its name and IANA time zone.
    pub async fn create_tenant(&self, name: &str, time_zone: &str) -> ServiceResult<Tenant> {
        validate_tenant_name(name)?;
        validate_time_zone(time_zone)?;
        Ok(self.store.create_tenant(name, time_zone).await?)
    }

    pub async fn tenant_by_name(&self, name: &str) -> ServiceResult<Option<Tenant>> {
        Ok(self.store.tenant_by_name(name).await?)
    }

    pub async fn list_tenants(&self) -> ServiceResult<Vec<Tenant>> {
        Ok(self.store.list_tenants().await?)
    }

    /// Answers whether the tenant exists.
    pub async fn set_tenant_time_zone(&self, id: TenantId, time_zone: &str) -> ServiceResult<bool> {
        validate_time_zone(time_zone)?;
        Ok(self.store.set_tenant_time_zone(id, time_zone).await?)
    }

    /// The tenant's API clients, oldest first (secrets only as hashes).
    pub async fn list_clients(&self, tenant: TenantId) -> ServiceResult<Vec<ApiClient>> {
        Ok(self.store.list_clients(tenant).await?)
    }

    /// The tenant's users (those with a login), by login.
    pub async fn list_users(&self, tenant: TenantId) -> ServiceResult<Vec<User>> {
        Ok(self.store.list_users(tenant).await?)
    }

    /// Takes or renews the lease `name` for `holder` until `until`; answers whether the
    /// holder has it now.
    pub async fn hold_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> ServiceResult<bool> {
        Ok(self.store.try_lease(name, holder, now, until).await?)
    }
}
