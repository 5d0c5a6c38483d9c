//! Users (agents with credentials) and refresh tokens.

use callvault_core::{TenantId, User};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::rows::{from_us, to_us};
use super::SqliteStore;
use crate::error::{StoreError, StoreResult};
use crate::meta::{AccessToken, UserRecord};

fn user(row: &SqliteRow, tenant: TenantId) -> StoreResult<User> {
    Ok(User {
        tenant_id: tenant,
        id: row.try_get("agent_id")?,
        login: row
            .try_get::<Option<String>, _>("login")?
            .unwrap_or_default(),
        is_admin: row.try_get::<i64, _>("is_admin")? != 0,
    })
}

impl SqliteStore {
    pub(super) async fn create_user_impl(
        &self,
        tenant: TenantId,
        id: Option<&str>,
        login: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> StoreResult<User> {
        let mut tx = self.begin_write().await?;
        let taken: Option<String> =
            sqlx::query_scalar("SELECT agent_id FROM agents WHERE tenant_id = ? AND login = ?")
                .bind(tenant.0)
                .bind(login)
                .fetch_optional(&mut *tx)
                .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!("login '{login}' is taken")));
        }
        let id = match id {
            Some(id) => id.to_string(),
            None => sqlx::query_scalar::<_, i64>(
                "SELECT COALESCE(MAX(CAST(agent_id AS INTEGER)), 100000) + 1 FROM agents \
                 WHERE tenant_id = ? AND agent_id NOT GLOB '*[^0-9]*'",
            )
            .bind(tenant.0)
            .fetch_one(&mut *tx)
            .await?
            .to_string(),
        };
        let n = sqlx::query(
            "INSERT INTO agents (tenant_id, agent_id, login, password_hash, is_admin) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (tenant_id, agent_id) DO UPDATE SET login = excluded.login, \
             password_hash = excluded.password_hash, is_admin = excluded.is_admin \
             WHERE agents.password_hash IS NULL",
        )
        .bind(tenant.0)
        .bind(&id)
        .bind(login)
        .bind(password_hash)
        .bind(i64::from(is_admin))
        .execute(&mut *tx)
        .await?
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
        let row = sqlx::query(
            "SELECT agent_id, login, is_admin, password_hash FROM agents \
             WHERE tenant_id = ? AND login = ? AND password_hash IS NOT NULL",
        )
        .bind(tenant.0)
        .bind(login)
        .fetch_optional(&self.reader)
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
        let row = sqlx::query(
            "SELECT agent_id, login, is_admin FROM agents WHERE tenant_id = ? AND agent_id = ? \
             AND password_hash IS NOT NULL",
        )
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(|r| user(r, tenant)).transpose()
    }

    pub(super) async fn insert_refresh_token_impl(&self, t: &AccessToken) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, tenant_id, client_id, user_id, scopes, expires_us) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&t.token_hash)
        .bind(t.tenant_id.0)
        .bind(&t.client_id)
        .bind(t.user_id.as_deref().unwrap_or_default())
        .bind(&t.scopes)
        .bind(to_us(t.expires_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn take_refresh_token_impl(
        &self,
        hash: &[u8],
    ) -> StoreResult<Option<AccessToken>> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "DELETE FROM refresh_tokens WHERE token_hash = ? \
             RETURNING token_hash, tenant_id, client_id, user_id, scopes, expires_us",
        )
        .bind(hash)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(AccessToken {
            token_hash: row.try_get("token_hash")?,
            tenant_id: TenantId(row.try_get("tenant_id")?),
            client_id: row.try_get("client_id")?,
            user_id: Some(row.try_get("user_id")?),
            scopes: row.try_get("scopes")?,
            expires_at: from_us(row.try_get("expires_us")?),
        }))
    }
}
