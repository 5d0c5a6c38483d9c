//! The text index over transcripts and chat transcripts: written with the content item
//! that it indexes, searched with the same filter as search. Only the matching clause
//! differs by database (FTS5 on SQLite, a tsvector on PostgreSQL; see `Dialect`).

use callvault_core::transcript::{IndexedText, TextQuery};
use callvault_core::{Interaction, InteractionQuery, TenantId};

use super::interactions::load_page;
use super::search::{push_filter_on, push_page};
use super::SqlStore;
use crate::error::StoreResult;
use crate::meta::PageStart;
use crate::sql::{Conn, Param, Query};
use crate::transcription::TextHit;

/// Rows per insert: eight values each, well under SQLite's 32,766 bound values.
const SEGMENTS_PER_INSERT: usize = 1000;

/// Indexes an item's text, inside the caller's transaction (its old rows are gone).
pub(super) async fn index_in(
    conn: &mut dyn Conn,
    tenant: TenantId,
    interaction_id: i64,
    content_key: &str,
    text: &[IndexedText],
) -> StoreResult<()> {
    for chunk in text.chunks(SEGMENTS_PER_INSERT) {
        let mut q = Query::new(
            "INSERT INTO transcript_segments (tenant_id, interaction_id, content_key, \
             start_ms, end_ms, speaker, body) VALUES ",
        );
        for (n, t) in chunk.iter().enumerate() {
            q.push(if n == 0 { "" } else { ", " }).push_tuple([
                Param::from(tenant.0),
                Param::from(interaction_id),
                Param::from(content_key),
                Param::from(t.start_ms),
                Param::from(t.end_ms),
                Param::from(&t.speaker),
                Param::from(t.text.as_str()),
            ]);
        }
        conn.execute(q).await?;
    }
    Ok(())
}

pub(super) async fn search(
    store: &SqlStore,
    tenant: TenantId,
    query: &InteractionQuery,
    text: &TextQuery,
    page: PageStart,
    limit: u32,
) -> StoreResult<Vec<Interaction>> {
    let d = store.dialect;
    let mut q = Query::new(format!(
        "SELECT {} FROM interactions i",
        super::decode::INTERACTION_COLUMNS
    ));
    push_filter_on(d, &mut q, d.driving_text_tenant(), tenant, query);
    q.push(" AND i.id IN (SELECT s.interaction_id");
    d.push_matching_segments(&mut q, tenant, text);
    q.push(")");
    push_page(&mut q, page, query.newest_first, limit);
    load_page(d, store.read().await?.as_mut(), q, limit as usize).await
}

pub(super) async fn hits(
    store: &SqlStore,
    tenant: TenantId,
    interaction_ids: &[i64],
    text: &TextQuery,
) -> StoreResult<Vec<TextHit>> {
    let d = store.dialect;
    let mut q =
        Query::new("SELECT s.interaction_id, s.content_key, s.start_ms, s.end_ms, s.speaker, ");
    d.push_marked_body(&mut q, text);
    d.push_matching_segments(&mut q, tenant, text);
    q.push(" AND ");
    d.push_in(
        &mut q,
        "s.interaction_id",
        Param::Ints(interaction_ids.to_vec()),
    );
    q.push(" ORDER BY s.interaction_id, s.start_ms, s.id");
    store
        .fetch(q)
        .await?
        .into_iter()
        .map(|r| {
            let mut c = r.cols();
            Ok(TextHit {
                interaction_id: c.i64()?,
                content_key: c.text()?,
                start_ms: c.u64()?,
                end_ms: c.u64()?,
                speaker: c.opt_text()?,
                marked: c.text()?,
            })
        })
        .collect()
}
