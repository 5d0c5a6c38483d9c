//! Tenants, API clients, access tokens and named secrets.

use callvault_core::{Tenant, TenantId};
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::rows::{self, from_us, to_us};
use super::SqliteStore;
use crate::error::{StoreError, StoreResult};
use crate::meta::{AccessToken, ApiClient};

fn client(row: &SqliteRow) -> StoreResult<ApiClient> {
    let revoked: Option<i64> = row.try_get("revoked_us")?;
    Ok(ApiClient {
        client_id: row.try_get("client_id")?,
        tenant_id: TenantId(row.try_get("tenant_id")?),
        name: row.try_get("name")?,
        secret_hash: row.try_get("secret_hash")?,
        scopes: row.try_get("scopes")?,
        created_at: from_us(row.try_get("created_us")?),
        revoked_at: revoked.map(from_us),
    })
}

impl SqliteStore {
    pub(super) async fn create_tenant_impl(
        &self,
        name: &str,
        time_zone: &str,
    ) -> StoreResult<Tenant> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO tenants (name, time_zone, created_us) VALUES (?, ?, ?) \
             RETURNING id, name, time_zone, created_us",
        )
        .bind(name)
        .bind(time_zone)
        .bind(to_us(Utc::now()))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("tenant '{name}' already exists"))
            }
            other => other,
        })?;
        let t = rows::tenant(&row)?;
        tx.commit().await?;
        Ok(t)
    }

    pub(super) async fn tenant_where(
        &self,
        clause: &str,
        bind: TenantKey<'_>,
    ) -> StoreResult<Option<Tenant>> {
        let sql = format!("SELECT id, name, time_zone, created_us FROM tenants WHERE {clause}");
        let q = sqlx::query(&sql);
        let q = match bind {
            TenantKey::Name(n) => q.bind(n.to_string()),
            TenantKey::Id(id) => q.bind(id.0),
        };
        q.fetch_optional(&self.reader)
            .await?
            .as_ref()
            .map(rows::tenant)
            .transpose()
    }

    pub(super) async fn list_tenants_impl(&self) -> StoreResult<Vec<Tenant>> {
        let rows = sqlx::query("SELECT id, name, time_zone, created_us FROM tenants ORDER BY id")
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(rows::tenant).collect()
    }

    pub(super) async fn set_tenant_time_zone_impl(
        &self,
        id: TenantId,
        tz: &str,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("UPDATE tenants SET time_zone = ? WHERE id = ?")
            .bind(tz)
            .bind(id.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    pub(super) async fn create_client_impl(&self, c: &ApiClient) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO api_clients (client_id, tenant_id, name, secret_hash, scopes, created_us) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&c.client_id)
        .bind(c.tenant_id.0)
        .bind(&c.name)
        .bind(&c.secret_hash)
        .bind(&c.scopes)
        .bind(to_us(c.created_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn client_by_id_impl(&self, id: &str) -> StoreResult<Option<ApiClient>> {
        let row = sqlx::query("SELECT * FROM api_clients WHERE client_id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(client).transpose()
    }

    pub(super) async fn list_clients_impl(&self, tenant: TenantId) -> StoreResult<Vec<ApiClient>> {
        let rows = sqlx::query("SELECT * FROM api_clients WHERE tenant_id = ? ORDER BY created_us")
            .bind(tenant.0)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(client).collect()
    }

    pub(super) async fn set_client_secret_impl(&self, id: &str, hash: &[u8]) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE api_clients SET secret_hash = ? WHERE client_id = ? AND revoked_us IS NULL",
        )
        .bind(hash)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    pub(super) async fn revoke_client_impl(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE api_clients SET revoked_us = ? WHERE client_id = ? AND revoked_us IS NULL",
        )
        .bind(to_us(Utc::now()))
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        for table in ["access_tokens", "refresh_tokens"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE client_id = ?"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    pub(super) async fn insert_token_impl(&self, t: &AccessToken) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "INSERT INTO access_tokens (token_hash, tenant_id, client_id, user_id, scopes, expires_us) \
             SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM api_clients c \
             WHERE c.client_id = ? AND c.revoked_us IS NULL)",
        )
        .bind(&t.token_hash)
        .bind(t.tenant_id.0)
        .bind(&t.client_id)
        .bind(&t.user_id)
        .bind(&t.scopes)
        .bind(to_us(t.expires_at))
        .bind(&t.client_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "active client {}",
                t.client_id
            )));
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn token_by_hash_impl(&self, hash: &[u8]) -> StoreResult<Option<AccessToken>> {
        let row = sqlx::query(
            "SELECT token_hash, tenant_id, client_id, user_id, scopes, expires_us FROM access_tokens \
             WHERE token_hash = ?",
        )
        .bind(hash)
        .fetch_optional(&self.reader)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(AccessToken {
            token_hash: row.try_get("token_hash")?,
            tenant_id: TenantId(row.try_get("tenant_id")?),
            client_id: row.try_get("client_id")?,
            user_id: row.try_get("user_id")?,
            scopes: row.try_get("scopes")?,
            expires_at: from_us(row.try_get("expires_us")?),
        }))
    }

    pub(super) async fn delete_expired_tokens_impl(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let mut n = 0;
        for table in ["access_tokens", "refresh_tokens"] {
            n += sqlx::query(&format!("DELETE FROM {table} WHERE expires_us < ?"))
                .bind(to_us(now))
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(n)
    }

    pub(super) async fn set_tenant_api_token_impl(
        &self,
        tenant: TenantId,
        hash: &[u8],
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO tenant_api_tokens (tenant_id, token_hash, created_us) VALUES (?, ?, ?) \
             ON CONFLICT (tenant_id) DO UPDATE SET token_hash = excluded.token_hash, \
             created_us = excluded.created_us",
        )
        .bind(tenant.0)
        .bind(hash)
        .bind(to_us(Utc::now()))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn tenant_api_token_impl(
        &self,
        tenant: TenantId,
    ) -> StoreResult<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT token_hash FROM tenant_api_tokens WHERE tenant_id = ?")
                .bind(tenant.0)
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    pub(super) async fn secret_impl(&self, name: &str, init: &[u8]) -> StoreResult<Vec<u8>> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT OR IGNORE INTO settings (name, value) VALUES (?, ?)")
            .bind(name)
            .bind(init)
            .execute(&mut *tx)
            .await?;
        let v: Vec<u8> = sqlx::query_scalar("SELECT value FROM settings WHERE name = ?")
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(v)
    }
}

pub(super) enum TenantKey<'a> {
    Name(&'a str),
    Id(TenantId),
}
