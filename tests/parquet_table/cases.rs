//! The tables and files the Parquet tests share: the mixed-type table derived from a fixture
//! and the model it feeds, both files of a table, and matrix comparison. Fixture paths and
//! scratch files come from tests/support.

use super::{Column, Layout, Table, Values, column_of};
use crate::support::files::{fixture, read_csv_cells, scratch};
use shaplab::{Ensemble, Matrix};
use std::path::{Path, PathBuf};

/// Bit-identical matrices (NaN equals NaN).
pub fn assert_same(got: &Matrix, want: &Matrix) {
    assert_eq!((got.rows, got.cols), (want.rows, want.cols));
    for (i, (a, b)) in got.values.iter().zip(&want.values).enumerate() {
        assert!(
            a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            "row {} column {}: {a} != {b}",
            i / got.cols,
            i % got.cols
        );
    }
}

/// Every column of a CSV fixture as doubles.
pub fn doubles_from_csv(csv: &Path) -> Table {
    let (header, rows) = read_csv_cells(csv);
    let columns = header
        .iter()
        .enumerate()
        .map(|(j, name)| Column::new(name, Values::F64(column_of(&rows, j))))
        .collect();
    Table { columns }
}

/// The model whose ten features [`mixed_table`] holds (xgb_reg_d3).
pub fn mixed_model() -> Ensemble {
    Ensemble::from_path(&fixture("xgb_reg_d3", "model.json")).unwrap()
}

/// xgb_reg_d3's data in every type the reader maps to numbers, plus two text columns the model
/// does not use. Derived values differ from the fixture's; the CSV export holds the same ones.
pub fn mixed_table() -> Table {
    let (_, rows) = read_csv_cells(&fixture("xgb_reg_d3", "data.csv"));
    // Column `j` of the fixture with each present value converted by `f`; nulls stay nulls.
    fn x<T>(rows: &[Vec<Option<String>>], j: usize, f: impl Fn(f64) -> T) -> Vec<Option<T>> {
        let column: Vec<Option<f64>> = column_of(rows, j);
        column.into_iter().map(|v| v.map(&f)).collect()
    }
    let cities = ["paris", "oslo", "lima", "cairo"];
    let n = rows.len();
    let mut s2 = x(&rows, 5, |v| v.to_string());
    s2[3] = Some("NA".into());
    s2[4] = Some(" 0.25 ".into());
    let mut s4 = x(&rows, 7, |v| ((v * 1e4).round() + 1000.0) as u32);
    s4[0] = Some(u32::MAX); // stored as INT32 -1: read unsigned
    Table {
        columns: vec![
            Column::new("age", Values::F64(x(&rows, 0, |v| v))),
            Column::new(
                "sex",
                Values::I32(x(&rows, 1, |v| (v * 100.0).round() as i32)),
            ),
            Column::new("bmi", Values::F32(x(&rows, 2, |v| v as f32))),
            Column::new("bp", Values::I64(x(&rows, 3, |v| (v * 1e6).round() as i64))),
            Column::new(
                "s1",
                Values::Decimal(x(&rows, 4, |v| (v * 1e5).round() as i64), 5),
            ),
            Column::new("s2", Values::Text(s2)),
            Column::new("s3", Values::Text(x(&rows, 6, |v| format!("{v:.2}")))).dictionary(),
            Column::new("s4", Values::U32(s4)),
            Column::new("s5", Values::Bool(x(&rows, 8, |v| v > 0.0))),
            Column::new(
                "s6",
                Values::F64(
                    column_of::<f64>(&rows, 9)
                        .into_iter()
                        .map(|v| Some(v.unwrap_or(0.0)))
                        .collect(),
                ),
            )
            .required(),
            Column::new(
                "city",
                Values::Text(
                    (0..n)
                        .map(|i| (i % 5 != 0).then(|| cities[i % 4].to_string()))
                        .collect(),
                ),
            )
            .dictionary(),
            Column::new(
                "note",
                Values::Text((0..n).map(|i| Some(format!("row {i}"))).collect()),
            ),
        ],
    }
}

/// The footer of a Parquet file, read with the parquet crate itself.
pub fn footer(path: &Path) -> parquet::file::metadata::ParquetMetaData {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let file = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    file.metadata().clone()
}

/// The table written as `name.parquet` and `name.csv`.
pub fn write_both(table: &Table, name: &str, layout: Layout) -> (PathBuf, PathBuf) {
    let (parquet, csv) = (
        scratch(&format!("{name}.parquet")),
        scratch(&format!("{name}.csv")),
    );
    table.write_parquet(&parquet, layout);
    table.write_csv(&csv);
    (parquet, csv)
}
