//! Legal holds and retention policies, and the gate every delete passes: the tenant's
//! rules read inside the delete's transaction, after the tenant's governance lock.

use async_trait::async_trait;
use callvault_core::query::SearchCursor;
use callvault_core::{AuditEvent, Interaction, LegalHold, RetentionPolicy, Rules, TenantId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::audit::append;
use super::decode::{hold, policy, to_json, HOLD_COLUMNS, INTERACTION_COLUMNS, POLICY_COLUMNS};
use super::interactions::load_page;
use super::SqlStore;
use crate::error::StoreResult;
use crate::governance::GovernanceStore;
use crate::sql::{Conn, Lock, Query};

impl SqlStore {
    /// Takes the tenant's governance lock and reads its rules. A delete takes it shared
    /// (deletes do not wait for each other) and a rule change exclusive, so a hold placed
    /// while deletes run waits for them and every later delete sees it. `NoKeyUpdate`
    /// rather than `Update`, so that inserts referring to the tenant are not held up.
    pub(super) async fn rules_locked(
        &self,
        conn: &mut dyn Conn,
        tenant: TenantId,
        lock: Lock,
    ) -> StoreResult<Rules> {
        conn.fetch_optional(
            Query::new(format!(
                "SELECT id FROM tenants WHERE id = $1{}",
                self.dialect.lock(lock)
            ))
            .bind(tenant.0),
        )
        .await?;
        read_rules(conn, tenant).await
    }

    /// One rule change under the tenant's exclusive governance lock, with its audit
    /// record when it changed something.
    async fn change_rules(
        &self,
        tenant: TenantId,
        q: Query,
        audit: &AuditEvent,
    ) -> StoreResult<u64> {
        let mut tx = self.write().await?;
        self.rules_locked(tx.as_mut(), tenant, Lock::NoKeyUpdate)
            .await?;
        let n = tx.execute(q).await?;
        if n > 0 {
            append(self.dialect, tx.as_mut(), std::slice::from_ref(audit)).await?;
        }
        tx.commit().await?;
        Ok(n)
    }
}

async fn read_rules(conn: &mut dyn Conn, tenant: TenantId) -> StoreResult<Rules> {
    let holds = conn
        .fetch(
            Query::new(format!(
                "SELECT {HOLD_COLUMNS} FROM legal_holds \
                 WHERE tenant_id = $1 AND released_us IS NULL"
            ))
            .bind(tenant.0),
        )
        .await?
        .into_iter()
        .map(hold)
        .collect::<StoreResult<_>>()?;
    let policies = conn
        .fetch(
            Query::new(format!(
                "SELECT {POLICY_COLUMNS} FROM retention_policies \
                 WHERE tenant_id = $1 AND enabled = $2"
            ))
            .bind(tenant.0)
            .bind(true),
        )
        .await?
        .into_iter()
        .map(policy)
        .collect::<StoreResult<_>>()?;
    Ok(Rules { holds, policies })
}

#[async_trait]
impl GovernanceStore for SqlStore {
    async fn create_hold(&self, h: &LegalHold, audit: &AuditEvent) -> StoreResult<()> {
        let q = Query::new(
            "INSERT INTO legal_holds (id, tenant_id, case_name, reason, selector, created_by, \
             created_us, released_us, released_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(h.id)
        .bind(h.tenant_id.0)
        .bind(&h.case_name)
        .bind(&h.reason)
        .bind(to_json(&h.selector))
        .bind(&h.created_by)
        .bind(h.created_at)
        .bind(h.released_at)
        .bind(&h.released_by);
        self.change_rules(h.tenant_id, q, audit).await.map(drop)
    }

    async fn holds(&self, tenant: TenantId) -> StoreResult<Vec<LegalHold>> {
        let q = Query::new(format!(
            "SELECT {HOLD_COLUMNS} FROM legal_holds WHERE tenant_id = $1 \
             ORDER BY created_us DESC, id"
        ))
        .bind(tenant.0);
        self.fetch(q).await?.into_iter().map(hold).collect()
    }

    async fn hold(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<LegalHold>> {
        let q = Query::new(format!(
            "SELECT {HOLD_COLUMNS} FROM legal_holds WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.0)
        .bind(id);
        self.fetch_optional(q).await?.map(hold).transpose()
    }

    async fn release_hold(
        &self,
        tenant: TenantId,
        id: Uuid,
        by: &str,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> StoreResult<Option<LegalHold>> {
        let q = Query::new(
            "UPDATE legal_holds SET released_us = $1, released_by = $2 \
             WHERE tenant_id = $3 AND id = $4 AND released_us IS NULL",
        )
        .bind(at)
        .bind(by)
        .bind(tenant.0)
        .bind(id);
        self.change_rules(tenant, q, audit).await?;
        self.hold(tenant, id).await
    }

    async fn put_policy(&self, p: &RetentionPolicy, audit: &AuditEvent) -> StoreResult<()> {
        let q = Query::new(
            "INSERT INTO retention_policies (id, tenant_id, name, selector, min_days, max_days, \
             enabled, created_us, updated_us) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
             selector = excluded.selector, min_days = excluded.min_days, \
             max_days = excluded.max_days, enabled = excluded.enabled, \
             updated_us = excluded.updated_us WHERE retention_policies.tenant_id = $2",
        )
        .bind(p.id)
        .bind(p.tenant_id.0)
        .bind(&p.name)
        .bind(to_json(&p.selector))
        .bind(p.min_days)
        .bind(p.max_days)
        .bind(p.enabled)
        .bind(p.created_at)
        .bind(p.updated_at);
        self.change_rules(p.tenant_id, q, audit).await.map(drop)
    }

    async fn policies(&self, tenant: TenantId) -> StoreResult<Vec<RetentionPolicy>> {
        let q = Query::new(format!(
            "SELECT {POLICY_COLUMNS} FROM retention_policies WHERE tenant_id = $1 \
             ORDER BY name"
        ))
        .bind(tenant.0);
        self.fetch(q).await?.into_iter().map(policy).collect()
    }

    async fn policy(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<RetentionPolicy>> {
        let q = Query::new(format!(
            "SELECT {POLICY_COLUMNS} FROM retention_policies WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.0)
        .bind(id);
        self.fetch_optional(q).await?.map(policy).transpose()
    }

    async fn delete_policy(
        &self,
        tenant: TenantId,
        id: Uuid,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let q = Query::new("DELETE FROM retention_policies WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id);
        Ok(self.change_rules(tenant, q, audit).await? > 0)
    }

    async fn rules(&self, tenant: TenantId) -> StoreResult<Rules> {
        read_rules(self.read().await?.as_mut(), tenant).await
    }

    async fn with_address(
        &self,
        tenant: TenantId,
        address: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<Interaction>> {
        let mut q = Query::new(format!(
            "SELECT {INTERACTION_COLUMNS} FROM interactions i WHERE i.tenant_id = $1 \
             AND (i.connect_from = $2 OR i.connect_to = $2)"
        ))
        .bind(tenant.0)
        .bind(address);
        if let Some(t) = from {
            q.push(" AND i.start_us >= ").push_bind(t);
        }
        if let Some(t) = to {
            q.push(" AND i.start_us < ").push_bind(t);
        }
        q.push(" ORDER BY i.start_us, i.id");
        load_page(self.dialect, self.read().await?.as_mut(), q, 0).await
    }

    async fn forget_deleted(&self) -> StoreResult<()> {
        self.db.forget_deleted().await
    }

    async fn started_before(
        &self,
        tenant: TenantId,
        before: DateTime<Utc>,
        after: Option<SearchCursor>,
        limit: u32,
    ) -> StoreResult<Vec<Interaction>> {
        let mut q = Query::new(format!(
            "SELECT {INTERACTION_COLUMNS} FROM interactions i WHERE i.tenant_id = $1 \
             AND i.start_us < $2"
        ))
        .bind(tenant.0)
        .bind(before);
        if let Some(c) = after {
            q.push(" AND (i.start_us, i.id) > (")
                .push_bind(c.start_us)
                .push(", ")
                .push_bind(c.id)
                .push(")");
        }
        q.push(" ORDER BY i.start_us, i.id LIMIT ").push_bind(limit);
        load_page(self.dialect, self.read().await?.as_mut(), q, limit as usize).await
    }
}
