//! Rows as every backend hands them back, read column by column in the order the
//! statement selected them.

use chrono::{DateTime, Utc};

use crate::error::{StoreError, StoreResult};

/// A column's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
    Bool(bool),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row(pub(crate) Vec<Value>);

impl Row {
    /// Reads the columns in order; each read takes the next one.
    pub fn cols(self) -> Cols {
        Cols {
            values: self.0.into_iter(),
            at: 0,
        }
    }

    pub fn values(&self) -> &[Value] {
        &self.0
    }
}

pub struct Cols {
    values: std::vec::IntoIter<Value>,
    at: usize,
}

impl Cols {
    fn next(&mut self) -> StoreResult<Value> {
        self.at += 1;
        self.values
            .next()
            .ok_or_else(|| StoreError::backend(format!("column {} is missing", self.at)))
    }

    fn unexpected(&self, want: &str, got: &Value) -> StoreError {
        StoreError::backend(format!(
            "column {} holds {got:?} where {want} was expected",
            self.at
        ))
    }

    pub fn opt_i64(&mut self) -> StoreResult<Option<i64>> {
        match self.next()? {
            Value::Null => Ok(None),
            Value::Int(i) => Ok(Some(i)),
            Value::Bool(b) => Ok(Some(i64::from(b))),
            other => Err(self.unexpected("an integer", &other)),
        }
    }

    pub fn i64(&mut self) -> StoreResult<i64> {
        self.opt_i64()?
            .ok_or_else(|| StoreError::backend(format!("column {} is null", self.at)))
    }

    /// A count or size: never negative.
    pub fn u64(&mut self) -> StoreResult<u64> {
        Ok(self.i64()?.max(0) as u64)
    }

    pub fn opt_text(&mut self) -> StoreResult<Option<String>> {
        match self.next()? {
            Value::Null => Ok(None),
            Value::Text(s) => Ok(Some(s)),
            other => Err(self.unexpected("text", &other)),
        }
    }

    pub fn text(&mut self) -> StoreResult<String> {
        self.opt_text()?
            .ok_or_else(|| StoreError::backend(format!("column {} is null", self.at)))
    }

    pub fn bytes(&mut self) -> StoreResult<Vec<u8>> {
        match self.next()? {
            Value::Bytes(b) => Ok(b),
            other => Err(self.unexpected("bytes", &other)),
        }
    }

    /// SQLite keeps booleans as 0/1, PostgreSQL as `BOOLEAN`.
    pub fn bool(&mut self) -> StoreResult<bool> {
        match self.next()? {
            Value::Bool(b) => Ok(b),
            Value::Int(i) => Ok(i != 0),
            other => Err(self.unexpected("a boolean", &other)),
        }
    }

    /// Times are microseconds since the Unix epoch on every backend.
    pub fn time(&mut self) -> StoreResult<DateTime<Utc>> {
        Ok(from_us(self.i64()?))
    }

    pub fn opt_time(&mut self) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(self.opt_i64()?.map(from_us))
    }

    /// Passes over a column the caller does not need.
    pub fn skip(&mut self) -> StoreResult<()> {
        self.next().map(drop)
    }
}

pub(crate) fn from_us(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}
