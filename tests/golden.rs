//! Golden tests of the numeric XGBoost/LightGBM suite (fixtures/manifest.json): the engine
//! against values the real libraries computed. The harness and its tolerance are in
//! tests/support/golden.rs.

mod support;

use shaplab::Ensemble;
use support::files::{assert_note, fixture, fixtures};
use support::golden::{self, Case, Manifest, every_model, first_model, run_all, shap_against};

fn cases() -> Vec<Case> {
    Manifest::read(fixtures(), "manifest.json").cases()
}

#[test]
fn path_dependent_values_match_the_libraries_own_contributions() {
    run_all(&cases(), |case| every_model(case, golden::path_dependent));
}

#[test]
fn shap_values_plus_base_add_up_to_the_libraries_raw_margin() {
    run_all(&cases(), |case| first_model(case, golden::margin));
}

#[test]
fn json_and_ubjson_files_of_one_model_give_identical_values() {
    run_all(&cases(), |case| {
        let files = case.model_files();
        if files.len() < 2 {
            return Ok(());
        }
        let a = case.model(&files[0])?;
        let b = case.model(&files[1])?;
        let rows = case.rows("data", &a)?;
        let va = shaplab::shap_values(&a, &rows).unwrap();
        let vb = shaplab::shap_values(&b, &rows).unwrap();
        if va != vb {
            return Err(format!("{}: JSON and UBJSON values differ", case.name()));
        }
        Ok(())
    });
}

#[test]
fn interaction_values_match_xgboost_pred_interactions_and_shap_for_lightgbm() {
    run_all(&cases(), golden::interactions);
}

#[test]
fn interventional_values_match_shap_for_raw_and_probability_output() {
    run_all(&cases(), golden::interventional);
}

#[test]
fn a_scalar_base_score_string_as_older_xgboost_writes_it_reads_like_the_vector_form() {
    // xgboost ≤ 3.0 writes "5E-1"; ≥ 3.1 writes "[5E-1]". Both must give the same model.
    let path = fixture("xgb_binary_d6", "model.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let vector = doc["learner"]["learner_model_param"]["base_score"]
        .as_str()
        .unwrap()
        .to_string();
    let scalar = vector
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    doc["learner"]["learner_model_param"]["base_score"] = scalar.into();
    let a = Ensemble::from_path(&path).unwrap();
    let b = Ensemble::from_bytes(&serde_json::to_vec(&doc).unwrap()).unwrap();
    assert_eq!(a.base_margin, b.base_margin);
    assert!(a.base_margin[0] != 0.0);
}

#[test]
fn predictions_through_the_link_match_the_libraries_predict() {
    run_all(&cases(), |case| {
        first_model(case, |case, label, model| {
            if model.objective == "multi:softmax" {
                return Ok(()); // its predict returns class labels, not a transform of the margin
            }
            golden::prediction(case, label, model)
        })
    });
}

#[test]
fn a_nan_in_a_feature_lightgbm_saw_no_missing_values_for_is_explained_as_zero() {
    // A case's "extra" lists further (data, reference contributions) pairs: the NaN probes.
    let extra = |case: &Case| -> Vec<(String, String)> {
        let pairs = case.json["extra"].as_array().into_iter().flatten();
        pairs
            .map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into()))
            .collect()
    };
    run_all(&cases(), |case| {
        for (data, contribs) in extra(case) {
            let model = case.first_model()?;
            let rows = support::files::read_rows(&case.dir.join(&data), &model)?;
            assert!(rows.values.iter().any(|v| v.is_nan()));
            let label = format!("{}/{data}", case.name());
            shap_against(&label, &model, &rows, &case.dir.join(contribs))?;
        }
        Ok(())
    });
    let probed: usize = cases().iter().map(|c| extra(c).len()).sum();
    assert!(probed > 0, "no fixture probes NaN handling");
}

#[test]
fn a_model_with_best_iteration_is_explained_with_all_trees_and_says_so() {
    let path = fixture("xgb_reg_d3", "model.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["learner"]["attributes"] =
        serde_json::json!({ "best_iteration": "4", "best_score": "1.0" });
    let model = Ensemble::from_bytes(&serde_json::to_vec(&doc).unwrap()).unwrap();
    assert_eq!(model.trees.len(), 20);
    assert_note(&model.notes, "best_iteration 4 is ignored");
}
