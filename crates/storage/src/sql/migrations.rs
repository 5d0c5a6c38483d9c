//! The schema's migrations, embedded in the binary (`build.rs` lists the files) and run by
//! sqlx's migrator, as every earlier version did, so existing databases migrate as before.
//!
//! sqlx's `migrate!` macro would embed them too, but only by building sqlx's drivers and
//! SQLite's C library a second time, for the compiler: about a minute of every cold build
//! and lint on two cores. Here the files are parsed at run time the way sqlx's own
//! directory source parses them (`<version>_<description>.sql`, `-- no-transaction`), so
//! versions, descriptions and checksums are the ones the macro recorded; a test holds the
//! two readings equal.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

use crate::error::{StoreError, StoreResult};

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// One database's migrations.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Embedded(&'static [(&'static str, &'static str)]);

pub(crate) const SQLITE_MIGRATIONS: Embedded = Embedded(SQLITE);
pub(crate) const POSTGRES_MIGRATIONS: Embedded = Embedded(POSTGRES);

impl Embedded {
    /// Every migration, in version order.
    pub(crate) fn migrations(self) -> Vec<Migration> {
        let mut all: Vec<Migration> = self
            .0
            .iter()
            .map(|(name, sql)| {
                let (version, rest) = name
                    .split_once('_')
                    .expect("build.rs embeds <version>_<description>.sql files");
                let kind = MigrationType::from_filename(rest);
                Migration::new(
                    version.parse().expect("a migration's version is a number"),
                    Cow::Owned(rest.trim_end_matches(kind.suffix()).replace('_', " ")),
                    kind,
                    Cow::Borrowed(sql),
                    sql.starts_with("-- no-transaction"),
                )
            })
            .collect();
        all.sort_by_key(|m| m.version);
        all
    }

    pub(crate) async fn migrator(self) -> StoreResult<Migrator> {
        Migrator::new(self).await.map_err(StoreError::from)
    }
}

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        Box::pin(async move { Ok(self.migrations()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What sqlx's own reading of the directory (the one its `migrate!` macro uses)
    /// makes of the same files.
    async fn read_by_sqlx(dir: &str) -> Vec<Migration> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        Migrator::new(path).await.unwrap().iter().cloned().collect()
    }

    fn same(a: &[Migration], b: &[Migration]) {
        assert_eq!(a.len(), b.len());
        for (a, b) in a.iter().zip(b) {
            assert_eq!(
                (a.version, &a.description, &a.checksum, a.no_tx),
                (b.version, &b.description, &b.checksum, b.no_tx)
            );
            assert_eq!(a.migration_type, b.migration_type);
        }
    }

    #[tokio::test]
    async fn the_embedded_migrations_are_what_sqlx_reads_from_the_directories() {
        same(
            &SQLITE_MIGRATIONS.migrations(),
            &read_by_sqlx("migrations/sqlite").await,
        );
        same(
            &POSTGRES_MIGRATIONS.migrations(),
            &read_by_sqlx("migrations/postgres").await,
        );
    }
}
