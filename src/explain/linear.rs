//! Path-dependent TreeSHAP in O(nodes · Q) per tree and row: Linear TreeSHAP with Gauss–Legendre
//! quadrature, and everything that depends only on the model precomputed once.
//!
//! Why it works: the Shapley weight |S|!(d−|S|−1)!/d! equals ∫₀¹ t^|S| (1−t)^(d−|S|−1) dt, so a
//! leaf's contribution to feature j is `(o_j − z_j) · v · ∫₀¹ Π_{k≠j} (z_k + (o_k − z_k) t) dt`,
//! where z_k is the cover fraction of the path's edges on feature k and o_k ∈ {0, 1} says
//! whether the row follows them all. The integrand is a polynomial of degree (unique features on
//! the path − 1), integrated exactly by Q-point Gauss–Legendre when 2Q − 1 ≥ that degree; Q is
//! chosen per tree from its deepest path (3 points for a depth-6 tree).
//!
//! One DFS per tree and batch of rows (`explain/batch`) carries P(t) = Π_k F_k(t) at the Q points downward and the
//! leaf-value-weighted sums G(t) = Σ v·P(t) upward; at each edge on feature j, feature j gains
//! Σ_q G(t_q)·c(t_q). A feature seen again deeper on the path is re-merged: the deeper edge
//! subtracts what the shallower one credited for the leaves below it (the same quadrature sums,
//! so the cancellation is exact up to rounding). Because o_k is a bit, the per-edge factors
//! F_new/F_old and coefficients c exist in only three variants (hot, turned cold here, already
//! cold), all model-only — so the per-row work is a multiply, an add and a dot product of
//! length Q per edge. Trees needing more than `MAX_Q` points fall back to the classic algorithm.

// Fixed-size loops over the Q quadrature points index several arrays in lockstep.
#![allow(clippy::needless_range_loop)]

use super::batch::Batch;
use crate::model::Tree;

/// Most quadrature points used; exact for paths of up to 2·MAX_Q unique features.
const MAX_Q: usize = 16;

/// Gauss–Legendre nodes and weights on [0, 1], by Newton's method on the Legendre polynomial.
pub(super) fn gauss_legendre(q: usize) -> (Vec<f64>, Vec<f64>) {
    let mut nodes = Vec::with_capacity(q);
    let mut weights = Vec::with_capacity(q);
    for i in 0..q {
        let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (q as f64 + 0.5)).cos();
        let mut dp = 1.0;
        for _ in 0..100 {
            let (mut p0, mut p1) = (1.0, x);
            for k in 2..=q {
                let p2 = ((2 * k - 1) as f64 * x * p1 - (k - 1) as f64 * p0) / k as f64;
                p0 = p1;
                p1 = p2;
            }
            if q == 1 {
                p0 = 1.0;
            }
            dp = q as f64 * (x * p1 - p0) / (x * x - 1.0);
            let dx = p1 / dp;
            x -= dx;
            if dx.abs() < 1e-16 {
                break;
            }
        }
        nodes.push((x + 1.0) / 2.0);
        weights.push(1.0 / ((1.0 - x * x) * dp * dp));
    }
    (nodes, weights)
}

/// Per-edge model-only data, stored at the edge's child node.
#[derive(Clone, Copy)]
pub(super) struct Edge<const Q: usize> {
    /// Depth (in the path) of the previous node reached through an edge on the same feature,
    /// or `u16::MAX` when the feature is new on this path.
    pub(super) prev: u16,
    /// F_new/F_old per quadrature point and variant: [row follows this edge, row leaves the
    /// feature's path here, feature already cold (then it is the edge's cover fraction),
    /// unused]. Point-major, padded to four, so one point's variants fill an AVX2 register
    /// and a lane permute picks each row's (`lanes::avx2`).
    /// On an edge into a leaf, multiplied by the leaf's value v (the leaf kernel's G is then
    /// one product, P · (v·ratio)).
    pub(super) ratio: Table<Q>,
    /// Weighted coefficients c(t_q) per point and variant (zero when already cold: the credits
    /// cancel), laid out like `ratio`. On an edge into a leaf, v·ratio·c: the leaf's credit is
    /// then P · (v·ratio·c), one product per point instead of three.
    pub(super) coef: Table<Q>,
}

/// A twig (an internal node whose two children are leaves) folded into one table pair, indexed
/// by the variant of the edge into its left leaf (the right leaf's is its flip, so one variant
/// fixes both): G of the twig is P·`g` and its credit to its feature P·`credit`, where P is the
/// twig's own P. Half the permutes and multiplies of two leaves (`lanes::twig`).
pub(super) struct Twig<const Q: usize> {
    /// v_l·ratio_l[w] + v_r·ratio_r[flip w].
    pub(super) g: Table<Q>,
    /// v_l·ratio_l[w]·c_l[w] + v_r·ratio_r[flip w]·c_r[flip w].
    pub(super) credit: Table<Q>,
}

/// Per quadrature point, a value for each edge variant (0, 1, 2) and an unused slot.
pub(super) type Table<const Q: usize> = [[f64; 4]; Q];

/// One tree prepared for a fixed number of quadrature points.
pub(super) struct Prepared<const Q: usize> {
    pub(super) edges: Vec<Edge<Q>>,
    /// Per node, its index in `twigs`, or `u32::MAX` when the node is not a twig.
    pub(super) twig_of: Vec<u32>,
    pub(super) twigs: Vec<Twig<Q>>,
    pub(super) leaf_value: Vec<f64>,
}

/// One tree prepared for the fastest exact method available to it.
enum Method {
    Empty,
    Q1(Prepared<1>),
    Q2(Prepared<2>),
    Q3(Prepared<3>),
    Q4(Prepared<4>),
    Q5(Prepared<5>),
    Q6(Prepared<6>),
    Q7(Prepared<7>),
    Q8(Prepared<8>),
    Q9(Prepared<9>),
    Q10(Prepared<10>),
    Q12(Prepared<12>),
    Q16(Prepared<16>),
    Classic,
}

/// The model-only precomputation of every tree, built once and reused for every row.
pub struct LinearTrees {
    /// The trees renumbered in preorder: the DFS then reads nodes and edges sequentially.
    trees: Vec<Tree>,
    methods: Vec<Method>,
}

/// Largest number of distinct features on any root-to-leaf path.
pub(super) fn max_unique_features(tree: &Tree) -> usize {
    fn walk(tree: &Tree, node: usize, path: &mut Vec<usize>) -> usize {
        if tree.is_leaf(node) {
            let mut u = path.clone();
            u.sort_unstable();
            u.dedup();
            return u.len();
        }
        path.push(tree.split_feature(node));
        let (l, r) = tree.children(node);
        let m = walk(tree, l, path).max(walk(tree, r, path));
        path.pop();
        m
    }
    walk(tree, 0, &mut Vec::new())
}

impl LinearTrees {
    pub fn new(trees: &[Tree]) -> Self {
        let trees: Vec<Tree> = trees.iter().map(Tree::preorder).collect();
        let methods = trees
            .iter()
            .map(|t| {
                if t.is_leaf(0) {
                    return Method::Empty;
                }
                // Degree of the integrand is u − 1; Q points integrate degree 2Q − 1 exactly.
                let q = max_unique_features(t).div_ceil(2).max(1);
                match q {
                    1 => Method::Q1(prepare(t)),
                    2 => Method::Q2(prepare(t)),
                    3 => Method::Q3(prepare(t)),
                    4 => Method::Q4(prepare(t)),
                    5 => Method::Q5(prepare(t)),
                    6 => Method::Q6(prepare(t)),
                    // Every size up to 10 (leaf-wise LightGBM trees need 5–9 points), then
                    // rounded up: each size is one more copy of the kernel.
                    7 => Method::Q7(prepare(t)),
                    8 => Method::Q8(prepare(t)),
                    9 => Method::Q9(prepare(t)),
                    10 => Method::Q10(prepare(t)),
                    11 | 12 => Method::Q12(prepare(t)),
                    13..=MAX_Q => Method::Q16(prepare(t)),
                    _ => Method::Classic,
                }
            })
            .collect();
        LinearTrees { trees, methods }
    }

    /// Add tree `i`'s SHAP values for the batch into its transposed accumulator, at output
    /// `output`'s block.
    pub fn add(&self, i: usize, output: usize, batch: &mut Batch) {
        let tree = &self.trees[i];
        match &self.methods[i] {
            Method::Empty => {}
            Method::Q1(p) => batch.run(p, tree, output),
            Method::Q2(p) => batch.run(p, tree, output),
            Method::Q3(p) => batch.run(p, tree, output),
            Method::Q4(p) => batch.run(p, tree, output),
            Method::Q5(p) => batch.run(p, tree, output),
            Method::Q6(p) => batch.run(p, tree, output),
            Method::Q7(p) => batch.run(p, tree, output),
            Method::Q8(p) => batch.run(p, tree, output),
            Method::Q9(p) => batch.run(p, tree, output),
            Method::Q10(p) => batch.run(p, tree, output),
            Method::Q12(p) => batch.run(p, tree, output),
            Method::Q16(p) => batch.run(p, tree, output),
            Method::Classic => batch.run_classic(tree, output),
        }
    }
}

/// F(t) for a merged feature with cover fraction z and hot bit o: z + (o − z)·t.
fn factor(z: f64, hot: bool, t: f64) -> f64 {
    let o = if hot { 1.0 } else { 0.0 };
    z + (o - z) * t
}

/// w·(o − z)/F(t), defined as 0 when o = z = 0 (the feature cannot contribute).
fn coefficient(z: f64, hot: bool, t: f64, w: f64) -> f64 {
    let o = if hot { 1.0 } else { 0.0 };
    let f = factor(z, hot, t);
    if o - z == 0.0 || f == 0.0 {
        0.0
    } else {
        w * (o - z) / f
    }
}

fn prepare<const Q: usize>(tree: &Tree) -> Prepared<Q> {
    let (nodes, weights) = gauss_legendre(Q);
    let n = tree.num_nodes();
    let empty = Edge {
        prev: u16::MAX,
        ratio: [[1.0; 4]; Q],
        coef: [[0.0; 4]; Q],
    };
    let mut edges = vec![empty; n];
    let mut leaf_value = vec![0.0; n];
    // DFS carrying, per feature on the path, (depth of its last edge's child, merged z).
    struct Frame {
        node: usize,
        depth: usize,
        seen: Vec<(usize, u16, f64)>,
    }
    let mut stack = vec![Frame {
        node: 0,
        depth: 0,
        seen: Vec::new(),
    }];
    while let Some(Frame { node, depth, seen }) = stack.pop() {
        if tree.is_leaf(node) {
            leaf_value[node] = tree.predict_leaf_value(node);
            continue;
        }
        let feature = tree.split_feature(node);
        let (l, r) = tree.children(node);
        let cover = tree.node_cover(node);
        for child in [l, r] {
            let z_edge = tree.node_cover(child) / cover;
            let previous = seen.iter().find(|(f, _, _)| *f == feature).copied();
            let (prev, z_old) = match previous {
                Some((_, d, z)) => (d, z),
                None => (u16::MAX, 1.0),
            };
            let z_new = z_old * z_edge;
            let mut e = empty;
            e.prev = prev;
            for r in &mut e.ratio {
                r[2] = z_edge;
            }
            for (v, hot) in [(0usize, true), (1, false)] {
                for q in 0..Q {
                    let t = nodes[q];
                    // With no previous edge the old factor is 1 (z = 1, hot).
                    let old = if previous.is_some() {
                        factor(z_old, true, t)
                    } else {
                        1.0
                    };
                    e.ratio[q][v] = factor(z_new, hot, t) / old;
                    let old_coef = if previous.is_some() {
                        coefficient(z_old, true, t, weights[q])
                    } else {
                        0.0
                    };
                    e.coef[q][v] = coefficient(z_new, hot, t, weights[q]) - old_coef;
                }
            }
            edges[child] = e;
            let mut child_seen: Vec<(usize, u16, f64)> = seen
                .iter()
                .filter(|(f, _, _)| *f != feature)
                .copied()
                .collect();
            child_seen.push((feature, (depth + 1) as u16, z_new));
            stack.push(Frame {
                node: child,
                depth: depth + 1,
                seen: child_seen,
            });
        }
    }
    // Twigs from the plain tables, then the leaves' edges folded with their values.
    let mut twig_of = vec![u32::MAX; n];
    let mut twigs = Vec::new();
    for node in 0..n {
        if tree.is_leaf(node) {
            continue;
        }
        let (l, r) = tree.children(node);
        if !(tree.is_leaf(l) && tree.is_leaf(r)) {
            continue;
        }
        let (el, er) = (&edges[l], &edges[r]);
        let (vl, vr) = (leaf_value[l], leaf_value[r]);
        let mut t = Twig {
            g: [[0.0; 4]; Q],
            credit: [[0.0; 4]; Q],
        };
        for q in 0..Q {
            // The right leaf's variant is the left's flipped: 0 ↔ 1, 2 stays.
            for (w, fw) in [(0, 1), (1, 0), (2, 2)] {
                let (gl, gr) = (vl * el.ratio[q][w], vr * er.ratio[q][fw]);
                t.g[q][w] = gl + gr;
                t.credit[q][w] = gl * el.coef[q][w] + gr * er.coef[q][fw];
            }
        }
        twig_of[node] = twigs.len() as u32;
        twigs.push(t);
    }
    for node in 0..n {
        if node != 0 && tree.is_leaf(node) {
            let (e, v) = (&mut edges[node], leaf_value[node]);
            for q in 0..Q {
                for w in 0..3 {
                    e.ratio[q][w] *= v;
                    e.coef[q][w] *= e.ratio[q][w];
                }
            }
        }
    }
    Prepared {
        edges,
        twig_of,
        twigs,
        leaf_value,
    }
}
