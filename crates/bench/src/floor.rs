//! The search floor: the server's two statements for one v3 page run through SQLite's C
//! library (rusqlite, as the embedded store uses it), over a pool of eight read-only
//! connections opened with the server's pragmas, on the task that asks, as the server
//! runs its short reads (it used to hop to a blocking thread, as the server did then).
//! Every column of every row is read (as SQLite hands it over, with no copy), which is
//! the least any server answering the page has to do.

use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex};

use anyhow::{ensure, Context};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

/// Copied from `INTERACTION_COLUMNS` / `CONTENT_COLUMNS` in the storage crate.
const INTERACTION_COLUMNS: &str = "i.id, i.tenant_id, i.guid, i.number, i.start_us, i.end_us, \
     i.direction, i.connect_from, i.connect_to, i.caller_name, i.agents, i.extensions, \
     i.queue_id, i.queue_name, i.channel, i.attributes, i.created_us, i.updated_us";
const CONTENT_COLUMNS: &str = "interaction_id, content_key, content_type, media_type, \
     length, sha256, blob_key, last_modified_us, duration_ms, version, owning_agent, owning_plan";

/// The server's page statement (`SearchStore::search` with no filter beyond the window).
static PAGE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {INTERACTION_COLUMNS} FROM interactions i WHERE i.tenant_id = ?1 \
         AND i.content_count > 0 AND i.start_us >= ?2 AND i.start_us <= ?3 \
         ORDER BY i.start_us ASC, i.id ASC LIMIT ?4"
    )
});

/// The server's content statement (`attach_content`, `Dialect::push_in`).
static CONTENT_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {CONTENT_COLUMNS} FROM content_items \
         WHERE interaction_id IN (SELECT value FROM json_each(?1)) ORDER BY interaction_id, rowid"
    )
});

/// Read connections, as many as the server's reader pool.
const READERS: usize = 8;

#[derive(Clone)]
pub struct Floor {
    conns: Arc<Mutex<Vec<Connection>>>,
    free: Arc<Semaphore>,
}

impl Floor {
    pub fn open(db: &Path) -> anyhow::Result<Floor> {
        let conns = (0..READERS)
            .map(|_| {
                let c = Connection::open_with_flags(
                    db,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.pragma_update(None, "cache_size", -4096)?; // the server's value
                c.pragma_update(None, "temp_store", "MEMORY")?;
                c.set_prepared_statement_cache_capacity(64);
                Ok(c)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Floor {
            conns: Arc::new(Mutex::new(conns)),
            free: Arc::new(Semaphore::new(READERS)),
        })
    }

    /// One page of `limit` (plus the one extra row the v3 handler asks for) with its
    /// content; answers the rows read.
    pub async fn page(
        &self,
        tenant: i64,
        start_us: i64,
        end_us: i64,
        limit: u32,
    ) -> anyhow::Result<u64> {
        let _permit = self.free.acquire().await?;
        let conn = self
            .conns
            .lock()
            .unwrap()
            .pop()
            .context("no connection left")?;
        let rows = run_page(&conn, tenant, start_us, end_us, limit);
        self.conns.lock().unwrap().push(conn);
        rows
    }
}

fn run_page(
    c: &Connection,
    tenant: i64,
    start_us: i64,
    end_us: i64,
    limit: u32,
) -> anyhow::Result<u64> {
    let mut ids = Vec::with_capacity(limit as usize + 1);
    let mut touched = 0usize;
    let mut page = c.prepare_cached(&PAGE_SQL)?;
    let mut rows = page.query(rusqlite::params![
        tenant,
        start_us,
        end_us,
        i64::from(limit) + 1
    ])?;
    while let Some(r) = rows.next()? {
        ids.push(r.get::<_, i64>(0)?);
        touched += touch(r, 18)?;
    }
    let json = serde_json::to_string(&ids)?;
    let mut content = c.prepare_cached(&CONTENT_SQL)?;
    let mut rows = content.query([json])?;
    let mut items = 0usize;
    while let Some(r) = rows.next()? {
        items += 1;
        touched += touch(r, 12)?;
    }
    ensure!(items >= ids.len(), "content rows missing for a page");
    ensure!(touched > 0);
    Ok((ids.len() + items) as u64)
}

/// Reads every column of a row; answers the bytes SQLite handed over.
fn touch(r: &rusqlite::Row<'_>, columns: usize) -> rusqlite::Result<usize> {
    let mut n = 0;
    for i in 0..columns {
        n += match r.get_ref(i)? {
            ValueRef::Null => 0,
            ValueRef::Integer(_) | ValueRef::Real(_) => 8,
            ValueRef::Text(t) | ValueRef::Blob(t) => t.len(),
        };
    }
    Ok(n)
}
