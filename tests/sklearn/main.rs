//! scikit-learn models saved with skops: golden values against shap (or, where shap refuses or
//! is wrong, the brute-force oracle of scripts/gen_fixtures.py), and the files a loader must
//! refuse — pickles, unknown classes, zip bombs, lying `.npy` headers, cyclic trees.
//!
//! The golden cases live here; `bad_input` builds the broken files.
//!
//! Tolerance: 1e-5 × the reference's scale (its largest |value|, at least 1), as in golden.rs;
//! the references are float64 like the engine, so the real differences are ~1e-14.

mod bad_input;

use shaplab::{CsvRows, Ensemble, Link, Matrix};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

struct Case {
    name: String,
    dir: PathBuf,
    estimator: String,
    outputs: usize,
    features: usize,
    intercept: Vec<f64>,
    categorical: Vec<String>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(fixtures().join("manifest-sklearn.json"))
        .expect("fixtures/manifest-sklearn.json");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("manifest is JSON");
    let cases: Vec<Case> = doc["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| Case {
            name: c["name"].as_str().unwrap().to_string(),
            dir: fixtures().join(c["name"].as_str().unwrap()),
            estimator: c["estimator"].as_str().unwrap().to_string(),
            outputs: c["outputs"].as_u64().unwrap() as usize,
            features: c["features"].as_u64().unwrap() as usize,
            intercept: c["intercept"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect(),
            categorical: c["categorical"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect(),
        })
        .collect();
    assert!(
        cases.len() >= 10,
        "the sklearn manifest lists {} cases",
        cases.len()
    );
    cases
}

fn read_matrix(path: &Path) -> Vec<Vec<f64>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| l.split(',').map(|v| v.parse::<f64>().unwrap()).collect())
        .collect()
}

fn load(case: &Case) -> Result<(Ensemble, Matrix), String> {
    let model = Ensemble::from_path(&case.dir.join("model.skops"))
        .map_err(|e| format!("{}: {e}", case.name))?;
    let rows = CsvRows::open(&case.dir.join("data.csv"), &model)
        .and_then(|mut r| r.read_all())
        .map_err(|e| format!("{}: {e}", case.name))?;
    Ok((model, rows))
}

/// The worst |ours − reference| and the tolerance it is held to.
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
            "{label}: worst |diff| {worst:e} at index {at} (ours {}, reference {}), tolerance {tol:e}",
            ours[at], flat[at]
        ));
    }
    Ok(worst)
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
fn every_case_loads_with_the_manifests_outputs_features_and_intercept() {
    run_all(|case| {
        let (model, _) = load(case)?;
        let got = (
            model.num_outputs,
            model.num_features,
            model.objective.as_str(),
        );
        let want = (case.outputs, case.features, case.estimator.as_str());
        if got != want {
            return Err(format!("{}: {got:?}, manifest says {want:?}", case.name));
        }
        // Forest intercepts in the manifest are rounding noise around 0.
        compare(
            &format!("{} intercept", case.name),
            &model.base_margin,
            std::slice::from_ref(&case.intercept),
        )?;
        for name in &case.categorical {
            let i = (0..model.num_features)
                .find(|&i| model.feature_name(i) == *name)
                .ok_or_else(|| format!("{}: no feature {name}", case.name))?;
            if model.categories_of(i).is_none() {
                return Err(format!("{}: {name} is not categorical", case.name));
            }
        }
        Ok(())
    });
}

#[test]
fn path_dependent_values_match_shap_or_the_oracle() {
    run_all(|case| {
        let (model, rows) = load(case)?;
        let ex = shaplab::shap_values(&model, &rows).map_err(|e| e.to_string())?;
        let reference = read_matrix(&case.dir.join("contribs.csv"));
        let worst = compare(&case.name, &ex.values, &reference)?;
        eprintln!("{}: worst |Δφ| {worst:e}", case.name);
        Ok(())
    });
}

#[test]
fn shap_values_plus_base_add_up_to_the_estimators_raw_margin() {
    run_all(|case| {
        let (model, rows) = load(case)?;
        let ex = shaplab::shap_values(&model, &rows).map_err(|e| e.to_string())?;
        let mut sums = Vec::new();
        let mut margin = vec![0.0; model.num_outputs];
        for r in 0..ex.rows {
            model.predict_margin(rows.row(r), &mut margin);
            for (k, &m) in margin.iter().enumerate() {
                let s: f64 = ex.block(r, k).iter().sum();
                if (s - m).abs() > 1e-9 * (1.0 + s.abs()) {
                    return Err(format!(
                        "{}: row {r} output {k}: Σφ+base {s} vs margin {m}",
                        case.name
                    ));
                }
                sums.push(s);
            }
        }
        let worst = compare(
            &format!("{} margin", case.name),
            &sums,
            &read_matrix(&case.dir.join("margin.csv")),
        )?;
        eprintln!("{}: worst |Δmargin| {worst:e}", case.name);
        Ok(())
    });
}

#[test]
fn predictions_through_the_link_match_predict_or_predict_proba() {
    run_all(|case| {
        let (model, rows) = load(case)?;
        let reference = read_matrix(&case.dir.join("prediction.csv"));
        let ours: Vec<f64> = (0..rows.rows)
            .flat_map(|r| {
                let p = model.predict(rows.row(r));
                // A binary classifier's one logistic output is P(class 1); predict_proba
                // also lists P(class 0).
                let two_columns = reference.first().is_some_and(|row| row.len() == 2);
                if p.len() == 1 && two_columns && matches!(model.link, Link::Logistic { .. }) {
                    vec![1.0 - p[0], p[0]]
                } else {
                    p
                }
            })
            .collect();
        compare(&format!("{} prediction", case.name), &ours, &reference)?;
        Ok(())
    });
}

#[test]
fn unseen_and_missing_categories_follow_the_missing_side_as_hgb_does() {
    let case = cases()
        .into_iter()
        .find(|c| c.name == "sk_hgb_clf2_cat")
        .expect("the categorical HGB case");
    let (model, rows) = load(&case).unwrap();
    let i = (0..model.num_features)
        .find(|&i| model.feature_name(i) == "cat_code")
        .unwrap();
    let cats = model.categories_of(i).unwrap();
    assert_eq!(cats.names, ["1", "2", "3", "5", "8"]);
    assert!(cats.unseen.is_nan());
    // Rows 0–5 hold the unseen codes 9 and 4 and NaN: all read as missing.
    for r in 0..6 {
        assert!(rows.row(r)[i].is_nan(), "row {r}: {}", rows.row(r)[i]);
    }
}
