//! Path-dependent TreeSHAP in O(nodes · Q) per tree and row: Linear TreeSHAP with Gauss–Legendre
//! quadrature, and everything that depends only on the model precomputed once.
//!
//! Why it works: the Shapley weight |S|!(d−|S|−1)!/d! equals ∫₀¹ t^|S| (1−t)^(d−|S|−1) dt, so a
//! leaf's contribution to feature j is `(o_j − z_j) · v · ∫₀¹ Π_{k≠j} (z_k + (o_k − z_k) t) dt`,
//! where z_k is the cover fraction of the path's edges on feature k and o_k ∈ {0, 1} says
//! whether the row follows them all. The integrand is a polynomial of degree (unique features on
//! the path − 1), integrated exactly by Q-point Gauss–Legendre when 2Q − 1 ≥ that degree; Q is
//! chosen from the deepest path below (3 points for a depth-6 tree), per tree and, where a big
//! enough subtree needs fewer points than the tree, per subtree ("segments", see `plan`): every
//! leaf's terms, the re-merge cancellations included, are then summed at one rule, its own
//! segment's.
//!
//! One DFS per tree and batch of rows (`explain/batch`) carries P(t) = Π_k F_k(t) at the Q points
//! downward and the leaf-value-weighted sums G(t) = Σ v·P(t) upward; at each edge on feature j, feature j gains
//! Σ_q G(t_q)·c(t_q). A feature seen again deeper on the path is re-merged: the deeper edge
//! subtracts what the shallower one credited for the leaves below it (the same quadrature sums,
//! so the cancellation is exact up to rounding). Because o_k is a bit, the per-edge factors
//! F_new/F_old and coefficients c exist in only three variants (hot, turned cold here, already
//! cold), all model-only — so the per-row work is a multiply, an add and a dot product of
//! length Q per edge. Trees needing more than `MAX_Q` points fall back to the classic algorithm.

// Fixed-size loops over the Q quadrature points index several arrays in lockstep.
#![allow(clippy::needless_range_loop)]

use super::batch::Batch;
use super::prepare::{Prepared, Shape, prepare};
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

/// Sizes the kernels are compiled for: every count up to 10 (leaf-wise LightGBM trees need
/// 5–9 points), then 12 and 16: each size is one more copy of the kernels.
fn points(unique: usize) -> Option<usize> {
    // Degree of the integrand is u − 1; Q points integrate degree 2Q − 1 exactly.
    match unique.div_ceil(2).max(1) {
        q @ 1..=10 => Some(q),
        11 | 12 => Some(12),
        13..=MAX_Q => Some(16),
        _ => None,
    }
}

/// One segment of a tree at its number of points (see `prepare::Prepared`).
pub(super) enum Segment {
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
}

/// `$body` with `$pt` bound to a segment's `Prepared<Q>`, whatever its number of points `Q`
/// (each arm is compiled for its own `Q`).
macro_rules! on_segment {
    ($segment:expr, $pt:ident => $body:expr) => {
        match $segment {
            Segment::Q1($pt) => $body,
            Segment::Q2($pt) => $body,
            Segment::Q3($pt) => $body,
            Segment::Q4($pt) => $body,
            Segment::Q5($pt) => $body,
            Segment::Q6($pt) => $body,
            Segment::Q7($pt) => $body,
            Segment::Q8($pt) => $body,
            Segment::Q9($pt) => $body,
            Segment::Q10($pt) => $body,
            Segment::Q12($pt) => $body,
            Segment::Q16($pt) => $body,
        }
    };
}
pub(super) use on_segment;

impl Segment {
    /// Its number of quadrature points.
    pub(super) fn points(&self) -> usize {
        on_segment!(self, pt => pt.points())
    }

    fn new(q: usize, tree: &Tree, shape: &Shape, base: usize, enter: &[(usize, u32)]) -> Self {
        match q {
            1 => Segment::Q1(prepare(tree, shape, base, enter)),
            2 => Segment::Q2(prepare(tree, shape, base, enter)),
            3 => Segment::Q3(prepare(tree, shape, base, enter)),
            4 => Segment::Q4(prepare(tree, shape, base, enter)),
            5 => Segment::Q5(prepare(tree, shape, base, enter)),
            6 => Segment::Q6(prepare(tree, shape, base, enter)),
            7 => Segment::Q7(prepare(tree, shape, base, enter)),
            8 => Segment::Q8(prepare(tree, shape, base, enter)),
            9 => Segment::Q9(prepare(tree, shape, base, enter)),
            10 => Segment::Q10(prepare(tree, shape, base, enter)),
            12 => Segment::Q12(prepare(tree, shape, base, enter)),
            _ => Segment::Q16(prepare(tree, shape, base, enter)),
        }
    }
}

/// One tree prepared for the fastest exact method available to it.
enum Method {
    Empty,
    /// The root's segment first.
    Linear(Vec<Segment>),
    Classic,
}

/// One segment of a tree's plan.
struct Plan {
    root: usize,
    points: usize,
    /// Segments entered inside this one: (their root node, index in the plan).
    enter: Vec<(usize, u32)>,
}

/// Where a tree switches to fewer points: its segments, the root's first.
///
/// A subtree whose paths all hold fewer distinct features than the deepest path needs fewer
/// points (LightGBM's leaf-wise trees: most subtrees need 3–5 of the tree's 5–9). Entering it
/// costs rebuilding P at its root from the path's edges and crediting its G to them
/// (`lanes::restart`, `lanes::flush`): about 2 · depth · points per row against the saving of
/// (points above − points below) per edge inside, so only big enough subtrees are entered.
fn plan(tree: &Tree, shape: &Shape, q_root: usize) -> Vec<Plan> {
    let mut segments = vec![Plan {
        root: 0,
        points: q_root,
        enter: Vec::new(),
    }];
    let mut i = 0;
    while i < segments.len() {
        let (root, q) = (segments[i].root, segments[i].points);
        let mut stack = vec![root];
        while let Some(node) = stack.pop() {
            if tree.is_leaf(node) {
                continue;
            }
            for c in <[usize; 2]>::from(tree.children(node)) {
                if tree.is_leaf(c) {
                    continue;
                }
                let qc = points(shape.unique[c]).unwrap_or(q);
                let saving = (shape.size[c] - 1) * (q - qc.min(q));
                let cost = 2 * shape.depth[c] * qc + 8;
                if qc < q && saving > cost {
                    let index = segments.len() as u32;
                    segments[i].enter.push((c, index));
                    segments.push(Plan {
                        root: c,
                        points: qc,
                        enter: Vec::new(),
                    });
                } else {
                    stack.push(c);
                }
            }
        }
        i += 1;
    }
    segments
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
                let shape = Shape::new(t);
                let Some(q) = points(shape.unique[0]) else {
                    return Method::Classic;
                };
                let segments = plan(t, &shape, q)
                    .into_iter()
                    .map(|p| Segment::new(p.points, t, &shape, p.root, &p.enter))
                    .collect();
                Method::Linear(segments)
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
            Method::Linear(segments) => batch.run(segments, tree, output),
            Method::Classic => batch.run_classic(tree, output),
        }
    }
}

/// Lopsided random trees (a bushy side and a long spine, as leaf-wise boosting grows them), so
/// that subtrees need fewer points than their tree and segments are planned; shared with the
/// batch kernels' tests.
#[cfg(test)]
pub(crate) mod lopsided {
    use crate::model::{MissingType, Split, Tree, TreeBuilder};
    use crate::rng::SplitMix64;
    use crate::{Ensemble, Link, Matrix, ModelFormat};

    fn unit(rng: &mut SplitMix64) -> f64 {
        (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A node covering `cover` rows, a leaf until given children.
    fn node(b: &mut TreeBuilder, rng: &mut SplitMix64, f: usize, cover: f64) -> usize {
        let id = b.left.len();
        b.left.push(-1);
        b.right.push(-1);
        b.feature.push(rng.below(f) as i64);
        b.threshold.push(unit(rng) * 2.0 - 1.0);
        b.default_left.push(rng.below(2) == 0);
        // XGBoost's f32 comparison and LightGBM's f64 one, mixed.
        let split = if rng.below(2) == 0 {
            Split::LessF32
        } else {
            Split::Lgb(MissingType::NaN)
        };
        b.split.push(split);
        b.cover.push(cover);
        b.value.push(unit(rng) * 2.0 - 1.0);
        id
    }

    fn split(b: &mut TreeBuilder, rng: &mut SplitMix64, id: usize) -> (f64, f64) {
        let left = b.cover[id] * (0.1 + 0.8 * unit(rng));
        (left, b.cover[id] - left)
    }

    fn bush(
        b: &mut TreeBuilder,
        rng: &mut SplitMix64,
        f: usize,
        depth: usize,
        cover: f64,
    ) -> usize {
        let id = node(b, rng, f, cover);
        if depth > 0 {
            let (cl, cr) = split(b, rng, id);
            b.left[id] = bush(b, rng, f, depth - 1, cl) as i64;
            b.right[id] = bush(b, rng, f, depth - 1, cr) as i64;
        }
        id
    }

    fn spine(b: &mut TreeBuilder, rng: &mut SplitMix64, f: usize, n: usize, cover: f64) -> usize {
        if n == 0 {
            return bush(b, rng, f, 2, cover);
        }
        let id = node(b, rng, f, cover);
        let (cl, cr) = split(b, rng, id);
        // Bushes on either side of the spine: segments are entered from left and right.
        let (bushy, deep) = if n.is_multiple_of(2) {
            (cl, cr)
        } else {
            (cr, cl)
        };
        let depth = 1 + rng.below(3);
        let bushy = bush(b, rng, f, depth, bushy);
        let deep = spine(b, rng, f, n - 1, deep);
        let (l, r) = if n.is_multiple_of(2) {
            (bushy, deep)
        } else {
            (deep, bushy)
        };
        b.left[id] = l as i64;
        b.right[id] = r as i64;
        id
    }

    /// A depth-5 bush beside a spine of `length` splits with small bushes hanging off it.
    pub(crate) fn tree(rng: &mut SplitMix64, f: usize, length: usize, index: usize) -> Tree {
        let mut b = TreeBuilder::default();
        let root = node(&mut b, rng, f, 1000.0);
        let (cl, cr) = split(&mut b, rng, root);
        b.left[root] = bush(&mut b, rng, f, 5, cl) as i64;
        b.right[root] = spine(&mut b, rng, f, length, cr) as i64;
        b.build(index, f).expect("valid lopsided tree")
    }

    /// Trees with spines of 6 to 26 splits on `f` features (paths of up to ~20 distinct
    /// features: 3 to 10 points), and rows with 5 % NaN.
    pub(crate) fn model_and_rows(seed: u64, f: usize, rows: usize) -> (Ensemble, Matrix) {
        let mut rng = SplitMix64(seed);
        let trees: Vec<Tree> = (0..12).map(|i| tree(&mut rng, f, 6 + 2 * i, i)).collect();
        let outputs = vec![0; trees.len()];
        let model = Ensemble::new(
            ModelFormat::XgboostJson,
            "reg:squarederror".into(),
            f,
            1,
            None,
            vec![0.0],
            Link::Identity,
            trees,
            outputs,
        )
        .expect("valid ensemble");
        let values = (0..rows * f)
            .map(|_| match rng.below(20) {
                0 => f64::NAN,
                _ => unit(&mut rng) * 2.4 - 1.2,
            })
            .collect();
        (model, Matrix::new(rows, f, values).expect("shape"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::path::{Condition, PathScratch, tree_shap};

    #[test]
    fn lopsided_trees_are_split_into_segments_with_fewer_points() {
        let (model, _) = lopsided::model_and_rows(3, 30, 1);
        let mut below = 0;
        for tree in model.trees.iter().map(Tree::preorder) {
            let shape = Shape::new(&tree);
            let q = points(shape.unique[0]).expect("at most 16 points");
            let segments = plan(&tree, &shape, q);
            assert!(segments[1..].iter().all(|s| s.points < q && s.root != 0));
            below += segments.len() - 1;
        }
        assert!(below >= 12, "only {below} segments below the roots");
    }

    #[test]
    fn segments_give_the_classic_algorithms_values() {
        // Paths repeat features (30 features, paths of up to ~20 splits), so re-merged
        // features cross segment boundaries.
        let (model, rows) = lopsided::model_and_rows(4, 30, 40);
        let fast = crate::explain::shap_values(&model, &rows).expect("shap");
        let mut scratch = PathScratch::default();
        for r in 0..rows.rows {
            let mut classic = vec![0.0; model.num_features];
            for t in &model.trees {
                tree_shap(t, rows.row(r), &mut classic, Condition::Off, &mut scratch);
            }
            for (j, want) in classic.iter().enumerate() {
                let got = fast.block(r, 0)[j];
                assert!(
                    (got - want).abs() < 1e-9 * (1.0 + want.abs()),
                    "row {r} feature {j}: {got} vs {want}"
                );
            }
        }
    }
}
