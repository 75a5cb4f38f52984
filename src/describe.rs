//! What an uploaded data file holds, before any model is chosen: its columns, its rows and
//! its missing cells, read with exactly the rules [`crate::CsvRows`] explains with, so a file
//! described as valid here is one the explainers will read. Parquet files get the same summary
//! from [`describe_parquet`] (in `crate::parquet`, next to the reader whose rules it shares);
//! [`describe_data`] picks the format by content as [`crate::DataRows`] does.

use crate::data::{is_missing, open_csv};
use crate::error::{Error, Result};
use std::path::Path;

pub use crate::parquet::describe_parquet;

/// The shape of a data file (CSV or Parquet).
#[derive(Debug, Clone, PartialEq)]
pub struct CsvSummary {
    pub columns: Vec<String>,
    pub rows: u64,
    pub missing_cells: u64,
    /// Columns holding words (at least one non-missing cell that is not a number): category
    /// names for a categorical model, an error for a numeric feature.
    pub text_columns: Vec<TextColumn>,
}

/// The summary of a data file of either format (the CSV name predates Parquet support).
pub type DataSummary = CsvSummary;

/// Describes a CSV or Parquet file, chosen by content ([`crate::rows::is_parquet`]).
pub fn describe_data(path: &Path) -> Result<DataSummary> {
    if crate::rows::is_parquet(path)? {
        describe_parquet(path)
    } else {
        describe_csv(path)
    }
}

/// A column of words, with its distinct values.
#[derive(Debug, Clone, PartialEq)]
pub struct TextColumn {
    pub name: String,
    /// The distinct non-missing values, sorted, at most [`MAX_DISTINCT`].
    pub values: Vec<String>,
    /// How many cells hold each of `values`.
    pub counts: Vec<u64>,
    /// True when the column has more distinct values than [`MAX_DISTINCT`].
    pub more: bool,
    /// The first row (1-based) whose cell is not a number, for messages.
    pub first_text_row: u64,
}

/// Distinct values kept per column: enough to show a categorical column's categories, and a
/// bound on memory for an id column of a million distinct strings.
pub const MAX_DISTINCT: usize = 256;

/// Per-column state while scanning.
#[derive(Default)]
struct ColumnScan {
    distinct: std::collections::BTreeMap<String, u64>,
    more: bool,
    first_text_row: Option<u64>,
}

/// Reads the whole file once (streaming; memory stays flat), checking every cell.
pub fn describe_csv(path: &Path) -> Result<CsvSummary> {
    let (mut reader, columns) = open_csv(path)?;
    let mut record = csv::StringRecord::new();
    let (mut rows, mut missing_cells) = (0u64, 0u64);
    let mut scans: Vec<ColumnScan> = columns.iter().map(|_| ColumnScan::default()).collect();
    loop {
        let more = reader
            .read_record(&mut record)
            .map_err(|e| Error::InvalidData(format!("CSV row {}: {e}", rows + 1)))?;
        if !more {
            break;
        }
        rows += 1;
        if record.len() != columns.len() {
            return Err(Error::InvalidData(format!(
                "row {rows} has {} fields, the header has {}",
                record.len(),
                columns.len()
            )));
        }
        for (cell, scan) in record.iter().zip(&mut scans) {
            let cell = cell.trim();
            if is_missing(cell) {
                missing_cells += 1;
                continue;
            }
            if scan.first_text_row.is_none() && cell.parse::<f64>().is_err() {
                scan.first_text_row = Some(rows);
            }
            // A numeric column soon passes the cap and stops paying for the set.
            if !scan.more {
                if let Some(count) = scan.distinct.get_mut(cell) {
                    *count += 1;
                } else if scan.distinct.len() < MAX_DISTINCT {
                    scan.distinct.insert(cell.to_string(), 1);
                } else {
                    scan.more = true;
                }
            }
        }
    }
    if rows == 0 {
        return Err(Error::InvalidData(
            "the CSV file has a header but no data rows".into(),
        ));
    }
    let text_columns = columns
        .iter()
        .zip(scans)
        .filter_map(|(name, scan)| {
            Some(TextColumn {
                name: name.clone(),
                first_text_row: scan.first_text_row?,
                counts: scan.distinct.values().copied().collect(),
                values: scan.distinct.into_keys().collect(),
                more: scan.more,
            })
        })
        .collect();
    Ok(CsvSummary {
        columns,
        rows,
        missing_cells,
        text_columns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe(text: &str) -> Result<CsvSummary> {
        let path = std::env::temp_dir().join(format!(
            "shaplab-describe-{}-{}.csv",
            std::process::id(),
            text.len()
        ));
        std::fs::write(&path, text).expect("write temp CSV");
        let out = describe_csv(&path);
        let _ = std::fs::remove_file(&path);
        out
    }

    #[test]
    fn a_csv_is_described_by_its_columns_rows_and_missing_cells() {
        let s = describe("\u{feff}age, income\n1,2\nNA,\n3,null\n").expect("valid");
        assert_eq!(s.columns, ["age", "income"]);
        assert_eq!(s.rows, 3);
        assert_eq!(s.missing_cells, 3); // NA, empty, null
    }

    #[test]
    fn a_column_of_words_is_described_with_its_distinct_values() {
        let s = describe("a,city\n1,Paris\n3,Lyon\n4,Paris\n5,\n").expect("valid");
        assert_eq!(s.text_columns.len(), 1);
        let city = &s.text_columns[0];
        assert_eq!(city.name, "city");
        assert_eq!(city.values, ["Lyon", "Paris"]);
        assert_eq!(city.counts, [1, 2]);
        assert_eq!(city.first_text_row, 1);
        assert!(!city.more);
        assert_eq!(s.missing_cells, 1);
    }

    #[test]
    fn a_header_without_rows_and_a_ragged_row_are_refused() {
        assert!(describe("a,b\n").is_err());
        let err = describe("a,b\n1,2\n3\n").expect_err("ragged");
        assert!(err.to_string().contains("row 2 has 1 fields"), "{err}");
    }
}
