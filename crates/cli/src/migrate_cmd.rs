//! `callvault migrate`: moves an embedded vault (SQLite + local files) to PostgreSQL and
//! an S3 bucket, then verifies row counts and every blob's SHA-256. Safe to re-run.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use callvault_storage::migrate::{copy_blobs, copy_metadata};
use callvault_storage::{BlobStore, LocalBlobStore, SqlStore};
use serde_json::json;

use crate::admin;
use crate::config::{ServeArgs, Settings, StoreArgs};

/// The data directory named by `sqlite:DIR`, `sqlite://DIR` or a path to its
/// `callvault.db`.
fn source_dir(from: &str) -> anyhow::Result<PathBuf> {
    let path = from
        .strip_prefix("sqlite://")
        .or_else(|| from.strip_prefix("sqlite:"))
        .context("--from must be sqlite:DATA_DIR")?;
    anyhow::ensure!(!path.is_empty(), "--from must name a data directory");
    let p = PathBuf::from(path);
    Ok(if p.extension().is_some_and(|e| e == "db") {
        p.parent().map(PathBuf::from).unwrap_or_default()
    } else {
        p
    })
}

pub async fn run(
    store: &StoreArgs,
    from: &str,
    to: &str,
    to_blobs: &str,
    json_out: bool,
) -> anyhow::Result<()> {
    let dir = source_dir(from)?;
    let db = dir.join("callvault.db");
    anyhow::ensure!(db.is_file(), "no embedded vault at {}", db.display());
    anyhow::ensure!(
        to.starts_with("postgres://") || to.starts_with("postgresql://"),
        "--to must be postgres://..."
    );
    // The [s3] table of --config (or AWS_* variables) says how to reach the bucket.
    let target = Settings::resolve(
        &StoreArgs {
            config: store.config.clone(),
            data_dir: Some(dir.clone()),
            database_url: Some(to.to_string()),
            blob_url: Some(to_blobs.to_string()),
        },
        &ServeArgs::default(),
    )?;
    let s3 = target
        .s3
        .context("--to-blobs must be s3://bucket[/prefix]")?;

    let source = SqlStore::open_sqlite(&db)
        .await
        .with_context(|| format!("opening {}", db.display()))?;
    let source_blobs: Arc<dyn BlobStore> =
        Arc::new(LocalBlobStore::open(&dir.join("content")).await?);
    let pg = SqlStore::open_postgres(to)
        .await
        .context("connecting to the PostgreSQL database")?;
    let target_blobs: Arc<dyn BlobStore> = Arc::new(s3.open()?);

    let tables = copy_metadata(&source, &pg)
        .await
        .context("copying metadata")?;
    let blobs = copy_blobs(&source, source_blobs, target_blobs)
        .await
        .context("copying content")?;
    let mut human = String::from("table                rows (source → target)\n");
    for t in &tables {
        human.push_str(&format!("{:<20} {} → {}\n", t.table, t.source, t.target));
    }
    human.push_str(&format!(
        "blobs: {} ({} copied, {} already there), {} bytes verified by SHA-256\n\n\
         Every node must use this vault's master key to open external storage \
         credentials: set CALLVAULT_MASTER_KEY to the contents of {}.",
        blobs.total,
        blobs.copied,
        blobs.already_there,
        blobs.bytes_verified,
        dir.join("master.key").display()
    ));
    admin::print(
        json_out,
        json!({
            "tables": tables.iter().map(|t| json!({ "table": t.table, "source": t.source, "target": t.target })).collect::<Vec<_>>(),
            "blobs": { "total": blobs.total, "copied": blobs.copied, "alreadyThere": blobs.already_there, "bytesVerified": blobs.bytes_verified },
        }),
        human,
    );
    source.close().await;
    pg.close().await;
    Ok(())
}
