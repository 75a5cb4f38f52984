//! Reading data rows from CSV and matching its columns to the model's features.
//!
//! Rows are kept row-major (`rows × model features`, in model feature order): every explainer
//! walks one row through many trees, so a row's values should sit together in cache. Only the
//! columns the model uses are parsed, so text columns such as ids or labels do no harm.

use crate::error::{Error, Result};
use crate::model::Ensemble;
use std::fs::File;
use std::path::Path;

/// A dense row-major block of rows in model feature order; NaN = missing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub values: Vec<f64>,
}

impl Matrix {
    pub fn new(rows: usize, cols: usize, values: Vec<f64>) -> Result<Self> {
        if rows.checked_mul(cols) != Some(values.len()) {
            return Err(Error::InvalidData(format!(
                "{} values do not make {rows} rows of {cols} columns",
                values.len()
            )));
        }
        Ok(Matrix { rows, cols, values })
    }

    pub fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.cols..(i + 1) * self.cols]
    }

    /// Rows `start..end` as a new matrix (clamped to the available rows).
    pub fn slice(&self, start: usize, end: usize) -> Matrix {
        let end = end.min(self.rows);
        let start = start.min(end);
        Matrix {
            rows: end - start,
            cols: self.cols,
            values: self.values[start * self.cols..end * self.cols].to_vec(),
        }
    }
}

/// How CSV columns feed the model's features.
#[derive(Clone, Debug)]
pub struct ColumnMap {
    /// For model feature `i`, the CSV column it is read from.
    pub source: Vec<usize>,
    /// Model feature names (the model's, or the CSV's when matched by position).
    pub names: Vec<String>,
    /// CSV columns the model does not use.
    pub extra: Vec<String>,
    /// True when the model has no usable names and columns were taken in order.
    pub positional: bool,
}

impl ColumnMap {
    /// Match a header against the model: by name when the model has names, by position when it
    /// has none (or only LightGBM's automatic `Column_i` names that the header does not use).
    pub fn new(header: &[String], model: &Ensemble) -> Result<Self> {
        let f = model.num_features;
        if let Some(names) = &model.feature_names {
            let found: Vec<Option<usize>> = names
                .iter()
                .map(|n| header.iter().position(|h| h == n))
                .collect();
            let automatic = names
                .iter()
                .enumerate()
                .all(|(i, n)| *n == format!("Column_{i}"));
            if found.iter().all(Option::is_some) {
                for n in names {
                    if header.iter().filter(|h| *h == n).count() > 1 {
                        return Err(Error::InvalidData(format!(
                            "column {n:?} appears more than once in the header"
                        )));
                    }
                }
                let source: Vec<usize> = found.into_iter().flatten().collect();
                let extra = header
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !source.contains(i))
                    .map(|(_, h)| h.clone())
                    .collect();
                return Ok(ColumnMap {
                    source,
                    names: names.clone(),
                    extra,
                    positional: false,
                });
            }
            if !automatic {
                let missing = names
                    .iter()
                    .zip(&found)
                    .filter(|(_, f)| f.is_none())
                    .map(|(n, _)| n.clone())
                    .collect();
                return Err(Error::MissingColumns(missing));
            }
        }
        if header.len() < f {
            return Err(Error::InvalidData(format!(
                "the model has {f} features and no usable feature names, so columns are matched by \
                 position, but the data has only {} columns",
                header.len()
            )));
        }
        Ok(ColumnMap {
            source: (0..f).collect(),
            names: header[..f].to_vec(),
            extra: header[f..].to_vec(),
            positional: true,
        })
    }

    /// One sentence for the user on how columns were matched.
    pub fn describe(&self) -> String {
        let how = if self.positional {
            "columns matched by position (the model has no feature names)".to_string()
        } else {
            "columns matched by name".to_string()
        };
        if self.extra.is_empty() {
            how
        } else {
            format!(
                "{how}; {} extra column(s) ignored: {}",
                self.extra.len(),
                self.extra.join(", ")
            )
        }
    }
}

/// True for the spellings of a missing cell.
pub(crate) fn is_missing(cell: &str) -> bool {
    cell.is_empty()
        || cell.eq_ignore_ascii_case("na")
        || cell.eq_ignore_ascii_case("nan")
        || cell.eq_ignore_ascii_case("null")
}

/// Opens a CSV file and reads its header (BOM stripped, names trimmed). The reader is
/// `flexible`: ragged rows are reported by the caller with their row number, which says more
/// than the csv crate's error.
pub(crate) fn open_csv(path: &Path) -> Result<(csv::Reader<File>, Vec<String>)> {
    let file = File::open(path).map_err(|source| Error::Io {
        action: "cannot open",
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(file);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| Error::InvalidData(format!("cannot read the CSV header: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    if header.iter().all(String::is_empty) {
        return Err(Error::InvalidData("the CSV file has no header row".into()));
    }
    Ok((reader, header))
}

/// Byte offset where data row `row` (0-based, after the header) starts, or `None` past the
/// end (the row just past the last may get the file's length: reading there finds no row). Counts record ends as the CSV reader does: a newline inside a quoted field is not one,
/// and blank lines are skipped.
pub fn row_offset(path: &Path, row: u64) -> Result<Option<u64>> {
    use std::io::Read;
    let io = |source| Error::Io {
        action: "cannot read",
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let target = row + 1; // the header is record 0
    let (mut records, mut in_quotes, mut content, mut at) = (0u64, false, false, 0u64);
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).map_err(io)?;
        if n == 0 {
            // A last line without a newline is a record too, but nothing starts after it.
            return Ok(None);
        }
        for (i, &b) in buffer[..n].iter().enumerate() {
            match b {
                b'"' => {
                    in_quotes = !in_quotes;
                    content = true;
                }
                b'\n' if !in_quotes => {
                    if content {
                        records += 1;
                        content = false;
                    }
                    if records == target {
                        return Ok(Some(at + i as u64 + 1));
                    }
                }
                b'\r' => {}
                _ => content = true,
            }
        }
        at += n as u64;
    }
}

pub use crate::cells::{CellReader, Unseen, unseen_report};

/// Streams a CSV file in blocks of rows, already in model feature order.
pub struct CsvRows {
    reader: csv::Reader<File>,
    pub map: ColumnMap,
    header: Vec<String>,
    record: csv::StringRecord,
    /// Data rows read so far (1-based numbering in errors).
    row: usize,
    /// How each model feature's cells become numbers (category names become codes).
    cells: Vec<CellReader>,
}

impl CsvRows {
    pub fn open(path: &Path, model: &Ensemble) -> Result<Self> {
        let (reader, header) = open_csv(path)?;
        let map = ColumnMap::new(&header, model)?;
        let cells = (0..model.num_features)
            .map(|i| CellReader::new(model.categories_of(i)))
            .collect();
        Ok(CsvRows {
            reader,
            map,
            header,
            record: csv::StringRecord::new(),
            row: 0,
            cells,
        })
    }

    /// Opens the file positioned at data row `row` (0-based), found by [`row_offset`] without
    /// parsing the rows before it: the row explorer's one-row reads cost a byte scan, not a
    /// parse of every earlier row. `Ok(None)` (or a reader with no rows left) when the file has
    /// fewer rows.
    pub fn open_at_row(path: &Path, model: &Ensemble, row: u64) -> Result<Option<Self>> {
        let Some(byte) = row_offset(path, row)? else {
            return Ok(None);
        };
        let mut rows = CsvRows::open(path, model)?;
        let mut position = csv::Position::new();
        position.set_byte(byte).set_record(row + 1);
        rows.reader
            .seek(position)
            .map_err(|e| Error::InvalidData(format!("cannot seek to row {row}: {e}")))?;
        rows.row = usize::try_from(row).unwrap_or(usize::MAX);
        Ok(Some(rows))
    }

    /// Data rows read so far.
    pub fn rows_read(&self) -> usize {
        self.row
    }

    /// Category cells read so far that the model never saw, per model feature that had any.
    pub fn unseen(&self) -> Vec<Unseen> {
        unseen_report(&self.map.names, &self.cells)
    }

    /// Up to `max_rows` more rows; `None` at the end of the file.
    pub fn next_block(&mut self, max_rows: usize) -> Result<Option<Matrix>> {
        let cols = self.map.source.len();
        let mut values = Vec::with_capacity(max_rows.min(1 << 16) * cols);
        let mut rows = 0;
        while rows < max_rows {
            let more = self
                .reader
                .read_record(&mut self.record)
                .map_err(|e| Error::InvalidData(format!("CSV row {}: {e}", self.row + 1)))?;
            if !more {
                break;
            }
            self.row += 1;
            if self.record.len() != self.header.len() {
                return Err(Error::InvalidData(format!(
                    "row {} has {} fields, the header has {}",
                    self.row,
                    self.record.len(),
                    self.header.len()
                )));
            }
            for (&c, reader) in self.map.source.iter().zip(&mut self.cells) {
                let cell = self.record.get(c).unwrap_or("").trim();
                let v = reader.read(cell).ok_or_else(|| Error::NotANumber {
                    row: self.row,
                    column: self.header[c].clone(),
                    value: cell.to_string(),
                })?;
                values.push(v);
            }
            rows += 1;
        }
        if rows == 0 {
            return Ok(None);
        }
        Ok(Some(Matrix { rows, cols, values }))
    }

    /// Read every remaining row.
    pub fn read_all(&mut self) -> Result<Matrix> {
        let mut all = Matrix {
            rows: 0,
            cols: self.map.source.len(),
            values: Vec::new(),
        };
        while let Some(block) = self.next_block(1 << 16)? {
            all.rows += block.rows;
            all.values.extend_from_slice(&block.values);
        }
        Ok(all)
    }
}
