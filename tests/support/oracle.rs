//! The property tests' oracle: a seeded RNG, random rows and trees, a test ensemble, and
//! brute-force Shapley values from the definitions, against which every explainer is held.

use shaplab::model::{MissingType, Split, TreeBuilder};
use shaplab::rng::SplitMix64;
use shaplab::{Background, Ensemble, Explanation, Link, Matrix, ModelFormat, Output, Tree};

pub struct Rng(SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(SplitMix64(seed))
    }
    pub fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.0.next_u64() % n as u64) as usize
    }
}

pub fn ensemble(trees: Vec<Tree>, f: usize, outputs: usize, base: f64) -> Ensemble {
    let n = trees.len();
    Ensemble::new(
        ModelFormat::LightgbmText,
        "regression".into(),
        f,
        outputs,
        None,
        vec![base; outputs],
        Link::Identity,
        trees,
        (0..n).map(|i| i % outputs).collect(),
    )
    .unwrap()
}

pub fn random_rows(rng: &mut Rng, n: usize, f: usize) -> Matrix {
    let values = (0..n * f)
        .map(|_| {
            if rng.unit() < 0.1 {
                f64::NAN
            } else {
                rng.unit() * 2.4 - 1.2
            }
        })
        .collect();
    Matrix::new(n, f, values).unwrap()
}

/// E[f(x) | x_S] under the tree's cover distribution (Lundberg's EXPVALUE, Algorithm 1).
pub fn cond_expectation(model: &Ensemble, x: &[f64], set: u32, output: usize) -> f64 {
    fn walk(t: &Tree, x: &[f64], set: u32, node: usize) -> f64 {
        if t.is_leaf(node) {
            return t.predict_leaf_value(node);
        }
        let (l, r) = t.children(node);
        let feat = t.split_feature(node);
        if set & (1 << feat) != 0 {
            walk(t, x, set, if t.goes_left(node, x[feat]) { l } else { r })
        } else {
            (t.node_cover(l) * walk(t, x, set, l) + t.node_cover(r) * walk(t, x, set, r))
                / t.node_cover(node)
        }
    }
    let mut total = model.base_margin[output];
    for (t, &o) in model.trees.iter().zip(&model.tree_output) {
        if o == output {
            total += walk(t, x, set, 0);
        }
    }
    total
}

/// Exact Shapley values of a set function over `f` players by enumerating subsets.
pub fn brute_shapley(f: usize, v: impl Fn(u32) -> f64) -> Vec<f64> {
    let fact = |n: usize| (1..=n).map(|i| i as f64).product::<f64>();
    let mut phi = vec![0.0; f];
    for (i, p) in phi.iter_mut().enumerate() {
        for s in 0u32..(1 << f) {
            if s & (1 << i) != 0 {
                continue;
            }
            let size = s.count_ones() as usize;
            let w = fact(size) * fact(f - size - 1) / fact(f);
            *p += w * (v(s | (1 << i)) - v(s));
        }
    }
    phi
}

/// Exact interventional Shapley values of row `x`: v(S) is the mean margin over the
/// `background` rows with the features in S taken from `x` (the definition, evaluated by
/// predicting every hybrid row).
pub fn interventional_brute_force(model: &Ensemble, x: &[f64], background: &Matrix) -> Vec<f64> {
    let f = model.num_features;
    let v = |s: u32| {
        let mut m = [0.0];
        let mut total = 0.0;
        for b in 0..background.rows {
            let z: Vec<f64> = (0..f)
                .map(|j| {
                    if s & (1 << j) != 0 {
                        x[j]
                    } else {
                        background.row(b)[j]
                    }
                })
                .collect();
            model.predict_margin(&z, &mut m);
            total += m[0];
        }
        total / background.rows as f64
    };
    brute_shapley(f, v)
}

/// Explains `rows` path-dependently and asserts each row's values of output 0 equal the
/// brute-force Shapley values of the cover-weighted conditional expectation, and its base
/// value E[f(x)], to 1e-9. Returns the explanation for further checks.
pub fn assert_path_dependent_is_brute_force(
    model: &Ensemble,
    rows: &Matrix,
    trial: usize,
) -> Explanation {
    let ex = shaplab::shap_values(model, rows).unwrap();
    let f = model.num_features;
    for r in 0..rows.rows {
        let x = rows.row(r);
        let got = ex.block(r, 0);
        let expected = brute_shapley(f, |s| cond_expectation(model, x, s, 0));
        assert_close(&got[..f], &expected, &format!("trial {trial} row {r}"));
        let base = cond_expectation(model, x, 0, 0);
        assert!(
            (got[f] - base).abs() < 1e-9,
            "trial {trial} row {r}: base value {} vs {base}",
            got[f]
        );
    }
    ex
}

/// Explains `rows` interventionally (raw output) over the `background` rows and asserts each
/// row's values of output 0 equal [`interventional_brute_force`], to 1e-9.
pub fn assert_interventional_is_brute_force(
    model: &Ensemble,
    rows: &Matrix,
    background: &Matrix,
    trial: usize,
) {
    let bg = Background::new(model, background.clone()).unwrap();
    let ex = shaplab::interventional_values(model, rows, &bg, Output::Raw).unwrap();
    let f = model.num_features;
    for r in 0..rows.rows {
        let expected = interventional_brute_force(model, rows.row(r), background);
        assert_close(
            &ex.block(r, 0)[..f],
            &expected,
            &format!("trial {trial} row {r}"),
        );
    }
}

/// Asserts `got` equals `want` feature by feature to 1e-9: the explainers are exact, so only
/// f64 rounding may separate them from the oracle.
fn assert_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() < 1e-9, "{what} feature {i}: {g} vs {w}");
    }
}

/// A random tree over `f` features: depth ≤ `max_depth`, features may repeat along a path,
/// covers consistent (children sum to the parent), LightGBM routing with NaN default-left.
pub fn random_tree(rng: &mut Rng, f: usize, max_depth: usize, index: usize) -> Tree {
    random_tree_with(rng, f, max_depth, index, &mut |_| {
        (Split::Lgb(MissingType::NaN), Vec::new())
    })
}

/// [`random_tree`] with each internal node's split kind and category set (an LSB-first
/// bitset, empty for numeric kinds) drawn by `split_of`.
pub fn random_tree_with(
    rng: &mut Rng,
    f: usize,
    max_depth: usize,
    index: usize,
    split_of: &mut dyn FnMut(&mut Rng) -> (Split, Vec<u32>),
) -> Tree {
    let mut b = TreeBuilder::default();
    fn grow(
        b: &mut TreeBuilder,
        rng: &mut Rng,
        f: usize,
        depth: usize,
        max_depth: usize,
        cover: f64,
        split_of: &mut dyn FnMut(&mut Rng) -> (Split, Vec<u32>),
    ) -> i64 {
        let id = b.left.len();
        b.left.push(-1);
        b.right.push(-1);
        b.feature.push(0);
        b.threshold.push(0.0);
        b.default_left.push(rng.unit() < 0.5);
        b.split.push(Split::Lgb(MissingType::NaN));
        b.sets.push(Vec::new());
        b.cover.push(cover);
        b.value.push(rng.unit() * 4.0 - 2.0);
        if depth < max_depth && (depth == 0 || rng.unit() < 0.8) {
            let (kind, set) = split_of(rng);
            b.split[id] = kind;
            b.sets[id] = set;
            b.feature[id] = rng.below(f) as i64;
            b.threshold[id] = rng.unit() * 2.0 - 1.0;
            let share = 0.1 + 0.8 * rng.unit();
            let l = grow(b, rng, f, depth + 1, max_depth, cover * share, split_of);
            let r = grow(
                b,
                rng,
                f,
                depth + 1,
                max_depth,
                cover * (1.0 - share),
                split_of,
            );
            b.left[id] = l;
            b.right[id] = r;
        }
        id as i64
    }
    grow(&mut b, rng, f, 0, max_depth, 100.0, split_of);
    b.build(index, f).expect("random tree is valid")
}
