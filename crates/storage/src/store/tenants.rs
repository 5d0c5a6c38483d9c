//! Tenants, their API tokens and named secrets.

use async_trait::async_trait;
use callvault_core::{Tenant, TenantId};
use chrono::Utc;

use super::decode::{tenant, TENANT_COLUMNS};
use super::SqlStore;
use crate::error::{StoreError, StoreResult};
use crate::meta::TenantStore;
use crate::sql::Query;

#[async_trait]
impl TenantStore for SqlStore {
    /// Inserts only when the name is free, so that a taken name does not use up an id; a
    /// racing insert of the same name still ends in the unique violation, a conflict too.
    async fn create_tenant(&self, name: &str, time_zone: &str) -> StoreResult<Tenant> {
        let conflict = || StoreError::Conflict(format!("tenant '{name}' already exists"));
        let q = Query::new(format!(
            "INSERT INTO tenants (name, time_zone, created_us) SELECT $1, $2, $3 \
             WHERE NOT EXISTS (SELECT 1 FROM tenants WHERE name = $1) RETURNING {TENANT_COLUMNS}"
        ))
        .bind(name)
        .bind(time_zone)
        .bind(Utc::now());
        let row = self
            .write_fetch(q)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => conflict(),
                other => other,
            })?
            .into_iter()
            .next()
            .ok_or_else(conflict)?;
        tenant(row)
    }

    async fn tenant_by_name(&self, name: &str) -> StoreResult<Option<Tenant>> {
        let q = Query::new(format!(
            "SELECT {TENANT_COLUMNS} FROM tenants WHERE name = $1"
        ));
        self.fetch_optional(q.bind(name))
            .await?
            .map(tenant)
            .transpose()
    }

    async fn tenant_by_id(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        let q = Query::new(format!(
            "SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1"
        ));
        self.fetch_optional(q.bind(id.0))
            .await?
            .map(tenant)
            .transpose()
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        let q = Query::new(format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY id"));
        self.fetch(q).await?.into_iter().map(tenant).collect()
    }

    async fn set_tenant_time_zone(&self, id: TenantId, time_zone: &str) -> StoreResult<bool> {
        let q = Query::new("UPDATE tenants SET time_zone = $1 WHERE id = $2")
            .bind(time_zone)
            .bind(id.0);
        Ok(self.execute(q).await? == 1)
    }

    async fn set_tenant_api_token(&self, tenant: TenantId, token_hash: &[u8]) -> StoreResult<()> {
        let q = Query::new(
            "INSERT INTO tenant_api_tokens (tenant_id, token_hash, created_us) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id) DO UPDATE SET token_hash = excluded.token_hash, \
             created_us = excluded.created_us",
        )
        .bind(tenant.0)
        .bind(token_hash)
        .bind(Utc::now());
        self.execute(q).await.map(drop)
    }

    async fn tenant_api_token(&self, tenant: TenantId) -> StoreResult<Option<Vec<u8>>> {
        let q = Query::new("SELECT token_hash FROM tenant_api_tokens WHERE tenant_id = $1")
            .bind(tenant.0);
        self.fetch_optional(q)
            .await?
            .map(|r| r.cols().bytes())
            .transpose()
    }

    /// The first node to insert wins; a racing insert waits for it to commit and does
    /// nothing, and the select that follows (a new snapshot) reads the winner's value.
    async fn secret(&self, name: &str, init: &[u8]) -> StoreResult<Vec<u8>> {
        let mut tx = self.write().await?;
        tx.execute(
            Query::new(
                "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(init),
        )
        .await?;
        let v = tx
            .fetch_one(Query::new("SELECT value FROM settings WHERE name = $1").bind(name))
            .await?
            .cols()
            .bytes()?;
        tx.commit().await?;
        Ok(v)
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read()
            .await?
            .scalar_i64(Query::new("SELECT 1"))
            .await
            .map(drop)
    }
}
