//! Helpers shared by the test suites of several crates (as a dev-dependency) and by the
//! benchmark, which starts the same browser the console tests do.

pub mod chromium;

use sqlx::{Connection, Executor, PgConnection};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A uniquely named database on the test PostgreSQL server (env
/// `CALLVAULT_TEST_POSTGRES_URL`, default the local trust-auth server), dropped when this
/// value is, even when the test panics. An unreachable server panics: a test that needs
/// PostgreSQL never passes without it.
pub struct PgTestDb {
    admin_url: String,
    name: String,
    url: String,
}

impl PgTestDb {
    pub async fn create() -> Self {
        let admin_url =
            std::env::var("CALLVAULT_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.into());
        let name = format!("callvault_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {admin_url} is unreachable ({e}); start it (scripts/services.sh) \
                 or set CALLVAULT_TEST_POSTGRES_URL"
            )
        });
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create the test database");
        admin.close().await.ok();
        Self {
            url: with_database(&admin_url, &name),
            admin_url,
            name,
        }
    }

    /// The connection URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs a statement on the server's administrative database.
    pub async fn admin(&self, sql: &str) {
        let mut admin = PgConnection::connect(&self.admin_url).await.unwrap();
        admin.execute(sql).await.unwrap();
        admin.close().await.ok();
    }
}

impl Drop for PgTestDb {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // A runtime of its own: the test's runtime may be the one blocked in this drop.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await.ok()?;
                admin.execute(sql.as_str()).await.ok()?;
                admin.close().await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

/// The URL with its database replaced.
fn with_database(url: &str, db: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let authority = head.find("://").map_or(0, |i| i + 3);
    let path = head[authority..]
        .find('/')
        .map_or(head.len(), |i| authority + i);
    let mut out = format!("{}/{db}", &head[..path]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}
