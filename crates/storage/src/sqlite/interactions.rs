//! Interaction writes, lookups and search.

use std::collections::HashMap;

use callvault_core::interaction::RecordingKind;
use callvault_core::query::TranscriptionFilter;
use callvault_core::{Guid, Interaction, InteractionMeta, InteractionQuery, TenantId};
use chrono::Utc;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::rows::{self, json, to_us, CONTENT_COLUMNS, INTERACTION_COLUMNS};
use super::SqliteStore;
use crate::error::{StoreError, StoreResult};
use crate::meta::PageStart;

impl SqliteStore {
    pub(super) async fn upsert_interaction_impl(
        &self,
        tenant: TenantId,
        meta: &InteractionMeta,
    ) -> StoreResult<(Interaction, bool)> {
        let now = to_us(Utc::now());
        let mut tx = self.begin_write().await?;
        let existing: Option<i64> =
            sqlx::query_scalar("SELECT id FROM interactions WHERE tenant_id = ? AND guid = ?")
                .bind(tenant.0)
                .bind(meta.guid.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let created = existing.is_none();
        let id = match existing {
            Some(id) => {
                sqlx::query(
                    "UPDATE interactions SET start_us = ?, end_us = ?, direction = ?, \
                     connect_from = ?, connect_to = ?, caller_name = ?, agents = ?, \
                     extensions = ?, queue_id = ?, queue_name = ?, channel = ?, attributes = ?, \
                     updated_us = ? WHERE id = ?",
                )
                .bind(to_us(meta.start))
                .bind(meta.end.map(to_us))
                .bind(meta.direction.as_str())
                .bind(&meta.connect_from)
                .bind(&meta.connect_to)
                .bind(&meta.caller_name)
                .bind(json(&meta.handling_agents))
                .bind(json(&meta.extensions))
                .bind(&meta.queue_id)
                .bind(&meta.queue_name)
                .bind(&meta.channel)
                .bind(json(&meta.attributes))
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM interaction_agents WHERE interaction_id = ?")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                id
            }
            None => {
                let number: i64 = sqlx::query_scalar(
                    "UPDATE tenants SET next_number = next_number + 1 WHERE id = ? \
                     RETURNING next_number - 1",
                )
                .bind(tenant.0)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("tenant {}", tenant.0)))?;
                sqlx::query_scalar(
                    "INSERT INTO interactions (tenant_id, guid, number, start_us, end_us, \
                     direction, connect_from, connect_to, caller_name, agents, extensions, \
                     queue_id, queue_name, channel, attributes, created_us, updated_us) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                )
                .bind(tenant.0)
                .bind(meta.guid.as_str())
                .bind(number)
                .bind(to_us(meta.start))
                .bind(meta.end.map(to_us))
                .bind(meta.direction.as_str())
                .bind(&meta.connect_from)
                .bind(&meta.connect_to)
                .bind(&meta.caller_name)
                .bind(json(&meta.handling_agents))
                .bind(json(&meta.extensions))
                .bind(&meta.queue_id)
                .bind(&meta.queue_name)
                .bind(&meta.channel)
                .bind(json(&meta.attributes))
                .bind(now)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?
            }
        };
        for agent in &meta.handling_agents {
            sqlx::query(
                "INSERT OR IGNORE INTO interaction_agents (interaction_id, tenant_id, agent_id) \
                 VALUES (?, ?, ?)",
            )
            .bind(id)
            .bind(tenant.0)
            .bind(agent)
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT OR IGNORE INTO agents (tenant_id, agent_id) VALUES (?, ?)")
                .bind(tenant.0)
                .bind(agent)
                .execute(&mut *tx)
                .await?;
        }
        let interaction = load_one(&mut tx, tenant, &meta.guid)
            .await?
            .ok_or_else(|| {
                StoreError::Backend("interaction vanished inside its transaction".into())
            })?;
        tx.commit().await?;
        Ok((interaction, created))
    }

    pub(super) async fn get_interaction_impl(
        &self,
        tenant: TenantId,
        guid: &Guid,
    ) -> StoreResult<Option<Interaction>> {
        let mut conn = self.reader.acquire().await?;
        load_one(&mut conn, tenant, guid).await
    }

    pub(super) async fn search_impl(
        &self,
        tenant: TenantId,
        query: &InteractionQuery,
        page: PageStart,
        limit: u32,
    ) -> StoreResult<Vec<Interaction>> {
        let mut q = QueryBuilder::<Sqlite>::new(format!(
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
        let mut conn = self.reader.acquire().await?;
        let rows = q.build().fetch_all(&mut *conn).await?;
        let mut items = rows
            .iter()
            .map(rows::interaction)
            .collect::<StoreResult<Vec<_>>>()?;
        attach_content(&mut conn, &mut items).await?;
        Ok(items)
    }

    pub(super) async fn by_number_impl(
        &self,
        tenant: TenantId,
        number: i64,
    ) -> StoreResult<Option<Interaction>> {
        let mut conn = self.reader.acquire().await?;
        load_where(&mut conn, tenant, "i.number = ?", Lookup::Number(number)).await
    }

    pub(super) async fn count_impl(
        &self,
        tenant: TenantId,
        query: &InteractionQuery,
    ) -> StoreResult<u64> {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM interactions i");
        push_filter(&mut q, tenant, query);
        let n: i64 = q.build_query_scalar().fetch_one(&self.reader).await?;
        Ok(n.max(0) as u64)
    }
}

fn push_filter(q: &mut QueryBuilder<'_, Sqlite>, tenant: TenantId, f: &InteractionQuery) {
    q.push(" WHERE i.tenant_id = ").push_bind(tenant.0);
    q.push(" AND i.content_count > 0");
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
            q.push(format!(" AND substr(i.{col}, 1, "))
                .push_bind(p.chars().count() as i64)
                .push(") = ")
                .push_bind(p.clone());
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
        q.push(" AND EXISTS (SELECT 1 FROM json_each(i.extensions) e WHERE e.value = ")
            .push_bind(ext.clone())
            .push(")");
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
            q.push(" AND json_extract(i.attributes, '$.recordingKind') = 'onDemand'");
        }
        Some(RecordingKind::Company) => {
            q.push(" AND COALESCE(json_extract(i.attributes, '$.recordingKind'), 'company') = 'company'");
        }
        None => {}
    }
    if let Some(user) = &f.owning_user {
        q.push(" AND json_extract(i.attributes, '$.owningUserId') = ")
            .push_bind(user.clone());
    }
    if let Some(t) = f.transcription {
        let has = "EXISTS (SELECT 1 FROM content_items x WHERE x.interaction_id = i.id \
                   AND x.content_type = 'transcript')";
        let status = "json_extract(i.attributes, '$.transcriptionStatus')";
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

/// The key of a single-interaction lookup.
enum Lookup<'a> {
    Guid(&'a str),
    Number(i64),
}

/// Loads one interaction with its content, on the given connection (so that a write
/// transaction sees its own changes).
pub(super) async fn load_one(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    guid: &Guid,
) -> StoreResult<Option<Interaction>> {
    load_where(conn, tenant, "i.guid = ?", Lookup::Guid(guid.as_str())).await
}

/// One interaction with its content in one round trip: every download, delete and
/// by-number lookup starts here.
async fn load_where(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    condition: &str,
    key: Lookup<'_>,
) -> StoreResult<Option<Interaction>> {
    let content_cols: Vec<String> = CONTENT_COLUMNS
        .split(',')
        .map(|c| format!("c.{}", c.trim()))
        .collect();
    let sql = format!(
        "SELECT {INTERACTION_COLUMNS}, {} FROM interactions i \
         LEFT JOIN content_items c ON c.interaction_id = i.id \
         WHERE i.tenant_id = ? AND {condition} ORDER BY c.rowid",
        content_cols.join(", ")
    );
    let q = sqlx::query(&sql).bind(tenant.0);
    let q = match key {
        Lookup::Guid(g) => q.bind(g.to_string()),
        Lookup::Number(n) => q.bind(n),
    };
    let rows = q.fetch_all(&mut *conn).await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut interaction = rows::interaction(first)?;
    for row in &rows {
        if row.try_get::<Option<String>, _>("content_key")?.is_some() {
            interaction.content.push(rows::content(row)?.1);
        }
    }
    Ok(Some(interaction))
}

pub(super) async fn attach_content(
    conn: &mut SqliteConnection,
    items: &mut [Interaction],
) -> StoreResult<()> {
    if items.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
    let sql = format!(
        "SELECT {CONTENT_COLUMNS} FROM content_items \
         WHERE interaction_id IN (SELECT value FROM json_each(?)) ORDER BY interaction_id, rowid"
    );
    let rows = sqlx::query(&sql)
        .bind(json(&ids))
        .fetch_all(&mut *conn)
        .await?;
    let mut by_id: HashMap<i64, usize> = HashMap::with_capacity(items.len());
    for (i, it) in items.iter().enumerate() {
        by_id.insert(it.id, i);
    }
    for row in &rows {
        let (iid, item) = rows::content(row)?;
        if let Some(&i) = by_id.get(&iid) {
            items[i].content.push(item);
        }
    }
    Ok(())
}

/// The interaction row id for a GUID, inside a write transaction.
pub(super) async fn interaction_id(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    guid: &Guid,
) -> StoreResult<Option<i64>> {
    let row = sqlx::query("SELECT id FROM interactions WHERE tenant_id = ? AND guid = ?")
        .bind(tenant.0)
        .bind(guid.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match row {
        Some(r) => Some(r.try_get("id")?),
        None => None,
    })
}

pub(super) fn now_us() -> i64 {
    to_us(Utc::now())
}
