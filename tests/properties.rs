//! Property tests on random and crafted trees: the explainers against brute-force Shapley
//! values computed from the definitions, additivity, and the symmetry and dummy axioms.
//! Seeded (SplitMix64), so every failure reproduces.
#![allow(clippy::needless_range_loop)] // index loops read clearer when comparing parallel arrays

mod support;

use shaplab::model::{MissingType, Split, TreeBuilder};
use shaplab::{Background, Ensemble, Link, Matrix, Output, Tree};
use support::oracle::{
    Rng, assert_interventional_is_brute_force, assert_path_dependent_is_brute_force, ensemble,
    random_rows, random_tree,
};
use support::reference::sums_and_margins;

#[test]
fn path_dependent_values_equal_brute_force_shapley_values_on_random_trees() {
    let mut rng = Rng::new(1);
    let f = 5;
    for trial in 0..40 {
        let trees = (0..3)
            .map(|i| random_tree(&mut rng, f, 2 + trial % 5, i))
            .collect();
        let model = ensemble(trees, f, 1, 0.25);
        let rows = random_rows(&mut rng, 4, f);
        assert_path_dependent_is_brute_force(&model, &rows, trial);
    }
}

#[test]
fn shap_values_add_up_to_the_margin_on_random_multi_output_ensembles() {
    let mut rng = Rng::new(2);
    for trial in 0..20 {
        let f = 3 + trial % 6;
        let trees = (0..12)
            .map(|i| random_tree(&mut rng, f, 1 + trial % 8, i))
            .collect();
        let model = ensemble(trees, f, 3, -0.5);
        let rows = random_rows(&mut rng, 10, f);
        let ex = shaplab::shap_values(&model, &rows).unwrap();
        let sums = sums_and_margins(&model, &rows, &ex);
        assert_eq!(sums.len(), rows.rows * 3);
        for s in sums {
            assert!(
                (s.sum - s.margin).abs() < 1e-9 * (1.0 + s.margin.abs()),
                "trial {trial}: {} vs {}",
                s.sum,
                s.margin
            );
        }
    }
}

#[test]
fn interaction_rows_sum_to_shap_values_and_the_matrix_is_symmetric() {
    let mut rng = Rng::new(3);
    let f = 6;
    let trees = (0..8).map(|i| random_tree(&mut rng, f, 5, i)).collect();
    let model = ensemble(trees, f, 2, 0.0);
    let rows = random_rows(&mut rng, 6, f);
    let phi = shaplab::shap_values(&model, &rows).unwrap();
    let inter = shaplab::interaction_values(&model, &rows).unwrap();
    let f1 = f + 1;
    for r in 0..rows.rows {
        for k in 0..2 {
            let m = &inter[(r * 2 + k) * f1 * f1..(r * 2 + k + 1) * f1 * f1];
            let p = phi.block(r, k);
            for i in 0..f1 {
                let row_sum: f64 = m[i * f1..(i + 1) * f1].iter().sum();
                assert!(
                    (row_sum - p[i]).abs() < 1e-9,
                    "row {r} output {k} feature {i}"
                );
                for j in 0..f1 {
                    assert!(
                        (m[i * f1 + j] - m[j * f1 + i]).abs() < 1e-9,
                        "asymmetric at {i},{j}"
                    );
                }
            }
        }
    }
}

#[test]
fn interventional_values_equal_brute_force_shapley_values_on_random_trees() {
    let mut rng = Rng::new(4);
    let f = 5;
    for trial in 0..15 {
        let trees = (0..3)
            .map(|i| random_tree(&mut rng, f, 2 + trial % 4, i))
            .collect();
        let model = ensemble(trees, f, 1, 0.1);
        let rows = random_rows(&mut rng, 3, f);
        let bg_rows = random_rows(&mut rng, 5, f);
        assert_interventional_is_brute_force(&model, &rows, &bg_rows, trial);
    }
}

/// The two interventional methods — background grouped per leaf, and the per-row walk — on
/// deep random trees with repeated features and NaNs, one or two outputs, raw and logistic,
/// over more than one block of rows: the same values up to summation order.
#[test]
fn leaf_groups_and_the_per_row_walk_give_the_same_interventional_values() {
    let mut rng = Rng::new(9);
    // Nine features and paths up to nine deep: both leaves whose groups are listed per failed
    // set (at most six distinct features on the path) and leaves whose groups are scanned.
    let f = 9;
    for trial in 0..12 {
        let trees: Vec<Tree> = (0..6)
            .map(|i| random_tree(&mut rng, f, 4 + trial % 6, i))
            .collect();
        let n = trees.len();
        let model = Ensemble::new(
            shaplab::ModelFormat::LightgbmText,
            "binary".into(),
            f,
            1 + trial % 2,
            None,
            vec![0.2; 1 + trial % 2],
            Link::Logistic { scale: 1.0 },
            trees,
            (0..n).map(|i| i % (1 + trial % 2)).collect(),
        )
        .unwrap();
        let rows = random_rows(&mut rng, 40, f);
        let bg_rows = random_rows(&mut rng, 70 + trial, f);
        let grouped = Background::new(&model, bg_rows.clone()).unwrap();
        let walked = Background::without_groups(&model, bg_rows).unwrap();
        assert!(grouped.is_grouped() && !walked.is_grouped());
        for output in [Output::Raw, Output::Probability] {
            let a = shaplab::interventional_values(&model, &rows, &grouped, output).unwrap();
            let b = shaplab::interventional_values(&model, &rows, &walked, output).unwrap();
            for (i, (x, y)) in a.values.iter().zip(&b.values).enumerate() {
                assert!(
                    (x - y).abs() < 1e-12,
                    "trial {trial} {output:?} value {i}: {x} vs {y}"
                );
            }
        }
    }
}

/// A background too large to group per leaf (leaves × background rows past the grouping's
/// memory cap) is explained by the per-row walk, and its values still add up: Σφ = f(x) −
/// mean f(r) over the background.
#[test]
fn a_background_too_large_to_group_is_walked_and_its_values_add_up() {
    let mut rng = Rng::new(12);
    let f = 6;
    let trees: Vec<Tree> = (0..48).map(|i| random_tree(&mut rng, f, 9, i)).collect();
    let model = ensemble(trees, f, 1, 0.3);
    let leaves = model.total_leaves();
    // Enough rows that leaves × rows passes the 2^24 memberships the grouping keeps.
    let n = (1usize << 24) / leaves + 1;
    let bg_rows = random_rows(&mut rng, n, f);
    let bg = Background::new(&model, bg_rows.clone()).unwrap();
    assert!(
        !bg.is_grouped(),
        "{leaves} leaves × {n} rows should not be grouped"
    );
    let rows = random_rows(&mut rng, 2, f);
    let ex = shaplab::interventional_values(&model, &rows, &bg, Output::Raw).unwrap();
    let mean: f64 = (0..n)
        .map(|j| model.predict(bg_rows.row(j))[0])
        .sum::<f64>()
        / n as f64;
    for r in 0..2 {
        let sum: f64 = ex.block(r, 0)[..f].iter().sum();
        let want = model.predict(rows.row(r))[0] - mean;
        assert!((sum - want).abs() < 1e-9, "row {r}: Σφ {sum} vs {want}");
    }
}

/// Two trees of identical shape, one on feature 0 and one on feature 1; feature 2 splits but
/// both of its children hold the same value.
fn crafted() -> Ensemble {
    let stump = |feat: i64, index: usize| {
        TreeBuilder {
            left: vec![1, -1, 3, -1, -1],
            right: vec![2, -1, 4, -1, -1],
            feature: vec![feat, 0, 2, 0, 0],
            threshold: vec![0.0, 0.0, 0.5, 0.0, 0.0],
            default_left: vec![true; 5],
            split: vec![Split::Lgb(MissingType::NaN); 5],
            sets: Vec::new(),
            cover: vec![10.0, 4.0, 6.0, 3.0, 3.0],
            value: vec![0.0, -1.0, 0.0, 2.0, 2.0],
        }
        .build(index, 3)
        .unwrap()
    };
    ensemble(vec![stump(0, 0), stump(1, 1)], 3, 1, 0.0)
}

#[test]
fn features_playing_symmetric_roles_get_equal_values() {
    let model = crafted();
    let rows = Matrix::new(2, 3, vec![1.0, 1.0, 0.0, -1.0, -1.0, 9.0]).unwrap();
    let ex = shaplab::shap_values(&model, &rows).unwrap();
    for r in 0..2 {
        let b = ex.block(r, 0);
        assert_eq!(b[0], b[1], "row {r}: {b:?}");
        assert!(b[0] != 0.0);
    }
}

#[test]
fn a_feature_that_cannot_change_the_output_gets_zero() {
    let model = crafted();
    let rows = Matrix::new(2, 3, vec![1.0, -1.0, 0.0, 1.0, 1.0, 9.0]).unwrap();
    for ex in [
        shaplab::shap_values(&model, &rows).unwrap(),
        shaplab::interventional_values(
            &model,
            &rows,
            &Background::new(&model, rows.clone()).unwrap(),
            Output::Raw,
        )
        .unwrap(),
    ] {
        for r in 0..2 {
            // Zero up to rounding: the two identical leaves' credits cancel.
            assert!(
                ex.block(r, 0)[2].abs() < 1e-12,
                "row {r}: {}",
                ex.block(r, 0)[2]
            );
        }
    }
}

#[test]
fn results_do_not_depend_on_thread_count_or_chunking() {
    let mut rng = Rng::new(5);
    let f = 7;
    let trees = (0..30).map(|i| random_tree(&mut rng, f, 6, i)).collect();
    let model = ensemble(trees, f, 1, 0.0);
    let rows = random_rows(&mut rng, 101, f);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let a = one.install(|| shaplab::shap_values(&model, &rows).unwrap());
    let b = two.install(|| shaplab::shap_values(&model, &rows).unwrap());
    assert_eq!(a, b);
    let mut chunked = Vec::new();
    for start in (0..rows.rows).step_by(17) {
        chunked.extend(
            shaplab::shap_values(&model, &rows.slice(start, start + 17))
                .unwrap()
                .values,
        );
    }
    assert_eq!(a.values, chunked);
}

#[test]
fn the_fast_algorithm_agrees_with_the_classic_one_on_deep_trees() {
    // Paths with up to ~40 distinct features exercise every quadrature size and the classic
    // fallback beyond 32 features.
    let mut rng = Rng::new(6);
    let f = 40;
    for trial in 0..6 {
        let trees: Vec<Tree> = (0..4)
            .map(|i| deep_chain(&mut rng, f, 8 + trial * 7, i))
            .collect();
        let model = ensemble(trees, f, 1, 0.0);
        let rows = random_rows(&mut rng, 5, f);
        let ex = shaplab::shap_values(&model, &rows).unwrap();
        let mut scratch = shaplab::explain::path::PathScratch::default();
        for r in 0..rows.rows {
            let mut classic = vec![0.0; f];
            for t in &model.trees {
                shaplab::explain::path::tree_shap(
                    t,
                    rows.row(r),
                    &mut classic,
                    shaplab::explain::path::Condition::Off,
                    &mut scratch,
                );
            }
            for i in 0..f {
                let got = ex.block(r, 0)[i];
                assert!(
                    (got - classic[i]).abs() < 1e-9 * (1.0 + classic[i].abs()),
                    "trial {trial} row {r} feature {i}: {got} vs {}",
                    classic[i]
                );
            }
        }
    }
}

/// A deep, narrow tree: a spine of `depth` splits with a random tree hanging off each side.
fn deep_chain(rng: &mut Rng, f: usize, depth: usize, index: usize) -> Tree {
    let mut b = TreeBuilder::default();
    let mut cover = 1000.0;
    let mut parent: Option<usize> = None;
    for d in 0..=depth {
        let id = b.left.len();
        b.left.push(-1);
        b.right.push(-1);
        b.feature.push(((d * 7 + rng.below(3)) % f) as i64);
        b.threshold.push(rng.unit() * 2.0 - 1.0);
        b.default_left.push(rng.unit() < 0.5);
        b.split.push(Split::Lgb(MissingType::NaN));
        b.cover.push(cover);
        b.value.push(rng.unit() * 2.0 - 1.0);
        if let Some(p) = parent {
            // The spine continues on the left; the right child is a leaf.
            let leaf = b.left.len();
            b.left.push(-1);
            b.right.push(-1);
            b.feature.push(0);
            b.threshold.push(0.0);
            b.default_left.push(false);
            b.split.push(Split::Lgb(MissingType::NaN));
            let pc = b.cover[p];
            b.cover.push(pc - cover);
            b.value.push(rng.unit() * 2.0 - 1.0);
            b.left[p] = id as i64;
            b.right[p] = leaf as i64;
        }
        parent = Some(id);
        cover *= 0.6 + 0.35 * rng.unit();
    }
    b.build(index, f).unwrap()
}

#[test]
fn one_pass_interaction_values_equal_the_classic_rerun_algorithm() {
    let mut rng = Rng::new(7);
    for trial in 0..10 {
        let f = 4 + trial % 5;
        let trees = (0..6)
            .map(|i| random_tree(&mut rng, f, 2 + trial % 7, i))
            .collect();
        let model = ensemble(trees, f, 2, 0.3);
        let rows = random_rows(&mut rng, 5, f);
        let fast = shaplab::interaction_values(&model, &rows).unwrap();
        let classic =
            shaplab::explain::interactions::classic_interaction_values(&model, &rows).unwrap();
        for (i, (a, b)) in fast.iter().zip(&classic).enumerate() {
            assert!(
                (a - b).abs() < 1e-9 * (1.0 + b.abs()),
                "trial {trial} index {i}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn wide_multi_output_models_use_smaller_batches_with_the_same_values() {
    // 2,000 features × 10 outputs shrinks the batch below its default size.
    let mut rng = Rng::new(8);
    let f = 2000;
    let trees = (0..20).map(|i| random_tree(&mut rng, f, 5, i)).collect();
    let model = ensemble(trees, f, 10, 0.0);
    let rows = random_rows(&mut rng, 300, f);
    let ex = shaplab::shap_values(&model, &rows).unwrap();
    let mut scratch = shaplab::explain::path::PathScratch::default();
    for r in (0..rows.rows).step_by(37) {
        let mut classic = vec![0.0; 10 * f];
        for (t, &o) in model.trees.iter().zip(&model.tree_output) {
            let block = &mut classic[o * f..(o + 1) * f];
            shaplab::explain::path::tree_shap(
                t,
                rows.row(r),
                block,
                shaplab::explain::path::Condition::Off,
                &mut scratch,
            );
        }
        for o in 0..10 {
            for j in 0..f {
                let got = ex.block(r, o)[j];
                assert!(
                    (got - classic[o * f + j]).abs() < 1e-9,
                    "row {r} output {o} feature {j}"
                );
            }
        }
    }
}
