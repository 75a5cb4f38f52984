//! scikit-learn models saved with skops: golden values against shap (or, where shap refuses or
//! is wrong, the brute-force oracle of scripts/gen_fixtures.py), and the files a loader must
//! refuse — pickles, unknown classes, zip bombs, lying `.npy` headers, cyclic trees.
//!
//! The golden cases live here; `bad_input` builds the broken files.
//!
//! The harness and its tolerance are in tests/support/golden.rs; the references are float64
//! like the engine, so the real differences are ~1e-14.

#[path = "../support/mod.rs"]
mod support;

mod bad_input;

use shaplab::{Ensemble, Matrix};
use support::golden::{self, Case, Manifest, first_model, run_all};
use support::reference::compare;

fn cases() -> Vec<Case> {
    let cases = Manifest::family("sklearn").cases();
    assert!(
        cases.len() >= 10,
        "the sklearn manifest lists {} cases",
        cases.len()
    );
    cases
}

/// The case's model and its data rows.
fn load(case: &Case) -> Result<(Ensemble, Matrix), String> {
    let model = case.first_model()?;
    let rows = case.rows("data", &model)?;
    Ok((model, rows))
}

#[test]
fn every_case_loads_with_the_manifests_outputs_features_and_intercept() {
    run_all(&cases(), |case| {
        let (model, _) = load(case)?;
        let count = |key: &str| case.json[key].as_u64().map(|n| n as usize);
        let got = (
            Some(model.num_outputs),
            Some(model.num_features),
            model.objective.as_str(),
        );
        let want = (
            count("outputs"),
            count("features"),
            case.json["estimator"].as_str().unwrap_or("?"),
        );
        if got != want {
            return Err(format!("{}: {got:?}, manifest says {want:?}", case.name()));
        }
        // Forest intercepts in the manifest are rounding noise around 0.
        let intercept: Vec<f64> = case.json["intercept"]
            .as_array()
            .ok_or(format!("{}: no intercept", case.name()))?
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let label = format!("{} intercept", case.name());
        compare(&label, &model.base_margin, &[intercept], golden::TOLERANCE)?;
        let categorical = case.json["categorical"]
            .as_array()
            .ok_or(format!("{}: no categorical list", case.name()))?;
        for name in categorical.iter().map(|v| v.as_str().unwrap()) {
            let i = (0..model.num_features)
                .find(|&i| model.feature_name(i) == name)
                .ok_or_else(|| format!("{}: no feature {name}", case.name()))?;
            if model.categories_of(i).is_none() {
                return Err(format!("{}: {name} is not categorical", case.name()));
            }
        }
        Ok(())
    });
}

#[test]
fn path_dependent_values_match_shap_or_the_oracle() {
    run_all(&cases(), |case| first_model(case, golden::path_dependent));
}

#[test]
fn shap_values_plus_base_add_up_to_the_estimators_raw_margin() {
    run_all(&cases(), |case| first_model(case, golden::margin));
}

#[test]
fn predictions_through_the_link_match_predict_or_predict_proba() {
    run_all(&cases(), |case| first_model(case, golden::prediction));
}

#[test]
fn unseen_and_missing_categories_follow_the_missing_side_as_hgb_does() {
    let case = Manifest::family("sklearn").case("sk_hgb_clf2_cat");
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
