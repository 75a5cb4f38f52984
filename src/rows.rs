//! Data rows from either format, chosen by what the file holds, never by its name: uploads are
//! stored under names the engine did not choose, and a `.csv` that is really Parquet (or the
//! reverse) should read as what it is.
//!
//! Parquet files begin and end with the magic `PAR1`. A file that begins with it but does not
//! end with it is a truncated Parquet file when binary bytes follow the magic (the Parquet
//! reader then says "not a Parquet file or truncated"), and a CSV whose header happens to start
//! with the letters `PAR1` when only text follows.

use crate::cells::Unseen;
use crate::data::{ColumnMap, CsvRows, Matrix};
use crate::error::{Error, Result};
use crate::model::Ensemble;
use crate::parquet::ParquetRows;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Parquet's magic, at both ends of the file.
const MAGIC: &[u8; 4] = b"PAR1";
/// Bytes after the leading magic inspected for binary content.
const SNIFF: usize = 4096;

/// Anything that yields row blocks in model feature order: both readers and [`DataRows`].
pub trait RowBlocks {
    /// Up to `max_rows` more rows; `None` at the end.
    fn next_block(&mut self, max_rows: usize) -> Result<Option<Matrix>>;
}

impl RowBlocks for CsvRows {
    fn next_block(&mut self, max_rows: usize) -> Result<Option<Matrix>> {
        CsvRows::next_block(self, max_rows)
    }
}

impl RowBlocks for ParquetRows {
    fn next_block(&mut self, max_rows: usize) -> Result<Option<Matrix>> {
        ParquetRows::next_block(self, max_rows)
    }
}

impl RowBlocks for DataRows {
    fn next_block(&mut self, max_rows: usize) -> Result<Option<Matrix>> {
        DataRows::next_block(self, max_rows)
    }
}

/// True when `path` holds Parquet (see the module notes for a file with only the leading magic).
pub fn is_parquet(path: &Path) -> Result<bool> {
    let io = |source| Error::Io {
        action: "cannot read",
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(|source| Error::Io {
        action: "cannot open",
        path: path.to_path_buf(),
        source,
    })?;
    let mut head = Vec::with_capacity(4 + SNIFF);
    (&mut file)
        .take(4 + SNIFF as u64)
        .read_to_end(&mut head)
        .map_err(io)?;
    if !head.starts_with(MAGIC) {
        return Ok(false);
    }
    let mut tail = [0u8; 4];
    file.seek(SeekFrom::End(-4)).map_err(io)?;
    file.read_exact(&mut tail).map_err(io)?;
    if &tail == MAGIC {
        return Ok(true);
    }
    let rest = &head[4..];
    let control = rest
        .iter()
        .any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'));
    // An incomplete character cut at the end of the sniffed bytes is still text.
    let invalid = std::str::from_utf8(rest).is_err_and(|e| e.error_len().is_some());
    Ok(control || invalid)
}

/// Rows of a CSV or Parquet data file, with one interface.
pub enum DataRows {
    Csv(CsvRows),
    Parquet(ParquetRows),
}

impl DataRows {
    pub fn open(path: &Path, model: &Ensemble) -> Result<Self> {
        Ok(if is_parquet(path)? {
            DataRows::Parquet(ParquetRows::open(path, model)?)
        } else {
            DataRows::Csv(CsvRows::open(path, model)?)
        })
    }

    /// Opens the file positioned at data row `row` (0-based) without reading the rows before
    /// it; `Ok(None)` (or a reader with no rows left) when the file has fewer rows.
    pub fn open_at_row(path: &Path, model: &Ensemble, row: u64) -> Result<Option<Self>> {
        Ok(if is_parquet(path)? {
            ParquetRows::open_at_row(path, model, row)?.map(DataRows::Parquet)
        } else {
            CsvRows::open_at_row(path, model, row)?.map(DataRows::Csv)
        })
    }

    /// Up to `max_rows` more rows; `None` at the end of the file.
    pub fn next_block(&mut self, max_rows: usize) -> Result<Option<Matrix>> {
        match self {
            DataRows::Csv(r) => r.next_block(max_rows),
            DataRows::Parquet(r) => r.next_block(max_rows),
        }
    }

    /// Read every remaining row.
    pub fn read_all(&mut self) -> Result<Matrix> {
        match self {
            DataRows::Csv(r) => r.read_all(),
            DataRows::Parquet(r) => r.read_all(),
        }
    }

    /// Data rows read so far.
    pub fn rows_read(&self) -> usize {
        match self {
            DataRows::Csv(r) => r.rows_read(),
            DataRows::Parquet(r) => r.rows_read(),
        }
    }

    /// Category cells read so far that the model never saw, per model feature that had any.
    pub fn unseen(&self) -> Vec<Unseen> {
        match self {
            DataRows::Csv(r) => r.unseen(),
            DataRows::Parquet(r) => r.unseen(),
        }
    }

    /// How the file's columns feed the model's features.
    pub fn map(&self) -> &ColumnMap {
        match self {
            DataRows::Csv(r) => &r.map,
            DataRows::Parquet(r) => &r.map,
        }
    }
}
