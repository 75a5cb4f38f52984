//! Parquet data reads exactly as the same data exported to CSV: the same matrix bit for bit
//! (hence the same SHAP values), the same seeks, the same summary. Files are written here with
//! the parquet crate's writer (several row groups, several pages per group, nulls, plain and
//! dictionary strings), next to their CSV export. Refusals are in `parquet_bad_input.rs`.

mod parquet_table;
mod support;

use parquet_table::cases::{
    assert_same, doubles_from_csv, footer, mixed_model, mixed_table, write_both,
};
use parquet_table::{Column, Layout, Table, Values, column_of};
use shaplab::describe::{describe_csv, describe_data, describe_parquet};
use shaplab::{CsvRows, DataRows, Ensemble, Error, ExplainArgs, Matrix, ParquetRows};
use std::path::{Path, PathBuf};
use support::files::{explain_args, fixture, read_csv_cells, scratch};

/// The mixed table written as `name` (.parquet and .csv) and the Parquet file read whole.
fn mixed_parquet(name: &str, model: &Ensemble) -> (PathBuf, Matrix) {
    let (parquet, _) = write_both(&mixed_table(), name, Layout::default());
    let all = ParquetRows::open(&parquet, model)
        .unwrap()
        .read_all()
        .unwrap();
    (parquet, all)
}

#[test]
fn a_parquet_copy_of_a_fixture_reads_bit_identical_to_its_csv_and_explains_the_same() {
    let model = Ensemble::from_path(&fixture("lgb_binary_d8", "model.txt")).unwrap();
    let csv = fixture("lgb_binary_d8", "data.csv");
    // Named .csv on purpose: the format is chosen by content.
    let parquet = scratch("lgb_binary_d8_really_parquet.csv");
    doubles_from_csv(&csv).write_parquet(&parquet, Layout::default());
    let mut rows = DataRows::open(&parquet, &model).unwrap();
    assert!(matches!(rows, DataRows::Parquet(_)));
    let got = rows.read_all().unwrap();
    assert_eq!(rows.rows_read(), 60);
    let want = CsvRows::open(&csv, &model).unwrap().read_all().unwrap();
    assert_same(&got, &want);
    let (a, b) = (
        shaplab::shap_values(&model, &got).unwrap(),
        shaplab::shap_values(&model, &want).unwrap(),
    );
    assert_eq!(a.values, b.values);
}

#[test]
fn every_numeric_and_text_type_reads_as_its_csv_export_reads() {
    let model = mixed_model();
    let (parquet, csv) = write_both(&mixed_table(), "mixed", Layout::default());
    // The layout under test: 9 row groups; s3 and city dictionary-encoded, s2 and note plain.
    let footer = footer(&parquet);
    assert_eq!(footer.num_row_groups(), 9);
    for group in footer.row_groups() {
        let dictionary = |c: usize| group.column(c).dictionary_page_offset().is_some();
        assert_eq!([5, 6, 10, 11].map(dictionary), [false, true, true, false]);
    }
    let mut rows = ParquetRows::open(&parquet, &model).unwrap();
    assert_eq!(rows.map.extra, ["city", "note"]);
    // Blocks that straddle row groups and pages.
    let mut got = Matrix::new(0, 10, Vec::new()).unwrap();
    while let Some(block) = rows.next_block(5).unwrap() {
        got.rows += block.rows;
        got.values.extend(block.values);
    }
    let want = CsvRows::open(&csv, &model).unwrap().read_all().unwrap();
    assert_same(&got, &want);
    // u32::MAX came back unsigned, the decimal as its text parses, " 0.25 " trimmed, NA missing.
    assert_eq!(got.row(0)[7], 4_294_967_295.0);
    assert_eq!(got.row(4)[5], 0.25);
    assert!(got.row(3)[5].is_nan());
    assert_eq!(
        shaplab::shap_values(&model, &got).unwrap().values,
        shaplab::shap_values(&model, &want).unwrap().values
    );
}

#[test]
fn the_categorical_fixtures_parquet_files_read_as_their_csv() {
    for (case, model) in [
        ("xgb_cat_partition_reg", "model.json"),
        ("lgb_cat_binary", "model.txt"),
        // CatBoost reads categories by the hash of their text.
        ("cb_logloss_onehot", "model.json"),
        ("cb_logloss_onehot", "model_nostrings.json"),
    ] {
        let model = Ensemble::from_path(&fixture(case, model)).unwrap();
        let want = CsvRows::open(&fixture(case, "data.csv"), &model)
            .unwrap()
            .read_all()
            .unwrap();
        // data.parquet: pyarrow dictionaries (in another order than the model's categories);
        // data_strings.parquet: the same words as plain strings.
        for file in ["data.parquet", "data_strings.parquet"] {
            let got = DataRows::open(&fixture(case, file), &model)
                .unwrap()
                .read_all()
                .unwrap();
            assert_same(&got, &want);
            assert_eq!(
                shaplab::shap_values(&model, &got).unwrap().values,
                shaplab::shap_values(&model, &want).unwrap().values,
                "{case}/{file}"
            );
        }
    }
}

#[test]
fn unseen_category_names_in_a_dictionary_column_are_counted_as_in_csv() {
    let model = Ensemble::from_path(&fixture("lgb_cat_binary", "model.txt")).unwrap();
    let csv = fixture("lgb_cat_binary", "data_unseen.csv");
    let (_, cells) = read_csv_cells(&csv);
    let text = |j: usize| Values::Text(column_of(&cells, j));
    let table = Table {
        columns: vec![
            Column::new("num_f32", Values::F64(column_of(&cells, 0))),
            Column::new("num_f64", Values::F64(column_of(&cells, 1))),
            Column::new("count_i32", Values::I32(column_of(&cells, 2))),
            Column::new("count_i64", Values::I64(column_of(&cells, 3))),
            Column::new("city", text(4)).dictionary(),
            Column::new("color", text(5)),
        ],
    };
    let parquet = scratch("unseen.parquet");
    table.write_parquet(
        &parquet,
        Layout {
            row_group_rows: 4,
            ..Layout::default()
        },
    );
    let mut from_parquet = DataRows::open(&parquet, &model).unwrap();
    let mut from_csv = DataRows::open(&csv, &model).unwrap();
    assert!(matches!(from_csv, DataRows::Csv(_)));
    assert_same(
        &from_parquet.read_all().unwrap(),
        &from_csv.read_all().unwrap(),
    );
    let unseen = from_parquet.unseen();
    assert_eq!(unseen, from_csv.unseen());
    assert_eq!(unseen[0].feature, "city");
    assert!(unseen[0].examples.contains(&"madrid".to_string()));
}

#[test]
fn seeking_into_the_third_row_group_reads_the_row_a_full_read_gives() {
    let model = mixed_model();
    let (parquet, all) = mixed_parquet("seek", &model);
    // Row groups of 7 rows: row 17 is the 4th row of the 3rd group, on its 2nd page.
    for row in std::iter::once(17).chain(0..all.rows) {
        let mut rows = DataRows::open_at_row(&parquet, &model, row as u64)
            .unwrap()
            .unwrap();
        assert_eq!(rows.rows_read(), row);
        let block = rows.next_block(3).unwrap().unwrap();
        assert_same(&block, &all.slice(row, row + 3));
    }
    assert!(
        DataRows::open_at_row(&parquet, &model, all.rows as u64)
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_seek_never_reads_the_row_groups_before_its_row() {
    let model = mixed_model();
    let (parquet, all) = mixed_parquet("damaged_first_group", &model);
    // Zero the data of the first two row groups, leaving the footer intact.
    let mut bytes = std::fs::read(&parquet).unwrap();
    let metadata = footer(&parquet);
    for group in &metadata.row_groups()[..2] {
        for chunk in group.columns() {
            let (start, len) = chunk.byte_range();
            bytes[start as usize..(start + len) as usize].fill(0);
        }
    }
    std::fs::write(&parquet, bytes).unwrap();
    let err = ParquetRows::open(&parquet, &model)
        .unwrap()
        .read_all()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidData(_)), "{err}");
    let mut rows = ParquetRows::open_at_row(&parquet, &model, 17)
        .unwrap()
        .unwrap();
    assert_same(&rows.read_all().unwrap(), &all.slice(17, all.rows));
}

#[test]
fn describe_parquet_gives_the_summary_describe_csv_gives_for_the_same_data() {
    for statistics in [true, false] {
        let layout = Layout {
            statistics,
            ..Layout::default()
        };
        let (parquet, csv) = write_both(&mixed_table(), &format!("describe_{statistics}"), layout);
        let got = describe_parquet(&parquet).unwrap();
        assert_eq!(got, describe_csv(&csv).unwrap(), "statistics: {statistics}");
        assert_eq!(describe_data(&parquet).unwrap(), got);
        assert_eq!(got.rows, 60);
        let names: Vec<&str> = got.text_columns.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["city", "note"]);
        assert_eq!(
            got.text_columns[0].values,
            ["cairo", "lima", "oslo", "paris"]
        );
        assert_eq!(got.text_columns[0].first_text_row, 2); // row 1 (index 0) is null
    }
    let fixture_summary = describe_data(&fixture("xgb_cat_partition_reg", "data.parquet")).unwrap();
    let csv_summary = describe_csv(&fixture("xgb_cat_partition_reg", "data.csv")).unwrap();
    assert_eq!(fixture_summary, csv_summary);
}

#[test]
fn shaplab_explain_reads_parquet_data_and_background_like_csv() {
    let model = fixture("xgb_reg_d3", "model.json");
    let (parquet, csv) = write_both(&mixed_table(), "explain", Layout::default());
    let run = |data: &Path, out: &str, background_rows: Option<usize>| {
        let out = scratch(out);
        shaplab::run_explain(&ExplainArgs {
            background_rows,
            threads: Some(1),
            ..explain_args(model.clone(), data.to_path_buf(), out.clone())
        })
        .unwrap();
        std::fs::read_to_string(out).unwrap()
    };
    assert_eq!(run(&parquet, "p.csv", None), run(&csv, "c.csv", None));
    assert_eq!(
        run(&parquet, "pi.csv", Some(20)),
        run(&csv, "ci.csv", Some(20))
    );
}
