//! Interaction writes and lookups.

use std::collections::HashMap;

use async_trait::async_trait;
use callvault_core::{CompactString, Guid, Interaction, InteractionMeta, TenantId};
use chrono::Utc;

use super::decode::{
    content, interaction, to_json, CONTENT_COLUMNS, C_CONTENT_COLUMNS, INTERACTION_COLUMNS,
    INTERACTION_WIDTH,
};
use super::SqlStore;
use crate::error::{StoreError, StoreResult};
use crate::meta::InteractionStore;
use crate::sql::{Collect, Cols, Conn, Dialect, Lock, Param, Query, RowSink};

impl SqlStore {
    /// Updates the interaction if it exists; otherwise holds the tenant's row (which every
    /// insert into the tenant takes first), looks again and inserts with the next number.
    /// Racing nodes thus never insert one GUID twice, and a number is only taken by an
    /// insert that happens, so numbers stay gap-free.
    pub(super) async fn upsert_in(
        &self,
        tx: &mut dyn Conn,
        tenant: TenantId,
        meta: &InteractionMeta,
    ) -> StoreResult<(Interaction, bool)> {
        let now = Utc::now().timestamp_micros();
        let mut existing = update_existing(tx, tenant, meta, now).await?;
        if existing.is_none() {
            let lock = format!(
                "SELECT id FROM tenants WHERE id = $1{}",
                self.dialect.lock(Lock::NoKeyUpdate)
            );
            tx.fetch_optional(Query::new(lock).bind(tenant.0))
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("tenant {}", tenant.0)))?;
            // Another node may have inserted the GUID while this one waited for the lock;
            // with SQLite's single writer nobody can have.
            if self.dialect == Dialect::Postgres {
                existing = update_existing(tx, tenant, meta, now).await?;
            }
        }
        let created = existing.is_none();
        let id = match existing {
            Some(id) => {
                let q = Query::new("DELETE FROM interaction_agents WHERE interaction_id = $1");
                tx.execute(q.bind(id)).await?;
                id
            }
            None => insert_new(tx, tenant, meta, now).await?,
        };
        let mut agents: Vec<&str> = meta
            .handling_agents
            .iter()
            .map(CompactString::as_str)
            .collect();
        // Sorted, so that transactions adding the same new agents lock them in the same
        // order and cannot deadlock.
        agents.sort_unstable();
        agents.dedup();
        if !agents.is_empty() {
            let mut links = Query::new(
                "INSERT INTO interaction_agents (interaction_id, tenant_id, agent_id) VALUES ",
            );
            let mut known = Query::new("INSERT INTO agents (tenant_id, agent_id) VALUES ");
            for (i, a) in agents.iter().enumerate() {
                let sep = if i == 0 { "" } else { ", " };
                links
                    .push(sep)
                    .push_tuple([Param::from(id), tenant.0.into(), (*a).into()]);
                known
                    .push(sep)
                    .push_tuple([Param::from(tenant.0), (*a).into()]);
            }
            tx.execute(std::mem::take(links.push(" ON CONFLICT DO NOTHING")))
                .await?;
            tx.execute(std::mem::take(known.push(" ON CONFLICT DO NOTHING")))
                .await?;
        }
        let interaction = self.loaded(tx, tenant, &meta.guid).await?;
        Ok((interaction, created))
    }
}

#[async_trait]
impl InteractionStore for SqlStore {
    async fn upsert_interaction(
        &self,
        tenant: TenantId,
        meta: &InteractionMeta,
    ) -> StoreResult<(Interaction, bool)> {
        let mut tx = self.write().await?;
        let out = self.upsert_in(tx.as_mut(), tenant, meta).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn get_interaction(
        &self,
        tenant: TenantId,
        guid: &Guid,
    ) -> StoreResult<Option<Interaction>> {
        let mut conn = self.read().await?;
        load_where(self.dialect, conn.as_mut(), tenant, Lookup::Guid(guid)).await
    }

    async fn interaction_by_number(
        &self,
        tenant: TenantId,
        number: i64,
    ) -> StoreResult<Option<Interaction>> {
        let mut conn = self.read().await?;
        load_where(self.dialect, conn.as_mut(), tenant, Lookup::Number(number)).await
    }

    async fn interactions_by_ids(
        &self,
        tenant: TenantId,
        ids: &[i64],
    ) -> StoreResult<Vec<Interaction>> {
        let mut q = Query::new(format!(
            "SELECT {INTERACTION_COLUMNS} FROM interactions i WHERE i.tenant_id = "
        ));
        q.push_bind(tenant.0).push(" AND ");
        self.dialect
            .push_in(&mut q, "i.id", Param::Ints(ids.to_vec()));
        q.push(" ORDER BY i.id");
        load_page(self.dialect, self.read().await?.as_mut(), q, ids.len()).await
    }
}

/// The writable columns of an interaction, in the order both statements below bind them.
fn bind_meta(q: Query, meta: &InteractionMeta) -> Query {
    q.bind(meta.start)
        .bind(meta.end)
        .bind(meta.direction.as_str())
        .bind(&meta.connect_from)
        .bind(&meta.connect_to)
        .bind(&meta.caller_name)
        .bind(to_json(&meta.handling_agents))
        .bind(to_json(&meta.extensions))
        .bind(&meta.queue_id)
        .bind(&meta.queue_name)
        .bind(&meta.channel)
        .bind(to_json(&meta.attributes))
}

/// Overwrites an existing interaction's fields (holding its row); answers its id.
async fn update_existing(
    conn: &mut dyn Conn,
    tenant: TenantId,
    meta: &InteractionMeta,
    now: i64,
) -> StoreResult<Option<i64>> {
    let q = Query::new(
        "UPDATE interactions SET start_us = $1, end_us = $2, direction = $3, \
         connect_from = $4, connect_to = $5, caller_name = $6, agents = $7, extensions = $8, \
         queue_id = $9, queue_name = $10, channel = $11, attributes = $12, updated_us = $13 \
         WHERE tenant_id = $14 AND guid = $15 RETURNING id",
    );
    let q = bind_meta(q, meta)
        .bind(now)
        .bind(tenant.0)
        .bind(meta.guid.as_str());
    conn.fetch_optional(q)
        .await?
        .map(|r| r.cols().i64())
        .transpose()
}

/// Inserts a new interaction with the tenant's next number; the caller holds the
/// tenant's row.
async fn insert_new(
    conn: &mut dyn Conn,
    tenant: TenantId,
    meta: &InteractionMeta,
    now: i64,
) -> StoreResult<i64> {
    let number = conn
        .scalar_i64(
            Query::new(
                "UPDATE tenants SET next_number = next_number + 1 WHERE id = $1 \
                 RETURNING next_number - 1",
            )
            .bind(tenant.0),
        )
        .await?;
    let q = Query::new(
        "INSERT INTO interactions (start_us, end_us, direction, connect_from, connect_to, \
         caller_name, agents, extensions, queue_id, queue_name, channel, attributes, \
         created_us, updated_us, tenant_id, guid, number) VALUES ($1, $2, $3, $4, $5, $6, $7, \
         $8, $9, $10, $11, $12, $13, $13, $14, $15, $16) RETURNING id",
    );
    let q = bind_meta(q, meta)
        .bind(now)
        .bind(tenant.0)
        .bind(meta.guid.as_str())
        .bind(number);
    conn.scalar_i64(q).await
}

/// The key of a single-interaction lookup.
pub(super) enum Lookup<'a> {
    Guid(&'a Guid),
    Number(i64),
}

/// One interaction with its content in one round trip, on the given connection (so that
/// a write transaction sees its own changes): every download, delete and by-number
/// lookup starts here. Content comes in the order it was first stored.
pub(super) async fn load_where(
    dialect: Dialect,
    conn: &mut dyn Conn,
    tenant: TenantId,
    key: Lookup<'_>,
) -> StoreResult<Option<Interaction>> {
    let (condition, value) = match key {
        Lookup::Guid(g) => ("i.guid", Param::from(g.as_str())),
        Lookup::Number(n) => ("i.number", Param::from(n)),
    };
    let q = Query::new(format!(
        "SELECT {INTERACTION_COLUMNS}, {C_CONTENT_COLUMNS} FROM interactions i \
         LEFT JOIN content_items c ON c.interaction_id = i.id \
         WHERE i.tenant_id = $1 AND {condition} = $2 ORDER BY c.{}",
        dialect.content_order()
    ))
    .bind(tenant.0)
    .bind(value);
    let mut found: Option<Interaction> = None;
    for row in conn.fetch(q).await? {
        let mut c = row.cols();
        let it = match found.as_mut() {
            Some(it) => {
                for _ in 0..INTERACTION_WIDTH {
                    c.skip()?;
                }
                it
            }
            None => found.insert(interaction(&mut c)?),
        };
        if let Some((_, item)) = content(&mut c)? {
            it.content.push(item);
        }
    }
    Ok(found)
}

/// The interactions a statement selects (`INTERACTION_COLUMNS` of `i`), with their
/// content. Room is made for `expected` rows (at most a search page's), so a page is not
/// copied as its list grows.
pub(super) async fn load_page(
    dialect: Dialect,
    conn: &mut dyn Conn,
    q: Query,
    expected: usize,
) -> StoreResult<Vec<Interaction>> {
    let mut page = Collect::with_capacity(interaction, expected.min(1024));
    conn.fetch_each(q, &mut page).await?;
    let mut items = page.items;
    attach_content(dialect, conn, &mut items).await?;
    Ok(items)
}

/// Content rows, each put on its interaction as it is read.
struct Attach<'a> {
    items: &'a mut [Interaction],
    by_id: HashMap<i64, usize>,
}

impl RowSink for Attach<'_> {
    fn reset(&mut self) {
        for it in self.items.iter_mut() {
            it.content.clear();
        }
    }

    fn row(&mut self, c: &mut Cols<'_>) -> StoreResult<()> {
        let (iid, item) =
            content(c)?.ok_or_else(|| StoreError::backend("content row without its key"))?;
        if let Some(&i) = self.by_id.get(&iid) {
            let content = &mut self.items[i].content;
            // Most interactions hold one item: room for four was 600 bytes a row unused.
            if content.is_empty() {
                content.reserve_exact(1);
            }
            content.push(item);
        }
        Ok(())
    }
}

/// Fills in the content of interactions loaded without it, each in stored order.
async fn attach_content(
    dialect: Dialect,
    conn: &mut dyn Conn,
    items: &mut [Interaction],
) -> StoreResult<()> {
    if items.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
    let mut q = Query::new(format!(
        "SELECT {CONTENT_COLUMNS} FROM content_items WHERE "
    ));
    dialect.push_in(&mut q, "interaction_id", Param::Ints(ids));
    q.push(" ORDER BY interaction_id, ")
        .push(dialect.content_order());
    let by_id = items.iter().enumerate().map(|(i, it)| (it.id, i)).collect();
    conn.fetch_each(q, &mut Attach { items, by_id }).await
}
