//! Moving an embedded vault to the scale-out backends: every metadata row from SQLite to
//! PostgreSQL with its ids (so interaction numbers, job ids and continuation tokens stay
//! valid), and every blob from the local store to the target blob store, each checked
//! against its SHA-256 after the copy.
//!
//! Safe to re-run: rows already in the target are kept (`ON CONFLICT DO NOTHING`), blobs
//! already there are only verified. The source must not change meanwhile (stop the
//! embedded server first).

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};
use sqlx::{Postgres, QueryBuilder, Row};

use crate::blob::BlobStore;
use crate::error::{StoreError, StoreResult};
use crate::{PgStore, SqliteStore};

/// How a column is carried from SQLite to PostgreSQL.
#[derive(Clone, Copy)]
enum Col {
    Int,
    Text,
    Bytes,
    /// Text in SQLite, JSONB in PostgreSQL.
    Jsonb,
    /// Text in SQLite, JSON in PostgreSQL.
    Json,
    /// 0/1 in SQLite, BOOLEAN in PostgreSQL.
    Bool,
}

use Col::*;

/// A table: name, columns, primary key.
type Table = (&'static str, &'static [(&'static str, Col)], &'static str);

/// Tables in foreign-key order.
const TABLES: &[Table] = &[
    ("settings", &[("name", Text), ("value", Bytes)], "name"),
    (
        "tenants",
        &[
            ("id", Int),
            ("name", Text),
            ("time_zone", Text),
            ("next_number", Int),
            ("created_us", Int),
        ],
        "id",
    ),
    (
        "agents",
        &[
            ("tenant_id", Int),
            ("agent_id", Text),
            ("login", Text),
            ("extension", Text),
            ("display_name", Text),
            ("password_hash", Text),
            ("is_admin", Bool),
        ],
        "tenant_id, agent_id",
    ),
    (
        "interactions",
        &[
            ("id", Int),
            ("tenant_id", Int),
            ("guid", Text),
            ("number", Int),
            ("start_us", Int),
            ("end_us", Int),
            ("direction", Text),
            ("connect_from", Text),
            ("connect_to", Text),
            ("caller_name", Text),
            ("agents", Jsonb),
            ("extensions", Jsonb),
            ("queue_id", Text),
            ("queue_name", Text),
            ("channel", Text),
            ("attributes", Json),
            ("content_count", Int),
            ("created_us", Int),
            ("updated_us", Int),
        ],
        "id",
    ),
    (
        "interaction_agents",
        &[
            ("interaction_id", Int),
            ("tenant_id", Int),
            ("agent_id", Text),
        ],
        "interaction_id, agent_id",
    ),
    (
        "content_items",
        &[
            ("interaction_id", Int),
            ("tenant_id", Int),
            ("content_key", Text),
            ("content_type", Text),
            ("media_type", Text),
            ("length", Int),
            ("sha256", Text),
            ("blob_key", Text),
            ("last_modified_us", Int),
            ("duration_ms", Int),
            ("version", Int),
            ("owning_agent", Text),
            ("owning_plan", Text),
        ],
        "interaction_id, content_key",
    ),
    (
        "api_clients",
        &[
            ("client_id", Text),
            ("tenant_id", Int),
            ("name", Text),
            ("secret_hash", Bytes),
            ("scopes", Text),
            ("created_us", Int),
            ("revoked_us", Int),
        ],
        "client_id",
    ),
    (
        "access_tokens",
        &[
            ("token_hash", Bytes),
            ("tenant_id", Int),
            ("client_id", Text),
            ("user_id", Text),
            ("scopes", Text),
            ("expires_us", Int),
        ],
        "token_hash",
    ),
    (
        "refresh_tokens",
        &[
            ("token_hash", Bytes),
            ("tenant_id", Int),
            ("client_id", Text),
            ("user_id", Text),
            ("scopes", Text),
            ("expires_us", Int),
        ],
        "token_hash",
    ),
    (
        "tenant_api_tokens",
        &[
            ("tenant_id", Int),
            ("token_hash", Bytes),
            ("created_us", Int),
        ],
        "tenant_id",
    ),
    (
        "jobs",
        &[
            ("id", Text),
            ("tenant_id", Int),
            ("kind", Text),
            ("owner", Text),
            ("params", Text),
            ("status", Text),
            ("files_total", Int),
            ("files_completed", Int),
            ("error", Text),
            ("attempts", Int),
            ("lease_until_us", Int),
            ("valid_until_us", Int),
            ("created_us", Int),
            ("updated_us", Int),
        ],
        "id",
    ),
    (
        "job_items",
        &[("job_id", Text), ("seq", Int), ("interaction_id", Int)],
        "job_id, seq",
    ),
    (
        "external_storages",
        &[
            ("id", Text),
            ("tenant_id", Int),
            ("name", Text),
            ("target", Text),
            ("credentials", Bytes),
            ("created_us", Int),
        ],
        "id",
    ),
    (
        "export_jobs",
        &[
            ("id", Text),
            ("tenant_id", Int),
            ("kind", Text),
            ("status", Text),
            ("start_us", Int),
            ("end_us", Int),
            ("filters", Text),
            ("storage_id", Text),
            ("created_by", Text),
            ("created_us", Int),
            ("updated_us", Int),
            ("next_run_us", Int),
            ("last_run_us", Int),
            ("lease_until_us", Int),
            ("watermark", Text),
            ("items_exported", Int),
            ("bytes_exported", Int),
            ("failures", Int),
            ("error", Text),
        ],
        "id",
    ),
    (
        "export_ledger",
        &[
            ("job_id", Text),
            ("interaction_id", Int),
            ("content_key", Text),
            ("sha256", Text),
            ("exported_us", Int),
        ],
        "job_id, interaction_id, content_key, sha256",
    ),
];

const BATCH: i64 = 1000;
const PARALLEL_BLOBS: usize = 8;

/// Rows per table in the source and, after the copy, in the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReport {
    pub table: &'static str,
    pub source: u64,
    pub target: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlobReport {
    pub total: u64,
    pub copied: u64,
    pub already_there: u64,
    pub bytes_verified: u64,
}

/// Copies every row; answers the counts, and fails if any table lacks source rows.
pub async fn copy_metadata(from: &SqliteStore, to: &PgStore) -> StoreResult<Vec<TableReport>> {
    let mut reports = Vec::new();
    for (table, cols, pk) in TABLES {
        let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
        let select = format!(
            "SELECT rowid, {} FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?",
            names.join(", ")
        );
        let mut after = 0i64;
        let mut source = 0u64;
        loop {
            let rows = sqlx::query(&select)
                .bind(after)
                .bind(BATCH)
                .fetch_all(from.reader())
                .await?;
            let Some(last) = rows.last() else { break };
            after = last.try_get(0)?;
            source += rows.len() as u64;
            let mut q = QueryBuilder::<Postgres>::new(format!(
                "INSERT INTO {table} ({}) ",
                names.join(", ")
            ));
            let mut failed = None;
            q.push_values(&rows, |mut b, row| {
                for (i, (_, kind)) in cols.iter().enumerate() {
                    let at = i + 1;
                    let bound = match kind {
                        Int => row.try_get::<Option<i64>, _>(at).map(|v| {
                            b.push_bind(v);
                        }),
                        Text => row.try_get::<Option<String>, _>(at).map(|v| {
                            b.push_bind(v);
                        }),
                        Bytes => row.try_get::<Option<Vec<u8>>, _>(at).map(|v| {
                            b.push_bind(v);
                        }),
                        Jsonb => row.try_get::<Option<String>, _>(at).map(|v| {
                            b.push_bind(v).push_unseparated("::jsonb");
                        }),
                        Json => row.try_get::<Option<String>, _>(at).map(|v| {
                            b.push_bind(v).push_unseparated("::json");
                        }),
                        Bool => row.try_get::<Option<i64>, _>(at).map(|v| {
                            b.push_bind(v.map(|x| x != 0));
                        }),
                    };
                    if let Err(e) = bound {
                        failed.get_or_insert(e);
                    }
                }
            });
            if let Some(e) = failed {
                return Err(e.into());
            }
            q.push(format!(" ON CONFLICT ({pk}) DO NOTHING"));
            q.build().execute(to.pool()).await?;
        }
        let target: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(to.pool())
            .await?;
        let target = target.max(0) as u64;
        if target < source {
            return Err(StoreError::Backend(format!(
                "{table}: {source} rows in the source but only {target} in the target"
            )));
        }
        reports.push(TableReport {
            table,
            source,
            target,
        });
    }
    // Rows came with their ids: move the identity sequences past them.
    for table in ["tenants", "interactions"] {
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
             GREATEST((SELECT MAX(id) FROM {table}), 1))"
        ))
        .execute(to.pool())
        .await?;
    }
    verify_content_rows(from, to).await?;
    Ok(reports)
}

/// Every content item of the source is in the target with the same digest.
async fn verify_content_rows(from: &SqliteStore, to: &PgStore) -> StoreResult<()> {
    let mut after = 0i64;
    loop {
        let rows = sqlx::query(
            "SELECT rowid, interaction_id, content_key, sha256 FROM content_items \
             WHERE rowid > ? ORDER BY rowid LIMIT ?",
        )
        .bind(after)
        .bind(BATCH)
        .fetch_all(from.reader())
        .await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.try_get(0)?;
        for r in &rows {
            let id: i64 = r.try_get(1)?;
            let key: String = r.try_get(2)?;
            let sha: String = r.try_get(3)?;
            let there: Option<String> = sqlx::query_scalar(
                "SELECT sha256 FROM content_items WHERE interaction_id = $1 AND content_key = $2",
            )
            .bind(id)
            .bind(&key)
            .fetch_optional(to.pool())
            .await?;
            if there.as_deref() != Some(sha.as_str()) {
                return Err(StoreError::Backend(format!(
                    "content item {key} of interaction {id} differs in the target"
                )));
            }
        }
    }
}

/// Copies every blob the source's content references, then reads each back from the
/// target and checks its SHA-256.
pub async fn copy_blobs(
    from: &SqliteStore,
    source: Arc<dyn BlobStore>,
    target: Arc<dyn BlobStore>,
) -> StoreResult<BlobReport> {
    let blobs: Vec<(String, String)> = sqlx::query_as(
        "SELECT blob_key, MIN(sha256) FROM content_items GROUP BY blob_key ORDER BY blob_key",
    )
    .fetch_all(from.reader())
    .await?;
    let results: Vec<(bool, u64)> = futures::stream::iter(blobs)
        .map(|(key, sha)| {
            let (source, target) = (source.clone(), target.clone());
            async move { copy_one(source.as_ref(), target.as_ref(), &key, &sha).await }
        })
        .buffer_unordered(PARALLEL_BLOBS)
        .try_collect()
        .await?;
    let mut report = BlobReport::default();
    for (copied, bytes) in results {
        report.total += 1;
        if copied {
            report.copied += 1;
        } else {
            report.already_there += 1;
        }
        report.bytes_verified += bytes;
    }
    Ok(report)
}

async fn copy_one(
    source: &dyn BlobStore,
    target: &dyn BlobStore,
    key: &str,
    sha: &str,
) -> StoreResult<(bool, u64)> {
    let copied = if target.exists(key).await? {
        false
    } else {
        let read = source.open(key, None).await?;
        let mut up = target.stage().await?;
        let mut stream = read.stream;
        while let Some(chunk) = stream.try_next().await? {
            if let Err(e) = up.write(&chunk).await {
                up.abort().await;
                return Err(e);
            }
        }
        up.commit(key).await?;
        true
    };
    let back = target.open(key, None).await?;
    let mut hash = Sha256::new();
    let mut len = 0u64;
    let mut stream = back.stream;
    while let Some(chunk) = stream.try_next().await? {
        len += chunk.len() as u64;
        hash.update(&chunk);
    }
    if hex::encode(hash.finalize()) != sha {
        return Err(StoreError::Backend(format!(
            "blob {key} in the target does not match its SHA-256"
        )));
    }
    Ok((copied, len))
}
