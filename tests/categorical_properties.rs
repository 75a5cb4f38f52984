//! Property tests on trees that mix every split kind the loaders produce (numeric kinds of
//! each library, equality, and both categorical set rules): every explainer against
//! brute-force Shapley values. TreeSHAP needs only "which child does x go to" and the covers,
//! so categorical splits must give exact values like any other; this holds the engine to it.
#![allow(clippy::needless_range_loop)]

mod support;

use shaplab::Matrix;
use shaplab::model::{MissingType, Split, bitset_of};
use support::oracle::{
    Rng, assert_interventional_is_brute_force, assert_path_dependent_is_brute_force, ensemble,
    random_tree_with,
};

/// A random split kind; categorical kinds get a random set of codes below 6.
fn any_split(rng: &mut Rng) -> (Split, Vec<u32>) {
    let kinds = [
        Split::LessF32,
        Split::LessEqF32,
        Split::EqF32,
        Split::Lgb(MissingType::Zero),
        Split::XgbCategory,
        Split::LgbCategory,
        Split::InSetF32,
    ];
    let kind = kinds[rng.below(kinds.len())];
    let set = if kind.is_categorical() {
        let codes: Vec<i64> = (0..6).filter(|_| rng.unit() < 0.5).collect();
        bitset_of(codes).expect("small codes")
    } else {
        Vec::new()
    };
    (kind, set)
}

/// Rows whose cells are category codes 0..7 (7 and 6 outside most sets), a few negative
/// codes, a code-like 2.5 (in no ONNX set), exact thresholds for the equality splits, and NaN.
fn code_rows(rng: &mut Rng, n: usize, f: usize) -> Matrix {
    let values = (0..n * f)
        .map(|_| match rng.below(10) {
            0 => f64::NAN,
            1 => -1.0,
            2 => 2.5,
            _ => rng.below(8) as f64,
        })
        .collect();
    Matrix::new(n, f, values).unwrap()
}

#[test]
fn path_dependent_values_on_mixed_categorical_trees_equal_brute_force_shapley_values() {
    let mut rng = Rng::new(11);
    let f = 5;
    for trial in 0..40 {
        let trees = (0..3)
            .map(|i| random_tree_with(&mut rng, f, 2 + trial % 5, i, &mut any_split))
            .collect();
        let model = ensemble(trees, f, 1, 0.25);
        let rows = code_rows(&mut rng, 6, f);
        let ex = assert_path_dependent_is_brute_force(&model, &rows, trial);
        // The interaction matrix's rows sum to the SHAP values.
        let iv = shaplab::interaction_values(&model, &rows).unwrap();
        let f1 = f + 1;
        for r in 0..rows.rows {
            for i in 0..f {
                let s: f64 = (0..f1).map(|j| iv[r * f1 * f1 + i * f1 + j]).sum();
                let got = ex.block(r, 0)[i];
                assert!((s - got).abs() < 1e-9, "trial {trial} row {r} feature {i}");
            }
        }
    }
}

#[test]
fn interventional_values_on_mixed_categorical_trees_equal_brute_force_shapley_values() {
    let mut rng = Rng::new(12);
    let f = 4;
    for trial in 0..15 {
        let trees = (0..3)
            .map(|i| random_tree_with(&mut rng, f, 2 + trial % 4, i, &mut any_split))
            .collect();
        let model = ensemble(trees, f, 1, 0.1);
        let rows = code_rows(&mut rng, 3, f);
        let bg_rows = code_rows(&mut rng, 5, f);
        assert_interventional_is_brute_force(&model, &rows, &bg_rows, trial);
    }
}

#[test]
fn category_sets_route_as_each_library_does() {
    // One node, set {1, 3}: XGBoost sends members right, LightGBM sends them left; NaN
    // always goes right in LightGBM (XGBoost's default side is checked by the golden tests).
    let set = bitset_of([1, 3]).unwrap();
    let mut rng = Rng::new(0);
    let mut pick = |kind: Split| {
        let set = set.clone();
        let mut once = Some((kind, set));
        random_tree_with(&mut rng, 1, 1, 0, &mut move |_| {
            once.take().unwrap_or((Split::LessF32, Vec::new()))
        })
    };
    let xgb = pick(Split::XgbCategory);
    let lgb = pick(Split::LgbCategory);
    for (x, xgb_left, lgb_left) in [
        (1.0, false, true),
        (3.0, false, true),
        (3.7, false, true), // codes truncate toward zero, as both libraries cast
        (2.0, true, false),
        (-1.0, true, false),
        (100.0, true, false), // past the set
    ] {
        assert_eq!(xgb.goes_left(0, x), xgb_left, "xgboost, x = {x}");
        assert_eq!(lgb.goes_left(0, x), lgb_left, "lightgbm, x = {x}");
    }
    assert!(!lgb.goes_left(0, f64::NAN), "LightGBM sends NaN right");
}
