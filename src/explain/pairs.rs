//! Path-dependent SHAP interaction values in one pass per tree and row, laid out as XGBoost's
//! `pred_interactions=True`: per row and output an (F+1)×(F+1) matrix, row-major, the last
//! row/column the bias.
//!
//! Why one pass suffices: fixing feature i on multiplies a leaf's game by o_i, fixing it off by
//! z_i, and removes i from the players, so half their difference for feature j is
//! `½ (o_i − z_i)(o_j − z_j) · v · ∫₀¹ Π_{k ∉ {i,j}} (z_k + (o_k − z_k) t) dt` — symmetric in i and
//! j, and a polynomial integral that Gauss–Legendre quadrature computes exactly (see
//! `explain/linear`). Each leaf therefore credits every pair of its path's features directly,
//! instead of rerunning TreeSHAP twice per feature as XGBoost and shap do. The diagonal is then
//! the SHAP value minus the row's off-diagonal sum, as in XGBoost.

// Fixed-size loops over the Q quadrature points index several arrays in lockstep.
#![allow(clippy::needless_range_loop)]

use super::linear::{gauss_legendre, max_unique_features};
use super::prepare::factor;
use super::{check_covers, check_shape, shap_values};
use crate::data::Matrix;
use crate::error::Result;
use crate::model::{Ensemble, Tree};
use rayon::prelude::*;

/// Quadrature rule of one tree: `Q` points, enough for its longest path's pair polynomials
/// (a rule with more points than needed is exact as well).
struct Rule<const Q: usize> {
    nodes: [f64; Q],
    weights: [f64; Q],
}

impl<const Q: usize> Rule<Q> {
    fn new() -> Self {
        let (n, w) = gauss_legendre(Q);
        let (mut nodes, mut weights) = ([0.0; Q], [0.0; Q]);
        nodes.copy_from_slice(&n);
        weights.copy_from_slice(&w);
        Rule { nodes, weights }
    }
}

/// One tree's rule, its point count a compile-time constant so the per-point loops of a leaf
/// unroll and index without checks: every count up to 8, then powers of two (paths hold at
/// most `MAX_DEPTH` = 256 features, so 128 points always suffice). The large rules are boxed
/// so that every tree does not carry 2 KB.
enum Method {
    Empty,
    Q1(Rule<1>),
    Q2(Rule<2>),
    Q3(Rule<3>),
    Q4(Rule<4>),
    Q5(Rule<5>),
    Q6(Rule<6>),
    Q7(Rule<7>),
    Q8(Rule<8>),
    Q16(Box<Rule<16>>),
    Q32(Box<Rule<32>>),
    Q64(Box<Rule<64>>),
    Q128(Box<Rule<128>>),
}

impl Method {
    fn new(tree: &Tree) -> Self {
        if tree.is_leaf(0) {
            return Method::Empty;
        }
        // Pair integrands have degree (unique features − 2).
        match max_unique_features(tree)
            .saturating_sub(1)
            .div_ceil(2)
            .max(1)
        {
            1 => Method::Q1(Rule::new()),
            2 => Method::Q2(Rule::new()),
            3 => Method::Q3(Rule::new()),
            4 => Method::Q4(Rule::new()),
            5 => Method::Q5(Rule::new()),
            6 => Method::Q6(Rule::new()),
            7 => Method::Q7(Rule::new()),
            8 => Method::Q8(Rule::new()),
            9..=16 => Method::Q16(Box::new(Rule::new())),
            17..=32 => Method::Q32(Box::new(Rule::new())),
            33..=64 => Method::Q64(Box::new(Rule::new())),
            _ => Method::Q128(Box::new(Rule::new())),
        }
    }

    /// Adds this tree's off-diagonal interactions of `row` into `m` (upper triangle).
    fn add(&self, tree: &Tree, row: &[f64], m: &mut [f64], f1: usize, s: &mut Scratch) {
        match self {
            Method::Empty => {}
            Method::Q1(rule) => Walk::new(tree, rule, row, m, f1, s).visit(0),
            Method::Q2(rule) => Walk::new(tree, rule, row, m, f1, s).visit(0),
            Method::Q3(rule) => Walk::new(tree, rule, row, m, f1, s).visit(0),
            Method::Q4(rule) => Walk::new(tree, rule, row, m, f1, s).visit(0),
            Method::Q5(rule) => Walk::new(tree, rule, row, m, f1, s).visit(0),
            Method::Q6(rule) => Walk::new(tree, rule, row, m, f1, s).visit(0),
            Method::Q7(rule) => Walk::new(tree, rule, row, m, f1, s).visit(0),
            Method::Q8(rule) => Walk::new(tree, rule, row, m, f1, s).visit(0),
            Method::Q16(rule) => Walk::new(tree, rule, row, m, f1, s).visit(0),
            Method::Q32(rule) => Walk::new(tree, rule, row, m, f1, s).visit(0),
            Method::Q64(rule) => Walk::new(tree, rule, row, m, f1, s).visit(0),
            Method::Q128(rule) => Walk::new(tree, rule, row, m, f1, s).visit(0),
        }
    }
}

/// Interaction values for a block of rows: rows × outputs × (F+1)².
pub fn interaction_values(model: &Ensemble, rows: &Matrix) -> Result<Vec<f64>> {
    check_covers(model)?;
    check_shape(model, rows)?;
    let phi = shap_values(model, rows)?;
    let f = model.num_features;
    let f1 = f + 1;
    let k = model.num_outputs;
    let stride = k * f1 * f1;
    let trees: Vec<Tree> = model.trees.iter().map(Tree::preorder).collect();
    let methods: Vec<Method> = trees.iter().map(Method::new).collect();
    let mut out = vec![0.0; rows.rows * stride];
    out.par_chunks_mut(stride)
        .enumerate()
        .for_each_init(Scratch::default, |s, (r, inter)| {
            let row = rows.row(r);
            for ((tree, method), &o) in trees.iter().zip(&methods).zip(&model.tree_output) {
                method.add(tree, row, &mut inter[o * f1 * f1..(o + 1) * f1 * f1], f1, s);
            }
            for o in 0..k {
                let m = &mut inter[o * f1 * f1..(o + 1) * f1 * f1];
                // The walk accumulated the upper triangle only.
                for i in 0..f {
                    for j in i + 1..f {
                        m[j * f1 + i] = m[i * f1 + j];
                    }
                }
                let p = phi.block(r, o);
                for i in 0..f {
                    let off_diag: f64 = (0..f).filter(|&j| j != i).map(|j| m[i * f1 + j]).sum();
                    m[i * f1 + i] = p[i] - off_diag;
                }
                m[f * f1 + f] = p[f];
            }
        });
    Ok(out)
}

/// Per-thread buffers: the path's merged features, and per leaf the quadrature sums' parts.
/// Grown to the longest path once and then only indexed (no push per leaf).
#[derive(Default)]
struct Scratch {
    /// (feature, merged cover fraction z, row follows every edge on it)
    path: Vec<(usize, f64, bool)>,
    /// Features of the leaf's path that can credit (o ≠ z), then their `A` and `B` (see
    /// `Walk::leaf`), Q values each.
    active: Vec<usize>,
    a: Vec<f64>,
    b: Vec<f64>,
}

struct Walk<'a, const Q: usize> {
    tree: &'a Tree,
    rule: &'a Rule<Q>,
    row: &'a [f64],
    m: &'a mut [f64],
    f1: usize,
    s: &'a mut Scratch,
}

impl<'a, const Q: usize> Walk<'a, Q> {
    fn new(
        tree: &'a Tree,
        rule: &'a Rule<Q>,
        row: &'a [f64],
        m: &'a mut [f64],
        f1: usize,
        s: &'a mut Scratch,
    ) -> Self {
        let room = (tree.depth() + 1) * Q;
        if s.b.len() < room {
            // `a` twice: a twig keeps one A per leaf.
            s.a.resize(2 * room, 0.0);
            s.b.resize(room, 0.0);
            s.active.resize(tree.depth() + 1, 0);
        }
        Walk {
            tree,
            rule,
            row,
            m,
            f1,
            s,
        }
    }

    fn visit(&mut self, node: usize) {
        let tree = self.tree;
        if tree.is_leaf(node) {
            self.leaf(tree.predict_leaf_value(node));
            return;
        }
        let feature = tree.split_feature(node);
        let (l, r) = tree.children(node);
        let goes_left = tree.goes_left(node, self.row[feature]);
        if tree.is_leaf(l) && tree.is_leaf(r) {
            self.twig(node, goes_left);
            return;
        }
        for (child, follows) in [(l, goes_left), (r, !goes_left)] {
            let z_edge = tree.node_cover(child) / tree.node_cover(node);
            match self.s.path.iter().position(|&(f, _, _)| f == feature) {
                Some(i) => {
                    let saved = self.s.path[i];
                    self.s.path[i] = (feature, saved.1 * z_edge, saved.2 && follows);
                    self.visit(child);
                    self.s.path[i] = saved;
                }
                None => {
                    self.s.path.push((feature, z_edge, follows));
                    self.visit(child);
                    self.s.path.pop();
                }
            }
        }
    }

    /// Both leaves of a twig (a node whose children are leaves, split on `t`) at once. Their
    /// paths differ only in t's factor, so for a pair (x, y) without t the two leaves' terms
    /// share `B_y` and add up as one dot product of `A_x^L + A_x^R` with `B_y`; a pair (x, t)
    /// sums one product per leaf. Every pair then gets one update of the matrix instead of two
    /// (back-to-back updates of one entry wait on each other: the profile's top cost).
    fn twig(&mut self, node: usize, goes_left: bool) {
        let tree = self.tree;
        let rule = self.rule;
        let t = tree.split_feature(node);
        let (l, r) = tree.children(node);
        let s = &mut *self.s;
        // t's merged factor on each side: (z, hot) from its entry on the path, if any.
        let above = s.path.iter().find(|e| e.0 == t).copied();
        let side = |child: usize, follows: bool| {
            let z_edge = tree.node_cover(child) / tree.node_cover(node);
            match above {
                Some((_, z, hot)) => (z * z_edge, hot && follows),
                None => (z_edge, follows),
            }
        };
        let sides = [side(l, goes_left), side(r, !goes_left)];
        let values = [tree.predict_leaf_value(l), tree.predict_leaf_value(r)];
        // v·w·P per side: the other features' factors, then t's.
        let mut common = rule.weights;
        for &(_, z, hot) in s.path.iter().filter(|e| e.0 != t) {
            for j in 0..Q {
                common[j] *= factor(z, hot, rule.nodes[j]);
            }
        }
        let mut vwp = [[0.0; Q]; 2];
        // t's `B` per side (zero where t's c is: it credits nothing).
        let mut bt = [[0.0; Q]; 2];
        for (k, &(z, hot)) in sides.iter().enumerate() {
            let o = if hot { 1.0 } else { 0.0 };
            let c = o - z;
            for j in 0..Q {
                let f = factor(z, hot, rule.nodes[j]);
                vwp[k][j] = values[k] * (common[j] * f);
                if c != 0.0 {
                    bt[k][j] = c / f;
                }
            }
        }
        // The other features' A per side (`a`: the left leaf's, then from `room` the right
        // leaf's) and their shared B.
        let mut n = 0;
        let room = s.a.len() / 2;
        for &(feature, z, hot) in s.path.iter().filter(|e| e.0 != t) {
            let o = if hot { 1.0 } else { 0.0 };
            let c = o - z;
            if c == 0.0 {
                continue;
            }
            for j in 0..Q {
                let inv = 1.0 / factor(z, hot, rule.nodes[j]);
                let scale = 0.5 * c * inv;
                s.a[n * Q + j] = scale * vwp[0][j];
                s.a[room + n * Q + j] = scale * vwp[1][j];
                s.b[n * Q + j] = c * inv;
            }
            s.active[n] = feature;
            n += 1;
        }
        let f1 = self.f1;
        for x in 0..n {
            let (al, ar) = (
                &s.a[x * Q..(x + 1) * Q],
                &s.a[room + x * Q..room + (x + 1) * Q],
            );
            let fx = s.active[x];
            for y in x + 1..n {
                let by = &s.b[y * Q..(y + 1) * Q];
                let mut value = (al[0] + ar[0]) * by[0];
                for j in 1..Q {
                    value += (al[j] + ar[j]) * by[j];
                }
                let fy = s.active[y];
                self.m[fx.min(fy) * f1 + fx.max(fy)] += value;
            }
            let mut value = al[0] * bt[0][0] + ar[0] * bt[1][0];
            for j in 1..Q {
                value += al[j] * bt[0][j] + ar[j] * bt[1][j];
            }
            self.m[fx.min(t) * f1 + fx.max(t)] += value;
        }
    }

    /// Credits every pair of the path's features for a leaf of value `v`. Pair (a, b) gets
    /// `½ c_a c_b v Σ_j w_j P_j / (f_a(t_j) f_b(t_j))` with c = o − z, P the product of all the
    /// path's factors and f_a the factor of a. Split as `Σ_j A_a[j]·B_b[j]` with
    /// `A_a = ½ c_a v w P / f_a` and `B_b = c_b / f_b`, the divisions are u·Q per leaf instead
    /// of one per pair and point, and a pair costs Q multiply-adds. Only the upper triangle
    /// (smaller feature first) is accumulated; `interaction_values` mirrors it once per row.
    fn leaf(&mut self, v: f64) {
        let u = self.s.path.len();
        if u < 2 || v == 0.0 {
            return;
        }
        let rule = self.rule;
        let s = &mut *self.s;
        let mut wp = rule.weights;
        for &(_, z, hot) in s.path.iter() {
            for j in 0..Q {
                wp[j] *= factor(z, hot, rule.nodes[j]);
            }
        }
        // Features with c = 0 credit nothing (and may have a zero factor): left out.
        let mut n = 0;
        for &(feature, z, hot) in s.path.iter() {
            let o = if hot { 1.0 } else { 0.0 };
            let c = o - z;
            if c == 0.0 {
                continue;
            }
            let scale = 0.5 * c * v;
            let a = &mut s.a[n * Q..(n + 1) * Q];
            let b = &mut s.b[n * Q..(n + 1) * Q];
            for j in 0..Q {
                // One division per point and feature; two showed in the profile.
                let inv = 1.0 / factor(z, hot, rule.nodes[j]);
                a[j] = scale * wp[j] * inv;
                b[j] = c * inv;
            }
            s.active[n] = feature;
            n += 1;
        }
        for x in 0..n {
            let ax = &s.a[x * Q..(x + 1) * Q];
            let fx = s.active[x];
            for y in x + 1..n {
                let by = &s.b[y * Q..(y + 1) * Q];
                let mut value = ax[0] * by[0];
                for j in 1..Q {
                    value += ax[j] * by[j];
                }
                let fy = s.active[y];
                self.m[fx.min(fy) * self.f1 + fx.max(fy)] += value;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rules with more points than a path needs must still be exact: the power-of-two sizes
    /// run lower-degree integrands. ∫₀¹ t^k dt = 1/(k+1).
    #[test]
    fn rules_of_every_size_integrate_low_degree_polynomials_exactly() {
        fn check<const Q: usize>() {
            let rule = Rule::<Q>::new();
            for k in 0..8.min(2 * Q) {
                let sum: f64 = (0..Q)
                    .map(|j| rule.weights[j] * rule.nodes[j].powi(k as i32))
                    .sum();
                let exact = 1.0 / (k + 1) as f64;
                assert!((sum - exact).abs() < 1e-12, "Q={Q} k={k}: {sum} vs {exact}");
            }
        }
        check::<1>();
        check::<3>();
        check::<8>();
        check::<16>();
        check::<32>();
        check::<64>();
        check::<128>();
    }

    /// Lopsided trees (30 features, paths of up to ~20 splits) repeat features on paths, so
    /// twigs split on a feature already met above, on either side.
    #[test]
    fn twigs_and_leaves_give_the_classic_algorithms_values_on_lopsided_trees() {
        let (model, rows) = crate::explain::linear::lopsided::model_and_rows(6, 30, 6);
        let fast = interaction_values(&model, &rows).expect("interactions");
        let classic = crate::explain::interactions::classic_interaction_values(&model, &rows)
            .expect("classic interactions");
        assert!(fast.iter().any(|&v| v != 0.0));
        for (i, (a, b)) in fast.iter().zip(&classic).enumerate() {
            assert!(
                (a - b).abs() < 1e-9 * (1.0 + b.abs()),
                "entry {i}: {a} vs {b}"
            );
        }
    }
}
