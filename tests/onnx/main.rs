//! ONNX tree ensembles: golden values against oracles built on onnxruntime
//! (fixtures/manifest-onnx.json, written by `scripts/gen_fixtures.py onnx`), onnxruntime's
//! routing and score rules on hand-made models, and bad input.
//!
//! Tolerance: 1e-5 × the reference's scale (its largest |value|, at least 1), as in golden.rs:
//! onnxruntime sums float32 leaf values in float32, the engine in f64.

mod rules;
mod writer;

use shaplab::{Background, Covers, CsvRows, Ensemble, Error, Matrix, Output};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

struct Case {
    name: String,
    dir: PathBuf,
    model: String,
    data: String,
    background: String,
    contribs: String,
    interventional_raw: String,
}

fn manifest() -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join("manifest-onnx.json"))
        .expect("fixtures/manifest-onnx.json");
    serde_json::from_str(&text).expect("manifest is JSON")
}

fn cases() -> Vec<Case> {
    let s =
        |c: &serde_json::Value, k: &str| c[k].as_str().unwrap_or_else(|| panic!("{k}")).to_string();
    manifest()["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| Case {
            name: s(c, "name"),
            dir: fixtures().join(s(c, "name")),
            model: c["models"][0].as_str().unwrap().to_string(),
            data: s(c, "data"),
            background: s(c, "background"),
            contribs: s(c, "contribs"),
            interventional_raw: c["interventional"]["raw"].as_str().unwrap().to_string(),
        })
        .collect()
}

/// A headerless numeric CSV as numpy.savetxt writes it.
fn read_matrix(path: &Path) -> Vec<Vec<f64>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| l.split(',').map(|v| v.parse::<f64>().unwrap()).collect())
        .collect()
}

fn rows(path: &Path, model: &Ensemble) -> Matrix {
    CsvRows::open(path, model).unwrap().read_all().unwrap()
}

/// The worst |ours − reference| and the tolerance, or a description of the miss.
fn compare(label: &str, ours: &[f64], reference: &[Vec<f64>]) -> Result<String, String> {
    let flat: Vec<f64> = reference.iter().flatten().copied().collect();
    if flat.len() != ours.len() {
        return Err(format!(
            "{label}: {} values, reference has {}",
            ours.len(),
            flat.len()
        ));
    }
    let scale = flat.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let tol = 1e-5 * scale;
    let (worst, at) = ours
        .iter()
        .zip(&flat)
        .enumerate()
        .map(|(i, (a, b))| ((a - b).abs(), i))
        .fold((0.0, 0), |acc, x| if x.0 > acc.0 { x } else { acc });
    if worst > tol || worst.is_nan() || ours.iter().any(|v| !v.is_finite()) {
        return Err(format!(
            "{label}: worst |diff| {worst:e} at {at} (ours {}, reference {}), tolerance {tol:e}",
            ours[at], flat[at]
        ));
    }
    Ok(format!("{label}: worst |diff| {worst:.1e}"))
}

fn run_all(check: impl Fn(&Case) -> Result<String, String>) {
    let all = cases();
    assert!(!all.is_empty(), "no ONNX cases in the manifest");
    let (ok, failed): (Vec<_>, Vec<_>) = all.iter().map(check).partition(Result::is_ok);
    for r in &ok {
        println!("{}", r.as_ref().unwrap());
    }
    let failed: Vec<String> = failed.into_iter().map(Result::unwrap_err).collect();
    assert!(
        failed.is_empty(),
        "{} case(s) failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

fn load(case: &Case) -> Result<Ensemble, String> {
    Ensemble::from_path(&case.dir.join(&case.model)).map_err(|e| format!("{}: {e}", case.name))
}

#[test]
fn interventional_values_of_the_raw_score_match_the_oracle() {
    run_all(|case| {
        let model = load(case)?;
        let bg = Background::new(&model, rows(&case.dir.join(&case.background), &model))
            .map_err(|e| e.to_string())?;
        let x = rows(&case.dir.join(&case.data), &model);
        let ex = shaplab::interventional_values(&model, &x, &bg, Output::Raw)
            .map_err(|e| format!("{}: {e}", case.name))?;
        let reference = read_matrix(&case.dir.join(&case.interventional_raw));
        compare(
            &format!("{} interventional raw", case.name),
            &ex.values,
            &reference,
        )
    });
}

#[test]
fn raw_margins_match_onnxruntime_on_a_post_transform_none_copy() {
    run_all(|case| {
        let model = load(case)?;
        let x = rows(&case.dir.join(&case.data), &model);
        let mut m = vec![0.0; model.num_outputs];
        let mut ours = Vec::new();
        for r in 0..x.rows {
            model.predict_margin(x.row(r), &mut m);
            ours.extend_from_slice(&m);
        }
        let reference = read_matrix(&case.dir.join("margin.csv"));
        compare(&format!("{} margin", case.name), &ours, &reference)
    });
}

#[test]
fn predictions_through_the_link_match_the_original_models_output() {
    run_all(|case| {
        let model = load(case)?;
        let x = rows(&case.dir.join(&case.data), &model);
        let mut reference = read_matrix(&case.dir.join("prediction.csv"));
        // A binary classifier with one score column: onnxruntime returns [1 − p, p].
        if model.num_outputs == 1 && reference.first().is_some_and(|r| r.len() == 2) {
            reference = reference.into_iter().map(|r| vec![r[1]]).collect();
        }
        let ours: Vec<f64> = (0..x.rows).flat_map(|r| model.predict(x.row(r))).collect();
        compare(&format!("{} prediction", case.name), &ours, &reference)
    });
}

#[test]
fn path_dependent_values_with_covers_recomputed_from_the_background_match_the_oracle() {
    run_all(|case| {
        let mut model = load(case)?;
        let bg = rows(&case.dir.join(&case.background), &model);
        model
            .recompute_covers(&bg, "background.csv")
            .map_err(|e| e.to_string())?;
        let x = rows(&case.dir.join(&case.data), &model);
        let ex = shaplab::shap_values(&model, &x).map_err(|e| format!("{}: {e}", case.name))?;
        let reference = read_matrix(&case.dir.join(&case.contribs));
        compare(
            &format!("{} path-dependent (recomputed covers)", case.name),
            &ex.values,
            &reference,
        )
    });
}

#[test]
fn path_dependent_explanation_without_covers_is_refused_with_the_two_ways_out() {
    let case = &cases()[0];
    let model = load(case).unwrap();
    assert_eq!(model.covers, Covers::None);
    let x = rows(&case.dir.join(&case.data), &model);
    for err in [
        shaplab::shap_values(&model, &x).unwrap_err(),
        shaplab::interaction_values(&model, &x).unwrap_err(),
    ] {
        let msg = err.to_string();
        assert!(matches!(err, Error::Unsupported(_)), "{msg}");
        for part in [
            "stores no node covers",
            "ONNX",
            "interventionally",
            "background rows",
            "recompute covers",
        ] {
            assert!(msg.contains(part), "{part:?} missing from: {msg}");
        }
    }
}

#[test]
fn recomputed_covers_are_labelled_with_their_source_and_enable_path_dependent_values() {
    let case = cases()
        .into_iter()
        .find(|c| c.name.contains("cat"))
        .unwrap();
    let mut model = load(&case).unwrap();
    let x = rows(&case.dir.join(&case.data), &model);
    // Two rows reach few nodes: most nodes get the tiny cover, and the note counts them.
    model
        .recompute_covers(&x.slice(0, 2), "two data rows")
        .unwrap();
    assert_eq!(
        model.covers,
        Covers::Recomputed {
            rows: 2,
            source: "two data rows".into()
        }
    );
    assert!(
        model
            .notes
            .iter()
            .any(|n| n.contains("reached by no row of two data rows")),
        "{:?}",
        model.notes
    );
    let ex = shaplab::shap_values(&model, &x).unwrap();
    // Additivity still holds: Σφ + base = the margin.
    let mut m = [0.0];
    for r in 0..x.rows {
        model.predict_margin(x.row(r), &mut m);
        let s: f64 = ex.block(r, 0).iter().sum();
        assert!(
            (s - m[0]).abs() < 1e-6 * (1.0 + m[0].abs()),
            "row {r}: {s} vs {}",
            m[0]
        );
    }
}

#[test]
fn a_pipeline_with_a_scaler_is_refused_naming_the_operator() {
    for refusal in manifest()["refusals"].as_array().unwrap() {
        let file = fixtures().join(refusal["file"].as_str().unwrap());
        let err = Ensemble::from_path(&file).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Unsupported(_)), "{msg}");
        assert!(msg.contains("Scaler"), "{msg}");
        assert!(msg.contains("only tree ensembles"), "{msg}");
    }
}

#[test]
fn onnx_models_say_how_they_were_read() {
    let case = cases()
        .into_iter()
        .find(|c| c.name.contains("cat"))
        .unwrap();
    let model = load(&case).unwrap();
    let notes = model.notes.join("\n");
    assert!(
        notes.contains("chains of BRANCH_EQ tests sharing their true branch"),
        "{notes}"
    );
    assert!(notes.contains("compared in float32"), "{notes}");
    assert!(notes.contains("no node covers"), "{notes}");
}

// ---- bad input ----

fn fixture_bytes() -> Vec<u8> {
    std::fs::read(fixtures().join("onnx_rf_reg/model.onnx")).unwrap()
}

#[test]
fn a_truncated_onnx_file_is_a_decode_error_at_every_cut() {
    let b = fixture_bytes();
    for cut in (3..b.len()).step_by(37) {
        match Ensemble::from_bytes(&b[..cut]) {
            Err(Error::Syntax { format: "ONNX", .. }) | Err(Error::UnknownFormat(_)) => {}
            other => panic!("cut {cut}: {other:?}"),
        }
    }
}

#[test]
fn a_length_claim_beyond_the_buffer_is_a_decode_error() {
    // The graph (ModelProto field 7) claims a length far past the end of the file.
    let g = writer::Msg::default().str(2, "g");
    let mut b = writer::Msg::default().int(1, 8).0;
    b.extend_from_slice(&[0x3a, 0xff, 0xff, 0xff, 0x0f]);
    b.extend_from_slice(&g.0);
    let err = Ensemble::from_bytes(&b).unwrap_err();
    assert!(matches!(err, Error::Syntax { format: "ONNX", .. }), "{err}");
    assert!(err.to_string().contains("malformed ONNX model"), "{err}");
}

#[test]
fn random_byte_flips_in_an_onnx_model_never_panic() {
    let original = fixture_bytes();
    let mut state = shaplab::rng::SplitMix64(11);
    for _ in 0..400 {
        let mut b = original.clone();
        for _ in 0..3 {
            let i = state.below(b.len());
            b[i] = (state.next_u64() & 0xff) as u8;
        }
        let _ = Ensemble::from_bytes(&b);
    }
}

#[test]
fn a_tree_whose_true_node_id_does_not_exist_is_refused() {
    let mut reg = writer::stump(&["BRANCH_LEQ", "LEAF", "LEAF"], &[0, 0, 0]);
    reg.true_ids = &[7, 0, 0];
    let err = Ensemble::from_bytes(&reg.model(1)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::InvalidModel { .. }), "{msg}");
    assert!(
        msg.contains("true branch is node 7, which tree 0 does not have"),
        "{msg}"
    );
}

#[test]
fn a_tree_with_a_cycle_is_refused() {
    // 0 → 1 → 2 → back to 1.
    let reg = writer::Reg {
        tree_ids: &[0, 0, 0, 0],
        node_ids: &[0, 1, 2, 3],
        features: &[0, 0, 0, 0],
        modes: &["BRANCH_LEQ", "BRANCH_LEQ", "BRANCH_LEQ", "LEAF"],
        values: &[1.0, 2.0, 3.0, 0.0],
        true_ids: &[1, 2, 1, 0],
        false_ids: &[3, 3, 3, 0],
        tracks: &[],
        weights: &[(0, 3, 0, 1.0)],
        n_targets: 1,
        extra: Vec::new(),
    };
    let msg = Ensemble::from_bytes(&reg.model(1)).unwrap_err().to_string();
    assert!(msg.contains("cycle"), "{msg}");
    assert!(msg.contains("tree 0"), "{msg}");
}

#[test]
fn a_leaf_without_a_weight_and_a_weight_for_a_missing_node_are_refused() {
    let mut reg = writer::stump(&["BRANCH_LEQ", "LEAF", "LEAF"], &[0, 0, 0]);
    reg.weights = &[(0, 1, 0, 1.0)];
    let msg = Ensemble::from_bytes(&reg.model(1)).unwrap_err().to_string();
    assert!(msg.contains("leaf 2 has no weight"), "{msg}");
    reg.weights = &[(0, 1, 0, 1.0), (0, 2, 0, 0.5), (3, 2, 0, 0.5)];
    let msg = Ensemble::from_bytes(&reg.model(1)).unwrap_err().to_string();
    assert!(
        msg.contains("node 2 of tree 3, which does not exist"),
        "{msg}"
    );
}

#[test]
fn a_split_on_a_feature_past_the_input_width_is_refused() {
    let mut reg = writer::stump(&["BRANCH_LEQ", "LEAF", "LEAF"], &[0, 0, 0]);
    reg.features = &[4, 0, 0];
    let msg = Ensemble::from_bytes(&reg.model(3)).unwrap_err().to_string();
    assert!(
        msg.contains("splits on feature 4, but the input has 3 columns"),
        "{msg}"
    );
}

#[test]
fn mismatched_attribute_lengths_are_refused_not_indexed() {
    let mut reg = writer::stump(&["BRANCH_LEQ", "LEAF", "LEAF"], &[0, 0, 0]);
    reg.false_ids = &[2, 0];
    let msg = Ensemble::from_bytes(&reg.model(1)).unwrap_err().to_string();
    assert!(
        msg.contains("nodes_falsenodeids") && msg.contains("2 entries where nodes_treeids has 3"),
        "{msg}"
    );
}
