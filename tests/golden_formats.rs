//! Golden tests of categorical XGBoost and LightGBM models (fixtures/manifest-categorical.json,
//! written by `scripts/gen_fixtures.py categorical`): against the libraries' own values or,
//! where they have none, the brute-force oracle in scripts/fixtures/oracle.py. The harness and
//! its tolerance are in tests/support/golden.rs; CatBoost, scikit-learn and ONNX have binaries
//! of their own (catboost.rs, sklearn/, onnx/) on the same harness.

mod support;

use shaplab::cells::Unseen;
use shaplab::{DataRows, Ensemble, Matrix};
use support::golden::{self, Case, Manifest, check, every_model, first_model, run_all};
use support::reference::sums_and_margins;

fn cases() -> Vec<Case> {
    Manifest::family("categorical").cases()
}

/// Path-dependent values (every model file of the case) against `contribs`, Σφ + base against
/// `margin`, and the model's predictions against `prediction`.
fn path_dependent(case: &Case) -> Result<(), String> {
    every_model(case, golden::path_dependent)?;
    if case.has("margin") {
        first_model(case, golden::margin)?;
    }
    if case.has("prediction") {
        first_model(case, golden::prediction)?;
    }
    Ok(())
}

/// The Parquet twins of a case's data read to the same numbers as its CSV.
fn parquet_twins(case: &Case) -> Result<(), String> {
    let model = case.first_model()?;
    let csv = case.rows("data", &model)?;
    for key in ["parquet", "parquet_strings"] {
        if !case.has(key) {
            continue;
        }
        let pq = case.rows(key, &model)?;
        let same = pq.rows == csv.rows
            && pq
                .values
                .iter()
                .zip(&csv.values)
                .all(|(a, b)| a == b || (a.is_nan() && b.is_nan()));
        if !same {
            return Err(format!(
                "{}: {key} reads differently from data.csv",
                case.name()
            ));
        }
    }
    Ok(())
}

#[test]
fn categorical_xgboost_and_lightgbm_models_match_their_own_contributions() {
    run_all(&cases(), path_dependent);
}

#[test]
fn categorical_interaction_values_match_xgboost_pred_interactions() {
    run_all(&cases(), golden::interactions);
}

#[test]
fn categorical_interventional_values_match_the_brute_force_oracle() {
    run_all(&cases(), golden::interventional);
}

#[test]
fn categorical_parquet_files_read_like_their_csv() {
    run_all(&cases(), parquet_twins);
}

/// A case's unseen-category probe (its manifest entry "unseen": the column, the word the
/// model never saw, the data file holding it) read as the CLI reads it, with what the reader
/// counted as unseen: one feature.
struct Probe {
    case: Case,
    model: Ensemble,
    rows: Matrix,
    counted: Vec<Unseen>,
}

impl Probe {
    fn read(name: &str) -> Self {
        let case = Manifest::family("categorical").case(name);
        let model = case.first_model().unwrap();
        let data = case.dir.join(case.json["unseen"]["data"].as_str().unwrap());
        let mut reader = DataRows::open(&data, &model).unwrap();
        let rows = reader.read_all().unwrap();
        let counted = reader.unseen();
        assert_eq!(counted.len(), 1, "{counted:?}");
        Probe {
            case,
            model,
            rows,
            counted,
        }
    }

    /// The probe's manifest field `key`.
    fn entry(&self, key: &str) -> &str {
        self.case.json["unseen"][key]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no unseen.{key}", self.case.name()))
    }
}

#[test]
fn a_lightgbm_category_the_model_never_saw_is_explained_as_missing_like_pandas_does() {
    let probe = Probe::read("lgb_cat_binary");
    assert_eq!(probe.counted[0].feature, probe.entry("column"));
    assert!(
        probe.counted[0]
            .examples
            .contains(&probe.entry("word").to_owned())
    );
    let ex = shaplab::shap_values(&probe.model, &probe.rows).unwrap();
    let reference = probe.case.dir.join(probe.entry("contribs"));
    check("lgb unseen", &ex.values, &reference).unwrap();
}

#[test]
fn an_xgboost_category_the_model_never_saw_is_counted_and_routed_outside_every_set() {
    // xgboost's pandas path silently re-reads an unseen word as the nearest known word below
    // it (or raises); shaplab routes it as a code no split holds and reports it instead.
    let probe = Probe::read("xgb_cat_partition_multi");
    let (model, rows) = (&probe.model, &probe.rows);
    assert!(probe.counted[0].cells >= 1);
    let feature = model
        .feature_names
        .as_ref()
        .unwrap()
        .iter()
        .position(|n| n == probe.entry("column"))
        .unwrap();
    let names = &model.categories_of(feature).unwrap().names;
    assert!(
        (0..rows.rows).any(|r| rows.row(r)[feature] == names.len() as f64),
        "the unseen word became the code past the model's categories"
    );
    // Still exact TreeSHAP of what the trees compute for that code: additive to the margin.
    let ex = shaplab::shap_values(model, rows).unwrap();
    for s in sums_and_margins(model, rows, &ex) {
        assert!(
            (s.sum - s.margin).abs() < 1e-9,
            "row {} output {}: {} vs {}",
            s.row,
            s.output,
            s.sum,
            s.margin
        );
    }
}
