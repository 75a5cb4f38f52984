//! `run_explain` end to end: the files it writes, the column matching it reports, and the
//! option combinations it refuses.

mod support;

use shaplab::cli::Method;
use shaplab::{CsvRows, Ensemble, Error, ExplainArgs, Output};
use std::path::Path;
use support::files::{
    assert_note, explain_args, fixture, read_csv_cells, read_rows, scratch, scratch_dir,
};

/// `shaplab explain` of a fixture case's model on its data.csv, into `out`.
fn args(case: &str, model: &str, out: &Path) -> ExplainArgs {
    explain_args(
        fixture(case, model),
        fixture(case, "data.csv"),
        out.to_path_buf(),
    )
}

/// A CSV the CLI wrote: its header and its numbers (every cell is one).
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<f64>>) {
    let (header, cells) = read_csv_cells(path);
    let rows = cells
        .into_iter()
        .map(|row| {
            let numbers = row.into_iter().map(|c| c.expect("no empty cells"));
            numbers.map(|c| c.parse().unwrap()).collect()
        })
        .collect();
    (header, rows)
}

#[test]
fn explain_writes_one_line_per_row_with_values_that_round_trip_exactly() {
    let out = scratch("binary.csv");
    let summary = shaplab::run_explain(&args("xgb_binary_d6", "model.json", &out)).unwrap();
    assert_eq!(
        (summary.rows, summary.features, summary.outputs),
        (60, 30, 1)
    );
    assert_eq!(summary.method, Method::PathDependent);
    let (header, rows) = read_csv(&out);
    assert_eq!(header.len(), 31);
    assert_eq!(header[0], "mean_radius");
    assert_eq!(header[30], "base_value");
    let model = Ensemble::from_path(&fixture("xgb_binary_d6", "model.json")).unwrap();
    let data = read_rows(&fixture("xgb_binary_d6", "data.csv"), &model).unwrap();
    let ex = shaplab::shap_values(&model, &data).unwrap();
    let written: Vec<f64> = rows.into_iter().flatten().collect();
    assert_eq!(
        written, ex.values,
        "CSV values must parse back bit-identical"
    );
}

#[test]
fn multi_output_columns_are_blocks_per_class_with_indexed_names() {
    let out = scratch("multi.csv");
    let inter = scratch("multi_inter.csv");
    let mut a = args("xgb_multi_d4", "model.ubj", &out);
    a.interactions = Some(inter.clone());
    shaplab::run_explain(&a).unwrap();
    let (header, rows) = read_csv(&out);
    assert_eq!(header.len(), 3 * 14);
    assert_eq!(header[0], "alcohol[0]");
    assert_eq!(header[13], "base_value[0]");
    assert_eq!(header[14], "alcohol[1]");
    assert_eq!(header[41], "base_value[2]");
    assert_eq!(rows.len(), 60);
    let (ih, irows) = read_csv(&inter);
    assert_eq!(ih.len(), 3 * 14 * 14);
    assert_eq!(irows.len(), 60);
    assert_eq!(irows[0].len(), 3 * 14 * 14);
    // Rows of each interaction matrix sum to the SHAP values.
    for k in 0..3 {
        for i in 0..14 {
            let s: f64 = irows[5][k * 196 + i * 14..k * 196 + (i + 1) * 14]
                .iter()
                .sum();
            assert!((s - rows[5][k * 14 + i]).abs() < 1e-9);
        }
    }
}

#[test]
fn probability_output_uses_a_sampled_background_and_adds_up_to_the_probability() {
    let out = scratch("prob.csv");
    let mut a = args("xgb_binary_d6", "model.json", &out);
    a.output = Output::Probability;
    a.background_rows = Some(25);
    let summary = shaplab::run_explain(&a).unwrap();
    assert_eq!(
        summary.method,
        Method::Interventional {
            background_rows: 25
        }
    );
    let (_, rows) = read_csv(&out);
    let model = Ensemble::from_path(&a.model).unwrap();
    let data = read_rows(&a.data, &model).unwrap();
    let mut m = [0.0];
    for (r, row) in rows.iter().enumerate() {
        model.predict_margin(data.row(r), &mut m);
        let p = 1.0 / (1.0 + (-m[0]).exp());
        let s: f64 = row.iter().sum();
        assert!((s - p).abs() < 1e-9, "row {r}: {s} vs {p}");
    }
}

#[test]
fn the_same_run_gives_the_same_file_on_one_or_two_threads() {
    let (o1, o2) = (scratch("t1.csv"), scratch("t2.csv"));
    let mut a = args("lgb_binary_d8", "model.txt", &o1);
    a.threads = Some(1);
    a.background_rows = Some(10);
    shaplab::run_explain(&a).unwrap();
    a.threads = Some(2);
    a.out = o2.clone();
    shaplab::run_explain(&a).unwrap();
    assert_eq!(std::fs::read(o1).unwrap(), std::fs::read(o2).unwrap());
}

#[test]
fn probability_output_of_a_multiclass_model_is_refused() {
    let mut a = args("xgb_multi_d4", "model.json", &scratch("x.csv"));
    a.output = Output::Probability;
    assert!(matches!(
        shaplab::run_explain(&a).unwrap_err(),
        Error::InvalidArgs(_)
    ));
}

#[test]
fn interactions_with_a_background_are_refused() {
    let mut a = args("xgb_reg_d3", "model.json", &scratch("y.csv"));
    a.interactions = Some(scratch("y_inter.csv"));
    a.background_rows = Some(5);
    assert!(matches!(
        shaplab::run_explain(&a).unwrap_err(),
        Error::InvalidArgs(_)
    ));
}

#[test]
fn csv_with_bom_quotes_missing_markers_and_extra_columns_is_read_and_reported() {
    let model = Ensemble::from_path(&fixture("xgb_reg_d3", "model.json")).unwrap();
    let data = scratch("bom.csv");
    std::fs::write(
        &data,
        "\u{feff}id,\"age\",sex,bmi,bp,s1,s2,s3,s4,s5,s6,note\n\
         7,0.1,NA,null,,NaN,1,2,3,4,5,\"a, quoted note\"\n",
    )
    .unwrap();
    let mut rows = CsvRows::open(&data, &model).unwrap();
    assert!(!rows.map.positional);
    assert_eq!(rows.map.extra, vec!["id".to_string(), "note".to_string()]);
    let m = rows.read_all().unwrap();
    assert_eq!(m.rows, 1);
    assert_eq!(m.row(0)[0], 0.1);
    assert!(m.row(0)[1..5].iter().all(|v| v.is_nan()));
    assert_eq!(m.row(0)[5..], [1.0, 2.0, 3.0, 4.0, 5.0]);
    let mut a = args("xgb_reg_d3", "model.json", &scratch("bom_out.csv"));
    a.data = data;
    let summary = shaplab::run_explain(&a).unwrap();
    assert!(
        summary.notes[0].contains("2 extra column(s) ignored: id, note"),
        "{:?}",
        summary.notes
    );
}

#[test]
fn a_model_without_feature_names_matches_columns_by_position_and_says_so() {
    let out = scratch("pos.csv");
    let summary =
        shaplab::run_explain(&args("xgb_softmax_d8_nonames", "model.json", &out)).unwrap();
    assert!(
        summary.notes[0].contains("by position"),
        "{:?}",
        summary.notes
    );
    let (header, _) = read_csv(&out);
    assert_eq!(header[0], "alcohol[0]");
}

#[test]
fn probability_output_of_a_regression_model_is_refused() {
    let mut a = args("xgb_reg_d3", "model.json", &scratch("z.csv"));
    a.output = Output::Probability;
    match shaplab::run_explain(&a).unwrap_err() {
        Error::InvalidArgs(m) => assert!(m.contains("no probability scale"), "{m}"),
        other => panic!("{other}"),
    }
}

#[test]
fn a_background_file_gives_interventional_values_with_its_row_count() {
    let mut a = args("xgb_binary_d6", "model.json", &scratch("bgfile.csv"));
    a.background = Some(fixture("xgb_binary_d6", "background.csv"));
    let summary = shaplab::run_explain(&a).unwrap();
    assert_eq!(
        summary.method,
        Method::Interventional {
            background_rows: 40
        }
    );
}

#[test]
fn an_onnx_model_is_explained_path_dependently_only_with_covers_recomputed_from_the_data() {
    let dir = scratch_dir("onnx");
    let out = dir.join("shap.csv");
    let mut a = args("onnx_rf_reg", "model.onnx", &out);
    // Without covers: refused, saying what to do.
    let err = shaplab::run_explain(&a).unwrap_err().to_string();
    assert!(
        err.contains("stores no node covers") && err.contains("interventionally"),
        "{err}"
    );
    // With covers recomputed from the rows of the background file the reference used.
    a.data = fixture("onnx_rf_reg", "background.csv");
    a.covers_from_data = true;
    let run = shaplab::run_explain(&a).unwrap();
    assert_note(&run.notes, "recomputed");
    let (_, ours) = read_csv(&out);
    assert_eq!(ours.len(), 40);
    // The reference explains data.csv with covers from background.csv; the CLI recomputes
    // from the file it explains, so compare the additivity instead: Σφ + base = the margin.
    let model = Ensemble::from_path(&fixture("onnx_rf_reg", "model.onnx")).unwrap();
    let rows = read_rows(&fixture("onnx_rf_reg", "background.csv"), &model).unwrap();
    let mut margin = [0.0];
    for (r, line) in ours.iter().enumerate() {
        model.predict_margin(rows.row(r), &mut margin);
        let s: f64 = line.iter().sum();
        assert!(
            (s - margin[0]).abs() < 1e-6 * (1.0 + margin[0].abs()),
            "row {r}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
