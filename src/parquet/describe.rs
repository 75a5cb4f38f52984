//! What a Parquet data file holds, in the same summary as a CSV's: columns and rows from the
//! footer, missing cells from the column chunks' null counts, text columns with their values.
//!
//! Only text columns are decoded (their words are the categories a user checks against the
//! model); a numeric column costs nothing beyond the footer while every chunk's statistics
//! carry a null count, and is scanned for nulls only when some chunk lacks one. A text column
//! is decoded cell by cell rather than summarised from its dictionary pages: a dictionary may
//! hold words no row uses (Arrow writes a pandas categorical's full category list), and the
//! first row holding a word is needed for messages; dictionary-encoded cells decode to slices
//! of the shared dictionary, so the scan costs an index decode and a set lookup per cell.

use super::column::{Cell, ColumnCells, Decode};
use super::{column_reader, group_rows, open_file};
use crate::data::is_missing;
use crate::describe::{CsvSummary, MAX_DISTINCT, TextColumn};
use crate::error::{Error, Result};
use ::parquet::file::reader::FileReader;
use std::collections::BTreeMap;
use std::path::Path;

/// Rows decoded per call while scanning a column.
const SCAN_ROWS: usize = 1 << 16;

/// Reads the footer, then decodes only the columns the footer cannot describe.
pub fn describe_parquet(path: &Path) -> Result<CsvSummary> {
    let (file, fields) = open_file(path)?;
    let groups = group_rows(&file)?;
    let rows = groups
        .iter()
        .try_fold(0u64, |a, &n| a.checked_add(n))
        .ok_or_else(|| Error::InvalidData("the Parquet file is damaged: too many rows".into()))?;
    if rows == 0 {
        return Err(Error::InvalidData(
            "the Parquet file has columns but no rows".into(),
        ));
    }
    let metadata = file.metadata();
    let schema = metadata.file_metadata().schema_descr();
    let mut missing_cells = 0u64;
    let mut text_columns = Vec::new();
    // Nested columns are listed but not counted: they cannot feed a model feature.
    for (name, leaf) in fields.iter().filter_map(|f| Some((&f.name, f.leaf?))) {
        let descr = schema.column(leaf);
        let decode = Decode::of(&descr);
        let max_def = descr.max_def_level();
        let nulls: Option<u64> = if max_def == 0 {
            Some(0)
        } else {
            metadata
                .row_groups()
                .iter()
                .map(|rg| rg.column(leaf).statistics()?.null_count_opt())
                .sum()
        };
        if let (Some(nulls), false) = (nulls, decode == Decode::Text) {
            missing_cells += nulls;
            continue;
        }
        let mut scan = TextScan::default();
        let mut base = 0u64;
        for (g, &n) in groups.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let reader = column_reader(&file, g, leaf, name)?;
            let mut cells = ColumnCells::new(reader, decode.clone(), max_def);
            let mut done = 0u64;
            while done < n {
                let k = usize::try_from(n - done).map_or(SCAN_ROWS, |left| left.min(SCAN_ROWS));
                let at = base + done;
                cells.read(k, name, &mut |i, cell| {
                    scan.cell(cell, at + i as u64 + 1);
                    Ok(())
                })?;
                done += k as u64;
            }
            base += n;
        }
        missing_cells += scan.missing;
        if let Some(first_text_row) = scan.first_text_row {
            text_columns.push(TextColumn {
                name: name.clone(),
                counts: scan.distinct.values().copied().collect(),
                values: scan.distinct.into_keys().collect(),
                more: scan.more,
                first_text_row,
            });
        }
    }
    Ok(CsvSummary {
        columns: fields.into_iter().map(|f| f.name).collect(),
        rows,
        missing_cells,
        text_columns,
    })
}

/// One column's cells, counted by the rules `describe_csv` applies to a CSV column.
#[derive(Default)]
struct TextScan {
    missing: u64,
    /// Distinct values and how many cells hold each.
    distinct: BTreeMap<String, u64>,
    more: bool,
    first_text_row: Option<u64>,
}

impl TextScan {
    fn cell(&mut self, cell: Cell<'_>, row: u64) {
        let text = match cell {
            Cell::Null => {
                self.missing += 1;
                return;
            }
            Cell::Text(text) => text.trim(),
            Cell::Number(_) | Cell::Other => return,
        };
        if is_missing(text) {
            self.missing += 1;
            return;
        }
        if self.first_text_row.is_none() && text.parse::<f64>().is_err() {
            self.first_text_row = Some(row);
        }
        if !self.more {
            if let Some(count) = self.distinct.get_mut(text) {
                *count += 1;
            } else if self.distinct.len() < MAX_DISTINCT {
                self.distinct.insert(text.to_string(), 1);
            } else {
                self.more = true;
            }
        }
    }
}
