//! Search and count: one filter, built with bound values only, for both.

use callvault_core::interaction::RecordingKind;
use callvault_core::query::TranscriptionFilter;
use callvault_core::{Interaction, InteractionQuery, TenantId};
use sqlx::{Postgres, QueryBuilder};

use super::interactions::attach_content;
use super::rows::{self, storable, to_us, INTERACTION_COLUMNS};
use super::PgStore;
use crate::error::StoreResult;
use crate::meta::PageStart;

impl PgStore {
    pub(super) async fn search_impl(
        &self,
        tenant: TenantId,
        query: &InteractionQuery,
        page: PageStart,
        limit: u32,
    ) -> StoreResult<Vec<Interaction>> {
        let mut q = QueryBuilder::<Postgres>::new(format!(
            "SELECT {INTERACTION_COLUMNS} FROM interactions i"
        ));
        push_filter(&mut q, tenant, query);
        match page {
            PageStart::After(Some(c)) => {
                let cmp = if query.newest_first { "<" } else { ">" };
                q.push(format!(" AND (i.start_us, i.id) {cmp} ("))
                    .push_bind(c.start_us);
                q.push(", ").push_bind(c.id).push(")");
            }
            PageStart::After(None) | PageStart::Offset(_) => {}
        }
        let order = if query.newest_first { "DESC" } else { "ASC" };
        q.push(format!(" ORDER BY i.start_us {order}, i.id {order} LIMIT "))
            .push_bind(i64::from(limit));
        if let PageStart::Offset(off) = page {
            q.push(" OFFSET ")
                .push_bind(off.min(i64::MAX as u64) as i64);
        }
        let mut conn = self.pool.acquire().await?;
        let rows = q.build().fetch_all(&mut *conn).await?;
        let mut items = rows
            .iter()
            .map(rows::interaction)
            .collect::<StoreResult<Vec<_>>>()?;
        attach_content(&mut conn, &mut items).await?;
        Ok(items)
    }

    pub(super) async fn count_impl(
        &self,
        tenant: TenantId,
        query: &InteractionQuery,
    ) -> StoreResult<u64> {
        let mut q = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM interactions i");
        push_filter(&mut q, tenant, query);
        let n: i64 = q.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(n.max(0) as u64)
    }
}

/// Whether every text value of the filter can occur in the database (see `storable`).
fn filter_storable(f: &InteractionQuery) -> bool {
    [
        &f.handling_agent,
        &f.connect_from_prefix,
        &f.connect_to_prefix,
        &f.connect_from,
        &f.connect_to,
        &f.caller_name,
        &f.extension,
        &f.owning_user,
    ]
    .into_iter()
    .flatten()
    .all(|s| storable(s))
}

/// The WHERE clause of search and count; the same conditions, with the same comparison
/// semantics, as the SQLite store's: exact, case-sensitive matches and prefixes (SQLite
/// compares `substr` there, not `LIKE`, so `%` and `_` are plain characters).
fn push_filter(q: &mut QueryBuilder<'_, Postgres>, tenant: TenantId, f: &InteractionQuery) {
    q.push(" WHERE i.tenant_id = ").push_bind(tenant.0);
    q.push(" AND i.content_count > 0");
    if !filter_storable(f) {
        q.push(" AND FALSE");
        return;
    }
    if let Some((from, to)) = f.start {
        q.push(" AND i.start_us >= ").push_bind(to_us(from));
        q.push(" AND i.start_us <= ").push_bind(to_us(to));
    }
    if let Some((from, to)) = f.end {
        q.push(" AND i.end_us >= ").push_bind(to_us(from));
        q.push(" AND i.end_us <= ").push_bind(to_us(to));
    }
    if let Some(d) = f.direction {
        q.push(" AND i.direction = ").push_bind(d.as_str());
    }
    for (col, prefix) in [
        ("connect_from", &f.connect_from_prefix),
        ("connect_to", &f.connect_to_prefix),
    ] {
        if let Some(p) = prefix {
            q.push(format!(" AND starts_with(i.{col}, "))
                .push_bind(p.clone())
                .push(")");
        }
    }
    if let Some(agent) = &f.handling_agent {
        q.push(
            " AND EXISTS (SELECT 1 FROM interaction_agents a WHERE a.interaction_id = i.id \
             AND a.agent_id = ",
        )
        .push_bind(agent.clone())
        .push(")");
    }
    let exact = [
        ("guid", f.guid.as_ref().map(|g| g.to_string())),
        ("connect_from", f.connect_from.clone()),
        ("connect_to", f.connect_to.clone()),
        ("caller_name", f.caller_name.clone()),
    ];
    for (col, value) in exact {
        if let Some(v) = value {
            q.push(format!(" AND i.{col} = ")).push_bind(v);
        }
    }
    if let Some(ext) = &f.extension {
        q.push(" AND i.extensions @> jsonb_build_array(")
            .push_bind(ext.clone())
            .push("::text)");
    }
    if f.recording_ms != (None, None) {
        q.push(
            " AND EXISTS (SELECT 1 FROM content_items r WHERE r.interaction_id = i.id \
             AND r.content_type = 'callRecording'",
        );
        if let Some(min) = f.recording_ms.0 {
            q.push(" AND r.duration_ms >= ")
                .push_bind(min.min(i64::MAX as u64) as i64);
        }
        if let Some(max) = f.recording_ms.1 {
            q.push(" AND r.duration_ms <= ")
                .push_bind(max.min(i64::MAX as u64) as i64);
        }
        q.push(")");
    }
    match f.recording_kind {
        Some(RecordingKind::OnDemand) => {
            q.push(" AND i.attributes->>'recordingKind' = 'onDemand'");
        }
        Some(RecordingKind::Company) => {
            q.push(" AND COALESCE(i.attributes->>'recordingKind', 'company') = 'company'");
        }
        None => {}
    }
    if let Some(user) = &f.owning_user {
        q.push(" AND i.attributes->>'owningUserId' = ")
            .push_bind(user.clone());
    }
    if let Some(t) = f.transcription {
        let has = "EXISTS (SELECT 1 FROM content_items x WHERE x.interaction_id = i.id \
                   AND x.content_type = 'transcript')";
        let status = "i.attributes->>'transcriptionStatus'";
        q.push(match t {
            TranscriptionFilter::Any => format!(" AND ({has} OR {status} IS NOT NULL)"),
            TranscriptionFilter::Ready => format!(" AND {has}"),
            TranscriptionFilter::Pending => format!(" AND NOT {has} AND {status} = 'pending'"),
            TranscriptionFilter::Failed => format!(" AND NOT {has} AND {status} = 'failed'"),
        });
    }
    if let Some(t) = f.with_content {
        q.push(
            " AND EXISTS (SELECT 1 FROM content_items c WHERE c.interaction_id = i.id \
             AND c.content_type = ",
        )
        .push_bind(t.as_str())
        .push(")");
    }
}
