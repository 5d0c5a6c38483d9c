//! The embedded database's schema: sqlx's migrator, as earlier versions used, so existing
//! files migrate as before; skipped when the file is already up to date.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::migrations::SQLITE_MIGRATIONS;
use crate::error::{StoreError, StoreResult};

/// Whether the file already holds exactly the embedded migrations, each applied in full
/// with the same checksum. Read through rusqlite, so that a start on an up-to-date file
/// does not load sqlx's SQLite driver (its code and a connection of its own) only to
/// learn there is nothing to do. Anything else (a new file, a missing, failed, changed or
/// unknown migration) goes to sqlx's migrator, which applies or refuses as before.
pub(crate) fn up_to_date(path: &Path, busy_timeout: Duration) -> StoreResult<bool> {
    if !path.exists() {
        return Ok(false);
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(busy_timeout)?;
    let Ok(mut stmt) = conn.prepare("SELECT version, checksum, success FROM _sqlx_migrations")
    else {
        return Ok(false);
    };
    let mut applied = std::collections::HashMap::new();
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        if !r.get::<_, bool>(2)? {
            return Ok(false);
        }
        applied.insert(r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?);
    }
    let wanted: Vec<_> = SQLITE_MIGRATIONS
        .migrations()
        .into_iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .collect();
    Ok(applied.len() == wanted.len()
        && wanted
            .iter()
            .all(|m| applied.get(&m.version).map(Vec::as_slice) == Some(&*m.checksum)))
}

pub(crate) async fn migrate(path: &Path, busy_timeout: Duration) -> StoreResult<()> {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    use sqlx::{ConnectOptions, Connection as _};
    let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .map_err(StoreError::from_sqlx)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(busy_timeout);
    let migrator = SQLITE_MIGRATIONS.migrator().await?;
    let mut conn = opts.connect().await.map_err(StoreError::from_sqlx)?;
    let migrated = migrator.run(&mut conn).await;
    conn.close().await.map_err(StoreError::from_sqlx)?;
    Ok(migrated?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn a_new_file_needs_the_migrator_and_a_migrated_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("v.db");
        assert!(!up_to_date(&db, WAIT).unwrap());
        migrate(&db, WAIT).await.unwrap();
        assert!(up_to_date(&db, WAIT).unwrap());
    }

    #[tokio::test]
    async fn a_file_migrated_by_a_newer_version_still_goes_to_the_migrator_which_refuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("v.db");
        migrate(&db, WAIT).await.unwrap();
        Connection::open(&db)
            .unwrap()
            .execute(
                "INSERT INTO _sqlx_migrations \
                 (version, description, success, checksum, execution_time) \
                 VALUES (99999999, 'from the future', 1, x'00', 0)",
                [],
            )
            .unwrap();
        assert!(!up_to_date(&db, WAIT).unwrap());
        assert!(migrate(&db, WAIT).await.is_err());
    }
}
