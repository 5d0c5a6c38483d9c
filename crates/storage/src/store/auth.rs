//! API clients, their access tokens, and refresh tokens.

use async_trait::async_trait;
use callvault_core::TenantId;
use chrono::{DateTime, Utc};

use super::decode::{client, token, CLIENT_COLUMNS, TOKEN_COLUMNS};
use super::SqlStore;
use crate::error::{StoreError, StoreResult};
use crate::meta::{AccessToken, ApiClient, ClientStore};
use crate::sql::{Lock, Query};

/// The tables that hold tokens issued to a client.
const TOKEN_TABLES: [&str; 2] = ["access_tokens", "refresh_tokens"];

#[async_trait]
impl ClientStore for SqlStore {
    async fn create_client(&self, c: &ApiClient) -> StoreResult<()> {
        let q = Query::new(
            "INSERT INTO api_clients (client_id, tenant_id, name, secret_hash, scopes, created_us) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&c.client_id)
        .bind(c.tenant_id.0)
        .bind(&c.name)
        .bind(&c.secret_hash)
        .bind(&c.scopes)
        .bind(c.created_at);
        self.execute(q).await.map(drop)
    }

    async fn client_by_id(&self, client_id: &str) -> StoreResult<Option<ApiClient>> {
        let q = Query::new(format!(
            "SELECT {CLIENT_COLUMNS} FROM api_clients WHERE client_id = $1"
        ));
        self.fetch_optional(q.bind(client_id))
            .await?
            .map(client)
            .transpose()
    }

    /// Oldest first; the client id breaks ties bytewise, so every node lists them alike.
    async fn list_clients(&self, tenant: TenantId) -> StoreResult<Vec<ApiClient>> {
        let q = Query::new(format!(
            "SELECT {CLIENT_COLUMNS} FROM api_clients WHERE tenant_id = $1 \
             ORDER BY created_us, client_id{}",
            self.dialect.bytewise()
        ));
        self.fetch(q.bind(tenant.0))
            .await?
            .into_iter()
            .map(client)
            .collect()
    }

    async fn set_client_secret(&self, client_id: &str, secret_hash: &[u8]) -> StoreResult<bool> {
        let q = Query::new(
            "UPDATE api_clients SET secret_hash = $1 WHERE client_id = $2 AND revoked_us IS NULL",
        )
        .bind(secret_hash)
        .bind(client_id);
        Ok(self.execute(q).await? == 1)
    }

    /// The revocation locks the client's row, so it waits for any token insert that has
    /// checked the client (see `insert_token`), and then deletes that token too.
    async fn revoke_client(&self, client_id: &str) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        let n = tx
            .execute(
                Query::new(
                    "UPDATE api_clients SET revoked_us = $1 WHERE client_id = $2 \
                     AND revoked_us IS NULL",
                )
                .bind(Utc::now())
                .bind(client_id),
            )
            .await?;
        for table in TOKEN_TABLES {
            let q = Query::new(format!("DELETE FROM {table} WHERE client_id = $1"));
            tx.execute(q.bind(client_id)).await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Checks that the client is active, holding its row: a concurrent revocation either
    /// comes first (and the check fails) or waits for this insert to commit (and then
    /// deletes the token), so no token outlives its client's revocation.
    async fn insert_token(&self, t: &AccessToken) -> StoreResult<()> {
        let mut tx = self.write().await?;
        let active = tx
            .fetch_optional(
                Query::new(format!(
                    "SELECT 1 FROM api_clients WHERE client_id = $1 AND revoked_us IS NULL{}",
                    self.dialect.lock(Lock::Share)
                ))
                .bind(&t.client_id),
            )
            .await?;
        if active.is_none() {
            return Err(StoreError::NotFound(format!(
                "active client {}",
                t.client_id
            )));
        }
        tx.execute(insert_token_query("access_tokens", t, t.user_id.as_deref()))
            .await?;
        tx.commit().await
    }

    async fn token_by_hash(&self, token_hash: &[u8]) -> StoreResult<Option<AccessToken>> {
        let q = Query::new(format!(
            "SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE token_hash = $1"
        ));
        self.fetch_optional(q.bind(token_hash))
            .await?
            .map(token)
            .transpose()
    }

    async fn delete_token(&self, token_hash: &[u8]) -> StoreResult<bool> {
        let q = Query::new("DELETE FROM access_tokens WHERE token_hash = $1");
        Ok(self.execute(q.bind(token_hash)).await? == 1)
    }

    async fn delete_expired_tokens(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let mut tx = self.write().await?;
        let mut n = 0;
        for table in TOKEN_TABLES {
            let q = Query::new(format!("DELETE FROM {table} WHERE expires_us < $1"));
            n += tx.execute(q.bind(now)).await?;
        }
        tx.commit().await?;
        Ok(n)
    }

    async fn insert_refresh_token(&self, t: &AccessToken) -> StoreResult<()> {
        let user = t.user_id.as_deref().unwrap_or_default();
        self.execute(insert_token_query("refresh_tokens", t, Some(user)))
            .await
            .map(drop)
    }

    /// One statement: of nodes racing for the same token, only the one whose delete
    /// removes the row gets it back.
    async fn take_refresh_token(
        &self,
        token_hash: &[u8],
        client_id: &str,
    ) -> StoreResult<Option<AccessToken>> {
        let q = Query::new(format!(
            "DELETE FROM refresh_tokens WHERE token_hash = $1 AND client_id = $2 \
             RETURNING {TOKEN_COLUMNS}"
        ));
        self.write_fetch(q.bind(token_hash).bind(client_id))
            .await?
            .into_iter()
            .next()
            .map(token)
            .transpose()
    }
}

fn insert_token_query(table: &str, t: &AccessToken, user: Option<&str>) -> Query {
    Query::new(format!(
        "INSERT INTO {table} (token_hash, tenant_id, client_id, user_id, scopes, expires_us) \
         VALUES ($1, $2, $3, $4, $5, $6)"
    ))
    .bind(&t.token_hash)
    .bind(t.tenant_id.0)
    .bind(&t.client_id)
    .bind(user)
    .bind(&t.scopes)
    .bind(t.expires_at)
}
