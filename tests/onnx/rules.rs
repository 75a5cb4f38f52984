//! onnxruntime's rules on hand-made models. Every expected value here was printed by
//! onnxruntime 1.32 for the same attributes (probe scripts in the fixture generator's notes).

use super::support::files::assert_note;
use super::writer::{Attr, Msg, Reg, attr, ml_node, model, node, stump};
use shaplab::{Ensemble, Error, Link};

fn margins(m: &Ensemble, xs: &[&[f64]]) -> Vec<Vec<f64>> {
    xs.iter()
        .map(|x| {
            let mut out = vec![0.0; m.num_outputs];
            m.predict_margin(x, &mut out);
            out
        })
        .collect()
}

/// Asserts the first margin at x = −1 and at x = 1 (the two sides of the hand-made models'
/// split at 0) is `want` to 1e-7: the weights are float32, so the sums carry its rounding.
fn assert_margins_at_minus_one_and_one(m: &Ensemble, want: [f64; 2]) {
    let got = margins(m, &[&[-1.0], &[1.0]]);
    assert!(
        (got[0][0] - want[0]).abs() < 1e-7 && (got[1][0] - want[1]).abs() < 1e-7,
        "{got:?}, onnxruntime printed {want:?}"
    );
}

#[test]
fn every_branch_mode_routes_like_onnxruntime_including_nan() {
    // x = 0.5, 1.0, 1.5, NaN against threshold 1.0; 1 = the true branch.
    let table: [(&str, i64, [f64; 4]); 12] = [
        ("BRANCH_LEQ", 0, [1., 1., 0., 0.]),
        ("BRANCH_LEQ", 1, [1., 1., 0., 1.]),
        ("BRANCH_LT", 0, [1., 0., 0., 0.]),
        ("BRANCH_LT", 1, [1., 0., 0., 1.]),
        ("BRANCH_GTE", 0, [0., 1., 1., 0.]),
        ("BRANCH_GTE", 1, [0., 1., 1., 1.]),
        ("BRANCH_GT", 0, [0., 0., 1., 0.]),
        ("BRANCH_GT", 1, [0., 0., 1., 1.]),
        ("BRANCH_EQ", 0, [0., 1., 0., 0.]),
        ("BRANCH_EQ", 1, [0., 1., 0., 1.]),
        // NaN != t is true in C++: NEQ sends NaN to the true branch whatever the flag says.
        ("BRANCH_NEQ", 0, [1., 0., 1., 1.]),
        ("BRANCH_NEQ", 1, [1., 0., 1., 1.]),
    ];
    // Just above 1.0: the same as 1.0 for a float input (it rounds to 1.0f32), the same as 1.5
    // for a double input.
    let near = 1.0 + 1e-12;
    for (mode, tracks, want) in table {
        let modes = [mode, "LEAF", "LEAF"];
        let tracks = [tracks, 0, 0];
        let reg = stump(&modes, &tracks);
        for elem in [1, 11] {
            let n = ml_node("TreeEnsembleRegressor", &reg.attrs("target"));
            let m = Ensemble::from_bytes(&model(&[n], elem, 1, &["Y"], 3))
                .unwrap_or_else(|e| panic!("{mode}: {e}"));
            let got: Vec<f64> = margins(&m, &[&[0.5], &[1.0], &[1.5], &[f64::NAN], &[near]])
                .into_iter()
                .map(|v| v[0])
                .collect();
            let near_want = if elem == 1 { want[1] } else { want[2] };
            assert_eq!(got[..4], want, "{mode} tracks {} elem {elem}", tracks[0]);
            assert_eq!(
                got[4], near_want,
                "{mode} just above the threshold, elem {elem}"
            );
        }
    }
}

fn classifier(
    class_ids: &[i64],
    weights: &[f32],
    base: &[f32],
    post: &str,
    classes: &[i64],
) -> Vec<u8> {
    // One split on x <= 0: true → node 1, false → node 2; weights at the leaves by class.
    let w: Vec<(i64, i64, i64, f32)> = class_ids
        .iter()
        .zip(weights)
        .enumerate()
        .map(|(i, (&c, &v))| (0, 1 + (i as i64 % 2), c, v))
        .collect();
    let mut reg = stump(&["BRANCH_LEQ", "LEAF", "LEAF"], &[0, 0, 0]);
    reg.values = &[0.0, 0.0, 0.0];
    reg.weights = &w;
    let mut attrs = reg.attrs("class");
    attrs.push(attr("classlabels_int64s", Attr::Ints(classes)));
    attrs.push(attr("post_transform", Attr::Str(post)));
    if !base.is_empty() {
        attrs.push(attr("base_values", Attr::Floats(base)));
    }
    let n = node(
        "TreeEnsembleClassifier",
        "ai.onnx.ml",
        &["X"],
        &["L", "P"],
        &attrs,
    );
    model(&[n], 1, 1, &["L", "P"], 3)
}

#[test]
fn a_binary_classifier_with_class_0_weights_has_one_score_column_with_its_base_value() {
    // onnxruntime: P = [σ(−s), σ(s)] with s = 0.1 + w (probe A): rows x = −1 (w −0.5), 1 (0.7).
    let m = Ensemble::from_bytes(&classifier(
        &[0, 0],
        &[-0.5, 0.7],
        &[0.1],
        "LOGISTIC",
        &[0, 1],
    ))
    .unwrap();
    assert_eq!(m.num_outputs, 1);
    assert_eq!(m.link, Link::Logistic { scale: 1.0 });
    assert_margins_at_minus_one_and_one(&m, [-0.4, 0.8]);
    let p = m.predict(&[-1.0]);
    assert!((p[0] - 0.401_31).abs() < 1e-5, "{p:?}");
}

#[test]
fn a_binary_classifier_with_class_1_weights_ignores_its_single_base_value_as_onnxruntime_does() {
    // onnxruntime printed P[:, 1] = −0.5, 0.7 (the base 0.1 dropped).
    let m =
        Ensemble::from_bytes(&classifier(&[1, 1], &[-0.5, 0.7], &[0.1], "NONE", &[0, 1])).unwrap();
    assert_eq!(m.num_outputs, 1);
    assert_margins_at_minus_one_and_one(&m, [-0.5, 0.7]);
    assert_note(&m.notes, "base value is ignored");
}

#[test]
fn a_binary_classifier_with_both_classes_on_every_leaf_has_two_columns() {
    let m = Ensemble::from_bytes(&classifier(
        &[0, 0, 1, 1],
        &[0.8, 0.3, 0.2, 0.7],
        &[],
        "SOFTMAX",
        &[0, 1],
    ))
    .unwrap();
    assert_eq!((m.num_outputs, m.link), (2, Link::Softmax));
    assert_eq!(margins(&m, &[&[-1.0]])[0].len(), 2);
}

#[test]
fn a_binary_layout_where_onnxruntime_drops_weights_is_refused() {
    // Both classes and two base values: onnxruntime returns ±(b1 + s0) and ignores class 1.
    let err = Ensemble::from_bytes(&classifier(
        &[0, 0, 1, 1],
        &[0.8, 0.3, 0.2, 0.7],
        &[0.01, 0.02],
        "NONE",
        &[0, 1],
    ))
    .unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
    assert!(
        err.to_string().contains("not the sum of the trees"),
        "{err}"
    );
}

fn two_trees(extra: Vec<Msg>, base: &[f32]) -> Vec<u8> {
    let mut reg = Reg {
        tree_ids: &[0, 0, 0, 1, 1, 1],
        node_ids: &[0, 1, 2, 0, 1, 2],
        features: &[0; 6],
        modes: &["BRANCH_LEQ", "LEAF", "LEAF", "BRANCH_LEQ", "LEAF", "LEAF"],
        values: &[0.0; 6],
        true_ids: &[1, 0, 0, 1, 0, 0],
        false_ids: &[2, 0, 0, 2, 0, 0],
        tracks: &[],
        weights: &[
            (0, 1, 0, -0.5),
            (0, 2, 0, 0.7),
            (1, 1, 0, 0.2),
            (1, 2, 0, 0.3),
        ],
        n_targets: 1,
        extra,
    };
    if !base.is_empty() {
        reg.extra.push(attr("base_values", Attr::Floats(base)));
    }
    reg.model(1)
}

#[test]
fn a_single_target_regressor_ignores_a_logistic_post_transform_as_onnxruntime_does() {
    // onnxruntime printed −0.2 and 1.1 (0.1 − 0.5 + 0.2, 0.1 + 0.7 + 0.3), no sigmoid.
    let m = Ensemble::from_bytes(&two_trees(
        vec![attr("post_transform", Attr::Str("LOGISTIC"))],
        &[0.1],
    ))
    .unwrap();
    assert_eq!(m.link, Link::Identity);
    assert!((m.predict(&[-1.0])[0] + 0.2).abs() < 1e-7);
    assert!((m.predict(&[1.0])[0] - 1.1).abs() < 1e-7);
}

#[test]
fn average_aggregation_divides_the_leaves_but_not_the_base_value() {
    // onnxruntime printed −0.05 and 0.6: (−0.5 + 0.2)/2 + 0.1, (0.7 + 0.3)/2 + 0.1.
    let m = Ensemble::from_bytes(&two_trees(
        vec![attr("aggregate_function", Attr::Str("AVERAGE"))],
        &[0.1],
    ))
    .unwrap();
    assert_margins_at_minus_one_and_one(&m, [-0.05, 0.6]);
}

#[test]
fn min_and_max_aggregation_are_refused() {
    for f in ["MIN", "MAX"] {
        let err = Ensemble::from_bytes(&two_trees(
            vec![attr("aggregate_function", Attr::Str(f))],
            &[],
        ))
        .unwrap_err();
        assert!(
            matches!(err, Error::Unsupported(_)) && err.to_string().contains(f),
            "{err}"
        );
    }
}

/// Two regressors (tree 0 and tree 1 of `two_trees`) whose scores `Sum` adds, as onnxmltools
/// writes a split LightGBM model (each cast to double first), optionally followed by `tail`.
fn summed(tail: Option<&str>) -> Vec<u8> {
    let half = |t: i64, w: (f32, f32)| {
        let weights = [(t, 1, 0, w.0), (t, 2, 0, w.1)];
        let reg = Reg {
            tree_ids: &[t, t, t],
            node_ids: &[0, 1, 2],
            features: &[0; 3],
            modes: &["BRANCH_LEQ", "LEAF", "LEAF"],
            values: &[0.0; 3],
            true_ids: &[1, 0, 0],
            false_ids: &[2, 0, 0],
            tracks: &[],
            weights: &weights,
            n_targets: 1,
            extra: Vec::new(),
        };
        reg.attrs("target")
    };
    let to_double = [attr("to", Attr::Int(11))];
    let mut nodes = vec![
        node(
            "TreeEnsembleRegressor",
            "ai.onnx.ml",
            &["X"],
            &["t0"],
            &half(0, (-0.5, 0.7)),
        ),
        node(
            "TreeEnsembleRegressor",
            "ai.onnx.ml",
            &["X"],
            &["t1"],
            &half(3, (0.2, 0.3)),
        ),
        node("Cast", "", &["t0"], &["d0"], &to_double),
        node("Cast", "", &["t1"], &["d1"], &to_double),
        node("Sum", "", &["d0", "d1"], &["s"], &[]),
    ];
    match tail {
        Some(op) => nodes.push(node(op, "", &["s"], &["Y"], &[])),
        None => nodes.push(node("Identity", "", &["s"], &["Y"], &[])),
    }
    model(&nodes, 1, 1, &["Y"], 1)
}

#[test]
fn ensembles_joined_by_sum_are_explained_as_one() {
    let m = Ensemble::from_bytes(&summed(None)).unwrap();
    assert_eq!(m.trees.len(), 2);
    assert_margins_at_minus_one_and_one(&m, [-0.3, 1.0]);
}

#[test]
fn an_exp_after_the_score_is_a_log_link_and_other_operators_are_named() {
    assert_eq!(
        Ensemble::from_bytes(&summed(Some("Exp"))).unwrap().link,
        Link::Log
    );
    let err = Ensemble::from_bytes(&summed(Some("Sigmoid"))).unwrap_err();
    assert!(err.to_string().contains("(Sigmoid)"), "{err}");
}

#[test]
fn tree_ensemble_opset_5_with_set_membership_matches_the_onnx_reference_example() {
    // onnx's backend test `test_ai_onnx_ml_tree_ensemble_set_membership`.
    let nan = f64::NAN;
    let attrs = [
        attr("n_targets", Attr::Int(4)),
        attr("aggregate_function", Attr::Int(1)),
        attr("post_transform", Attr::Int(0)),
        attr("tree_roots", Attr::Ints(&[0])),
        attr(
            "membership_values",
            Attr::Tensor(1, &[1.2, 3.7, 8.0, 9.0, nan, 12.0, 7.0, nan]),
        ),
        attr("nodes_modes", Attr::Bytes(&[0, 6, 6])),
        attr("nodes_featureids", Attr::Ints(&[0, 0, 0])),
        attr("nodes_splits", Attr::Tensor(1, &[11.0, 232344.0, nan])),
        attr("nodes_trueleafs", Attr::Ints(&[0, 1, 1])),
        attr("nodes_truenodeids", Attr::Ints(&[1, 0, 1])),
        attr("nodes_falseleafs", Attr::Ints(&[1, 0, 1])),
        attr("nodes_falsenodeids", Attr::Ints(&[2, 2, 3])),
        attr("leaf_targetids", Attr::Ints(&[0, 1, 2, 3])),
        attr("leaf_weights", Attr::Tensor(1, &[1.0, 10.0, 1000.0, 100.0])),
    ];
    let n = ml_node("TreeEnsemble", &attrs);
    let m = Ensemble::from_bytes(&model(&[n], 1, 1, &["Y"], 5)).unwrap();
    let xs: [&[f64]; 6] = [&[1.2], &[3.4], &[-0.12], &[nan], &[12.0], &[7.0]];
    let want = [
        [1., 0., 0., 0.],
        [0., 0., 0., 100.],
        [0., 0., 0., 100.],
        [0., 0., 1000., 0.],
        [0., 0., 1000., 0.],
        [0., 10., 0., 0.],
    ];
    assert_eq!(margins(&m, &xs), want.map(|r| r.to_vec()).to_vec());
}

#[test]
#[allow(clippy::approx_constant)] // 3.14 is the example's threshold, not π
fn tree_ensemble_opset_5_on_a_double_input_matches_the_onnx_reference_example() {
    // onnx's backend test `test_ai_onnx_ml_tree_ensemble_single_tree`.
    let attrs = [
        attr("n_targets", Attr::Int(2)),
        attr("tree_roots", Attr::Ints(&[0])),
        attr("nodes_modes", Attr::Bytes(&[0, 0, 0])),
        attr("nodes_featureids", Attr::Ints(&[0, 0, 0])),
        attr("nodes_splits", Attr::Tensor(11, &[3.14, 1.2, 4.2])),
        attr("nodes_truenodeids", Attr::Ints(&[1, 0, 1])),
        attr("nodes_trueleafs", Attr::Ints(&[0, 1, 1])),
        attr("nodes_falsenodeids", Attr::Ints(&[2, 2, 3])),
        attr("nodes_falseleafs", Attr::Ints(&[0, 1, 1])),
        attr("leaf_targetids", Attr::Ints(&[0, 1, 0, 1])),
        attr(
            "leaf_weights",
            Attr::Tensor(11, &[5.23, 12.12, -12.23, 7.21]),
        ),
    ];
    let n = ml_node("TreeEnsemble", &attrs);
    let m = Ensemble::from_bytes(&model(&[n], 11, 2, &["Y"], 5)).unwrap();
    let got = margins(&m, &[&[1.2, 3.4], &[-0.12, 1.66], &[4.14, 1.77]]);
    assert_eq!(
        got,
        vec![vec![5.23, 0.0], vec![5.23, 0.0], vec![0.0, 12.12]]
    );
}

#[test]
fn as_tensor_attributes_are_compared_and_summed_in_the_input_type() {
    // ml opset 3: threshold 1 + 1e-12 and weights 0.1 / 0.2 as double tensors, base 0.05.
    let t = 1.0 + 1e-12;
    let attrs = [
        attr("nodes_treeids", Attr::Ints(&[0, 0, 0])),
        attr("nodes_nodeids", Attr::Ints(&[0, 1, 2])),
        attr("nodes_featureids", Attr::Ints(&[0, 0, 0])),
        attr("nodes_modes", Attr::Strs(&["BRANCH_LEQ", "LEAF", "LEAF"])),
        attr("nodes_values_as_tensor", Attr::Tensor(11, &[t, 0.0, 0.0])),
        attr("nodes_truenodeids", Attr::Ints(&[1, 0, 0])),
        attr("nodes_falsenodeids", Attr::Ints(&[2, 0, 0])),
        attr("target_treeids", Attr::Ints(&[0, 0])),
        attr("target_nodeids", Attr::Ints(&[1, 2])),
        attr("target_ids", Attr::Ints(&[0, 0])),
        attr("target_weights_as_tensor", Attr::Tensor(11, &[0.1, 0.2])),
        attr("base_values_as_tensor", Attr::Tensor(11, &[0.05])),
        attr("n_targets", Attr::Int(1)),
    ];
    let n = ml_node("TreeEnsembleRegressor", &attrs);
    let above = 1.0 + 3e-12;
    // Double input: the threshold and weights stay double.
    let m = Ensemble::from_bytes(&model(std::slice::from_ref(&n), 11, 1, &["Y"], 3)).unwrap();
    assert_eq!(
        margins(&m, &[&[t], &[above]]),
        vec![vec![0.1 + 0.05], vec![0.2 + 0.05]]
    );
    // Float input: everything is rounded to float32, so both rows are at the threshold.
    let m = Ensemble::from_bytes(&model(&[n], 1, 1, &["Y"], 3)).unwrap();
    let want = 0.1f32 as f64 + 0.05f32 as f64;
    assert_eq!(margins(&m, &[&[t], &[above]]), vec![vec![want], vec![want]]);
}

#[test]
fn a_tree_ensemble_opset_5_node_reached_twice_is_refused_as_onnxruntime_refuses_it() {
    // Node 0's true and false branches both lead to interior node 1.
    let attrs = [
        attr("n_targets", Attr::Int(1)),
        attr("tree_roots", Attr::Ints(&[0])),
        attr("nodes_modes", Attr::Bytes(&[0, 0])),
        attr("nodes_featureids", Attr::Ints(&[0, 0])),
        attr("nodes_splits", Attr::Tensor(1, &[1.0, 2.0])),
        attr("nodes_truenodeids", Attr::Ints(&[1, 0])),
        attr("nodes_trueleafs", Attr::Ints(&[0, 1])),
        attr("nodes_falsenodeids", Attr::Ints(&[1, 1])),
        attr("nodes_falseleafs", Attr::Ints(&[0, 1])),
        attr("leaf_targetids", Attr::Ints(&[0, 0])),
        attr("leaf_weights", Attr::Tensor(1, &[1.0, 2.0])),
    ];
    let n = ml_node("TreeEnsemble", &attrs);
    let msg = Ensemble::from_bytes(&model(&[n], 1, 1, &["Y"], 5))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("node 1 is reached twice"), "{msg}");
}
