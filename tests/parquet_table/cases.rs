//! The tables and files the Parquet tests share: fixture paths, a scratch directory, the
//! mixed-type table derived from a fixture, and matrix comparison.

use super::{Column, Layout, Table, Values, column_of, read_csv_cells};
use shaplab::Matrix;
use std::path::{Path, PathBuf};

pub fn fixture(case: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(case)
        .join(file)
}

pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shaplab-parquet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

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

/// xgb_reg_d3's data in every type the reader maps to numbers, plus two text columns the model
/// does not use. Derived values differ from the fixture's; the CSV export holds the same ones.
pub fn mixed_table() -> Table {
    let (_, rows) = read_csv_cells(&fixture("xgb_reg_d3", "data.csv"));
    let x = |j: usize| -> Vec<Option<f64>> { column_of(&rows, j) };
    let map = |j: usize, f: &dyn Fn(f64) -> f64| -> Vec<Option<f64>> {
        x(j).into_iter().map(|v| v.map(f)).collect()
    };
    let cities = ["paris", "oslo", "lima", "cairo"];
    let n = rows.len();
    let mut s2: Vec<Option<String>> = x(5).iter().map(|v| v.map(|v| v.to_string())).collect();
    s2[3] = Some("NA".into());
    s2[4] = Some(" 0.25 ".into());
    let mut s4: Vec<Option<u32>> = map(7, &|v| (v * 1e4).round() + 1000.0)
        .into_iter()
        .map(|v| v.map(|v| v as u32))
        .collect();
    s4[0] = Some(u32::MAX); // stored as INT32 -1: read unsigned
    Table {
        columns: vec![
            Column::new("age", Values::F64(x(0))),
            Column::new(
                "sex",
                Values::I32(
                    map(1, &|v| (v * 100.0).round())
                        .iter()
                        .map(|v| v.map(|v| v as i32))
                        .collect(),
                ),
            ),
            Column::new(
                "bmi",
                Values::F32(x(2).iter().map(|v| v.map(|v| v as f32)).collect()),
            ),
            Column::new(
                "bp",
                Values::I64(
                    map(3, &|v| (v * 1e6).round())
                        .iter()
                        .map(|v| v.map(|v| v as i64))
                        .collect(),
                ),
            ),
            Column::new(
                "s1",
                Values::Decimal(
                    map(4, &|v| (v * 1e5).round())
                        .iter()
                        .map(|v| v.map(|v| v as i64))
                        .collect(),
                    5,
                ),
            ),
            Column::new("s2", Values::Text(s2)),
            Column::new(
                "s3",
                Values::Text(x(6).iter().map(|v| v.map(|v| format!("{v:.2}"))).collect()),
            )
            .dictionary(),
            Column::new("s4", Values::U32(s4)),
            Column::new(
                "s5",
                Values::Bool(x(8).iter().map(|v| v.map(|v| v > 0.0)).collect()),
            ),
            Column::new(
                "s6",
                Values::F64(x(9).iter().map(|v| Some(v.unwrap_or(0.0))).collect()),
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
