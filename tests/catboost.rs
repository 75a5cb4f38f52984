//! CatBoost JSON: the engine against CatBoost's own `get_feature_importance(type="ShapValues")`
//! (fixtures/manifest-catboost.json, written by scripts/gen_fixtures.py catboost), the CTR
//! refusal, and malformed files.
//!
//! Tolerance: 1e-5 × the reference's scale (largest |value|, at least 1), as in golden.rs.
//! CatBoost computes in f64, so the worst differences measured are ~1e-15.
//! `SHAPLAB_CATBOOST_FIXTURES=dir` runs the golden tests on another fixture directory with a
//! manifest of the same shape (used while developing against locally trained models).

use serde_json::{Value, json};
use shaplab::{Background, CsvRows, Ensemble, Error, Matrix, Output};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    match std::env::var_os("SHAPLAB_CATBOOST_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"),
    }
}

fn manifest() -> Value {
    let path = fixtures().join("manifest-catboost.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("manifest is JSON")
}

struct Case {
    name: String,
    dir: PathBuf,
    models: Vec<String>,
    /// (data, contribs) pairs: the case's own, then its unseen-category probe when present.
    data: Vec<(String, String)>,
}

fn cases() -> Vec<Case> {
    let doc = manifest();
    let s = |v: &Value, key: &str, default: &str| v[key].as_str().unwrap_or(default).to_string();
    doc["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            let mut data = vec![(s(c, "data", "data.csv"), s(c, "contribs", "contribs.csv"))];
            if c["unseen"].is_object() {
                data.push((s(&c["unseen"], "data", ""), s(&c["unseen"], "contribs", "")));
            }
            Case {
                name: s(c, "name", ""),
                dir: fixtures().join(s(c, "name", "")),
                models: c["models"]
                    .as_array()
                    .map(|m| {
                        m.iter()
                            .filter_map(|m| m.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_else(|| vec!["model.json".into()]),
                data,
            }
        })
        .collect()
}

/// A headerless numeric CSV as written by numpy.savetxt.
fn read_matrix(path: &Path) -> Vec<Vec<f64>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| l.split(',').map(|v| v.parse::<f64>().unwrap()).collect())
        .collect()
}

fn load_rows(path: &Path, model: &Ensemble) -> Matrix {
    CsvRows::open(path, model).unwrap().read_all().unwrap()
}

/// The worst |ours − reference| if within 1e-5 × the reference's scale, else a description.
fn compare(label: &str, ours: &[f64], reference: &[Vec<f64>]) -> Result<f64, String> {
    let flat: Vec<f64> = reference.iter().flatten().copied().collect();
    if flat.len() != ours.len() {
        return Err(format!(
            "{label}: {} values, reference has {}",
            ours.len(),
            flat.len()
        ));
    }
    let tol = 1e-5 * flat.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let (worst, at) = ours
        .iter()
        .zip(&flat)
        .enumerate()
        .map(|(i, (a, b))| ((a - b).abs(), i))
        .fold((0.0, 0), |acc, x| if x.0 > acc.0 { x } else { acc });
    if worst > tol || ours.iter().any(|v| !v.is_finite()) {
        return Err(format!(
            "{label}: worst |diff| {worst:e} at index {at} (ours {}, CatBoost {}), tolerance {tol:e}",
            ours[at], flat[at]
        ));
    }
    Ok(worst)
}

/// Runs `check` on every (case, model file), collecting failures; prints the worst differences.
fn run_all(what: &str, check: impl Fn(&Case, &str, &Ensemble) -> Result<f64, String>) {
    let mut failures = Vec::new();
    let mut count = 0;
    for case in cases() {
        for m in &case.models {
            let label = format!("{}/{m}", case.name);
            let model = match Ensemble::from_path(&case.dir.join(m)) {
                Ok(model) => model,
                Err(e) => {
                    failures.push(format!("{label}: {e}"));
                    continue;
                }
            };
            match check(&case, &label, &model) {
                Ok(worst) => println!("{what} {label}: worst |diff| {worst:e}"),
                Err(e) => failures.push(e),
            }
            count += 1;
        }
    }
    assert!(count > 0, "no CatBoost fixtures");
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn path_dependent_values_match_catboosts_own_shap_values() {
    run_all("shap", |case, label, model| {
        let mut worst: f64 = 0.0;
        for (data, contribs) in &case.data {
            let rows = load_rows(&case.dir.join(data), model);
            let ex = shaplab::shap_values(model, &rows).map_err(|e| e.to_string())?;
            let reference = read_matrix(&case.dir.join(contribs));
            worst = worst.max(compare(&format!("{label} {data}"), &ex.values, &reference)?);
        }
        Ok(worst)
    });
}

#[test]
fn shap_values_plus_base_add_up_to_catboosts_raw_formula_value() {
    run_all("margin", |case, label, model| {
        let rows = load_rows(&case.dir.join(&case.data[0].0), model);
        let ex = shaplab::shap_values(model, &rows).map_err(|e| e.to_string())?;
        let mut sums = Vec::new();
        let mut ours = vec![0.0; model.num_outputs];
        for r in 0..rows.rows {
            model.predict_margin(rows.row(r), &mut ours);
            for (k, &margin) in ours.iter().enumerate() {
                let s: f64 = ex.block(r, k).iter().sum();
                if (s - margin).abs() > 1e-9 * (1.0 + s.abs()) {
                    return Err(format!(
                        "{label}: row {r} output {k}: Σφ+base {s} vs margin {margin}"
                    ));
                }
                sums.push(s);
            }
        }
        compare(
            &format!("{label} margin"),
            &sums,
            &read_matrix(&case.dir.join("margin.csv")),
        )
    });
}

#[test]
fn predictions_through_the_link_match_catboosts_predictions() {
    run_all("prediction", |case, label, model| {
        let rows = load_rows(&case.dir.join(&case.data[0].0), model);
        let reference = read_matrix(&case.dir.join("prediction.csv"));
        // predict_proba of a binary classifier has both classes: [1 − p, p].
        let both = model.num_outputs == 1 && reference.first().is_some_and(|r| r.len() == 2);
        let ours: Vec<f64> = (0..rows.rows)
            .flat_map(|r| {
                let p = model.predict(rows.row(r));
                if both { vec![1.0 - p[0], p[0]] } else { p }
            })
            .collect();
        compare(&format!("{label} prediction"), &ours, &reference)
    });
}

#[test]
fn interventional_values_with_a_background_add_up_to_the_margin() {
    run_all("interventional", |case, label, model| {
        let rows = load_rows(&case.dir.join(&case.data[0].0), model);
        let bg = Background::new(model, rows.slice(0, 16)).map_err(|e| e.to_string())?;
        let ex = shaplab::interventional_values(model, &rows, &bg, Output::Raw)
            .map_err(|e| e.to_string())?;
        let mut worst: f64 = 0.0;
        let mut margin = vec![0.0; model.num_outputs];
        for r in 0..rows.rows {
            model.predict_margin(rows.row(r), &mut margin);
            for (k, &m) in margin.iter().enumerate() {
                let s: f64 = ex.block(r, k).iter().sum();
                worst = worst.max((s - m).abs());
            }
        }
        if worst > 1e-9 {
            return Err(format!(
                "{label}: interventional Σφ+base misses the margin by {worst:e}"
            ));
        }
        Ok(worst)
    });
}

#[test]
fn a_file_saved_without_pool_routes_category_words_by_catboosts_hash_like_one_with_names() {
    // cb_logloss_onehot ships the same model saved with and without pool=.
    let dir = fixtures().join("cb_logloss_onehot");
    if !dir.join("model_nostrings.json").exists() {
        return;
    }
    let named = Ensemble::from_path(&dir.join("model.json")).unwrap();
    let hashed = Ensemble::from_path(&dir.join("model_nostrings.json")).unwrap();
    for data in ["data.csv", "data_unseen.csv"] {
        let a = shaplab::shap_values(&named, &load_rows(&dir.join(data), &named)).unwrap();
        let b = shaplab::shap_values(&hashed, &load_rows(&dir.join(data), &hashed)).unwrap();
        assert_eq!(a.values, b.values, "{data}");
    }
    assert!(
        hashed
            .notes
            .iter()
            .any(|n| n.contains("saved without pool=")),
        "{:?}",
        hashed.notes
    );
    let unseen = CsvRows::open(&dir.join("data_unseen.csv"), &named).unwrap();
    let mut unseen = unseen;
    unseen.read_all().unwrap();
    let report = unseen.unseen();
    assert_eq!(report.len(), 1, "{report:?}");
    assert_eq!(report[0].feature, "color");
    assert!(report[0].examples.contains(&"orange".to_string()));
}

#[test]
fn a_model_with_ctr_features_is_refused_naming_them_and_one_hot_max_size() {
    let doc = manifest();
    let refusals = doc["refusals"].as_array().expect("refusals");
    assert!(!refusals.is_empty());
    for r in refusals {
        let path = fixtures().join(r["file"].as_str().unwrap());
        let err = Ensemble::from_path(&path).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::Unsupported(_)), "{text}");
        assert!(text.contains("CTR"), "{text}");
        assert!(text.contains("one_hot_max_size=255"), "{text}");
        let model: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for c in model["features_info"]["categorical_features"]
            .as_array()
            .unwrap()
        {
            let id = c["feature_id"].as_str().unwrap();
            assert!(text.contains(id), "{id} missing from: {text}");
        }
    }
}

/// A small valid model to break: one depth-2 oblivious tree over features a (float) and
/// color (one-hot on the hash of "red"), plus a depth-1 non-symmetric form.
fn small_model() -> Value {
    json!({
        "features_info": {
            "float_features": [{"borders": [0.5], "feature_id": "a", "feature_index": 0,
                "flat_feature_index": 0, "has_nans": false, "nan_value_treatment": "AsIs"}],
            "categorical_features": [{"feature_id": "color", "feature_index": 0,
                "flat_feature_index": 1, "values": [-1242798403]}]
        },
        "model_info": {"params": {"loss_function": {"params": {}, "type": "RMSE"}}},
        "oblivious_trees": [{
            "leaf_values": [1.0, 2.0, 3.0, 4.0],
            "leaf_weights": [10, 20, 30, 40],
            "splits": [
                {"border": 0.5, "float_feature_index": 0, "split_index": 0, "split_type": "FloatFeature"},
                {"cat_feature_index": 0, "split_index": 1, "split_type": "OneHotFeature", "value": -1242798403}
            ]
        }],
        "scale_and_bias": [1, [0.25]]
    })
}

fn load(doc: &Value) -> shaplab::Result<Ensemble> {
    Ensemble::from_bytes(&serde_json::to_vec(doc).unwrap())
}

fn message(doc: &Value) -> String {
    load(doc)
        .expect_err("the model should be refused")
        .to_string()
}

#[test]
fn the_small_model_routes_floats_and_hashed_words_as_catboost_does() {
    let model = load(&small_model()).unwrap();
    // leaf = bit0 (a > 0.5) + 2·bit1 (color == "red"); prediction = leaf + bias.
    let dir = std::env::temp_dir().join(format!("shaplab-cb-small-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("rows.csv");
    std::fs::write(
        &csv,
        "a,color\n0.2,blue\n0.7,blue\n0.2,red\n0.7,red\n,red\n",
    )
    .unwrap();
    let rows = load_rows(&csv, &model);
    let preds: Vec<f64> = (0..rows.rows)
        .map(|r| model.predict(rows.row(r))[0])
        .collect();
    assert_eq!(preds, vec![1.25, 2.25, 3.25, 4.25, 3.25]);
    // Expected value = Σ w·v / Σ w = (10 + 40 + 90 + 160) / 100, plus the bias 0.25.
    assert!((model.expected_values()[0] - 3.25).abs() < 1e-12);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_scale_other_than_one_multiplies_every_shap_value() {
    let mut doc = small_model();
    let one = load(&doc).unwrap();
    doc["scale_and_bias"] = json!([2.5, [0.25]]);
    let scaled = load(&doc).unwrap();
    let rows = Matrix::new(2, 2, vec![0.7, 0.0, 0.2, 1.0]).unwrap();
    let a = shaplab::shap_values(&one, &rows).unwrap();
    let b = shaplab::shap_values(&scaled, &rows).unwrap();
    for r in 0..2 {
        for j in 0..2 {
            assert!((b.block(r, 0)[j] - 2.5 * a.block(r, 0)[j]).abs() < 1e-12);
        }
    }
    assert!(
        scaled.notes.iter().any(|n| n.contains("scale 2.5")),
        "{:?}",
        scaled.notes
    );
}

#[test]
fn a_truncated_file_is_a_syntax_error() {
    let text = serde_json::to_string(&small_model()).unwrap();
    let err = Ensemble::from_bytes(&text.as_bytes()[..text.len() / 2]).unwrap_err();
    assert!(matches!(err, Error::Syntax { .. }), "{err}");
    assert!(err.to_string().contains("malformed JSON model"), "{err}");
}

#[test]
fn leaf_values_of_the_wrong_length_are_refused_naming_the_tree_and_field() {
    let mut doc = small_model();
    doc["oblivious_trees"][0]["leaf_values"] = json!([1.0, 2.0, 3.0]);
    let text = message(&doc);
    assert!(text.contains("/oblivious_trees/0/leaf_values"), "{text}");
    assert!(text.contains("tree 0"), "{text}");
}

#[test]
fn leaf_weights_of_the_wrong_length_are_refused() {
    let mut doc = small_model();
    doc["oblivious_trees"][0]["leaf_weights"] = json!([1, 2]);
    let text = message(&doc);
    assert!(
        text.contains("leaf_weights has 2 entries, expected 4"),
        "{text}"
    );
}

#[test]
fn a_split_naming_a_feature_that_does_not_exist_is_refused() {
    let mut doc = small_model();
    doc["oblivious_trees"][0]["splits"][0]["float_feature_index"] = json!(7);
    let text = message(&doc);
    assert!(text.contains("float feature 7"), "{text}");
    assert!(text.contains("/oblivious_trees/0/splits/0"), "{text}");
    let mut doc = small_model();
    doc["oblivious_trees"][0]["splits"][1]["cat_feature_index"] = json!(-3);
    assert!(message(&doc).contains("categorical feature -3"));
}

#[test]
fn a_huge_depth_is_refused_before_anything_is_allocated() {
    let mut doc = small_model();
    let split = doc["oblivious_trees"][0]["splits"][0].clone();
    doc["oblivious_trees"][0]["splits"] = Value::Array(vec![split; 64]);
    let text = message(&doc);
    assert!(text.contains("tree 0 has depth 64"), "{text}");
    assert!(text.contains("at most 16"), "{text}");
}

#[test]
fn an_objective_shaplab_does_not_know_is_refused_by_name() {
    let mut doc = small_model();
    doc["model_info"]["params"]["loss_function"]["type"] = json!("Poisson");
    let err = load(&doc).unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)));
    assert!(err.to_string().contains("\"Poisson\""), "{err}");
}

#[test]
fn a_multiclass_objective_over_one_output_is_refused() {
    let mut doc = small_model();
    doc["model_info"]["params"]["loss_function"]["type"] = json!("MultiClass");
    assert!(message(&doc).contains("needs at least 2 outputs"));
}

#[test]
fn a_negative_or_missing_leaf_weight_is_handled() {
    let mut doc = small_model();
    doc["oblivious_trees"][0]["leaf_weights"] = json!([1, -2, 3, 4]);
    assert!(message(&doc).contains("leaf_weights[1] is negative"));
    let mut doc = small_model();
    doc["oblivious_trees"][0]
        .as_object_mut()
        .unwrap()
        .remove("leaf_weights");
    let model = load(&doc).unwrap();
    assert_eq!(model.covers, shaplab::Covers::None);
    assert!(model.notes.iter().any(|n| n.contains("no leaf_weights")));
}

#[test]
fn a_non_symmetric_tree_with_a_missing_child_or_bad_leaf_is_refused() {
    let mut doc = small_model();
    let obj = doc.as_object_mut().unwrap();
    obj.remove("oblivious_trees");
    obj.insert(
        "trees".into(),
        json!([{"split": {"border": 0.5, "float_feature_index": 0, "split_type": "FloatFeature"},
                "left": {"value": 1.0, "weight": 3}}]),
    );
    assert!(message(&doc).contains("missing required field \"right\""));
    doc["trees"][0]["right"] = json!({"value": [1.0, 2.0], "weight": 3});
    assert!(message(&doc).contains("a leaf has 2 values, expected 1"));
    doc["trees"][0]["right"] = json!({"value": 2.0, "weight": 1});
    let model = load(&doc).unwrap();
    let rows = Matrix::new(2, 2, vec![0.2, f64::NAN, 0.9, f64::NAN]).unwrap();
    assert_eq!(model.predict(rows.row(0))[0], 1.25);
    assert_eq!(model.predict(rows.row(1))[0], 2.25);
}

#[test]
fn empty_leaves_that_disagree_get_a_vanishing_weight_and_a_note() {
    let mut doc = small_model();
    // The last split (color) is the root: leaves 2 and 3 (color == red) were never reached,
    // so the whole red subtree has weight 0, and its leaves hold different values.
    doc["oblivious_trees"][0]["leaf_weights"] = json!([10, 20, 0, 0]);
    let model = load(&doc).unwrap();
    let note = model.notes.iter().find(|n| n.contains("leaf weight 0"));
    assert!(
        note.is_some_and(|n| n.contains("vanishing weight")),
        "{:?}",
        model.notes
    );
    let rows = Matrix::new(2, 2, vec![0.7, 0.0, 0.2, 0.0]).unwrap();
    let ex = shaplab::shap_values(&model, &rows).unwrap();
    for r in 0..2 {
        let sum: f64 = ex.block(r, 0).iter().sum();
        assert!((sum - model.predict(rows.row(r))[0]).abs() < 1e-9);
    }
    // Empty leaves that hold 0 (what CatBoost writes there) are cut to one leaf, no note.
    doc["oblivious_trees"][0]["leaf_values"] = json!([1.0, 2.0, 0.0, 0.0]);
    let model = load(&doc).unwrap();
    assert!(
        model.notes.iter().all(|n| !n.contains("leaf weight 0")),
        "{:?}",
        model.notes
    );
    assert!(model.trees[0].num_nodes() < 7);
}

#[test]
fn a_category_name_whose_hash_is_not_catboosts_is_refused() {
    let mut doc = small_model();
    doc["features_info"]["cat_features_hash"] = json!([{"hash": 3052168893u32, "value": "red"}]);
    let model = load(&doc).unwrap();
    assert_eq!(model.categories[1].as_ref().unwrap().names, vec!["red"]);
    doc["features_info"]["cat_features_hash"] = json!([{"hash": 12345, "value": "red"}]);
    let text = message(&doc);
    assert!(
        text.contains("CatBoost's hash of it is 3052168893"),
        "{text}"
    );
}

#[test]
fn a_model_with_text_features_or_an_unknown_split_type_is_refused() {
    let mut doc = small_model();
    doc["features_info"]["text_features"] = json!([{"feature_id": "t"}]);
    assert!(message(&doc).contains("text_features"));
    let mut doc = small_model();
    doc["oblivious_trees"][0]["splits"][0]["split_type"] = json!("EstimatedFeature");
    assert!(message(&doc).contains("\"EstimatedFeature\""));
}
