//! Moving an embedded vault to the scale-out backends: every metadata row from SQLite to
//! PostgreSQL with its ids (so interaction numbers, job ids and continuation tokens stay
//! valid), and every blob from the local store to the target blob store, each checked
//! against its SHA-256 after the copy.
//!
//! Safe to re-run: rows already in the target are kept (`ON CONFLICT DO NOTHING`), blobs
//! already there are only verified. The source must not change meanwhile (stop the
//! embedded server first).

use std::collections::HashMap;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

use crate::blob::BlobStore;
use crate::error::{StoreError, StoreResult};
use crate::sql::{Conn, Dialect, Param, Query, Value};
use crate::SqlStore;

/// Rows per read and per insert: at most 19 columns each, under PostgreSQL's 65,535
/// bound values.
const BATCH: i64 = 1000;
const PARALLEL_BLOBS: usize = 8;

/// Rows per table in the source and, after the copy, in the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReport {
    pub table: String,
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

/// A target column's type, for the values whose SQLite storage differs (booleans are
/// 0/1 there) and for typed nulls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Text,
    Bytes,
    Bool,
}

/// One table to copy: its columns, and the key its rows are read in order of.
struct Table {
    name: String,
    cols: Vec<String>,
    /// `rowid`, or a `WITHOUT ROWID` table's primary key columns.
    key: Vec<String>,
}

/// The tables to copy, in creation order (parents before the tables that refer to
/// them), each with the source's columns: read from the migrated schemas themselves, so
/// a new table or column is carried without being listed again here. SQLite's text index
/// is not copied: PostgreSQL derives its own from the segments' text.
async fn source_tables(from: &mut dyn Conn) -> StoreResult<Vec<Table>> {
    let names = from
        .fetch(Query::new(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name NOT LIKE '\\_sqlx%' ESCAPE '\\' \
             AND name NOT LIKE 'transcript\\_fts%' ESCAPE '\\' ORDER BY rowid",
        ))
        .await?;
    let mut tables = Vec::new();
    for row in names {
        let name = row.cols().text()?;
        let cols = names_of(
            from,
            "SELECT name FROM pragma_table_info($1) ORDER BY cid",
            &name,
        )
        .await?;
        let without_rowid = from
            .scalar_i64(Query::new("SELECT wr FROM pragma_table_list WHERE name = $1").bind(&name))
            .await?
            != 0;
        let key = if without_rowid {
            let pk = "SELECT name FROM pragma_table_info($1) WHERE pk > 0 ORDER BY pk";
            names_of(from, pk, &name).await?
        } else {
            vec!["rowid".to_owned()]
        };
        tables.push(Table { name, cols, key });
    }
    Ok(tables)
}

/// The names one statement about `table` answers.
async fn names_of(from: &mut dyn Conn, sql: &str, table: &str) -> StoreResult<Vec<String>> {
    let rows = from.fetch(Query::new(sql.to_owned()).bind(table)).await?;
    rows.into_iter().map(|r| r.cols().text()).collect()
}

/// The target's column types of one table.
async fn target_kinds(to: &mut dyn Conn, table: &str) -> StoreResult<HashMap<String, Kind>> {
    let rows = to
        .fetch(
            Query::new(
                "SELECT column_name, data_type FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1",
            )
            .bind(table),
        )
        .await?;
    let mut kinds = HashMap::new();
    for r in rows {
        let mut c = r.cols();
        let (name, ty) = (c.text()?, c.text()?);
        let kind = match ty.as_str() {
            "bigint" | "integer" | "smallint" => Kind::Int,
            "bytea" => Kind::Bytes,
            "boolean" => Kind::Bool,
            _ => Kind::Text,
        };
        kinds.insert(name, kind);
    }
    Ok(kinds)
}

fn param(v: Value, kind: Kind) -> StoreResult<Param> {
    Ok(match (v, kind) {
        (Value::Null, Kind::Int) => Param::Int(None),
        (Value::Null, Kind::Text) => Param::Text(None),
        (Value::Null, Kind::Bytes) => Param::Bytes(None),
        (Value::Null, Kind::Bool) => Param::Bool(None),
        (Value::Int(i), Kind::Bool) => Param::Bool(Some(i != 0)),
        (Value::Int(i), _) => Param::Int(Some(i)),
        (Value::Text(s), _) => Param::Text(Some(s)),
        (Value::Bytes(b), _) => Param::Bytes(Some(b)),
        (Value::Bool(b), _) => Param::Bool(Some(b)),
        (Value::Real(r), _) => {
            return Err(StoreError::backend(format!(
                "a real number ({r}) where the schema has none"
            )))
        }
    })
}

/// A source row's key value, bound again to read on from it.
fn key_param(v: Value) -> StoreResult<Param> {
    match v {
        Value::Int(i) => Ok(Param::Int(Some(i))),
        Value::Text(s) => Ok(Param::Text(Some(s))),
        v => Err(StoreError::backend(format!(
            "a key value {v:?} is neither integer nor text"
        ))),
    }
}

fn check_dialects(from: &SqlStore, to: &SqlStore) -> StoreResult<()> {
    if from.dialect() == Dialect::Sqlite && to.dialect() == Dialect::Postgres {
        Ok(())
    } else {
        Err(StoreError::backend(
            "migrate copies an embedded (SQLite) store to a PostgreSQL one",
        ))
    }
}

/// Copies every row; answers the counts, and fails if any table lacks source rows.
pub async fn copy_metadata(from: &SqlStore, to: &SqlStore) -> StoreResult<Vec<TableReport>> {
    check_dialects(from, to)?;
    let mut src = from.read().await?;
    let mut dst = to.read().await?;
    let mut reports = Vec::new();
    for Table {
        name: table,
        cols,
        key,
    } in source_tables(src.as_mut()).await?
    {
        let kinds = target_kinds(dst.as_mut(), &table).await?;
        let kinds = cols
            .iter()
            .map(|c| {
                kinds.get(c).copied().ok_or_else(|| {
                    StoreError::backend(format!("{table}.{c} is missing in the target schema"))
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let names = cols.join(", ");
        let keys = key.join(", ");
        let marks = (1..=key.len()).map(|n| format!("${n}")).collect::<Vec<_>>();
        let from_start = format!("SELECT {keys}, {names} FROM {table} ORDER BY {keys} LIMIT $1");
        let onwards = format!(
            "SELECT {keys}, {names} FROM {table} WHERE ({keys}) > ({}) ORDER BY {keys} LIMIT ${}",
            marks.join(", "),
            key.len() + 1
        );
        // The last row's key, once a page was read.
        let mut after: Option<Vec<Param>> = None;
        let mut source = 0u64;
        loop {
            let page = match &after {
                None => Query::new(from_start.as_str()),
                Some(last) => last
                    .iter()
                    .cloned()
                    .fold(Query::new(onwards.as_str()), Query::bind),
            };
            let rows = src.fetch(page.bind(BATCH)).await?;
            if rows.is_empty() {
                break;
            }
            source += rows.len() as u64;
            let mut insert = Query::new(format!("INSERT INTO {table} ({names}) VALUES "));
            for (n, row) in rows.into_iter().enumerate() {
                let mut values = row.into_values();
                let params = values
                    .split_off(key.len())
                    .into_iter()
                    .zip(&kinds)
                    .map(|(v, k)| param(v, *k))
                    .collect::<StoreResult<Vec<_>>>()?;
                after = Some(
                    values
                        .into_iter()
                        .map(key_param)
                        .collect::<StoreResult<_>>()?,
                );
                insert
                    .push(if n == 0 { "" } else { ", " })
                    .push_tuple(params);
            }
            insert.push(" ON CONFLICT DO NOTHING");
            dst.execute(insert).await?;
        }
        let count = Query::new(format!("SELECT COUNT(*) FROM {table}"));
        let target = dst.scalar_i64(count).await?.max(0) as u64;
        if target < source {
            return Err(StoreError::backend(format!(
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
    let identities = dst
        .fetch(Query::new(
            "SELECT table_name, column_name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND is_identity = 'YES' \
             AND identity_generation = 'BY DEFAULT'",
        ))
        .await?;
    for r in identities {
        let mut c = r.cols();
        let (table, column) = (c.text()?, c.text()?);
        dst.fetch(Query::new(format!(
            "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), \
             GREATEST((SELECT MAX({column}) FROM {table}), 1))"
        )))
        .await?;
    }
    verify_content_rows(src.as_mut(), dst.as_mut()).await?;
    Ok(reports)
}

/// Every content item of the source is in the target with the same digest.
async fn verify_content_rows(src: &mut dyn Conn, dst: &mut dyn Conn) -> StoreResult<()> {
    let mut after = 0i64;
    loop {
        let rows = src
            .fetch(
                Query::new(
                    "SELECT rowid, interaction_id, content_key, sha256 FROM content_items \
                     WHERE rowid > $1 ORDER BY rowid LIMIT $2",
                )
                .bind(after)
                .bind(BATCH),
            )
            .await?;
        if rows.is_empty() {
            return Ok(());
        }
        for r in rows {
            let mut c = r.cols();
            after = c.i64()?;
            let (id, key, sha) = (c.i64()?, c.text()?, c.text()?);
            let there = dst
                .fetch_optional(
                    Query::new(
                        "SELECT sha256 FROM content_items WHERE interaction_id = $1 \
                         AND content_key = $2",
                    )
                    .bind(id)
                    .bind(&key),
                )
                .await?
                .map(|r| r.cols().text())
                .transpose()?;
            if there.as_deref() != Some(sha.as_str()) {
                return Err(StoreError::backend(format!(
                    "content item {key} of interaction {id} differs in the target"
                )));
            }
        }
    }
}

/// Copies every blob the source's content references, then reads each back from the
/// target and checks its SHA-256.
pub async fn copy_blobs(
    from: &SqlStore,
    source: Arc<dyn BlobStore>,
    target: Arc<dyn BlobStore>,
) -> StoreResult<BlobReport> {
    let blobs = from
        .fetch(Query::new(
            "SELECT blob_key, MIN(sha256) FROM content_items GROUP BY blob_key ORDER BY blob_key",
        ))
        .await?
        .into_iter()
        .map(|r| {
            let mut c = r.cols();
            Ok((c.text()?, c.text()?))
        })
        .collect::<StoreResult<Vec<(String, String)>>>()?;
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
        return Err(StoreError::backend(format!(
            "blob {key} in the target does not match its SHA-256"
        )));
    }
    Ok((copied, len))
}
