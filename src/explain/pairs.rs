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

use super::linear::{gauss_legendre, max_unique_features};
use super::{check_covers, check_shape, shap_values};
use crate::data::Matrix;
use crate::error::Result;
use crate::model::{Ensemble, Tree};
use rayon::prelude::*;

/// Quadrature rule of one tree: enough points for its longest path's polynomials.
struct Rule {
    nodes: Vec<f64>,
    weights: Vec<f64>,
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
    let rules: Vec<Rule> = trees
        .iter()
        .map(|t| {
            // Pair integrands have degree (unique features − 2).
            let q = max_unique_features(t).saturating_sub(1).div_ceil(2).max(1);
            let (nodes, weights) = gauss_legendre(q);
            Rule { nodes, weights }
        })
        .collect();
    let mut out = vec![0.0; rows.rows * stride];
    out.par_chunks_mut(stride)
        .enumerate()
        .for_each_init(Scratch::default, |s, (r, inter)| {
            let row = rows.row(r);
            for ((tree, rule), &o) in trees.iter().zip(&rules).zip(&model.tree_output) {
                if tree.is_leaf(0) {
                    continue;
                }
                let mut walk = Walk {
                    tree,
                    rule,
                    row,
                    m: &mut inter[o * f1 * f1..(o + 1) * f1 * f1],
                    f1,
                    s,
                };
                walk.visit(0);
            }
            for o in 0..k {
                let m = &mut inter[o * f1 * f1..(o + 1) * f1 * f1];
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

/// Per-thread buffers: the path's merged features and their factors at the quadrature points.
#[derive(Default)]
struct Scratch {
    /// (feature, merged cover fraction z, row follows every edge on it)
    path: Vec<(usize, f64, bool)>,
    factors: Vec<f64>,
    product: Vec<f64>,
}

struct Walk<'a> {
    tree: &'a Tree,
    rule: &'a Rule,
    row: &'a [f64],
    m: &'a mut [f64],
    f1: usize,
    s: &'a mut Scratch,
}

impl Walk<'_> {
    fn visit(&mut self, node: usize) {
        let tree = self.tree;
        if tree.is_leaf(node) {
            self.leaf(tree.predict_leaf_value(node));
            return;
        }
        let feature = tree.split_feature(node);
        let (l, r) = tree.children(node);
        let goes_left = tree.goes_left(node, self.row[feature]);
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

    fn leaf(&mut self, v: f64) {
        let u = self.s.path.len();
        if u < 2 || v == 0.0 {
            return;
        }
        let q = self.rule.nodes.len();
        let s = &mut *self.s;
        s.factors.resize(u * q, 0.0);
        s.product.clear();
        s.product.resize(q, 1.0);
        for (a, &(_, z, hot)) in s.path.iter().enumerate() {
            let o = if hot { 1.0 } else { 0.0 };
            for (j, &t) in self.rule.nodes.iter().enumerate() {
                let fa = z + (o - z) * t;
                s.factors[a * q + j] = fa;
                s.product[j] *= fa;
            }
        }
        for a in 0..u {
            let (fa, za, ha) = s.path[a];
            let ca = if ha { 1.0 } else { 0.0 } - za;
            if ca == 0.0 {
                continue;
            }
            for b in a + 1..u {
                let (fb, zb, hb) = s.path[b];
                let cb = if hb { 1.0 } else { 0.0 } - zb;
                if cb == 0.0 {
                    continue;
                }
                let mut integral = 0.0;
                for j in 0..q {
                    let denominator = s.factors[a * q + j] * s.factors[b * q + j];
                    integral += self.rule.weights[j] * s.product[j] / denominator;
                }
                let value = 0.5 * ca * cb * v * integral;
                self.m[fa * self.f1 + fb] += value;
                self.m[fb * self.f1 + fa] += value;
            }
        }
    }
}
