//! Golden tests for every model family beyond the numeric XGBoost/LightGBM suite: categorical
//! XGBoost and LightGBM, CatBoost, scikit-learn (skops) and ONNX, each against the values the
//! library itself (or, where it has none, the brute-force oracle in scripts/fixtures/oracle.py)
//! computed. One manifest per family (`fixtures/manifest-<family>.json`, written by
//! `scripts/gen_fixtures.py <family>`); a case names its reference files.
//!
//! Tolerance: 1e-5 × the reference's scale, as in tests/golden.rs (XGBoost computes in f32).

mod support;

use shaplab::{Background, DataRows, Ensemble, Matrix, Output};
use std::path::{Path, PathBuf};
use support::reference::{compare, read_matrix};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// One case of a family manifest, as JSON (fields are read where a check needs them).
struct Case {
    dir: PathBuf,
    json: serde_json::Value,
}

impl Case {
    fn name(&self) -> &str {
        self.json["name"].as_str().unwrap_or("?")
    }
    fn file(&self, key: &str) -> Option<PathBuf> {
        self.json.get(key)?.as_str().map(|f| self.dir.join(f))
    }
    fn model(&self, file: &str) -> Result<Ensemble, String> {
        Ensemble::from_path(&self.dir.join(file))
            .map_err(|e| format!("{}/{file}: {e}", self.name()))
    }
    fn first_model(&self) -> Result<Ensemble, String> {
        self.model(self.json["models"][0].as_str().unwrap_or("model"))
    }
}

fn cases(family: &str) -> Vec<Case> {
    let path = fixtures().join(format!("manifest-{family}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let doc: serde_json::Value = serde_json::from_str(&text).expect("manifest is JSON");
    doc["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| Case {
            dir: fixtures().join(c["name"].as_str().unwrap()),
            json: c.clone(),
        })
        .collect()
}

fn rows(path: &Path, model: &Ensemble) -> Result<Matrix, String> {
    DataRows::open(path, model)
        .and_then(|mut r| r.read_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn run_all(family: &str, check: impl Fn(&Case) -> Result<(), String>) {
    let all = cases(family);
    assert!(!all.is_empty(), "family {family} has no cases");
    let failures: Vec<String> = all.iter().filter_map(|c| check(c).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} {family} case(s) failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

/// Path-dependent values (every model file of the case) against `contribs`, Σφ + base against
/// `margin`, and the model's predictions against `prediction`.
fn path_dependent(case: &Case) -> Result<(), String> {
    let reference = read_matrix(&case.file("contribs").ok_or("no contribs")?);
    let data = case.file("data").ok_or("no data")?;
    for m in case.json["models"].as_array().into_iter().flatten() {
        let model = case.model(m.as_str().unwrap_or(""))?;
        let x = rows(&data, &model)?;
        let ex = shaplab::shap_values(&model, &x).map_err(|e| e.to_string())?;
        compare(
            &format!("{}/{m}", case.name()),
            &ex.values,
            &reference,
            1e-5,
        )?;
    }
    let model = case.first_model()?;
    let x = rows(&data, &model)?;
    let ex = shaplab::shap_values(&model, &x).map_err(|e| e.to_string())?;
    let sums: Vec<f64> = (0..ex.rows)
        .flat_map(|r| (0..model.num_outputs).map(move |k| (r, k)))
        .map(|(r, k)| ex.block(r, k).iter().sum())
        .collect();
    if let Some(margin) = case.file("margin") {
        compare(
            &format!("{} margin", case.name()),
            &sums,
            &read_matrix(&margin),
            1e-5,
        )?;
    }
    if let Some(prediction) = case.file("prediction") {
        let ours: Vec<f64> = (0..x.rows).flat_map(|r| model.predict(x.row(r))).collect();
        compare(
            &format!("{} prediction", case.name()),
            &ours,
            &read_matrix(&prediction),
            1e-5,
        )?;
    }
    Ok(())
}

fn interactions(case: &Case) -> Result<(), String> {
    let Some(reference) = case.file("interactions") else {
        return Ok(());
    };
    let model = case.first_model()?;
    let x = rows(&case.file("data").ok_or("no data")?, &model)?;
    let ours = shaplab::interaction_values(&model, &x).map_err(|e| e.to_string())?;
    compare(
        &format!("{} interactions", case.name()),
        &ours,
        &read_matrix(&reference),
        1e-5,
    )
}

fn interventional(case: &Case) -> Result<(), String> {
    let Some(reference) = case.json["interventional"]["raw"].as_str() else {
        return Ok(());
    };
    let model = case.first_model()?;
    let x = rows(&case.file("data").ok_or("no data")?, &model)?;
    let bg = rows(&case.file("background").ok_or("no background")?, &model)?;
    let bg = Background::new(&model, bg).map_err(|e| e.to_string())?;
    let ex =
        shaplab::interventional_values(&model, &x, &bg, Output::Raw).map_err(|e| e.to_string())?;
    compare(
        &format!("{} interventional", case.name()),
        &ex.values,
        &read_matrix(&case.dir.join(reference)),
        1e-5,
    )
}

/// The Parquet twins of a case's data read to the same numbers as its CSV.
fn parquet_twins(case: &Case) -> Result<(), String> {
    let model = case.first_model()?;
    let csv = rows(&case.file("data").ok_or("no data")?, &model)?;
    for key in ["parquet", "parquet_strings"] {
        let Some(file) = case.file(key) else { continue };
        let pq = rows(&file, &model)?;
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
    run_all("categorical", path_dependent);
}

#[test]
fn categorical_interaction_values_match_xgboost_pred_interactions() {
    run_all("categorical", interactions);
}

#[test]
fn categorical_interventional_values_match_the_brute_force_oracle() {
    run_all("categorical", interventional);
}

#[test]
fn categorical_parquet_files_read_like_their_csv() {
    run_all("categorical", parquet_twins);
}

#[test]
fn a_lightgbm_category_the_model_never_saw_is_explained_as_missing_like_pandas_does() {
    let case = cases("categorical")
        .into_iter()
        .find(|c| c.name() == "lgb_cat_binary")
        .expect("lgb_cat_binary");
    let unseen = &case.json["unseen"];
    let model = case.first_model().unwrap();
    let data = case.dir.join(unseen["data"].as_str().unwrap());
    let mut reader = DataRows::open(&data, &model).unwrap();
    let x = reader.read_all().unwrap();
    let counted = reader.unseen();
    assert_eq!(counted.len(), 1, "{counted:?}");
    assert_eq!(counted[0].feature, unseen["column"].as_str().unwrap());
    assert!(
        counted[0]
            .examples
            .contains(&unseen["word"].as_str().unwrap().to_owned())
    );
    let ex = shaplab::shap_values(&model, &x).unwrap();
    let reference = read_matrix(&case.dir.join(unseen["contribs"].as_str().unwrap()));
    compare("lgb unseen", &ex.values, &reference, 1e-5).unwrap();
}

#[test]
fn an_xgboost_category_the_model_never_saw_is_counted_and_routed_outside_every_set() {
    // xgboost's pandas path silently re-reads an unseen word as the nearest known word below
    // it (or raises); shaplab routes it as a code no split holds and reports it instead.
    let case = cases("categorical")
        .into_iter()
        .find(|c| c.name() == "xgb_cat_partition_multi")
        .expect("xgb_cat_partition_multi");
    let unseen = &case.json["unseen"];
    let model = case.first_model().unwrap();
    let data = case.dir.join(unseen["data"].as_str().unwrap());
    let mut reader = DataRows::open(&data, &model).unwrap();
    let x = reader.read_all().unwrap();
    let counted = reader.unseen();
    assert_eq!(counted.len(), 1, "{counted:?}");
    assert!(counted[0].cells >= 1);
    let feature = model
        .feature_names
        .as_ref()
        .unwrap()
        .iter()
        .position(|n| n == unseen["column"].as_str().unwrap())
        .unwrap();
    let names = &model.categories_of(feature).unwrap().names;
    assert!(
        (0..x.rows).any(|r| x.row(r)[feature] == names.len() as f64),
        "the unseen word became the code past the model's categories"
    );
    // Still exact TreeSHAP of what the trees compute for that code: additive to the margin.
    let ex = shaplab::shap_values(&model, &x).unwrap();
    let mut margin = vec![0.0; model.num_outputs];
    for r in 0..x.rows {
        model.predict_margin(x.row(r), &mut margin);
        for (k, m) in margin.iter().enumerate() {
            let s: f64 = ex.block(r, k).iter().sum();
            assert!((s - m).abs() < 1e-9, "row {r} output {k}: {s} vs {m}");
        }
    }
}
