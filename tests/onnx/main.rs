//! ONNX tree ensembles: golden values against oracles built on onnxruntime
//! (fixtures/manifest-onnx.json, written by `scripts/gen_fixtures.py onnx`), onnxruntime's
//! routing and score rules on hand-made models, and bad input.
//!
//! The harness and its tolerance are in tests/support/golden.rs: onnxruntime sums float32
//! leaf values in float32, the engine in f64.

#[path = "../support/mod.rs"]
mod support;

mod rules;
mod writer;

use shaplab::{Covers, Ensemble, Error};
use support::files::{assert_note, fixture};
use support::golden::{self, Case, Manifest, check, first_model, run_all, shap_against};
use support::reference::sums_and_margins;

fn cases() -> Vec<Case> {
    Manifest::family("onnx").cases()
}

#[test]
fn interventional_values_of_the_raw_score_match_the_oracle() {
    run_all(&cases(), |case| {
        // Every ONNX case has an interventional reference: without covers it is the one
        // explanation the model supports as it stands.
        if !case
            .interventional()
            .iter()
            .any(|(output, _)| output == "raw")
        {
            return Err(format!("{}: no interventional raw reference", case.name()));
        }
        golden::interventional(case)
    });
}

#[test]
fn raw_margins_match_onnxruntime_on_a_post_transform_none_copy() {
    run_all(&cases(), |case| {
        let model = case.first_model()?;
        let x = case.rows("data", &model)?;
        let mut m = vec![0.0; model.num_outputs];
        let mut ours = Vec::new();
        for r in 0..x.rows {
            model.predict_margin(x.row(r), &mut m);
            ours.extend_from_slice(&m);
        }
        check(
            &format!("{} margin", case.name()),
            &ours,
            &case.file("margin"),
        )
    });
}

#[test]
fn predictions_through_the_link_match_the_original_models_output() {
    run_all(&cases(), |case| first_model(case, golden::prediction));
}

#[test]
fn path_dependent_values_with_covers_recomputed_from_the_background_match_the_oracle() {
    run_all(&cases(), |case| {
        let mut model = case.first_model()?;
        let bg = case.rows("background", &model)?;
        model
            .recompute_covers(&bg, "background.csv")
            .map_err(|e| e.to_string())?;
        let x = case.rows("data", &model)?;
        let label = format!("{} path-dependent (recomputed covers)", case.name());
        shap_against(&label, &model, &x, &case.file("contribs"))
    });
}

#[test]
fn path_dependent_explanation_without_covers_is_refused_with_the_two_ways_out() {
    let case = &cases()[0];
    let model = case.first_model().unwrap();
    assert_eq!(model.covers, Covers::None);
    let x = case.rows("data", &model).unwrap();
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
    let case = categorical_case();
    let mut model = case.first_model().unwrap();
    let x = case.rows("data", &model).unwrap();
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
    assert_note(&model.notes, "reached by no row of two data rows");
    let ex = shaplab::shap_values(&model, &x).unwrap();
    // Additivity still holds: Σφ + base = the margin.
    for s in sums_and_margins(&model, &x, &ex) {
        assert!(
            (s.sum - s.margin).abs() < 1e-6 * (1.0 + s.margin.abs()),
            "row {}: {} vs {}",
            s.row,
            s.sum,
            s.margin
        );
    }
}

#[test]
fn a_pipeline_with_a_scaler_is_refused_naming_the_operator() {
    for file in Manifest::family("onnx").refusals() {
        let err = Ensemble::from_path(&file).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Unsupported(_)), "{msg}");
        assert!(msg.contains("Scaler"), "{msg}");
        assert!(msg.contains("only tree ensembles"), "{msg}");
    }
}

#[test]
fn onnx_models_say_how_they_were_read() {
    let model = categorical_case().first_model().unwrap();
    for part in [
        "chains of BRANCH_EQ tests sharing their true branch",
        "compared in float32",
        "no node covers",
    ] {
        assert_note(&model.notes, part);
    }
}

/// The case whose model has categorical splits (chains of BRANCH_EQ in ONNX).
fn categorical_case() -> Case {
    cases()
        .into_iter()
        .find(|c| c.name().contains("cat"))
        .expect("an ONNX case with categories")
}

// ---- bad input ----

fn fixture_bytes() -> Vec<u8> {
    std::fs::read(fixture("onnx_rf_reg", "model.onnx")).unwrap()
}

/// A valid stump (x ≤ 1.0 → leaf 1, else leaf 2) for a test to break one attribute of.
fn leq_stump() -> writer::Reg<'static> {
    writer::stump(&["BRANCH_LEQ", "LEAF", "LEAF"], &[0, 0, 0])
}

/// Asserts the model of `reg` on `cols` input columns is refused with a message holding every
/// one of `parts`; returns the error for its kind to be checked.
fn assert_refused(reg: &writer::Reg, cols: i64, parts: &[&str]) -> Error {
    let err = Ensemble::from_bytes(&reg.model(cols)).unwrap_err();
    let msg = err.to_string();
    for part in parts {
        assert!(msg.contains(part), "{part:?} missing from: {msg}");
    }
    err
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
    let mut reg = leq_stump();
    reg.true_ids = &[7, 0, 0];
    let err = assert_refused(
        &reg,
        1,
        &["true branch is node 7, which tree 0 does not have"],
    );
    assert!(matches!(err, Error::InvalidModel { .. }), "{err}");
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
    assert_refused(&reg, 1, &["cycle", "tree 0"]);
}

#[test]
fn a_leaf_without_a_weight_and_a_weight_for_a_missing_node_are_refused() {
    let mut reg = leq_stump();
    reg.weights = &[(0, 1, 0, 1.0)];
    assert_refused(&reg, 1, &["leaf 2 has no weight"]);
    reg.weights = &[(0, 1, 0, 1.0), (0, 2, 0, 0.5), (3, 2, 0, 0.5)];
    assert_refused(&reg, 1, &["node 2 of tree 3, which does not exist"]);
}

#[test]
fn a_split_on_a_feature_past_the_input_width_is_refused() {
    let mut reg = leq_stump();
    reg.features = &[4, 0, 0];
    assert_refused(
        &reg,
        3,
        &["splits on feature 4, but the input has 3 columns"],
    );
}

#[test]
fn mismatched_attribute_lengths_are_refused_not_indexed() {
    let mut reg = leq_stump();
    reg.false_ids = &[2, 0];
    assert_refused(
        &reg,
        1,
        &["nodes_falsenodeids", "2 entries where nodes_treeids has 3"],
    );
}
