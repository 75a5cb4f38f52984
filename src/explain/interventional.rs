//! Interventional TreeSHAP: SHAP values of f(x_S, r_¬S) averaged over background rows r, as
//! `shap.TreeExplainer(model, data, feature_perturbation="interventional")` computes them.
//!
//! For one (x, r) pair and one tree, a row reaches a leaf only through splits where x and r
//! agree, or where the split's feature is taken from x (set A) or from r (set B). A leaf reached
//! with sets A, B is the game `v·[A ⊆ S, B ∩ S = ∅]`, whose Shapley values are closed-form:
//! each j ∈ A gets `v·(|A|−1)!|B|!/(|A|+|B|)!`, each j ∈ B gets `−v·|A|!(|B|−1)!/(|A|+|B|)!`.
//! For a non-identity output (probability), each pair's values are rescaled by
//! `(T(f(x)) − T(f(r))) / (f(x) − f(r))`, exactly as shap's `dense_independent` does.
//!
//! Unlike shap, which walks each tree once per (x, r) pair, the background is grouped per leaf
//! once (`groups`): per x, each leaf credits every group of background rows that can reach
//! it with x at once, in a pass over leaves independent of the walk of any pair. Where that is
//! out of its limits (over 64 distinct features on a path, backgrounds too large to group), one
//! walk per tree and x carries the whole set of background rows, split at each node by their
//! precomputed directions (node-major bitsets); rows whose pairs take the same path share every
//! step, and a leaf credits them at once. Either way a leaf credits a group of background rows
//! weighted by the sum of the pairs' rescale factors (known before the walk).

use super::groups::{LeafGroups, Rescale, weight_table};
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
    pub(in crate::explain) margins: Vec<f64>,
    /// First node of each tree in the flattened node numbering.
    pub(in crate::explain) offsets: Vec<usize>,
    /// Total nodes over all trees.
    total: usize,
    /// Node-major bitsets: word `(offsets[t] + n) * words + j / 64`, bit `j % 64`, says that
    /// background row j goes left at node n of tree t — at a node, all rows' directions sit
    /// together. Empty when it would exceed `MAX_ROUTE_BITS`.
    routes: Vec<u64>,
    /// Words per node in `routes`.
    words: usize,
    /// The background grouped per leaf (the fast method); `None` outside its limits, where
    /// each x walks the trees with all background rows (`routes`).
    pub(in crate::explain) groups: Option<LeafGroups>,
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
        Self::build(model, rows, true)
    }

    fn build(model: &Ensemble, rows: Matrix, grouped: bool) -> Result<Self> {
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
        let words = rows.rows.div_ceil(64);
        let mut routes = Vec::new();
        if words.saturating_mul(64).saturating_mul(total) <= MAX_ROUTE_BITS {
            routes = vec![0u64; words * total];
            for j in 0..rows.rows {
                route_all(model, &offsets, rows.row(j), |i, left| {
                    if left {
                        routes[i * words + j / 64] |= 1 << (j % 64);
                    }
                });
            }
        }
        let groups = grouped
            .then(|| {
                LeafGroups::new(model, &offsets, total, rows.rows, |t, n, j| {
                    let tree = &model.trees[t];
                    if routes.is_empty() {
                        tree.goes_left(n, rows.row(j)[tree.split_feature(n)])
                    } else {
                        routes[(offsets[t] + n) * words + j / 64] >> (j % 64) & 1 == 1
                    }
                })
            })
            .flatten();
        if groups.is_some() {
            // The groups hold everything the per-row walk would read from the routes.
            routes = Vec::new();
        }
        Ok(Background {
            rows,
            margins,
            offsets,
            total,
            routes,
            words,
            groups,
        })
    }

    /// Bytes held (rows, margins and precomputed routing), for cache accounting.
    pub fn heap_bytes(&self) -> usize {
        (self.rows.values.len() + self.margins.len()) * 8
            + self.routes.len() * 8
            + self.groups.as_ref().map_or(0, LeafGroups::heap_bytes)
    }

    /// True when x is explained against the leaf groups (else by the per-row walk).
    #[doc(hidden)]
    pub fn is_grouped(&self) -> bool {
        self.groups.is_some()
    }

    /// A background explained by the per-row walk even where leaf groups would do (tests
    /// compare the two methods).
    #[doc(hidden)]
    pub fn without_groups(model: &Ensemble, rows: Matrix) -> Result<Self> {
        Self::build(model, rows, false)
    }

    /// The precomputed directions of all background rows at `node` of tree `tree`, if stored.
    #[inline]
    fn node_routes(&self, tree: usize, node: usize) -> Option<&[u64]> {
        if self.routes.is_empty() {
            return None;
        }
        let at = (self.offsets[tree] + node) * self.words;
        Some(&self.routes[at..at + self.words])
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
    // Each pair's values are rescaled by (T(f(x)) − T(f(r))) / (f(x) − f(r)); since that factor
    // is known before the walk, a leaf can credit a whole group of background rows at once with
    // the sum of their factors. Per x: one factor per (output, background row).
    let rescale = |margin: &[f64], scale: &mut [f64]| {
        for o in 0..k {
            for j in 0..nb {
                let (fx, fr) = (margin[o], background.margins[j * k + o]);
                scale[o * nb + j] = if fx != fr {
                    (tf(fx) - tf(fr)) / (fx - fr)
                } else {
                    1.0
                };
            }
        }
    };
    let rescale = transform.map(|_| &rescale as Rescale);
    let mut values = vec![0.0; rows.rows * stride];
    match &background.groups {
        Some(groups) => {
            groups.explain(model, &background.offsets, rows, rescale, &mut values, true)
        }
        None => walk_all(model, rows, background, rescale, &mut values),
    }
    for row in values.chunks_exact_mut(stride.max(1)) {
        for o in 0..k {
            for v in &mut row[o * (f + 1)..o * (f + 1) + f] {
                *v /= nb as f64;
            }
            row[o * (f + 1) + f] = base[o];
        }
    }
    Ok(Explanation {
        rows: rows.rows,
        num_features: f,
        num_outputs: k,
        values,
    })
}

/// Interventional values summed over background rows, by the per-row walk: see the module doc.
fn walk_all(
    model: &Ensemble,
    rows: &Matrix,
    background: &Background,
    rescale: Option<Rescale>,
    values: &mut [f64],
) {
    let (f, k) = (model.num_features, model.num_outputs);
    let stride = k * (f + 1);
    let max_bits = model.max_depth() + 1;
    let weights = weight_table(max_bits);
    let nb = background.rows.rows;
    values
        .par_chunks_mut(stride.max(1))
        .enumerate()
        .for_each_init(
            || Scratch {
                state: vec![0; f],
                path: Vec::new(),
                margin: vec![0.0; k],
                x_left: vec![false; background.total],
                scale: vec![1.0; k * nb],
                arena: Vec::new(),
            },
            |s, (i, out)| {
                let x = rows.row(i);
                // x meets every background row: route it through every tree once.
                let x_left = &mut s.x_left;
                route_all(model, &background.offsets, x, |i, left| x_left[i] = left);
                if let Some(rescale) = rescale {
                    model.predict_margin(x, &mut s.margin);
                    rescale(&s.margin, &mut s.scale);
                }
                for (t, (tree, &o)) in model.trees.iter().zip(&model.tree_output).enumerate() {
                    s.arena.clear();
                    s.arena.extend(0..nb as u32);
                    let mut walk = Walk {
                        tree,
                        t,
                        background,
                        x_left: &s.x_left[background.offsets[t]..],
                        weights: &weights,
                        stride: max_bits + 1,
                        scale: &s.scale[o * nb..(o + 1) * nb],
                        phi: &mut out[o * (f + 1)..o * (f + 1) + f],
                        state: &mut s.state,
                        path: &mut s.path,
                        arena: &mut s.arena,
                    };
                    walk.recurse(0, 0, 0, 0, nb);
                }
            },
        );
}

struct Scratch {
    /// Per feature: 0 free, 1 taken from x, 2 taken from r (along the current path).
    state: Vec<u8>,
    /// Features fixed along the current path, with where they came from.
    path: Vec<(usize, u8)>,
    margin: Vec<f64>,
    /// x's direction at every node of every tree (flattened numbering).
    x_left: Vec<bool>,
    /// Rescale factor of every (output, background row) pair for the current x.
    scale: Vec<f64>,
    /// Background row indices, partitioned into nested segments as the walk splits them.
    arena: Vec<u32>,
}

/// One tree walked for one x against a set of background rows at once: rows whose pairs take
/// the same path through the tree share every step, and a leaf credits them together.
struct Walk<'a> {
    tree: &'a Tree,
    /// Tree index, for the background's routes.
    t: usize,
    background: &'a Background,
    /// x's directions in this tree, indexed by node.
    x_left: &'a [bool],
    /// Shapley weights, `weights[a * stride + b]` (see [`weight_table`]).
    weights: &'a [f64],
    stride: usize,
    scale: &'a [f64],
    phi: &'a mut [f64],
    state: &'a mut [u8],
    path: &'a mut Vec<(usize, u8)>,
    arena: &'a mut Vec<u32>,
}

impl Walk<'_> {
    /// Walk `node` with the background rows `arena[start..end]`, `nx` features taken from x and
    /// `nr` from the background row so far.
    fn recurse(&mut self, node: usize, nx: usize, nr: usize, start: usize, end: usize) {
        if start == end {
            return;
        }
        let tree = self.tree;
        if tree.is_leaf(node) {
            if nx + nr == 0 {
                return;
            }
            let group: f64 = self.arena[start..end]
                .iter()
                .map(|&j| self.scale[j as usize])
                .sum();
            let v = tree.value[node] * group;
            let pos = if nx > 0 {
                v * self.weights[nx * self.stride + nr]
            } else {
                0.0
            };
            let neg = if nr > 0 {
                -v * self.weights[nr * self.stride + nx]
            } else {
                0.0
            };
            for &(feat, from) in self.path.iter() {
                self.phi[feat] += if from == 1 { pos } else { neg };
            }
            return;
        }
        let feat = tree.feature[node] as usize;
        let (l, r) = (tree.left[node] as usize, tree.right[node] as usize);
        let x_goes_left = self.x_left[node];
        let (x_child, other) = if x_goes_left { (l, r) } else { (r, l) };
        if self.state[feat] == 1 {
            // Taken from x: every pair follows x.
            return self.recurse(x_child, nx, nr, start, end);
        }
        // Split the rows: those going x's way (or left, when the feature is taken from r)
        // first, then the others.
        let taken_from_r = self.state[feat] == 2;
        let first_way = taken_from_r || x_goes_left;
        let mid_start = self.arena.len();
        let n = end - start;
        self.arena.resize(mid_start + 2 * n, 0);
        let (old, new) = self.arena.split_at_mut(mid_start);
        let (firsts, seconds) = new.split_at_mut(n);
        let (mut a, mut b) = (0, 0);
        let rows = &old[start..end];
        match self.background.node_routes(self.t, node) {
            Some(words) => {
                // Branch-free partition: directions are data, a branch would mispredict.
                for &j in rows {
                    let left = words[j as usize / 64] >> (j % 64) & 1 == 1;
                    let first = (left == first_way) as usize;
                    firsts[a] = j;
                    seconds[b] = j;
                    a += first;
                    b += 1 - first;
                }
            }
            None => {
                for &j in rows {
                    let row = self.background.rows.row(j as usize);
                    if tree.goes_left(node, row[feat]) == first_way {
                        firsts[a] = j;
                        a += 1;
                    } else {
                        seconds[b] = j;
                        b += 1;
                    }
                }
            }
        }
        // Close the gap so the two groups are contiguous: [firsts | seconds].
        self.arena
            .copy_within(mid_start + n..mid_start + n + b, mid_start + a);
        self.arena.truncate(mid_start + a + b);
        let split = mid_start + a;
        let stop = mid_start + a + b;
        if taken_from_r {
            // Taken from r: each row follows its own direction.
            self.recurse(l, nx, nr, mid_start, split);
            self.recurse(r, nx, nr, split, stop);
        } else {
            // Rows agreeing with x go on together; the rest branch both ways, with the feature
            // taken from x on one side and from r on the other.
            self.recurse(x_child, nx, nr, mid_start, split);
            if split < stop {
                self.state[feat] = 1;
                self.path.push((feat, 1));
                self.recurse(x_child, nx + 1, nr, split, stop);
                self.path.pop();
                self.state[feat] = 2;
                self.path.push((feat, 2));
                self.recurse(other, nx, nr + 1, split, stop);
                self.path.pop();
                self.state[feat] = 0;
            }
        }
        self.arena.truncate(mid_start);
    }
}
