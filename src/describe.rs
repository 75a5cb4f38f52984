//! What an uploaded data file holds, before any model is chosen: its columns, its rows and
//! its missing cells, read with exactly the rules [`crate::CsvRows`] explains with, so a file
//! described as valid here is one the explainers will read.

use crate::data::{is_missing, open_csv};
use crate::error::{Error, Result};
use std::path::Path;

/// The shape of a CSV data file.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvSummary {
    pub columns: Vec<String>,
    pub rows: u64,
    pub missing_cells: u64,
}

/// Reads the whole file once (streaming; memory stays flat), checking every cell.
pub fn describe_csv(path: &Path) -> Result<CsvSummary> {
    let (mut reader, columns) = open_csv(path)?;
    let mut record = csv::StringRecord::new();
    let (mut rows, mut missing_cells) = (0u64, 0u64);
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
        for (cell, column) in record.iter().zip(&columns) {
            let cell = cell.trim();
            if is_missing(cell) {
                missing_cells += 1;
            } else if cell.parse::<f64>().is_err() {
                return Err(Error::NotANumber {
                    row: rows as usize,
                    column: column.clone(),
                    value: cell.to_string(),
                });
            }
        }
    }
    if rows == 0 {
        return Err(Error::InvalidData(
            "the CSV file has a header but no data rows".into(),
        ));
    }
    Ok(CsvSummary {
        columns,
        rows,
        missing_cells,
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
    fn a_word_in_a_numeric_cell_is_reported_with_its_row_and_column() {
        let err = describe("a,b\n1,2\n3,abc\n").expect_err("not a number");
        assert_eq!(
            err.to_string(),
            "invalid data at row 2, column \"b\": \"abc\" is not a number"
        );
    }

    #[test]
    fn a_header_without_rows_and_a_ragged_row_are_refused() {
        assert!(describe("a,b\n").is_err());
        let err = describe("a,b\n1,2\n3\n").expect_err("ragged");
        assert!(err.to_string().contains("row 2 has 1 fields"), "{err}");
    }
}
