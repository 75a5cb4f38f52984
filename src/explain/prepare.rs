//! The model-only tables of the batched Linear TreeSHAP kernel (see `linear` for the method,
//! `batch` and `lanes` for their use): per edge and quadrature point, the factor ratio and the
//! credit coefficient of each edge variant; twigs folded into one table pair; and, for a
//! segment of a tree run at fewer points than the tree's root, the tables of the path above it.

// Fixed-size loops over the Q quadrature points index several arrays in lockstep.
#![allow(clippy::needless_range_loop)]

use super::linear::gauss_legendre;
use crate::model::Tree;

/// Per quadrature point, a value for each edge variant (0, 1, 2) and an unused slot.
pub(super) type Table<const Q: usize> = [[f64; 4]; Q];

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

/// One segment of a tree prepared for `Q` quadrature points: the subtree below `base`, less the
/// segments entered inside it (their nodes have tables here too, unused).
pub(super) struct Prepared<const Q: usize> {
    /// The segment's root; per-node vectors are indexed by node − base (a preorder subtree is
    /// the node range base..base + size).
    pub(super) base: usize,
    pub(super) edges: Vec<Edge<Q>>,
    /// Per node, its index in `twigs`, or `u32::MAX` when the node is not a twig.
    pub(super) twig_of: Vec<u32>,
    pub(super) twigs: Vec<Twig<Q>>,
    /// Per node, the segment (index in the tree's list) whose root it is, or `u32::MAX`.
    pub(super) enter: Vec<u32>,
    /// For a segment below the root: each edge on the path from the root to `base` (levels
    /// 1..=depth of base), its tables at this segment's points and the feature its credit goes
    /// to. The kernel rebuilds P at `base` from them and credits the segment's G to them.
    pub(super) path: Vec<(Edge<Q>, usize)>,
}

impl<const Q: usize> Prepared<Q> {
    pub(super) fn points(&self) -> usize {
        Q
    }
}

/// Q-independent facts about the edge into a node (the root's are unused).
#[derive(Clone, Copy, Default)]
struct EdgeInfo {
    prev: u16,
    /// The edge's cover fraction.
    z_edge: f64,
    /// The feature's merged cover fraction above this edge, when it was on the path already.
    z_old: Option<f64>,
}

/// Per-node facts of a preorder tree, for planning segments and building their tables.
pub(super) struct Shape {
    info: Vec<EdgeInfo>,
    pub(super) depth: Vec<usize>,
    pub(super) parent: Vec<usize>,
    /// Most distinct features on a root-to-leaf path through the node.
    pub(super) unique: Vec<usize>,
    /// Nodes in the node's subtree.
    pub(super) size: Vec<usize>,
}

impl Shape {
    pub(super) fn new(tree: &Tree) -> Self {
        let n = tree.num_nodes();
        let mut s = Shape {
            info: vec![EdgeInfo::default(); n],
            depth: vec![0; n],
            parent: vec![0; n],
            unique: vec![0; n],
            size: vec![1; n],
        };
        // DFS carrying, per feature on the path, (depth of its last edge's child, merged z).
        let mut stack = vec![(0usize, Vec::<(usize, u16, f64)>::new())];
        while let Some((node, seen)) = stack.pop() {
            if tree.is_leaf(node) {
                s.unique[node] = seen.len();
                continue;
            }
            let feature = tree.split_feature(node);
            let cover = tree.node_cover(node);
            let previous = seen.iter().find(|(f, _, _)| *f == feature).copied();
            for child in <[usize; 2]>::from(tree.children(node)) {
                let z_edge = tree.node_cover(child) / cover;
                let z_old = previous.map(|(_, _, z)| z);
                s.info[child] = EdgeInfo {
                    prev: previous.map_or(u16::MAX, |(_, d, _)| d),
                    z_edge,
                    z_old,
                };
                s.depth[child] = s.depth[node] + 1;
                s.parent[child] = node;
                let mut below: Vec<_> = seen.iter().filter(|e| e.0 != feature).copied().collect();
                below.push((
                    feature,
                    s.depth[child] as u16,
                    z_old.unwrap_or(1.0) * z_edge,
                ));
                stack.push((child, below));
            }
        }
        // Preorder: every child comes after its parent, so one backward pass sums upward.
        for node in (1..n).rev() {
            let p = s.parent[node];
            s.size[p] += s.size[node];
            s.unique[p] = s.unique[p].max(s.unique[node]);
        }
        s
    }
}

/// F(t) for a merged feature with cover fraction z and hot bit o: z + (o − z)·t.
pub(super) fn factor(z: f64, hot: bool, t: f64) -> f64 {
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

/// The tables of one edge at the points `nodes` with weights `weights`.
fn edge<const Q: usize>(info: &EdgeInfo, nodes: &[f64], weights: &[f64]) -> Edge<Q> {
    let z_new = info.z_old.unwrap_or(1.0) * info.z_edge;
    let mut e = Edge {
        prev: info.prev,
        ratio: [[1.0; 4]; Q],
        coef: [[0.0; 4]; Q],
    };
    for q in 0..Q {
        let (t, w) = (nodes[q], weights[q]);
        e.ratio[q][2] = info.z_edge;
        // With no previous edge the old factor is 1 (z = 1, hot) and the old coefficient 0.
        let (old, old_coef) = match info.z_old {
            Some(z) => (factor(z, true, t), coefficient(z, true, t, w)),
            None => (1.0, 0.0),
        };
        for (v, hot) in [(0usize, true), (1, false)] {
            e.ratio[q][v] = factor(z_new, hot, t) / old;
            e.coef[q][v] = coefficient(z_new, hot, t, w) - old_coef;
        }
    }
    e
}

/// The segment of `tree` rooted at `base`, at `Q` points; `enter` lists the segments entered
/// inside it as (root node, index in the tree's list).
pub(super) fn prepare<const Q: usize>(
    tree: &Tree,
    shape: &Shape,
    base: usize,
    enter: &[(usize, u32)],
) -> Prepared<Q> {
    let (nodes, weights) = gauss_legendre(Q);
    let range = base..base + shape.size[base];
    let mut edges: Vec<Edge<Q>> = range
        .clone()
        .map(|n| edge(&shape.info[n], &nodes, &weights))
        .collect();
    // Twigs from the plain tables, then the leaves' edges folded with their values.
    let mut twig_of = vec![u32::MAX; range.len()];
    let mut twigs = Vec::new();
    for node in range.clone().filter(|&n| !tree.is_leaf(n)) {
        let (l, r) = tree.children(node);
        if !(tree.is_leaf(l) && tree.is_leaf(r)) {
            continue;
        }
        let (el, er) = (&edges[l - base], &edges[r - base]);
        let (vl, vr) = (tree.predict_leaf_value(l), tree.predict_leaf_value(r));
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
        twig_of[node - base] = twigs.len() as u32;
        twigs.push(t);
    }
    for node in range.clone().filter(|&n| tree.is_leaf(n)) {
        let (e, v) = (&mut edges[node - base], tree.predict_leaf_value(node));
        for q in 0..Q {
            for w in 0..3 {
                e.ratio[q][w] *= v;
                e.coef[q][w] *= e.ratio[q][w];
            }
        }
    }
    let mut entered = vec![u32::MAX; range.len()];
    for &(node, i) in enter {
        entered[node - base] = i;
    }
    // The path above the segment, top-down: edge into level a, credited to its parent's feature.
    let mut path = Vec::new();
    let mut node = base;
    while node != 0 {
        let parent = shape.parent[node];
        let e = edge(&shape.info[node], &nodes, &weights);
        path.push((e, tree.split_feature(parent)));
        node = parent;
    }
    path.reverse();
    Prepared {
        base,
        edges,
        twig_of,
        twigs,
        enter: entered,
        path,
    }
}
