//! Users (agents with credentials) and refresh tokens.

use callvault_core::{TenantId, User};
use sqlx::postgres::PgRow;
use sqlx::Row;

use super::rows::{self, storable, to_us, TOKEN_COLUMNS};
use super::PgStore;
use crate::error::{StoreError, StoreResult};
use crate::meta::{AccessToken, UserRecord};

fn user(row: &PgRow, tenant: TenantId) -> StoreResult<User> {
    Ok(User {
        tenant_id: tenant,
        id: row.try_get("agent_id")?,
        login: row
            .try_get::<Option<String>, _>("login")?
            .unwrap_or_default(),
        is_admin: row.try_get("is_admin")?,
    })
}

impl PgStore {
    /// Locks the tenant's row first, so that user creations in a tenant take turns across
    /// nodes: the login check and the choice of the next free numeric id then hold until
    /// commit.
    pub(super) async fn create_user_impl(
        &self,
        tenant: TenantId,
        id: Option<&str>,
        login: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> StoreResult<User> {
        let login_taken = || StoreError::Conflict(format!("login '{login}' is taken"));
        let mut tx = self.pool.begin().await?;
        // A missing tenant is left to the insert's foreign key, as in SQLite.
        sqlx::query("SELECT 1 FROM tenants WHERE id = $1 FOR NO KEY UPDATE")
            .bind(tenant.0)
            .execute(&mut *tx)
            .await?;
        let taken: Option<String> =
            sqlx::query_scalar("SELECT agent_id FROM agents WHERE tenant_id = $1 AND login = $2")
                .bind(tenant.0)
                .bind(login)
                .fetch_optional(&mut *tx)
                .await?;
        if taken.is_some() {
            return Err(login_taken());
        }
        // The largest all-digit agent id plus one (SQLite's `NOT GLOB '*[^0-9]*'`, where
        // an empty id counts as 0), or 100001 for the first.
        let id = match id {
            Some(id) => id.to_string(),
            None => sqlx::query_scalar::<_, i64>(
                "SELECT (COALESCE(MAX(CASE WHEN agent_id = '' THEN 0 ELSE agent_id::numeric END), \
                 100000) + 1)::bigint FROM agents WHERE tenant_id = $1 AND agent_id ~ '^[0-9]*$'",
            )
            .bind(tenant.0)
            .fetch_one(&mut *tx)
            .await?
            .to_string(),
        };
        let n = sqlx::query(
            "INSERT INTO agents (tenant_id, agent_id, login, password_hash, is_admin) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant_id, agent_id) DO UPDATE SET login = excluded.login, \
             password_hash = excluded.password_hash, is_admin = excluded.is_admin \
             WHERE agents.password_hash IS NULL",
        )
        .bind(tenant.0)
        .bind(&id)
        .bind(login)
        .bind(password_hash)
        .bind(is_admin)
        .execute(&mut *tx)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => login_taken(),
            other => other,
        })?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(format!(
                "user {id} already has a login"
            )));
        }
        tx.commit().await?;
        Ok(User {
            tenant_id: tenant,
            id,
            login: login.into(),
            is_admin,
        })
    }

    pub(super) async fn user_by_login_impl(
        &self,
        tenant: TenantId,
        login: &str,
    ) -> StoreResult<Option<UserRecord>> {
        if !storable(login) {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT agent_id, login, is_admin, password_hash FROM agents \
             WHERE tenant_id = $1 AND login = $2 AND password_hash IS NOT NULL",
        )
        .bind(tenant.0)
        .bind(login)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(UserRecord {
            user: user(&row, tenant)?,
            password_hash: row.try_get("password_hash")?,
        }))
    }

    pub(super) async fn user_by_id_impl(
        &self,
        tenant: TenantId,
        id: &str,
    ) -> StoreResult<Option<User>> {
        if !storable(id) {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT agent_id, login, is_admin FROM agents WHERE tenant_id = $1 AND agent_id = $2 \
             AND password_hash IS NOT NULL",
        )
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(|r| user(r, tenant)).transpose()
    }

    pub(super) async fn insert_refresh_token_impl(&self, t: &AccessToken) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, tenant_id, client_id, user_id, scopes, \
             expires_us) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&t.token_hash)
        .bind(t.tenant_id.0)
        .bind(&t.client_id)
        .bind(t.user_id.as_deref().unwrap_or_default())
        .bind(&t.scopes)
        .bind(to_us(t.expires_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// One statement: of nodes racing for the same token, only the one whose delete
    /// removes the row gets it back.
    pub(super) async fn take_refresh_token_impl(
        &self,
        hash: &[u8],
    ) -> StoreResult<Option<AccessToken>> {
        let sql =
            format!("DELETE FROM refresh_tokens WHERE token_hash = $1 RETURNING {TOKEN_COLUMNS}");
        let row = sqlx::query(&sql)
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::token).transpose()
    }
}
