//! Golden tests: the engine against values the real libraries computed
//! (fixtures/ is written by scripts/gen_fixtures.py; no Python needed here).
//!
//! Tolerance: 1e-5 × the reference's scale (the largest |value| in the reference matrix, at
//! least 1). XGBoost computes SHAP in float32, so its own values carry ~1e-7 relative rounding
//! per tree; the engine computes in f64.

mod support;

use shaplab::{Background, CsvRows, Ensemble, Matrix, Output};
use std::path::{Path, PathBuf};
use support::reference::{compare, read_matrix};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

struct Case {
    name: String,
    dir: PathBuf,
    models: Vec<String>,
    interactions: bool,
    interventional: Vec<String>,
    /// Further (data, reference contributions) pairs.
    extra: Vec<(String, String)>,
}

fn cases() -> Vec<Case> {
    let text =
        std::fs::read_to_string(fixtures().join("manifest.json")).expect("fixtures/manifest.json");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("manifest is JSON");
    doc["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| Case {
            name: c["name"].as_str().unwrap().to_string(),
            dir: fixtures().join(c["name"].as_str().unwrap()),
            models: c["models"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap().to_string())
                .collect(),
            interactions: c.get("interactions").is_some(),
            interventional: c
                .get("interventional")
                .and_then(|v| v.as_array())
                .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
                .unwrap_or_default(),
            extra: c
                .get("extra")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .map(|p| {
                            (
                                p[0].as_str().unwrap().to_string(),
                                p[1].as_str().unwrap().to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

fn load_rows(path: &Path, model: &Ensemble) -> Matrix {
    CsvRows::open(path, model).unwrap().read_all().unwrap()
}

fn run_all(check: impl Fn(&Case) -> Result<(), String>) {
    let failures: Vec<String> = cases().iter().filter_map(|c| check(c).err()).collect();
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn path_dependent_values_match_the_libraries_own_contributions() {
    run_all(|case| {
        let reference = read_matrix(&case.dir.join("contribs.csv"));
        for m in &case.models {
            let model = Ensemble::from_path(&case.dir.join(m))
                .map_err(|e| format!("{}/{m}: {e}", case.name))?;
            let rows = load_rows(&case.dir.join("data.csv"), &model);
            let ex = shaplab::shap_values(&model, &rows).map_err(|e| e.to_string())?;
            compare(&format!("{}/{m}", case.name), &ex.values, &reference, 1e-5)?;
        }
        Ok(())
    });
}

#[test]
fn shap_values_plus_base_add_up_to_the_libraries_raw_margin() {
    run_all(|case| {
        let margins = read_matrix(&case.dir.join("margin.csv"));
        let model =
            Ensemble::from_path(&case.dir.join(&case.models[0])).map_err(|e| e.to_string())?;
        let rows = load_rows(&case.dir.join("data.csv"), &model);
        let ex = shaplab::shap_values(&model, &rows).map_err(|e| e.to_string())?;
        let mut sums = Vec::new();
        let mut ours_margin = vec![0.0; model.num_outputs];
        for r in 0..ex.rows {
            model.predict_margin(rows.row(r), &mut ours_margin);
            for (k, &margin) in ours_margin.iter().enumerate() {
                let s: f64 = ex.block(r, k).iter().sum();
                // Additivity against our own margin is exact up to f64 rounding.
                if (s - margin).abs() > 1e-9 * (1.0 + s.abs()) {
                    return Err(format!(
                        "{}: row {r} output {k}: Σφ+base {s} vs margin {margin}",
                        case.name
                    ));
                }
                sums.push(s);
            }
        }
        compare(&format!("{} margin", case.name), &sums, &margins, 1e-5)
    });
}

#[test]
fn json_and_ubjson_files_of_one_model_give_identical_values() {
    run_all(|case| {
        if case.models.len() < 2 {
            return Ok(());
        }
        let a = Ensemble::from_path(&case.dir.join(&case.models[0])).map_err(|e| e.to_string())?;
        let b = Ensemble::from_path(&case.dir.join(&case.models[1])).map_err(|e| e.to_string())?;
        let rows = load_rows(&case.dir.join("data.csv"), &a);
        let va = shaplab::shap_values(&a, &rows).unwrap();
        let vb = shaplab::shap_values(&b, &rows).unwrap();
        if va != vb {
            return Err(format!("{}: JSON and UBJSON values differ", case.name));
        }
        Ok(())
    });
}

#[test]
fn interaction_values_match_xgboost_pred_interactions_and_shap_for_lightgbm() {
    run_all(|case| {
        if !case.interactions {
            return Ok(());
        }
        let reference = read_matrix(&case.dir.join("interactions.csv"));
        let model =
            Ensemble::from_path(&case.dir.join(&case.models[0])).map_err(|e| e.to_string())?;
        let rows = load_rows(&case.dir.join("data.csv"), &model);
        let ours = shaplab::interaction_values(&model, &rows).map_err(|e| e.to_string())?;
        compare(
            &format!("{} interactions", case.name),
            &ours,
            &reference,
            1e-5,
        )
    });
}

#[test]
fn interventional_values_match_shap_for_raw_and_probability_output() {
    run_all(|case| {
        for out in &case.interventional {
            let reference = read_matrix(&case.dir.join(format!("interventional_{out}.csv")));
            let model =
                Ensemble::from_path(&case.dir.join(&case.models[0])).map_err(|e| e.to_string())?;
            let rows = load_rows(&case.dir.join("data.csv"), &model);
            let bg = Background::new(&model, load_rows(&case.dir.join("background.csv"), &model))
                .unwrap();
            let output = if out == "probability" {
                Output::Probability
            } else {
                Output::Raw
            };
            let ex = shaplab::interventional_values(&model, &rows, &bg, output)
                .map_err(|e| e.to_string())?;
            compare(
                &format!("{} interventional {out}", case.name),
                &ex.values,
                &reference,
                1e-5,
            )?;
        }
        Ok(())
    });
}

#[test]
fn a_scalar_base_score_string_as_older_xgboost_writes_it_reads_like_the_vector_form() {
    // xgboost ≤ 3.0 writes "5E-1"; ≥ 3.1 writes "[5E-1]". Both must give the same model.
    let dir = fixtures().join("xgb_binary_d6");
    let text = std::fs::read_to_string(dir.join("model.json")).unwrap();
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
    let a = Ensemble::from_path(&dir.join("model.json")).unwrap();
    let b = Ensemble::from_bytes(&serde_json::to_vec(&doc).unwrap()).unwrap();
    assert_eq!(a.base_margin, b.base_margin);
    assert!(a.base_margin[0] != 0.0);
}

#[test]
fn predictions_through_the_link_match_the_libraries_predict() {
    run_all(|case| {
        let model =
            Ensemble::from_path(&case.dir.join(&case.models[0])).map_err(|e| e.to_string())?;
        if model.objective == "multi:softmax" {
            return Ok(()); // its predict returns class labels, not a transform of the margin
        }
        let reference = read_matrix(&case.dir.join("prediction.csv"));
        let rows = load_rows(&case.dir.join("data.csv"), &model);
        let ours: Vec<f64> = (0..rows.rows)
            .flat_map(|r| model.predict(rows.row(r)))
            .collect();
        compare(
            &format!("{} prediction", case.name),
            &ours,
            &reference,
            1e-5,
        )
    });
}

#[test]
fn a_nan_in_a_feature_lightgbm_saw_no_missing_values_for_is_explained_as_zero() {
    let mut probed = 0;
    run_all(|case| {
        for (data, contribs) in &case.extra {
            let reference = read_matrix(&case.dir.join(contribs));
            let model =
                Ensemble::from_path(&case.dir.join(&case.models[0])).map_err(|e| e.to_string())?;
            let rows = load_rows(&case.dir.join(data), &model);
            assert!(rows.values.iter().any(|v| v.is_nan()));
            let ex = shaplab::shap_values(&model, &rows).map_err(|e| e.to_string())?;
            compare(
                &format!("{}/{data}", case.name),
                &ex.values,
                &reference,
                1e-5,
            )?;
        }
        Ok(())
    });
    for case in cases() {
        probed += case.extra.len();
    }
    assert!(probed > 0, "no fixture probes NaN handling");
}

#[test]
fn a_model_with_best_iteration_is_explained_with_all_trees_and_says_so() {
    let dir = fixtures().join("xgb_reg_d3");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("model.json")).unwrap()).unwrap();
    doc["learner"]["attributes"] =
        serde_json::json!({ "best_iteration": "4", "best_score": "1.0" });
    let model = Ensemble::from_bytes(&serde_json::to_vec(&doc).unwrap()).unwrap();
    assert_eq!(model.trees.len(), 20);
    assert!(
        model
            .notes
            .iter()
            .any(|n| n.contains("best_iteration 4 is ignored")),
        "{:?}",
        model.notes
    );
}
