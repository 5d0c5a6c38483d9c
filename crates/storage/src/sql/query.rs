//! Statements with their bound values, built once for every backend.

use callvault_core::CompactString;
use chrono::{DateTime, Utc};

/// A bound value. Nulls carry their type, because PostgreSQL checks a parameter's type
/// against its column even when the value is null.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Int(Option<i64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
    Bool(Option<bool>),
    /// A list of integers, for [`crate::sql::Dialect::push_in`].
    Ints(Vec<i64>),
    /// A list of texts, for [`crate::sql::Dialect::push_in`].
    Texts(Vec<String>),
}

macro_rules! param_from {
    ($variant:ident: $($t:ty => $conv:expr),* $(,)?) => {$(
        impl From<$t> for Param {
            fn from(v: $t) -> Self {
                #[allow(clippy::redundant_closure_call)]
                Param::$variant(Some(($conv)(v)))
            }
        }
        impl From<Option<$t>> for Param {
            fn from(v: Option<$t>) -> Self {
                #[allow(clippy::redundant_closure_call)]
                Param::$variant(v.map($conv))
            }
        }
    )*};
}

param_from!(Int: i64 => |v| v, i32 => i64::from, u32 => i64::from,
    u64 => |v: u64| v.min(i64::MAX as u64) as i64,
    DateTime<Utc> => |v: DateTime<Utc>| v.timestamp_micros());
param_from!(Text: String => |v| v, &str => str::to_string, &String => String::clone,
    &CompactString => CompactString::to_string);
param_from!(Bytes: Vec<u8> => |v| v, &[u8] => <[u8]>::to_vec, &Vec<u8> => Vec::clone);
param_from!(Bool: bool => |v| v);

impl From<&Option<String>> for Param {
    fn from(v: &Option<String>) -> Self {
        Param::Text(v.clone())
    }
}

impl From<&Option<CompactString>> for Param {
    fn from(v: &Option<CompactString>) -> Self {
        Param::Text(v.as_ref().map(CompactString::to_string))
    }
}

impl From<uuid::Uuid> for Param {
    fn from(v: uuid::Uuid) -> Self {
        Param::Text(Some(v.to_string()))
    }
}

/// SQL text with `$1`, `$2`, ... placeholders and the values they stand for.
///
/// Static statements are written whole and bound in order (`Query::new(..).bind(..)`);
/// dynamic ones are assembled with [`Query::push`] and [`Query::push_bind`], which
/// numbers each placeholder itself. Only values are ever bound; identifiers and
/// fragments come from the store's own constants.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub(crate) sql: String,
    pub(crate) params: Vec<Param>,
}

impl Query {
    pub fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            params: Vec::new(),
        }
    }

    /// Binds the next numbered placeholder of a statement written whole.
    #[must_use]
    pub fn bind(mut self, v: impl Into<Param>) -> Self {
        self.params.push(v.into());
        self
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a placeholder for `v`.
    pub fn push_bind(&mut self, v: impl Into<Param>) -> &mut Self {
        self.params.push(v.into());
        self.sql.push('$');
        self.sql.push_str(&self.params.len().to_string());
        self
    }

    /// Appends `(v1, v2, ...)` as separate placeholders.
    pub fn push_tuple<P: Into<Param>>(&mut self, values: impl IntoIterator<Item = P>) -> &mut Self {
        self.push("(");
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push_bind(v);
        }
        self.push(")")
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }
}

/// The SQL with every `$N` placeholder outside quotes written as SQLite's `?N`, which
/// binds by number (SQLite would number `$N` by first appearance instead).
pub(crate) fn numbered_for_sqlite(sql: &str) -> String {
    // Byte by byte and copying the spans between placeholders: the quotes and `$` are
    // ASCII, so every span boundary is a char boundary. This runs for every statement.
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<u8> = None;
    let mut copied = 0;
    for (i, &b) in bytes.iter().enumerate() {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if b == b'$' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                out.push_str(&sql[copied..i]);
                out.push('?');
                copied = i + 1;
            }
            None => {}
        }
    }
    out.push_str(&sql[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order_of_binding() {
        let mut q = Query::new("SELECT 1 WHERE a = ");
        q.push_bind(1i64).push(" AND b IN ").push_tuple(["x", "y"]);
        assert_eq!(q.sql(), "SELECT 1 WHERE a = $1 AND b IN ($2, $3)");
        assert_eq!(q.params.len(), 3);
    }

    #[test]
    fn sqlite_numbering_leaves_quoted_dollars_alone() {
        assert_eq!(
            numbered_for_sqlite("SELECT '$1', \"$2\" FROM t WHERE a = $1 AND b = $12"),
            "SELECT '$1', \"$2\" FROM t WHERE a = ?1 AND b = ?12"
        );
    }

    #[test]
    fn sqlite_numbering_keeps_other_text_whole() {
        assert_eq!(
            numbered_for_sqlite("SELECT 'é$1', ñ FROM t WHERE a = $2 AND b = 'x$' AND c = $"),
            "SELECT 'é$1', ñ FROM t WHERE a = ?2 AND b = 'x$' AND c = $"
        );
    }
}
