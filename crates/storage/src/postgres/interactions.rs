//! Interaction writes and lookups.

use std::collections::HashMap;

use callvault_core::{Guid, Interaction, InteractionMeta, TenantId};
use sqlx::{PgConnection, Row};

use super::rows::{
    self, json, now_us, to_us, CONTENT_COLUMNS, C_CONTENT_COLUMNS, INTERACTION_COLUMNS,
};
use super::PgStore;
use crate::error::{StoreError, StoreResult};

impl PgStore {
    /// Updates the interaction if it exists; otherwise locks the tenant's row (which every
    /// insert into the tenant takes first), looks again and inserts with the next number.
    /// Racing nodes thus never insert one GUID twice, and a number is only taken by an
    /// insert that happens, so numbers stay gap-free as in SQLite.
    pub(super) async fn upsert_interaction_impl(
        &self,
        tenant: TenantId,
        meta: &InteractionMeta,
    ) -> StoreResult<(Interaction, bool)> {
        let now = now_us();
        let mut tx = self.pool.begin().await?;
        let existing = match update_existing(&mut tx, tenant, meta, now).await? {
            Some(id) => Some(id),
            None => {
                sqlx::query_scalar::<_, i64>(
                    "SELECT id FROM tenants WHERE id = $1 FOR NO KEY UPDATE",
                )
                .bind(tenant.0)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("tenant {}", tenant.0)))?;
                update_existing(&mut tx, tenant, meta, now).await?
            }
        };
        let created = existing.is_none();
        let id = match existing {
            Some(id) => {
                sqlx::query("DELETE FROM interaction_agents WHERE interaction_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                id
            }
            None => insert_new(&mut tx, tenant, meta, now).await?,
        };
        if !meta.handling_agents.is_empty() {
            sqlx::query(
                "INSERT INTO interaction_agents (interaction_id, tenant_id, agent_id) \
                 SELECT DISTINCT $1::bigint, $2::bigint, a FROM unnest($3::text[]) AS a \
                 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(tenant.0)
            .bind(&meta.handling_agents[..])
            .execute(&mut *tx)
            .await?;
            // Sorted, so that transactions adding the same new agents lock them in the
            // same order and cannot deadlock.
            sqlx::query(
                "INSERT INTO agents (tenant_id, agent_id) \
                 SELECT $1, a FROM (SELECT DISTINCT unnest($2::text[]) AS a) d ORDER BY a \
                 ON CONFLICT DO NOTHING",
            )
            .bind(tenant.0)
            .bind(&meta.handling_agents[..])
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
        let mut conn = self.pool.acquire().await?;
        load_one(&mut conn, tenant, guid).await
    }

    pub(super) async fn by_number_impl(
        &self,
        tenant: TenantId,
        number: i64,
    ) -> StoreResult<Option<Interaction>> {
        let mut conn = self.pool.acquire().await?;
        load_where(&mut conn, tenant, Lookup::Number(number)).await
    }
}

/// Overwrites an existing interaction's fields, locking its row; answers its id.
async fn update_existing(
    conn: &mut PgConnection,
    tenant: TenantId,
    meta: &InteractionMeta,
    now: i64,
) -> StoreResult<Option<i64>> {
    Ok(sqlx::query_scalar(
        "UPDATE interactions SET start_us = $1, end_us = $2, direction = $3, \
         connect_from = $4, connect_to = $5, caller_name = $6, agents = $7::jsonb, \
         extensions = $8::jsonb, queue_id = $9, queue_name = $10, channel = $11, \
         attributes = $12::json, updated_us = $13 WHERE tenant_id = $14 AND guid = $15 \
         RETURNING id",
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
    .bind(tenant.0)
    .bind(meta.guid.as_str())
    .fetch_optional(&mut *conn)
    .await?)
}

/// Inserts a new interaction with the tenant's next number; the caller holds the
/// tenant's row lock.
async fn insert_new(
    conn: &mut PgConnection,
    tenant: TenantId,
    meta: &InteractionMeta,
    now: i64,
) -> StoreResult<i64> {
    let number: i64 = sqlx::query_scalar(
        "UPDATE tenants SET next_number = next_number + 1 WHERE id = $1 \
         RETURNING next_number - 1",
    )
    .bind(tenant.0)
    .fetch_one(&mut *conn)
    .await?;
    Ok(sqlx::query_scalar(
        "INSERT INTO interactions (tenant_id, guid, number, start_us, end_us, direction, \
         connect_from, connect_to, caller_name, agents, extensions, queue_id, queue_name, \
         channel, attributes, created_us, updated_us) VALUES ($1, $2, $3, $4, $5, $6, $7, \
         $8, $9, $10::jsonb, $11::jsonb, $12, $13, $14, $15::json, $16, $16) RETURNING id",
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
    .fetch_one(&mut *conn)
    .await?)
}

/// The key of a single-interaction lookup.
enum Lookup<'a> {
    Guid(&'a str),
    Number(i64),
}

/// Loads one interaction with its content, on the given connection (so that a write
/// transaction sees its own changes).
pub(super) async fn load_one(
    conn: &mut PgConnection,
    tenant: TenantId,
    guid: &Guid,
) -> StoreResult<Option<Interaction>> {
    load_where(conn, tenant, Lookup::Guid(guid.as_str())).await
}

/// One interaction with its content in one round trip: every download, delete and
/// by-number lookup starts here. Content comes in the order it was first stored.
async fn load_where(
    conn: &mut PgConnection,
    tenant: TenantId,
    key: Lookup<'_>,
) -> StoreResult<Option<Interaction>> {
    let condition = match key {
        Lookup::Guid(_) => "i.guid = $2",
        Lookup::Number(_) => "i.number = $2",
    };
    let sql = format!(
        "SELECT {INTERACTION_COLUMNS}, {C_CONTENT_COLUMNS} FROM interactions i \
         LEFT JOIN content_items c ON c.interaction_id = i.id \
         WHERE i.tenant_id = $1 AND {condition} ORDER BY c.seq"
    );
    let q = sqlx::query(&sql).bind(tenant.0);
    let q = match key {
        Lookup::Guid(g) => q.bind(g),
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

/// Fills in the content of interactions loaded without it, each in stored order.
pub(super) async fn attach_content(
    conn: &mut PgConnection,
    items: &mut [Interaction],
) -> StoreResult<()> {
    if items.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
    let sql = format!(
        "SELECT {CONTENT_COLUMNS} FROM content_items WHERE interaction_id = ANY($1) \
         ORDER BY interaction_id, seq"
    );
    let rows = sqlx::query(&sql).bind(&ids).fetch_all(&mut *conn).await?;
    let by_id: HashMap<i64, usize> = items.iter().enumerate().map(|(i, it)| (it.id, i)).collect();
    for row in &rows {
        let (iid, item) = rows::content(row)?;
        if let Some(&i) = by_id.get(&iid) {
            items[i].content.push(item);
        }
    }
    Ok(())
}

/// How a write locks the interaction it works on.
#[derive(Clone, Copy)]
pub(super) enum RowLock {
    /// Changing its content: serialises content writes of one interaction, so that the
    /// content count stays exact, without blocking foreign-key checks.
    Content,
    /// Deleting it.
    Delete,
}

/// The interaction's row id for a GUID, locked for the rest of the transaction.
pub(super) async fn locked_interaction_id(
    conn: &mut PgConnection,
    tenant: TenantId,
    guid: &Guid,
    lock: RowLock,
) -> StoreResult<Option<i64>> {
    let sql = match lock {
        RowLock::Content => {
            "SELECT id FROM interactions WHERE tenant_id = $1 AND guid = $2 FOR NO KEY UPDATE"
        }
        RowLock::Delete => {
            "SELECT id FROM interactions WHERE tenant_id = $1 AND guid = $2 FOR UPDATE"
        }
    };
    Ok(sqlx::query_scalar(sql)
        .bind(tenant.0)
        .bind(guid.as_str())
        .fetch_optional(&mut *conn)
        .await?)
}
