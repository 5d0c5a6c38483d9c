//! The fragments in which SQLite and PostgreSQL really differ. Everything else in the
//! store's SQL is written once and runs on both.

use callvault_core::transcript::TextQuery;

use callvault_core::TenantId;

use super::{Param, Query};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Row locks a write takes on what it read. SQLite has one writer at a time and needs
/// none; PostgreSQL nodes write concurrently and take these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// The row will be changed but not its key: other writers of it wait, foreign-key
    /// checks of rows referring to it do not.
    NoKeyUpdate,
    /// The row will be deleted or its key changed.
    Update,
    /// The row must not change until commit.
    Share,
    /// Claim one row nobody else is claiming; pass over locked rows. A claim never
    /// changes a key, so the lock leaves rows that refer to the claimed one free to be
    /// written: a subscription being claimed still takes new deliveries.
    UpdateSkipLocked,
    /// Take rows nobody else is taking, to delete them; pass over locked rows.
    DeleteSkipLocked,
}

impl Dialect {
    /// The locking clause that ends a `SELECT`.
    pub fn lock(self, lock: Lock) -> &'static str {
        match (self, lock) {
            (Dialect::Sqlite, _) => "",
            (Dialect::Postgres, Lock::NoKeyUpdate) => " FOR NO KEY UPDATE",
            (Dialect::Postgres, Lock::Update) => " FOR UPDATE",
            (Dialect::Postgres, Lock::Share) => " FOR SHARE",
            (Dialect::Postgres, Lock::UpdateSkipLocked) => " FOR NO KEY UPDATE SKIP LOCKED",
            (Dialect::Postgres, Lock::DeleteSkipLocked) => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// Makes a text comparison bytewise. SQLite's default collation already is (and its
    /// indexes are built with it); PostgreSQL's default follows the locale.
    pub fn bytewise(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " COLLATE \"C\"",
        }
    }

    /// The column that keeps the order in which content items were first stored.
    pub fn content_order(self) -> &'static str {
        match self {
            Dialect::Sqlite => "rowid",
            Dialect::Postgres => "seq",
        }
    }

    /// `column IN (list)` with the whole list as one bound value, so the statement's text
    /// (and its cached plan) is the same for every length. A single value is
    /// `column = value`.
    pub fn push_in(self, q: &mut Query, column: &str, list: Param) {
        let json = match &list {
            Param::Ints(v) => serde_json::to_string(v),
            Param::Texts(v) => serde_json::to_string(v),
            _ => {
                q.push(column).push(" = ").push_bind(list);
                return;
            }
        };
        match self {
            Dialect::Sqlite => {
                // Serialising integers or strings cannot fail.
                let text = json.unwrap_or_else(|_| "[]".into());
                q.push(column)
                    .push(" IN (SELECT value FROM json_each(")
                    .push_bind(text)
                    .push("))");
            }
            Dialect::Postgres => {
                q.push(column).push(" = ANY(").push_bind(list).push(")");
            }
        }
    }

    /// Whether the JSON array of texts in `column` holds `value`.
    pub fn push_json_array_contains(self, q: &mut Query, column: &str, value: &str) {
        self.push_json_array_holds(q, column, |q| {
            q.push_bind(value);
        });
    }

    /// Whether the JSON array of texts in `column` holds the text in `value_column`.
    pub fn push_json_array_contains_column(self, q: &mut Query, column: &str, value_column: &str) {
        self.push_json_array_holds(q, column, |q| {
            q.push(value_column);
        });
    }

    fn push_json_array_holds(self, q: &mut Query, column: &str, value: impl FnOnce(&mut Query)) {
        match self {
            Dialect::Sqlite => {
                q.push(" EXISTS (SELECT 1 FROM json_each(")
                    .push(column)
                    .push(") e WHERE e.value = ");
                value(q);
                q.push(")");
            }
            Dialect::Postgres => {
                q.push(" ")
                    .push(column)
                    .push("::jsonb @> jsonb_build_array(");
                value(q);
                q.push("::text)");
            }
        }
    }

    /// The text at `key` of the JSON object in `column`.
    pub fn json_field(self, column: &str, key: &str) -> String {
        match self {
            Dialect::Sqlite => format!("({column} ->> '{key}')"),
            Dialect::Postgres => format!("({column}::json ->> '{key}')"),
        }
    }

    /// The next free all-digit agent id of a tenant (`$1`): one more than the largest,
    /// or 100001 for the first. An empty id counts as 0 on both.
    pub fn next_agent_id_sql(self) -> &'static str {
        match self {
            Dialect::Sqlite => {
                "SELECT COALESCE(MAX(CAST(agent_id AS INTEGER)), 100000) + 1 FROM agents \
                 WHERE tenant_id = $1 AND agent_id NOT GLOB '*[^0-9]*'"
            }
            Dialect::Postgres => {
                "SELECT (COALESCE(MAX(CASE WHEN agent_id = '' THEN 0 ELSE agent_id::numeric END), \
                 100000) + 1)::bigint FROM agents WHERE tenant_id = $1 AND agent_id ~ '^[0-9]*$'"
            }
        }
    }

    /// `FROM ... WHERE ...` of a tenant's transcript segments (alias `s`) that hold every
    /// term of the query. The terms are plain words (core's `TextQuery`), so neither the
    /// FTS5 string nor the tsquery built from them can be a syntax error.
    pub fn push_matching_segments(self, q: &mut Query, tenant: TenantId, text: &TextQuery) {
        match self {
            Dialect::Sqlite => {
                let expr = text
                    .terms
                    .iter()
                    .map(|words| format!("\"{}\"", words.join(" ")))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                q.push(
                    " FROM transcript_fts JOIN transcript_segments s \
                     ON s.id = transcript_fts.rowid WHERE transcript_fts MATCH ",
                )
                .push_bind(expr)
                .push(" AND s.tenant_id = ")
                .push_bind(tenant.0);
            }
            Dialect::Postgres => {
                q.push(" FROM transcript_segments s WHERE s.tenant_id = ")
                    .push_bind(tenant.0)
                    .push(" AND s.tsv @@ ");
                push_tsquery(q, text);
            }
        }
    }

    /// The tenant column of a text search's filter. SQLite's planner would walk the
    /// tenant's search index in order and test every interaction against the matches
    /// (a quarter of a million rows for a word said in a hundred calls of a million);
    /// the unary plus takes that index away, so it starts from the matches and sorts
    /// them. PostgreSQL plans by cost and keeps the plain column.
    pub fn driving_text_tenant(self) -> &'static str {
        match self {
            Dialect::Sqlite => "+i.tenant_id",
            Dialect::Postgres => "i.tenant_id",
        }
    }

    /// A matching segment's text with each hit between core's `HIT_START` and `HIT_END`.
    pub fn push_marked_body(self, q: &mut Query, text: &TextQuery) {
        match self {
            Dialect::Sqlite => {
                q.push("highlight(transcript_fts, 0, char(1), char(2))");
            }
            Dialect::Postgres => {
                q.push("ts_headline('english', s.body, ");
                push_tsquery(q, text);
                q.push(
                    ", 'StartSel=' || chr(1) || ', StopSel=' || chr(2) || ', HighlightAll=true')",
                );
            }
        }
    }
}

/// Every term as a phrase, all of them required.
fn push_tsquery(q: &mut Query, text: &TextQuery) {
    q.push("(");
    for (n, words) in text.terms.iter().enumerate() {
        q.push(if n == 0 { "" } else { " && " })
            .push("phraseto_tsquery('english', ")
            .push_bind(words.join(" "))
            .push(")");
    }
    q.push(")");
}
