//! Tenants, API clients, access tokens and named secrets.

use callvault_core::{Tenant, TenantId};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::Row;

use super::rows::{self, from_us, storable, to_us, TENANT_COLUMNS, TOKEN_COLUMNS};
use super::PgStore;
use crate::error::{StoreError, StoreResult};
use crate::meta::{AccessToken, ApiClient};

const CLIENT_COLUMNS: &str =
    "client_id, tenant_id, name, secret_hash, scopes, created_us, revoked_us";

fn client(row: &PgRow) -> StoreResult<ApiClient> {
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

impl PgStore {
    /// Inserts only when the name is free, so that a taken name does not use up an id
    /// (ids stay consecutive as in SQLite); a racing insert of the same name still ends
    /// in the unique violation, which is a conflict too.
    pub(super) async fn create_tenant_impl(
        &self,
        name: &str,
        time_zone: &str,
    ) -> StoreResult<Tenant> {
        let conflict = || StoreError::Conflict(format!("tenant '{name}' already exists"));
        let sql = format!(
            "INSERT INTO tenants (name, time_zone, created_us) SELECT $1, $2, $3 \
             WHERE NOT EXISTS (SELECT 1 FROM tenants WHERE name = $1) RETURNING {TENANT_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(name)
            .bind(time_zone)
            .bind(to_us(Utc::now()))
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => conflict(),
                other => other,
            })?
            .ok_or_else(conflict)?;
        rows::tenant(&row)
    }

    pub(super) async fn tenant_by_name_impl(&self, name: &str) -> StoreResult<Option<Tenant>> {
        if !storable(name) {
            return Ok(None);
        }
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE name = $1");
        let row = sqlx::query(&sql)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::tenant).transpose()
    }

    pub(super) async fn tenant_by_id_impl(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::tenant).transpose()
    }

    pub(super) async fn list_tenants_impl(&self) -> StoreResult<Vec<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY id");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(rows::tenant).collect()
    }

    pub(super) async fn set_tenant_time_zone_impl(
        &self,
        id: TenantId,
        tz: &str,
    ) -> StoreResult<bool> {
        let n = sqlx::query("UPDATE tenants SET time_zone = $1 WHERE id = $2")
            .bind(tz)
            .bind(id.0)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    pub(super) async fn create_client_impl(&self, c: &ApiClient) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO api_clients (client_id, tenant_id, name, secret_hash, scopes, created_us) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&c.client_id)
        .bind(c.tenant_id.0)
        .bind(&c.name)
        .bind(&c.secret_hash)
        .bind(&c.scopes)
        .bind(to_us(c.created_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn client_by_id_impl(&self, id: &str) -> StoreResult<Option<ApiClient>> {
        if !storable(id) {
            return Ok(None);
        }
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM api_clients WHERE client_id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(client).transpose()
    }

    /// Oldest first; the client id breaks ties (byte order, as SQLite compares) so that
    /// every node lists them alike.
    pub(super) async fn list_clients_impl(&self, tenant: TenantId) -> StoreResult<Vec<ApiClient>> {
        let sql = format!(
            "SELECT {CLIENT_COLUMNS} FROM api_clients WHERE tenant_id = $1 \
             ORDER BY created_us, client_id COLLATE \"C\""
        );
        let rows = sqlx::query(&sql)
            .bind(tenant.0)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(client).collect()
    }

    pub(super) async fn set_client_secret_impl(&self, id: &str, hash: &[u8]) -> StoreResult<bool> {
        if !storable(id) {
            return Ok(false);
        }
        let n = sqlx::query(
            "UPDATE api_clients SET secret_hash = $1 WHERE client_id = $2 AND revoked_us IS NULL",
        )
        .bind(hash)
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// The revocation locks the client's row, so it waits for any token insert that has
    /// checked the client (see `insert_token_impl`), and then deletes that token too.
    pub(super) async fn revoke_client_impl(&self, id: &str) -> StoreResult<bool> {
        if !storable(id) {
            return Ok(false);
        }
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE api_clients SET revoked_us = $1 WHERE client_id = $2 AND revoked_us IS NULL",
        )
        .bind(to_us(Utc::now()))
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        for table in ["access_tokens", "refresh_tokens"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE client_id = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Checks that the client is active with a share lock on its row: a concurrent
    /// revocation either comes first (and the check fails) or waits for this insert to
    /// commit (and then deletes the token), so no token outlives its client's revocation.
    pub(super) async fn insert_token_impl(&self, t: &AccessToken) -> StoreResult<()> {
        let inactive = || StoreError::NotFound(format!("active client {}", t.client_id));
        if !storable(&t.client_id) {
            return Err(inactive());
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query_scalar::<_, i32>(
            "SELECT 1 FROM api_clients WHERE client_id = $1 AND revoked_us IS NULL FOR SHARE",
        )
        .bind(&t.client_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(inactive)?;
        sqlx::query(
            "INSERT INTO access_tokens (token_hash, tenant_id, client_id, user_id, scopes, \
             expires_us) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&t.token_hash)
        .bind(t.tenant_id.0)
        .bind(&t.client_id)
        .bind(&t.user_id)
        .bind(&t.scopes)
        .bind(to_us(t.expires_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn token_by_hash_impl(&self, hash: &[u8]) -> StoreResult<Option<AccessToken>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE token_hash = $1");
        let row = sqlx::query(&sql)
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::token).transpose()
    }

    pub(super) async fn delete_expired_tokens_impl(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await?;
        let mut n = 0;
        for table in ["access_tokens", "refresh_tokens"] {
            n += sqlx::query(&format!("DELETE FROM {table} WHERE expires_us < $1"))
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
        sqlx::query(
            "INSERT INTO tenant_api_tokens (tenant_id, token_hash, created_us) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id) DO UPDATE SET token_hash = excluded.token_hash, \
             created_us = excluded.created_us",
        )
        .bind(tenant.0)
        .bind(hash)
        .bind(to_us(Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn tenant_api_token_impl(
        &self,
        tenant: TenantId,
    ) -> StoreResult<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT token_hash FROM tenant_api_tokens WHERE tenant_id = $1")
                .bind(tenant.0)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The first node to insert wins; a racing insert waits for it to commit and does
    /// nothing, and the select that follows (a new snapshot) reads the winner's value.
    pub(super) async fn secret_impl(&self, name: &str, init: &[u8]) -> StoreResult<Vec<u8>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(init)
        .execute(&mut *tx)
        .await?;
        let v: Vec<u8> = sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(v)
    }
}
