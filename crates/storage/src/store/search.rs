//! Search and count: one filter, built with bound values only, for both databases.
//! Matches are exact and case-sensitive; prefixes compare `substr`, not `LIKE`, so `%`
//! and `_` are plain characters.

use async_trait::async_trait;
use callvault_core::interaction::RecordingKind;
use callvault_core::query::TranscriptionFilter;
use callvault_core::{Interaction, InteractionQuery, TenantId};

use super::decode::INTERACTION_COLUMNS;
use super::interactions::load_page;
use super::SqlStore;
use crate::error::StoreResult;
use crate::meta::{PageStart, SearchCursor, SearchStore};
use crate::sql::{Dialect, Query};

#[async_trait]
impl SearchStore for SqlStore {
    async fn search(
        &self,
        tenant: TenantId,
        query: &InteractionQuery,
        page: PageStart,
        limit: u32,
    ) -> StoreResult<Vec<Interaction>> {
        let mut q = Query::new(format!("SELECT {INTERACTION_COLUMNS} FROM interactions i"));
        push_filter(self.dialect, &mut q, tenant, query);
        push_page(&mut q, page, query.newest_first, limit);
        let rows = limit as usize;
        load_page(self.dialect, self.read().await?.as_mut(), q, rows).await
    }

    async fn count(&self, tenant: TenantId, query: &InteractionQuery) -> StoreResult<u64> {
        let mut q = Query::new("SELECT COUNT(*) FROM interactions i");
        push_filter(self.dialect, &mut q, tenant, query);
        Ok(self.read().await?.scalar_i64(q).await?.max(0) as u64)
    }
}

/// Whether every text value of the filter can occur in the database: no stored value
/// holds U+0000 (PostgreSQL text cannot), so a filter that does matches nothing, on both.
fn filter_storable(f: &InteractionQuery) -> bool {
    [
        &f.handling_agent,
        &f.connect_from_prefix,
        &f.connect_to_prefix,
        &f.connect_from,
        &f.connect_to,
        &f.caller_name,
        &f.queue,
        &f.extension,
        &f.owning_user,
        &f.visible_to_agent,
    ]
    .into_iter()
    .flatten()
    .all(|s| !s.contains('\0'))
}

/// Interactions past the cursor, in the order of the page: the keyset condition of
/// search, text search and the transcription backfill.
pub(super) fn push_after(q: &mut Query, after: Option<SearchCursor>, newest_first: bool) {
    if let Some(c) = after {
        let cmp = if newest_first { "<" } else { ">" };
        q.push(" AND (i.start_us, i.id) ")
            .push(cmp)
            .push(" (")
            .push_bind(c.start_us)
            .push(", ")
            .push_bind(c.id)
            .push(")");
    }
}

/// The page's start, order and limit, after the WHERE clause.
pub(super) fn push_page(q: &mut Query, page: PageStart, newest_first: bool, limit: u32) {
    if let PageStart::After(c) = page {
        push_after(q, c, newest_first);
    }
    let order = if newest_first { "DESC" } else { "ASC" };
    q.push(&format!(
        " ORDER BY i.start_us {order}, i.id {order} LIMIT "
    ))
    .push_bind(limit);
    if let PageStart::Offset(off) = page {
        q.push(" OFFSET ").push_bind(off);
    }
}

/// The WHERE clause of search and count.
pub(super) fn push_filter(d: Dialect, q: &mut Query, tenant: TenantId, f: &InteractionQuery) {
    push_filter_on(d, q, "i.tenant_id", tenant, f);
}

/// [`push_filter`] with the tenant column as given: text search passes SQLite's
/// `+i.tenant_id`, so that its planner starts from the index's matches instead of walking
/// the tenant's search index past every interaction that does not match.
pub(super) fn push_filter_on(
    d: Dialect,
    q: &mut Query,
    tenant_column: &str,
    tenant: TenantId,
    f: &InteractionQuery,
) {
    q.push(" WHERE ")
        .push(tenant_column)
        .push(" = ")
        .push_bind(tenant.0);
    q.push(" AND i.content_count > 0");
    if !filter_storable(f) {
        q.push(" AND 1 = 0");
        return;
    }
    if let Some((from, to)) = f.start {
        q.push(" AND i.start_us >= ").push_bind(from);
        q.push(" AND i.start_us <= ").push_bind(to);
    }
    if let Some((from, to)) = f.end {
        q.push(" AND i.end_us >= ").push_bind(from);
        q.push(" AND i.end_us <= ").push_bind(to);
    }
    if let Some(dir) = f.direction {
        q.push(" AND i.direction = ").push_bind(dir.as_str());
    }
    for (col, prefix) in [
        ("connect_from", &f.connect_from_prefix),
        ("connect_to", &f.connect_to_prefix),
    ] {
        if let Some(p) = prefix {
            // The length is a literal: PostgreSQL's substr takes an int4, a bound
            // integer is an int8.
            q.push(&format!(
                " AND substr(i.{col}, 1, {}) = ",
                p.chars().count()
            ))
            .push_bind(p.as_str());
        }
    }
    if let Some(agent) = &f.handling_agent {
        q.push(
            " AND EXISTS (SELECT 1 FROM interaction_agents a WHERE a.interaction_id = i.id \
             AND a.agent_id = ",
        )
        .push_bind(agent.as_str())
        .push(")");
    }
    let exact = [
        ("guid", f.guid.as_ref().map(|g| g.to_string())),
        ("connect_from", f.connect_from.clone()),
        ("connect_to", f.connect_to.clone()),
        ("caller_name", f.caller_name.clone()),
        ("queue_id", f.queue.clone()),
    ];
    for (col, value) in exact {
        if let Some(v) = value {
            q.push(&format!(" AND i.{col} = ")).push_bind(v);
        }
    }
    if let Some(ext) = &f.extension {
        q.push(" AND");
        d.push_json_array_contains(q, "i.extensions", ext);
    }
    if f.recording_ms != (None, None) {
        q.push(
            " AND EXISTS (SELECT 1 FROM content_items r WHERE r.interaction_id = i.id \
             AND r.content_type = 'callRecording'",
        );
        if let Some(min) = f.recording_ms.0 {
            q.push(" AND r.duration_ms >= ").push_bind(min);
        }
        if let Some(max) = f.recording_ms.1 {
            q.push(" AND r.duration_ms <= ").push_bind(max);
        }
        q.push(")");
    }
    let attr = |key: &str| d.json_field("i.attributes", key);
    match f.recording_kind {
        Some(RecordingKind::OnDemand) => {
            q.push(&format!(" AND {} = 'onDemand'", attr("recordingKind")));
        }
        Some(RecordingKind::Company) => {
            q.push(&format!(
                " AND COALESCE({}, 'company') = 'company'",
                attr("recordingKind")
            ));
        }
        None => {}
    }
    if let Some(user) = &f.owning_user {
        q.push(&format!(" AND {} = ", attr("owningUserId")))
            .push_bind(user.as_str());
    }
    if let Some(agent) = &f.visible_to_agent {
        // Owned on-demand recordings, or handled interactions (`interaction_agents` holds
        // each interaction's handling agents, indexed by agent).
        q.push(&format!(
            " AND (({} = 'onDemand' AND {} = ",
            attr("recordingKind"),
            attr("owningUserId")
        ))
        .push_bind(agent.as_str())
        .push(
            ") OR EXISTS (SELECT 1 FROM interaction_agents a WHERE a.interaction_id = i.id \
             AND a.agent_id = ",
        )
        .push_bind(agent.as_str())
        .push("))");
    }
    if let Some(t) = f.transcription {
        // A transcript makes a recording ready whoever stored it; otherwise its job says.
        let has = "EXISTS (SELECT 1 FROM content_items x WHERE x.interaction_id = i.id \
                   AND x.content_type = 'transcript')";
        let job = |states: &str| {
            format!(
                "EXISTS (SELECT 1 FROM transcription_jobs j WHERE j.interaction_id = i.id \
                 AND j.status IN ({states}))"
            )
        };
        q.push(&match t {
            TranscriptionFilter::Any => format!(
                " AND ({has} OR EXISTS (SELECT 1 FROM transcription_jobs j \
                 WHERE j.interaction_id = i.id))"
            ),
            TranscriptionFilter::Ready => format!(" AND {has}"),
            TranscriptionFilter::Pending => {
                format!(" AND NOT {has} AND {}", job("'pending', 'in_progress'"))
            }
            TranscriptionFilter::Failed => format!(" AND NOT {has} AND {}", job("'failed'")),
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
