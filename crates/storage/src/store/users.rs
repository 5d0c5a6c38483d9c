//! Users: agents of a tenant who sign in with a login and password.

use async_trait::async_trait;
use callvault_core::{Role, TenantId, User};

use super::SqlStore;
use crate::error::{StoreError, StoreResult};
use crate::meta::{UserRecord, UserStore};
use crate::sql::{Lock, Query, Row};

fn user(row: Row, tenant: TenantId) -> StoreResult<(User, Option<String>)> {
    let mut c = row.cols();
    let (id, login, role) = (c.text()?, c.opt_text()?, c.text()?);
    let role = Role::parse("role", &role)
        .map_err(|_| StoreError::backend(format!("stored role {role:?} is unreadable")))?;
    let user = User {
        tenant_id: tenant,
        id,
        login: login.unwrap_or_default(),
        role,
    };
    Ok((user, c.opt_text()?))
}

#[async_trait]
impl UserStore for SqlStore {
    /// Holds the tenant's row first, so that user creations in a tenant take turns across
    /// nodes: the login check and the choice of the next free numeric id then hold until
    /// commit (on SQLite the one writer gives the same).
    async fn create_user(
        &self,
        tenant: TenantId,
        id: Option<&str>,
        login: &str,
        password_hash: &str,
        role: Role,
    ) -> StoreResult<User> {
        let login_taken = || StoreError::Conflict(format!("login '{login}' is taken"));
        let mut tx = self.write().await?;
        // A missing tenant is left to the insert's foreign key.
        let lock = format!(
            "SELECT 1 FROM tenants WHERE id = $1{}",
            self.dialect.lock(Lock::NoKeyUpdate)
        );
        tx.fetch(Query::new(lock).bind(tenant.0)).await?;
        let taken = tx
            .fetch_optional(
                Query::new("SELECT agent_id FROM agents WHERE tenant_id = $1 AND login = $2")
                    .bind(tenant.0)
                    .bind(login),
            )
            .await?;
        if taken.is_some() {
            return Err(login_taken());
        }
        let id = match id {
            Some(id) => id.to_string(),
            None => tx
                .scalar_i64(Query::new(self.dialect.next_agent_id_sql()).bind(tenant.0))
                .await?
                .to_string(),
        };
        let n = tx
            .execute(
                Query::new(
                    "INSERT INTO agents (tenant_id, agent_id, login, password_hash, role) \
                     VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (tenant_id, agent_id) DO UPDATE SET login = excluded.login, \
                     password_hash = excluded.password_hash, role = excluded.role \
                     WHERE agents.password_hash IS NULL",
                )
                .bind(tenant.0)
                .bind(&id)
                .bind(login)
                .bind(password_hash)
                .bind(role.as_str()),
            )
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => login_taken(),
                other => other,
            })?;
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
            role,
        })
    }

    async fn user_by_login(
        &self,
        tenant: TenantId,
        login: &str,
    ) -> StoreResult<Option<UserRecord>> {
        let q = Query::new(
            "SELECT agent_id, login, role, password_hash FROM agents \
             WHERE tenant_id = $1 AND login = $2 AND password_hash IS NOT NULL",
        )
        .bind(tenant.0)
        .bind(login);
        let Some(row) = self.fetch_optional(q).await? else {
            return Ok(None);
        };
        let (user, hash) = user(row, tenant)?;
        Ok(Some(UserRecord {
            user,
            password_hash: hash.unwrap_or_default(),
        }))
    }

    async fn user_by_id(&self, tenant: TenantId, id: &str) -> StoreResult<Option<User>> {
        let q = Query::new(
            "SELECT agent_id, login, role, NULL FROM agents WHERE tenant_id = $1 \
             AND agent_id = $2 AND password_hash IS NOT NULL",
        )
        .bind(tenant.0)
        .bind(id);
        Ok(self
            .fetch_optional(q)
            .await?
            .map(|r| user(r, tenant))
            .transpose()?
            .map(|(u, _)| u))
    }

    async fn list_users(&self, tenant: TenantId) -> StoreResult<Vec<User>> {
        let q = Query::new(format!(
            "SELECT agent_id, login, role, NULL FROM agents WHERE tenant_id = $1 \
             AND password_hash IS NOT NULL ORDER BY login{}",
            self.dialect.bytewise()
        ));
        self.fetch(q.bind(tenant.0))
            .await?
            .into_iter()
            .map(|r| user(r, tenant).map(|(u, _)| u))
            .collect()
    }
}
