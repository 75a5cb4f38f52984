//! Reading data rows from Parquet, with the same interface and the same cell rules as
//! [`crate::CsvRows`]: columns matched to the model's features by name (or position), nulls as
//! missing, category names through the feature's [`CellReader`], numbers in text columns parsed.
//!
//! Parquet is columnar, so only the columns the model uses are read at all, one row group at a
//! time (memory: one block of rows plus one page per used column). Row positions come from the
//! footer: [`ParquetRows::open_at_row`] skips whole row groups by their row counts and then rows
//! within one group, so the row explorer's one-row read never decodes the groups before it.
//! Reading goes through the low-level column readers (no Arrow): the engine needs one f64 per
//! cell, and Arrow would add a large dependency to build a representation thrown away at once.

mod column;
mod describe;

pub use describe::describe_parquet;

use crate::cells::{CellReader, Unseen, unseen_report};
use crate::data::{ColumnMap, Matrix};
use crate::error::{Error, Result};
use crate::model::Ensemble;
use ::parquet::basic::Repetition;
use ::parquet::file::reader::{FileReader, SerializedFileReader};
use column::{Cell, ColumnCells, Decode, corrupt, guarded};
use std::fs::File;
use std::path::Path;

/// Rows decoded per column per step: bounds the scratch buffers whatever `max_rows` is asked.
const CHUNK_ROWS: usize = 1 << 14;

/// A top-level column of the file's schema.
pub(crate) struct Field {
    pub name: String,
    /// The leaf column holding it, or `None` for a nested column (list, map, struct).
    pub leaf: Option<usize>,
}

/// Opens a Parquet file: the footer parsed, the top-level columns listed.
pub(crate) fn open_file(path: &Path) -> Result<(SerializedFileReader<File>, Vec<Field>)> {
    let file = File::open(path).map_err(|source| Error::Io {
        action: "cannot open",
        path: path.to_path_buf(),
        source,
    })?;
    let length = file.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
    let not_parquet = |e: &dyn std::fmt::Display| {
        Error::InvalidData(format!(
            "not a Parquet file or truncated (its footer cannot be read: {e}); upload the whole \
             file again, or export it again from its source"
        ))
    };
    // Guarded like every other call into the crate on the file's bytes (see `column::guarded`).
    let reader = std::panic::catch_unwind(|| SerializedFileReader::new(file))
        .map_err(|_| not_parquet(&"its metadata is inconsistent"))?
        .map_err(|e| not_parquet(&e))?;
    check_chunks(&reader, length).map_err(|e| not_parquet(&e))?;
    let schema = reader.metadata().file_metadata().schema_descr();
    let roots = schema.root_schema().get_fields();
    let mut fields: Vec<Field> = roots
        .iter()
        .map(|t| Field {
            name: t.name().to_string(),
            leaf: None,
        })
        .collect();
    for (leaf, descr) in schema.columns().iter().enumerate() {
        let root = schema.get_column_root_idx(leaf);
        let root_type = &roots[root];
        let flat = root_type.is_primitive()
            && !(root_type.get_basic_info().has_repetition()
                && root_type.get_basic_info().repetition() == Repetition::REPEATED)
            && descr.max_rep_level() == 0;
        if flat && let Some(field) = fields.get_mut(root) {
            field.leaf = Some(leaf);
        }
    }
    Ok((reader, fields))
}

/// Every column chunk the footer points at lies inside the file: the parquet crate asserts on
/// negative offsets and reads past the end as a late, vaguer error.
fn check_chunks(
    reader: &SerializedFileReader<File>,
    length: u64,
) -> std::result::Result<(), String> {
    for (g, group) in reader.metadata().row_groups().iter().enumerate() {
        for (c, chunk) in group.columns().iter().enumerate() {
            let start = chunk
                .dictionary_page_offset()
                .unwrap_or(chunk.data_page_offset());
            let inside = u64::try_from(start)
                .ok()
                .zip(u64::try_from(chunk.compressed_size()).ok())
                .and_then(|(start, len)| start.checked_add(len))
                .is_some_and(|end| end <= length);
            if !inside {
                return Err(format!(
                    "row group {g}, column {c} points outside the file's {length} bytes"
                ));
            }
        }
    }
    Ok(())
}

/// The row counts of the row groups, from the footer.
pub(crate) fn group_rows(reader: &SerializedFileReader<File>) -> Result<Vec<u64>> {
    reader
        .metadata()
        .row_groups()
        .iter()
        .enumerate()
        .map(|(g, rg)| {
            u64::try_from(rg.num_rows()).map_err(|_| {
                Error::InvalidData(format!(
                    "the Parquet file is damaged: row group {g} claims {} rows",
                    rg.num_rows()
                ))
            })
        })
        .collect()
}

/// The column reader of leaf `leaf` in row group `g`.
pub(crate) fn column_reader(
    file: &SerializedFileReader<File>,
    g: usize,
    leaf: usize,
    name: &str,
) -> Result<::parquet::column::reader::ColumnReader> {
    guarded(name, || {
        file.get_row_group(g)
            .and_then(|group| group.get_column_reader(leaf))
            .map_err(|e| corrupt(name, e))
    })
}

/// How one model feature is read.
struct Plan {
    leaf: usize,
    name: String,
    decode: Decode,
    max_def: i16,
}

/// Streams a Parquet file in blocks of rows, already in model feature order.
pub struct ParquetRows {
    file: SerializedFileReader<File>,
    pub map: ColumnMap,
    plans: Vec<Plan>,
    /// How each model feature's cells become numbers (category names become codes).
    cells: Vec<CellReader>,
    /// Rows per row group, from the footer.
    groups: Vec<u64>,
    /// The next row group to open.
    next_group: usize,
    /// Readers of the used columns in the current row group, in model feature order.
    readers: Vec<ColumnCells>,
    /// Rows left in the current row group.
    left: u64,
    /// Data rows read (or skipped) so far (1-based numbering in errors).
    row: usize,
    /// Set by an error in `next_block`, which then refuses to go on.
    broken: bool,
}

impl ParquetRows {
    pub fn open(path: &Path, model: &Ensemble) -> Result<Self> {
        let (file, fields) = open_file(path)?;
        let header: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
        let map = ColumnMap::new(&header, model)?;
        let schema = file.metadata().file_metadata().schema_descr();
        let plans = map
            .source
            .iter()
            .map(|&c| {
                let field = &fields[c];
                let leaf = field.leaf.ok_or_else(|| {
                    Error::InvalidData(format!(
                        "column {:?} is nested (a list, map or struct); model features are read \
                         from flat columns of numbers or text, so flatten it before exporting",
                        field.name
                    ))
                })?;
                let descr = schema.column(leaf);
                let decode = Decode::of(&descr);
                if let Decode::Unsupported(what) = &decode {
                    return Err(Error::InvalidData(format!(
                        "column {:?} holds {what}, which is neither a number nor a category \
                         name; convert it to numbers before exporting",
                        field.name
                    )));
                }
                Ok(Plan {
                    leaf,
                    name: field.name.clone(),
                    decode,
                    max_def: descr.max_def_level(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let cells = (0..model.num_features)
            .map(|i| CellReader::new(model.categories_of(i)))
            .collect();
        let groups = group_rows(&file)?;
        Ok(ParquetRows {
            file,
            map,
            plans,
            cells,
            groups,
            next_group: 0,
            readers: Vec::new(),
            left: 0,
            row: 0,
            broken: false,
        })
    }

    /// Opens the file positioned at data row `row` (0-based): whole row groups are skipped by
    /// the row counts in the footer, then rows within the group holding `row`. `Ok(None)` when
    /// the file has no such row.
    pub fn open_at_row(path: &Path, model: &Ensemble, row: u64) -> Result<Option<Self>> {
        let mut rows = ParquetRows::open(path, model)?;
        let mut start = 0u64;
        for (g, &n) in rows.groups.iter().enumerate() {
            if row < start.saturating_add(n) {
                rows.next_group = g;
                rows.row = usize::try_from(start).unwrap_or(usize::MAX);
                rows.open_next_group()?;
                rows.skip_in_group(row - start)?;
                return Ok(Some(rows));
            }
            start = start.saturating_add(n);
        }
        Ok(None)
    }

    /// Data rows read so far.
    pub fn rows_read(&self) -> usize {
        self.row
    }

    /// Category cells read so far that the model never saw, per model feature that had any.
    pub fn unseen(&self) -> Vec<Unseen> {
        unseen_report(&self.map.names, &self.cells)
    }

    /// Up to `max_rows` more rows; `None` at the end of the file. After an error the reader
    /// refuses to go on: the columns are read one after another, so an error part-way through
    /// a block leaves them at different rows.
    pub fn next_block(&mut self, max_rows: usize) -> Result<Option<Matrix>> {
        if self.broken {
            return Err(Error::InvalidData(format!(
                "reading stopped after an error near row {}; open the file again",
                self.row + 1
            )));
        }
        let block = self.read_block(max_rows);
        self.broken = block.is_err();
        block
    }

    fn read_block(&mut self, max_rows: usize) -> Result<Option<Matrix>> {
        let cols = self.plans.len();
        let mut values = Vec::with_capacity(max_rows.min(1 << 16) * cols);
        let mut rows = 0;
        while rows < max_rows {
            if self.left == 0 {
                if !self.open_next_group()? {
                    break;
                }
                continue;
            }
            let n = usize::try_from(self.left)
                .map_or(max_rows - rows, |l| l.min(max_rows - rows))
                .min(CHUNK_ROWS);
            let start = values.len();
            values.resize(start + n * cols, f64::NAN);
            let block = &mut values[start..];
            for (j, ((reader, plan), cells)) in self
                .readers
                .iter_mut()
                .zip(&self.plans)
                .zip(&mut self.cells)
                .enumerate()
            {
                let first = self.row;
                reader.read(n, &plan.name, &mut |i, cell| {
                    block[i * cols + j] = number(cell, cells, &plan.name, first + i + 1)?;
                    Ok(())
                })?;
            }
            self.row += n;
            self.left -= n as u64;
            rows += n;
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
            cols: self.plans.len(),
            values: Vec::new(),
        };
        while let Some(block) = self.next_block(1 << 16)? {
            all.rows += block.rows;
            all.values.extend_from_slice(&block.values);
        }
        Ok(all)
    }

    /// Opens readers on the next row group that has rows; false past the last one.
    fn open_next_group(&mut self) -> Result<bool> {
        while self.next_group < self.groups.len() {
            let g = self.next_group;
            self.next_group += 1;
            if self.groups[g] == 0 {
                continue;
            }
            let (file, plans) = (&self.file, &self.plans);
            self.readers = plans
                .iter()
                .map(|p| {
                    let reader = column_reader(file, g, p.leaf, &p.name)?;
                    Ok(ColumnCells::new(reader, p.decode.clone(), p.max_def))
                })
                .collect::<Result<Vec<_>>>()?;
            self.left = self.groups[g];
            return Ok(true);
        }
        self.readers.clear();
        self.left = 0;
        Ok(false)
    }

    /// Skips `n` rows of the current row group in every used column.
    fn skip_in_group(&mut self, n: u64) -> Result<()> {
        let want = usize::try_from(n).map_err(|_| Error::InvalidData("row out of range".into()))?;
        for (reader, plan) in self.readers.iter_mut().zip(&self.plans) {
            let skipped = reader.skip(want, &plan.name)?;
            if skipped != want {
                return Err(corrupt(
                    &plan.name,
                    format!(
                        "the row group's metadata promises {want} rows, the data holds {skipped}"
                    ),
                ));
            }
        }
        self.row += want;
        self.left -= n;
        Ok(())
    }
}

/// The number a tree compares for one cell, by the same rules as a CSV cell.
fn number(cell: Cell<'_>, reader: &mut CellReader, column: &str, row: usize) -> Result<f64> {
    match cell {
        Cell::Null => Ok(f64::NAN),
        Cell::Number(v) => match reader {
            CellReader::Numeric | CellReader::Codes => Ok(v),
            // A categorical feature matched by name or hash fed by a numeric column: the number
            // reads as its text would in a CSV (`2` matches a category named or hashed "2").
            _ => Ok(reader.read(&v.to_string()).unwrap_or(f64::NAN)),
        },
        Cell::Text(text) => {
            let text = text.trim();
            reader.read(text).ok_or_else(|| Error::NotANumber {
                row,
                column: column.to_string(),
                value: text.to_string(),
            })
        }
        Cell::Other => Err(Error::InvalidData(format!(
            "column {column:?} does not hold numbers"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Categories;

    fn named(names: &[&str]) -> CellReader {
        CellReader::new(Some(&Categories {
            names: names.iter().map(|n| n.to_string()).collect(),
            unseen: f64::NAN,
            unseen_rule: "missing",
            hashed: None,
        }))
    }

    #[test]
    fn a_cell_reads_as_the_same_text_in_a_csv_would() {
        let mut numeric = CellReader::new(None);
        let read = |c: Cell<'_>, r: &mut CellReader| number(c, r, "x", 3);
        assert!(read(Cell::Null, &mut numeric).unwrap().is_nan());
        assert_eq!(read(Cell::Number(2.5), &mut numeric).unwrap(), 2.5);
        assert_eq!(read(Cell::Text(" 7 "), &mut numeric).unwrap(), 7.0);
        assert!(read(Cell::Text("NA"), &mut numeric).unwrap().is_nan());
        match read(Cell::Text("seven"), &mut numeric).unwrap_err() {
            Error::NotANumber { row, column, value } => {
                assert_eq!((row, column.as_str(), value.as_str()), (3, "x", "seven"));
            }
            other => panic!("{other}"),
        }
        // An integer column feeding categories named "1", "2": 2 is the category "2" (code 1).
        let mut cats = named(&["1", "2", "paris"]);
        assert_eq!(read(Cell::Number(2.0), &mut cats).unwrap(), 1.0);
        assert_eq!(read(Cell::Text("paris"), &mut cats).unwrap(), 2.0);
        assert!(read(Cell::Text("lima"), &mut cats).unwrap().is_nan());
        assert_eq!(unseen_report(&["x".into()], &[cats])[0].cells, 1);
    }
}
