//! The audit trail, appended under the chain head's row lock so that concurrent appends
//! to one tenant's chain (from any node) take turns, and inside the caller's transaction
//! where a change and its record must commit together (deletes, rule changes).

use async_trait::async_trait;
use callvault_core::audit::GENESIS;
use callvault_core::{AuditAction, AuditEvent, AuditRecord, TenantId};

use super::SqlStore;
use crate::audit::{AuditFilter, AuditStore};
use crate::error::{StoreError, StoreResult};
use crate::sql::{Conn, Dialect, Lock, Query, Row};

const COLUMNS: &str = "seq, tenant_id, at_us, principal, source, user_agent, request_id, \
    dialect, operation, action, guid, content_key, outcome, detail, prev_hash, hash";
/// Records per insert statement, at most: 15 values each, far below both databases'
/// limits. A power of two, as every chunk's length is (see [`chunk_len`]).
const ROWS_PER_INSERT: usize = 64;

/// How many of `left` records the next insert takes: the largest power of two that fits.
/// A batch's length is whatever the reads of the last 50 ms were, and an insert of each
/// length is a statement of its own: with the lengths as they came, every batch prepared
/// a new statement of up to 6,000 placeholders (SQLite parses and plans it anew) and left
/// it in the statement cache. In powers of two there are seven statements in all, each
/// prepared once per connection and then found in the cache.
fn chunk_len(left: usize) -> usize {
    debug_assert!(left > 0);
    let largest = 1usize << (usize::BITS - 1 - left.leading_zeros());
    largest.min(ROWS_PER_INSERT)
}

/// Appends events on `conn` (a write transaction), tenant by tenant in id order, so that
/// two batches never wait on each other's chain heads in opposite orders.
pub(super) async fn append(
    dialect: Dialect,
    conn: &mut dyn Conn,
    events: &[AuditEvent],
) -> StoreResult<()> {
    let mut tenants: Vec<TenantId> = events.iter().map(|e| e.tenant_id).collect();
    tenants.sort_by_key(|t| t.0);
    tenants.dedup();
    for tenant in tenants {
        conn.execute(
            Query::new(
                "INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ($1, 0, $2) \
                 ON CONFLICT (tenant_id) DO NOTHING",
            )
            .bind(tenant.0)
            .bind(GENESIS),
        )
        .await?;
        let mut prev = conn
            .fetch_one(
                Query::new(format!(
                    "SELECT hash FROM audit_heads WHERE tenant_id = $1{}",
                    dialect.lock(Lock::Update)
                ))
                .bind(tenant.0),
            )
            .await?
            .cols()
            .text()?;
        let mine: Vec<&AuditEvent> = events.iter().filter(|e| e.tenant_id == tenant).collect();
        let mut rest = &mine[..];
        while !rest.is_empty() {
            let (chunk, after) = rest.split_at(chunk_len(rest.len()));
            rest = after;
            let mut q = Query::new(
                "INSERT INTO audit_log (tenant_id, at_us, principal, source, user_agent, \
                 request_id, dialect, operation, action, guid, content_key, outcome, detail, \
                 prev_hash, hash) VALUES ",
            );
            for (n, e) in chunk.iter().enumerate() {
                let hash = e.chain(&prev);
                if n > 0 {
                    q.push(", ");
                }
                q.push_tuple([
                    crate::sql::Param::from(e.tenant_id.0),
                    e.at.into(),
                    e.principal.as_str().into(),
                    (&e.source).into(),
                    (&e.user_agent).into(),
                    (&e.request_id).into(),
                    e.dialect.as_str().into(),
                    e.operation.as_str().into(),
                    e.action.as_str().into(),
                    (&e.interaction).into(),
                    (&e.content_key).into(),
                    e.outcome.as_str().into(),
                    (&e.detail).into(),
                    prev.as_str().into(),
                    hash.as_str().into(),
                ]);
                prev = hash;
            }
            conn.execute(q).await?;
            tokio::task::yield_now().await;
        }
        conn.execute(
            Query::new("UPDATE audit_heads SET seq = seq + $1, hash = $2 WHERE tenant_id = $3")
                .bind(mine.len() as i64)
                .bind(prev.as_str())
                .bind(tenant.0),
        )
        .await?;
    }
    Ok(())
}

fn record(row: Row) -> StoreResult<AuditRecord> {
    let mut c = row.cols();
    let seq = c.i64()?;
    let tenant_id = TenantId(c.i64()?);
    let at = c.time()?;
    let principal = c.text()?;
    let source = c.opt_text()?;
    let user_agent = c.opt_text()?;
    let request_id = c.opt_text()?;
    let dialect = c.text()?;
    let operation = c.text()?;
    let action = AuditAction::parse("action", &c.text()?)
        .map_err(|e| StoreError::backend(format!("stored audit record {seq}: {e}")))?;
    Ok(AuditRecord {
        seq,
        event: AuditEvent {
            tenant_id,
            at,
            principal,
            source,
            user_agent,
            request_id,
            dialect,
            operation,
            action,
            interaction: c.opt_text()?,
            content_key: c.opt_text()?,
            outcome: c.text()?,
            detail: c.opt_text()?,
        },
        prev_hash: c.text()?,
        hash: c.text()?,
    })
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.write().await?;
        append(self.dialect, tx.as_mut(), events).await?;
        tx.commit().await
    }

    fn appends_off_runtime(&self) -> bool {
        self.dialect == Dialect::Sqlite
    }

    async fn audit_page(
        &self,
        tenant: TenantId,
        f: &AuditFilter,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<AuditRecord>> {
        let mut q = filtered(tenant, f);
        q.push(" AND seq > ").push_bind(after_seq);
        q.push(" ORDER BY seq LIMIT ").push_bind(limit);
        self.fetch(q).await?.into_iter().map(record).collect()
    }

    async fn audit_page_newest(
        &self,
        tenant: TenantId,
        f: &AuditFilter,
        before_seq: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<AuditRecord>> {
        let mut q = filtered(tenant, f);
        if let Some(before) = before_seq {
            q.push(" AND seq < ").push_bind(before);
        }
        q.push(" ORDER BY seq DESC LIMIT ").push_bind(limit);
        self.fetch(q).await?.into_iter().map(record).collect()
    }

    async fn audit_head(&self, tenant: TenantId) -> StoreResult<Option<(i64, String)>> {
        let q = Query::new("SELECT seq, hash FROM audit_heads WHERE tenant_id = $1").bind(tenant.0);
        self.fetch_optional(q)
            .await?
            .map(|r| {
                let mut c = r.cols();
                Ok((c.i64()?, c.text()?))
            })
            .transpose()
    }
}

/// The query of a tenant's records that match `f`, to which the caller adds its paging.
fn filtered(tenant: TenantId, f: &AuditFilter) -> Query {
    let mut q = Query::new(format!(
        "SELECT {COLUMNS} FROM audit_log WHERE tenant_id = "
    ));
    q.push_bind(tenant.0);
    if let Some(t) = f.from {
        q.push(" AND at_us >= ").push_bind(t);
    }
    if let Some(t) = f.to {
        q.push(" AND at_us < ").push_bind(t);
    }
    if let Some(p) = &f.principal {
        q.push(" AND principal = ").push_bind(p.as_str());
    }
    if let Some(g) = &f.interaction {
        q.push(" AND guid = ").push_bind(g.as_str());
    }
    if let Some(a) = f.action {
        q.push(" AND action = ").push_bind(a.as_str());
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Any batch is inserted in chunks of at most nine distinct lengths, which together
    /// take every record once.
    #[test]
    fn batches_are_inserted_in_power_of_two_chunks() {
        let mut lengths = std::collections::BTreeSet::new();
        for total in 1..=2_000 {
            let (mut left, mut taken) = (total, 0);
            while left > 0 {
                let n = chunk_len(left);
                assert!(n.is_power_of_two() && n <= ROWS_PER_INSERT && n <= left);
                lengths.insert(n);
                left -= n;
                taken += n;
            }
            assert_eq!(taken, total);
        }
        assert_eq!(lengths.len(), 7);
    }
}
