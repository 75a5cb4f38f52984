//! Interventional TreeSHAP: SHAP values of f(x_S, r_¬S) averaged over background rows r, as
//! `shap.TreeExplainer(model, data, feature_perturbation="interventional")` computes them.
//!
//! For one (x, r) pair and one tree, a row reaches a leaf only through splits where x and r
//! agree, or where the split's feature is taken from x (set A) or from r (set B). A leaf reached
//! with sets A, B is the game `v·[A ⊆ S, B ∩ S = ∅]`, whose Shapley values are closed-form:
//! each j ∈ A gets `v·(|A|−1)!|B|!/(|A|+|B|)!`, each j ∈ B gets `−v·|A|!(|B|−1)!/(|A|+|B|)!`.
//! For a non-identity output (probability), each pair's values are rescaled by
//! `(T(f(x)) − T(f(r))) / (f(x) − f(r))`, exactly as shap's `dense_independent` does.

use super::{Explanation, Output, check_shape};
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::model::{Ensemble, Link, Tree};
use crate::rng::SplitMix64;
use rayon::prelude::*;

/// Most routing bits precomputed for a background (8 MiB); beyond it, background rows are
/// routed on the fly.
const MAX_ROUTE_BITS: usize = 1 << 26;

/// Background rows with their margins and their routing through every tree precomputed.
#[derive(Clone, Debug)]
pub struct Background {
    pub rows: Matrix,
    /// Raw margins, rows × outputs.
    margins: Vec<f64>,
    /// First node of each tree in the flattened node numbering.
    offsets: Vec<usize>,
    /// Total nodes over all trees.
    total: usize,
    /// Bit `j * total + offsets[t] + n`: background row j goes left at node n of tree t.
    /// Empty when it would exceed `MAX_ROUTE_BITS`.
    routes: Vec<u64>,
}

/// Flattened node numbering of a model: per-tree offsets and the total.
fn node_offsets(model: &Ensemble) -> (Vec<usize>, usize) {
    let mut offsets = Vec::with_capacity(model.trees.len());
    let mut total = 0;
    for t in &model.trees {
        offsets.push(total);
        total += t.num_nodes();
    }
    (offsets, total)
}

/// Write the left/right decision of `row` at every internal node into `out` (flattened).
fn route_all(model: &Ensemble, offsets: &[usize], row: &[f64], mut set: impl FnMut(usize, bool)) {
    for (tree, &off) in model.trees.iter().zip(offsets) {
        for n in 0..tree.num_nodes() {
            if !tree.is_leaf(n) {
                set(off + n, tree.goes_left(n, row[tree.split_feature(n)]));
            }
        }
    }
}

impl Background {
    pub fn new(model: &Ensemble, rows: Matrix) -> Result<Self> {
        check_shape(model, &rows)?;
        if rows.rows == 0 {
            return Err(Error::InvalidData("the background has no rows".into()));
        }
        let k = model.num_outputs;
        let mut margins = vec![0.0; rows.rows * k];
        for (i, m) in margins.chunks_mut(k).enumerate() {
            model.predict_margin(rows.row(i), m);
        }
        // Each background row meets every x, so route it through every tree once, here.
        let (offsets, total) = node_offsets(model);
        let mut routes = Vec::new();
        if rows.rows.saturating_mul(total) <= MAX_ROUTE_BITS {
            routes = vec![0u64; (rows.rows * total).div_ceil(64)];
            for j in 0..rows.rows {
                route_all(model, &offsets, rows.row(j), |i, left| {
                    if left {
                        let bit = j * total + i;
                        routes[bit / 64] |= 1 << (bit % 64);
                    }
                });
            }
        }
        Ok(Background {
            rows,
            margins,
            offsets,
            total,
            routes,
        })
    }

    /// Whether background row `j` goes left at flattened node `i`.
    fn goes_left(&self, model: &Ensemble, tree: usize, j: usize, node: usize) -> bool {
        if self.routes.is_empty() {
            let t = &model.trees[tree];
            t.goes_left(node, self.rows.row(j)[t.split_feature(node)])
        } else {
            let bit = j * self.total + self.offsets[tree] + node;
            self.routes[bit / 64] >> (bit % 64) & 1 == 1
        }
    }

    /// A seeded sample of at most `n` rows of `data` (all rows when fewer), kept in data
    /// order: the same data and seed always give the same background.
    pub fn sample(model: &Ensemble, data: &Matrix, n: usize, seed: u64) -> Result<Self> {
        if data.rows <= n {
            return Self::new(model, data.clone());
        }
        // Partial Fisher–Yates.
        let mut idx: Vec<usize> = (0..data.rows).collect();
        let mut rng = SplitMix64(seed);
        for i in 0..n {
            let j = i + rng.below(data.rows - i);
            idx.swap(i, j);
        }
        let mut chosen = idx[..n].to_vec();
        chosen.sort_unstable();
        let mut values = Vec::with_capacity(n * data.cols);
        for &i in &chosen {
            values.extend_from_slice(data.row(i));
        }
        Self::new(model, Matrix::new(n, data.cols, values)?)
    }
}

/// `weights[a][b] = (a−1)!·b!/(a+b)!` for a ≥ 1: the Shapley weight of a feature in A.
fn weight_table(max: usize) -> Vec<Vec<f64>> {
    let mut w = vec![vec![0.0; max + 1]; max + 1];
    for (a, row) in w.iter_mut().enumerate().skip(1) {
        for (b, cell) in row.iter_mut().enumerate() {
            // (a−1)! b! / (a+b)! = 1 / ((a+b) · C(a+b−1, b))
            let n = a + b - 1;
            let mut c = 1.0f64;
            for i in 0..b {
                c = c * (n - i) as f64 / (i + 1) as f64;
            }
            *cell = 1.0 / ((a + b) as f64 * c);
        }
    }
    w
}

/// Interventional SHAP values on the raw or probability scale.
pub fn interventional_values(
    model: &Ensemble,
    rows: &Matrix,
    background: &Background,
    output: Output,
) -> Result<Explanation> {
    check_shape(model, rows)?;
    check_shape(model, &background.rows)?;
    if node_offsets(model).1 != background.total {
        return Err(Error::InvalidArgs(
            "the background was prepared for a different model".into(),
        ));
    }
    let transform: Option<fn(&Ensemble, f64) -> f64> = match (output, model.link) {
        (Output::Raw, _) => None,
        (Output::Probability, Link::Identity) => {
            return Err(Error::InvalidArgs(format!(
                "objective {:?} has no probability scale (its prediction is the raw margin); use \
                 --output raw",
                model.objective
            )));
        }
        (Output::Probability, Link::Softmax) => {
            return Err(Error::InvalidArgs(
                "probability output is not defined per class for a softmax (multiclass) model — shap \
                 does not support it either; use --output raw"
                    .into(),
            ));
        }
        // Logistic as shap does; the exp of log-link models (poisson, gamma, tweedie) with the
        // same per-background-row rescaling, which shap does not offer.
        (Output::Probability, _) => Some(|model, m| model.transform(m).unwrap_or(m)),
    };
    let f = model.num_features;
    let k = model.num_outputs;
    let stride = k * (f + 1);
    let weights = weight_table(model.max_depth() + 1);
    let nb = background.rows.rows;
    let tf = |m: f64| transform.map_or(m, |t| t(model, m));
    // Base value per output: mean over background rows of T(f(r)).
    let base: Vec<f64> = (0..k)
        .map(|o| {
            (0..nb)
                .map(|j| tf(background.margins[j * k + o]))
                .sum::<f64>()
                / nb as f64
        })
        .collect();
    // Per-pair partial sums for a group of background rows, about 8 MB per thread at most.
    let group_rows = ((8 << 20) / (8 * k * f).max(1)).clamp(1, nb);
    let mut values = vec![0.0; rows.rows * stride];
    values
        .par_chunks_mut(stride.max(1))
        .enumerate()
        .for_each_init(
            || Scratch {
                state: vec![0; f],
                path: Vec::new(),
                tmp: vec![0.0; group_rows * k * f],
                margin: vec![0.0; k],
                x_left: vec![false; background.total],
            },
            |s, (i, out)| {
                let x = rows.row(i);
                model.predict_margin(x, &mut s.margin);
                // x meets every background row: route it through every tree once.
                let x_left = &mut s.x_left;
                route_all(model, &background.offsets, x, |i, left| x_left[i] = left);
                // Tree-major over a group of background rows: one tree stays in cache while
                // each of them meets x in it. Each (x, r) pair still sums its trees in model
                // order, and pairs are accumulated in background order.
                for group in (0..nb).step_by(group_rows) {
                    let members = group..(group + group_rows).min(nb);
                    s.tmp.fill(0.0);
                    for (t, (tree, &o)) in model.trees.iter().zip(&model.tree_output).enumerate() {
                        for j in members.clone() {
                            let at = (j - group) * k * f + o * f;
                            let mut walk = Walk {
                                model,
                                tree,
                                t,
                                j,
                                background,
                                x_left: &s.x_left[background.offsets[t]..],
                                weights: &weights,
                                phi: &mut s.tmp[at..at + f],
                                state: &mut s.state,
                                path: &mut s.path,
                            };
                            walk.recurse(0, 0, 0);
                        }
                    }
                    for j in members {
                        for o in 0..k {
                            let (fx, fr) = (s.margin[o], background.margins[j * k + o]);
                            let scale = match transform {
                                Some(_) if fx != fr => (tf(fx) - tf(fr)) / (fx - fr),
                                _ => 1.0,
                            };
                            let at = (j - group) * k * f + o * f;
                            for (dst, src) in out[o * (f + 1)..o * (f + 1) + f]
                                .iter_mut()
                                .zip(&s.tmp[at..at + f])
                            {
                                *dst += src * scale;
                            }
                        }
                    }
                }
                for o in 0..k {
                    for v in &mut out[o * (f + 1)..o * (f + 1) + f] {
                        *v /= nb as f64;
                    }
                    out[o * (f + 1) + f] = base[o];
                }
            },
        );
    Ok(Explanation {
        rows: rows.rows,
        num_features: f,
        num_outputs: k,
        values,
    })
}

struct Scratch {
    /// Per feature: 0 free, 1 taken from x, 2 taken from r (along the current path).
    state: Vec<u8>,
    /// Features fixed along the current path, with where they came from.
    path: Vec<(usize, u8)>,
    tmp: Vec<f64>,
    margin: Vec<f64>,
    /// x's direction at every node of every tree (flattened numbering).
    x_left: Vec<bool>,
}

struct Walk<'a> {
    model: &'a Ensemble,
    tree: &'a Tree,
    /// Tree index and background row index.
    t: usize,
    j: usize,
    background: &'a Background,
    /// x's directions in this tree, indexed by node.
    x_left: &'a [bool],
    weights: &'a [Vec<f64>],
    phi: &'a mut [f64],
    state: &'a mut [u8],
    path: &'a mut Vec<(usize, u8)>,
}

impl Walk<'_> {
    fn recurse(&mut self, node: usize, nx: usize, nr: usize) {
        let tree = self.tree;
        if tree.is_leaf(node) {
            let v = tree.value[node];
            if nx + nr == 0 {
                return;
            }
            let pos = if nx > 0 {
                v * self.weights[nx][nr]
            } else {
                0.0
            };
            let neg = if nr > 0 {
                -v * self.weights[nr][nx]
            } else {
                0.0
            };
            for &(feat, from) in self.path.iter() {
                self.phi[feat] += if from == 1 { pos } else { neg };
            }
            return;
        }
        let feat = tree.feature[node] as usize;
        let (l, rr) = (tree.left[node] as usize, tree.right[node] as usize);
        let x_child = if self.x_left[node] { l } else { rr };
        let r_child = if self.background.goes_left(self.model, self.t, self.j, node) {
            l
        } else {
            rr
        };
        match self.state[feat] {
            1 => self.recurse(x_child, nx, nr),
            2 => self.recurse(r_child, nx, nr),
            _ if x_child == r_child => self.recurse(x_child, nx, nr),
            _ => {
                self.state[feat] = 1;
                self.path.push((feat, 1));
                self.recurse(x_child, nx + 1, nr);
                self.path.pop();
                self.state[feat] = 2;
                self.path.push((feat, 2));
                self.recurse(r_child, nx, nr + 1);
                self.path.pop();
                self.state[feat] = 0;
            }
        }
    }
}
