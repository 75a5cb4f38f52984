//! CatBoost JSON: the engine against CatBoost's own `get_feature_importance(type="ShapValues")`
//! (fixtures/manifest-catboost.json, written by scripts/gen_fixtures.py catboost), the CTR
//! refusal, and malformed files.
//!
//! The harness and its tolerance are in tests/support/golden.rs; CatBoost computes in f64, so
//! the worst differences measured are ~1e-15. `SHAPLAB_CATBOOST_FIXTURES=dir` runs the golden
//! tests on another fixture directory with a manifest of the same shape (used while developing
//! against locally trained models).

mod support;

use serde_json::{Value, json};
use shaplab::{Background, DataRows, Ensemble, Error, Matrix, Output};
use std::path::PathBuf;
use support::files::{assert_note, read_rows, scratch_dir};
use support::golden::{self, Case, Manifest, every_model, run_all, shap_against};
use support::reference::sums_and_margins;

/// The fixtures directory, or the one `SHAPLAB_CATBOOST_FIXTURES` names.
fn root() -> PathBuf {
    match std::env::var_os("SHAPLAB_CATBOOST_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => support::files::fixtures(),
    }
}

fn manifest() -> Manifest {
    Manifest::read(root(), "manifest-catboost.json")
}

/// The case's (data, contribs) files: its own, then its unseen-category probe when present.
fn data_and_contribs(case: &Case) -> Vec<(PathBuf, PathBuf)> {
    let mut pairs = vec![(case.file("data"), case.file("contribs"))];
    let unseen = &case.json["unseen"];
    if unseen.is_object() {
        let file = |key: &str| case.dir.join(unseen[key].as_str().unwrap_or(""));
        pairs.push((file("data"), file("contribs")));
    }
    pairs
}

#[test]
fn path_dependent_values_match_catboosts_own_shap_values() {
    run_all(&manifest().cases(), |case| {
        every_model(case, |case, label, model| {
            for (data, contribs) in data_and_contribs(case) {
                let rows = read_rows(&data, model)?;
                let name = data.file_name().unwrap_or_default().to_string_lossy();
                shap_against(&format!("{label} {name}"), model, &rows, &contribs)?;
            }
            Ok(())
        })
    });
}

#[test]
fn shap_values_plus_base_add_up_to_catboosts_raw_formula_value() {
    run_all(&manifest().cases(), |case| {
        every_model(case, golden::margin)
    });
}

#[test]
fn predictions_through_the_link_match_catboosts_predictions() {
    run_all(&manifest().cases(), |case| {
        every_model(case, golden::prediction)
    });
}

#[test]
fn interventional_values_with_a_background_add_up_to_the_margin() {
    run_all(&manifest().cases(), |case| {
        every_model(case, |case, label, model| {
            let rows = case.rows("data", model)?;
            let bg = Background::new(model, rows.slice(0, 16)).map_err(|e| e.to_string())?;
            let ex = shaplab::interventional_values(model, &rows, &bg, Output::Raw)
                .map_err(|e| e.to_string())?;
            let worst = sums_and_margins(model, &rows, &ex)
                .iter()
                .fold(0.0f64, |w, s| w.max((s.sum - s.margin).abs()));
            if worst > 1e-9 {
                return Err(format!(
                    "{label}: interventional Σφ+base misses the margin by {worst:e}"
                ));
            }
            println!("interventional {label}: worst |diff| {worst:e}");
            Ok(())
        })
    });
}

#[test]
fn a_file_saved_without_pool_routes_category_words_by_catboosts_hash_like_one_with_names() {
    // cb_logloss_onehot ships the same model saved with and without pool=.
    let dir = root().join("cb_logloss_onehot");
    if !dir.join("model_nostrings.json").exists() {
        return;
    }
    let named = Ensemble::from_path(&dir.join("model.json")).unwrap();
    let hashed = Ensemble::from_path(&dir.join("model_nostrings.json")).unwrap();
    for data in ["data.csv", "data_unseen.csv"] {
        let explain = |model| {
            let rows = read_rows(&dir.join(data), model).unwrap();
            shaplab::shap_values(model, &rows).unwrap().values
        };
        assert_eq!(explain(&named), explain(&hashed), "{data}");
    }
    assert_note(&hashed.notes, "saved without pool=");
    let mut unseen = DataRows::open(&dir.join("data_unseen.csv"), &named).unwrap();
    unseen.read_all().unwrap();
    let report = unseen.unseen();
    assert_eq!(report.len(), 1, "{report:?}");
    assert_eq!(report[0].feature, "color");
    assert!(report[0].examples.contains(&"orange".to_string()));
}

#[test]
fn a_model_with_ctr_features_is_refused_naming_them_and_one_hot_max_size() {
    for path in manifest().refusals() {
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

/// Asserts `doc` is refused with a message holding every one of `parts`.
fn assert_refused(doc: &Value, parts: &[&str]) {
    let text = load(doc)
        .expect_err("the model should be refused")
        .to_string();
    for part in parts {
        assert!(text.contains(part), "{part:?} missing from: {text}");
    }
}

#[test]
fn the_small_model_routes_floats_and_hashed_words_as_catboost_does() {
    let model = load(&small_model()).unwrap();
    // leaf = bit0 (a > 0.5) + 2·bit1 (color == "red"); prediction = leaf + bias.
    let dir = scratch_dir("small");
    let csv = dir.join("rows.csv");
    std::fs::write(
        &csv,
        "a,color\n0.2,blue\n0.7,blue\n0.2,red\n0.7,red\n,red\n",
    )
    .unwrap();
    let rows = read_rows(&csv, &model).unwrap();
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
    assert_note(&scaled.notes, "scale 2.5");
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
    assert_refused(&doc, &["/oblivious_trees/0/leaf_values", "tree 0"]);
}

#[test]
fn leaf_weights_of_the_wrong_length_are_refused() {
    let mut doc = small_model();
    doc["oblivious_trees"][0]["leaf_weights"] = json!([1, 2]);
    assert_refused(&doc, &["leaf_weights has 2 entries, expected 4"]);
}

#[test]
fn a_split_naming_a_feature_that_does_not_exist_is_refused() {
    let mut doc = small_model();
    doc["oblivious_trees"][0]["splits"][0]["float_feature_index"] = json!(7);
    assert_refused(&doc, &["float feature 7", "/oblivious_trees/0/splits/0"]);
    let mut doc = small_model();
    doc["oblivious_trees"][0]["splits"][1]["cat_feature_index"] = json!(-3);
    assert_refused(&doc, &["categorical feature -3"]);
}

#[test]
fn a_huge_depth_is_refused_before_anything_is_allocated() {
    let mut doc = small_model();
    let split = doc["oblivious_trees"][0]["splits"][0].clone();
    doc["oblivious_trees"][0]["splits"] = Value::Array(vec![split; 64]);
    assert_refused(&doc, &["tree 0 has depth 64", "at most 16"]);
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
    assert_refused(&doc, &["needs at least 2 outputs"]);
}

#[test]
fn a_negative_or_missing_leaf_weight_is_handled() {
    let mut doc = small_model();
    doc["oblivious_trees"][0]["leaf_weights"] = json!([1, -2, 3, 4]);
    assert_refused(&doc, &["leaf_weights[1] is negative"]);
    let mut doc = small_model();
    doc["oblivious_trees"][0]
        .as_object_mut()
        .unwrap()
        .remove("leaf_weights");
    let model = load(&doc).unwrap();
    assert_eq!(model.covers, shaplab::Covers::None);
    assert_note(&model.notes, "no leaf_weights");
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
    assert_refused(&doc, &["missing required field \"right\""]);
    doc["trees"][0]["right"] = json!({"value": [1.0, 2.0], "weight": 3});
    assert_refused(&doc, &["a leaf has 2 values, expected 1"]);
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
    assert_refused(&doc, &["CatBoost's hash of it is 3052168893"]);
}

#[test]
fn a_model_with_text_features_or_an_unknown_split_type_is_refused() {
    let mut doc = small_model();
    doc["features_info"]["text_features"] = json!([{"feature_id": "t"}]);
    assert_refused(&doc, &["text_features"]);
    let mut doc = small_model();
    doc["oblivious_trees"][0]["splits"][0]["split_type"] = json!("EstimatedFeature");
    assert_refused(&doc, &["\"EstimatedFeature\""]);
}
