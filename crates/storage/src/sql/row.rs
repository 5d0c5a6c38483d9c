//! Rows as every backend hands them back, read column by column in the order the
//! statement selected them.
//!
//! A decoder reads [`Cols`], which borrows its cells from wherever they are: an owned
//! [`Row`], or, on a search page's path ([`super::RowSink`]), the backend's own row,
//! so that nothing is copied before the decoder takes what it keeps. An owned row keeps
//! its text cells back to back in one buffer and its byte cells in another: two or three
//! allocations whatever its width, not one per text cell. glibc's allocator was about a
//! third of the server's CPU on a search page (docs/benchmarks.md). Text the decoder
//! only parses (ids, enums, JSON columns) is read in place ([`Cols::str`]); text a
//! domain value keeps is copied out once ([`Cols::text`]).

use callvault_core::CompactString;
use chrono::{DateTime, Utc};

use crate::error::{StoreError, StoreResult};

/// A column's value, owned: what [`Row::into_values`] hands to code that copies rows
/// from one database to another.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
    Bool(bool),
}

/// A cell: scalars inline, text and bytes as a range of the row's buffers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Bool(bool),
    Text(u32, u32),
    Bytes(u32, u32),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row {
    cells: Vec<Cell>,
    text: String,
    bytes: Vec<u8>,
}

impl Row {
    /// An empty row with room for `width` cells and `text` bytes of text.
    pub(crate) fn with_capacity(width: usize, text: usize) -> Row {
        Row {
            cells: Vec::with_capacity(width),
            text: String::with_capacity(text),
            bytes: Vec::new(),
        }
    }

    /// A copy of every cell of a backend's row.
    pub(crate) fn copy_of(cells: &dyn Cells, width: usize, text: usize) -> StoreResult<Row> {
        let mut row = Row::with_capacity(width, text);
        let mut i = 0;
        while let Some(c) = cells.cell(i) {
            row.push(c)?;
            i += 1;
        }
        Ok(row)
    }

    pub(crate) fn push(&mut self, c: CellRef<'_>) -> StoreResult<()> {
        let cell = match c {
            CellRef::Null => Cell::Null,
            CellRef::Int(v) => Cell::Int(v),
            CellRef::Real(v) => Cell::Real(v),
            CellRef::Bool(v) => Cell::Bool(v),
            CellRef::Text(t) => {
                let (start, end) = span(self.text.len(), t.len())?;
                self.text.push_str(t);
                Cell::Text(start, end)
            }
            CellRef::Bytes(b) => {
                let (start, end) = span(self.bytes.len(), b.len())?;
                self.bytes.extend_from_slice(b);
                Cell::Bytes(start, end)
            }
        };
        self.cells.push(cell);
        Ok(())
    }

    /// How many bytes of text the row holds: a capacity hint for the next row.
    pub(crate) fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Reads the columns in order; each read takes the next one.
    pub fn cols(&self) -> Cols<'_> {
        Cols::new(self)
    }

    /// The cells as owned values.
    pub fn into_values(self) -> Vec<Value> {
        self.cells.iter().map(|&c| self.value(c)).collect()
    }

    fn value(&self, c: Cell) -> Value {
        match c {
            Cell::Null => Value::Null,
            Cell::Int(v) => Value::Int(v),
            Cell::Real(v) => Value::Real(v),
            Cell::Bool(v) => Value::Bool(v),
            Cell::Text(s, e) => Value::Text(self.text[s as usize..e as usize].to_owned()),
            Cell::Bytes(s, e) => Value::Bytes(self.bytes[s as usize..e as usize].to_vec()),
        }
    }
}

/// A cell's range in a buffer; no row is anywhere near 4 GiB, but a cell that would
/// make one so is an error, not a wrapped offset.
fn span(at: usize, len: usize) -> StoreResult<(u32, u32)> {
    let end = at
        .checked_add(len)
        .and_then(|e| u32::try_from(e).ok())
        .ok_or_else(|| StoreError::backend("a row of 4 GiB or more"))?;
    Ok((at as u32, end))
}

/// A cell as a backend holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum CellRef<'a> {
    Null,
    Int(i64),
    Real(f64),
    Bool(bool),
    Text(&'a str),
    Bytes(&'a [u8]),
}

/// A row's cells by position, borrowed from whoever holds them.
///
/// A cell is handed over as it is, never as an error: text that is not UTF-8 comes as
/// bytes, and the reader that wanted text says what it found. Keeping errors out of
/// this per-cell call keeps its answer small; a `Result` as wide as [`StoreError`] on
/// every cell, moved through three calls, cost more than reading the cell.
pub(crate) trait Cells {
    /// The cell at `i`; `None` past the last column.
    fn cell(&self, i: usize) -> Option<CellRef<'_>>;
}

impl Cells for Row {
    #[inline]
    fn cell(&self, i: usize) -> Option<CellRef<'_>> {
        self.cells.get(i).map(|&c| match c {
            Cell::Null => CellRef::Null,
            Cell::Int(v) => CellRef::Int(v),
            Cell::Real(v) => CellRef::Real(v),
            Cell::Bool(v) => CellRef::Bool(v),
            Cell::Text(s, e) => CellRef::Text(&self.text[s as usize..e as usize]),
            Cell::Bytes(s, e) => CellRef::Bytes(&self.bytes[s as usize..e as usize]),
        })
    }
}

pub struct Cols<'r> {
    row: &'r dyn Cells,
    at: usize,
}

impl<'r> Cols<'r> {
    pub(crate) fn new(row: &'r dyn Cells) -> Self {
        Cols { row, at: 0 }
    }

    #[inline]
    fn next(&mut self) -> StoreResult<CellRef<'r>> {
        let cell = self.row.cell(self.at);
        self.at += 1;
        match cell {
            Some(c) => Ok(c),
            None => Err(self.missing()),
        }
    }

    #[cold]
    fn missing(&self) -> StoreError {
        StoreError::backend(format!("column {} is missing", self.at))
    }

    #[cold]
    fn unexpected(&self, want: &str, got: CellRef<'_>) -> StoreError {
        StoreError::backend(format!(
            "column {} holds {got:?} where {want} was expected",
            self.at
        ))
    }

    #[cold]
    fn null(&self) -> StoreError {
        StoreError::backend(format!("column {} is null", self.at))
    }

    #[inline]
    pub fn opt_i64(&mut self) -> StoreResult<Option<i64>> {
        match self.next()? {
            CellRef::Null => Ok(None),
            CellRef::Int(i) => Ok(Some(i)),
            CellRef::Bool(b) => Ok(Some(i64::from(b))),
            other => Err(self.unexpected("an integer", other)),
        }
    }

    #[inline]
    pub fn i64(&mut self) -> StoreResult<i64> {
        self.opt_i64()?.ok_or_else(|| self.null())
    }

    /// A count or size: never negative.
    #[inline]
    pub fn u64(&mut self) -> StoreResult<u64> {
        Ok(self.i64()?.max(0) as u64)
    }

    /// Text read in place, for a value that is parsed rather than kept.
    #[inline]
    pub fn opt_str(&mut self) -> StoreResult<Option<&'r str>> {
        match self.next()? {
            CellRef::Null => Ok(None),
            CellRef::Text(t) => Ok(Some(t)),
            other => Err(self.unexpected("text", other)),
        }
    }

    #[inline]
    pub fn str(&mut self) -> StoreResult<&'r str> {
        self.opt_str()?.ok_or_else(|| self.null())
    }

    #[inline]
    pub fn opt_text(&mut self) -> StoreResult<Option<String>> {
        Ok(self.opt_str()?.map(str::to_owned))
    }

    #[inline]
    pub fn text(&mut self) -> StoreResult<String> {
        self.str().map(str::to_owned)
    }

    /// Short text (addresses, ids, media types): kept inline when it fits.
    #[inline]
    pub fn short(&mut self) -> StoreResult<CompactString> {
        self.str().map(CompactString::from)
    }

    #[inline]
    pub fn opt_short(&mut self) -> StoreResult<Option<CompactString>> {
        Ok(self.opt_str()?.map(CompactString::from))
    }

    pub fn bytes(&mut self) -> StoreResult<Vec<u8>> {
        match self.next()? {
            CellRef::Bytes(b) => Ok(b.to_vec()),
            other => Err(self.unexpected("bytes", other)),
        }
    }

    /// SQLite keeps booleans as 0/1, PostgreSQL as `BOOLEAN`.
    #[inline]
    pub fn bool(&mut self) -> StoreResult<bool> {
        match self.next()? {
            CellRef::Bool(b) => Ok(b),
            CellRef::Int(i) => Ok(i != 0),
            other => Err(self.unexpected("a boolean", other)),
        }
    }

    /// Times are microseconds since the Unix epoch on every backend.
    #[inline]
    pub fn time(&mut self) -> StoreResult<DateTime<Utc>> {
        Ok(from_us(self.i64()?))
    }

    #[inline]
    pub fn opt_time(&mut self) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(self.opt_i64()?.map(from_us))
    }

    /// Passes over a column the caller does not need.
    #[inline]
    pub fn skip(&mut self) -> StoreResult<()> {
        self.next().map(drop)
    }
}

pub(crate) fn from_us(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Row {
        let mut r = Row::with_capacity(6, 0);
        for c in [
            CellRef::Int(7),
            CellRef::Text("héllo"),
            CellRef::Null,
            CellRef::Bytes(&[1, 2, 3]),
            CellRef::Text(""),
            CellRef::Bool(true),
        ] {
            r.push(c).unwrap();
        }
        r
    }

    #[test]
    fn cells_read_back_in_order_from_the_shared_buffers() {
        let r = sample();
        let mut c = r.cols();
        assert_eq!(c.i64().unwrap(), 7);
        assert_eq!(c.str().unwrap(), "héllo");
        assert_eq!(c.opt_text().unwrap(), None);
        assert_eq!(c.bytes().unwrap(), vec![1, 2, 3]);
        assert_eq!(c.text().unwrap(), "");
        assert!(c.bool().unwrap());
        assert!(c.skip().is_err(), "a seventh column is missing");
    }

    #[test]
    fn owned_values_match_the_cells() {
        assert_eq!(
            sample().into_values(),
            vec![
                Value::Int(7),
                Value::Text("héllo".into()),
                Value::Null,
                Value::Bytes(vec![1, 2, 3]),
                Value::Text(String::new()),
                Value::Bool(true),
            ]
        );
    }

    #[test]
    fn a_wrong_type_names_the_column_and_what_it_holds() {
        let r = sample();
        let mut c = r.cols();
        let e = c.str().unwrap_err().to_string();
        assert!(e.contains("column 1") && e.contains("Int(7)"), "{e}");
        let e = c.i64().unwrap_err().to_string();
        assert!(e.contains("column 2") && e.contains("héllo"), "{e}");
        let e = c.text().unwrap_err().to_string();
        assert!(e.contains("column 3 is null"), "{e}");
    }
}
