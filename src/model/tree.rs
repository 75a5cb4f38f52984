//! One decision tree as flat arrays, built only through [`TreeBuilder::build`], which validates
//! the structure so that every explainer can walk it without bounds or cycle checks.

use crate::error::{Error, Result};

/// Deepest tree accepted. TreeSHAP keeps an O(depth²) path buffer and recurses once per level;
/// LightGBM's leaf-wise trees are deep but far below this, so a deeper tree is a corrupt file.
pub const MAX_DEPTH: usize = 256;

/// Marker for "no child": the node is a leaf.
pub const LEAF: u32 = u32::MAX;

/// How a numeric split compares a feature value with its threshold. The two libraries differ,
/// and getting this wrong silently sends rows down the other branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routing {
    /// XGBoost: left iff `(x as f32) < threshold`; NaN goes to the default side.
    XgbLessF32,
    /// LightGBM: per-node missing type, then left iff `x <= threshold` (f64).
    LgbLessEq,
}

/// LightGBM's per-node missing-value type (`decision_type` bits 2–3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingType {
    /// NaN is treated as 0.0, then compared normally.
    None,
    /// NaN becomes 0.0; values with |x| ≤ 1e-35 go to the default side.
    Zero,
    /// NaN goes to the default side.
    NaN,
}

/// LightGBM's `kZeroThreshold`.
const ZERO_THRESHOLD: f64 = 1e-35;

/// A validated tree. Node 0 is the root; leaves have `left == right == LEAF`.
#[derive(Clone, Debug)]
pub struct Tree {
    pub(crate) left: Vec<u32>,
    pub(crate) right: Vec<u32>,
    pub(crate) feature: Vec<u32>,
    pub(crate) threshold: Vec<f64>,
    pub(crate) default_left: Vec<bool>,
    pub(crate) missing: Vec<MissingType>,
    /// Training cover (XGBoost `sum_hessian`, LightGBM counts): TreeSHAP's zero fractions.
    pub(crate) cover: Vec<f64>,
    /// Leaf values, already multiplied by any tree weight (DART, rf averaging).
    pub(crate) value: Vec<f64>,
    pub(crate) routing: Routing,
    pub(crate) depth: usize,
    /// Cover-weighted mean leaf value: this tree's share of the base value.
    pub(crate) expected: f64,
}

/// The raw arrays of one tree, as a loader reads them; `build` checks them.
#[derive(Clone, Debug, Default)]
pub struct TreeBuilder {
    pub left: Vec<i64>,
    pub right: Vec<i64>,
    pub feature: Vec<i64>,
    pub threshold: Vec<f64>,
    pub default_left: Vec<bool>,
    pub missing: Vec<MissingType>,
    pub cover: Vec<f64>,
    pub value: Vec<f64>,
}

impl Tree {
    /// Number of nodes (internal and leaves, including unreachable deleted ones).
    pub fn num_nodes(&self) -> usize {
        self.left.len()
    }

    /// Longest root-to-leaf path, in edges.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Cover-weighted mean prediction of this tree.
    pub fn expected_value(&self) -> f64 {
        self.expected
    }

    /// The value stored at leaf `node`.
    pub fn predict_leaf_value(&self, node: usize) -> f64 {
        self.value[node]
    }

    /// Left and right child of internal `node`.
    pub fn children(&self, node: usize) -> (usize, usize) {
        (self.left[node] as usize, self.right[node] as usize)
    }

    /// Split feature of internal `node`.
    pub fn split_feature(&self, node: usize) -> usize {
        self.feature[node] as usize
    }

    /// Training cover of `node`.
    pub fn node_cover(&self, node: usize) -> f64 {
        self.cover[node]
    }

    /// True when `node` has no children.
    #[inline]
    pub fn is_leaf(&self, node: usize) -> bool {
        self.left[node] == LEAF
    }

    /// The child a row with feature value `x` (NaN = missing) goes to from internal `node`.
    #[inline]
    pub fn goes_left(&self, node: usize, x: f64) -> bool {
        match self.routing {
            Routing::XgbLessF32 => {
                if x.is_nan() {
                    self.default_left[node]
                } else {
                    ((x as f32) as f64) < self.threshold[node]
                }
            }
            Routing::LgbLessEq => {
                let missing = self.missing[node];
                let mut v = x;
                if v.is_nan() && missing != MissingType::NaN {
                    v = 0.0;
                }
                if (missing == MissingType::Zero && (-ZERO_THRESHOLD..=ZERO_THRESHOLD).contains(&v))
                    || (missing == MissingType::NaN && v.is_nan())
                {
                    self.default_left[node]
                } else {
                    v <= self.threshold[node]
                }
            }
        }
    }

    /// `goes_left` for many rows at once (one feature column), with the routing decided once.
    pub fn route_batch(&self, node: usize, xs: &[f64], left: &mut [bool]) {
        let t = self.threshold[node];
        let dl = self.default_left[node];
        let pairs = left.iter_mut().zip(xs);
        match (self.routing, self.missing[node]) {
            (Routing::XgbLessF32, _) => {
                for (l, &x) in pairs {
                    *l = if x.is_nan() {
                        dl
                    } else {
                        ((x as f32) as f64) < t
                    };
                }
            }
            (Routing::LgbLessEq, MissingType::NaN) => {
                for (l, &x) in pairs {
                    *l = if x.is_nan() { dl } else { x <= t };
                }
            }
            (Routing::LgbLessEq, MissingType::Zero) => {
                for (l, &x) in pairs {
                    let v = if x.is_nan() { 0.0 } else { x };
                    *l = if (-ZERO_THRESHOLD..=ZERO_THRESHOLD).contains(&v) {
                        dl
                    } else {
                        v <= t
                    };
                }
            }
            (Routing::LgbLessEq, MissingType::None) => {
                for (l, &x) in pairs {
                    let v = if x.is_nan() { 0.0 } else { x };
                    *l = v <= t;
                }
            }
        }
    }

    /// The child index of internal `node` for a row.
    #[inline]
    pub fn next(&self, node: usize, row: &[f64]) -> usize {
        let x = row[self.feature[node] as usize];
        if self.goes_left(node, x) {
            self.left[node] as usize
        } else {
            self.right[node] as usize
        }
    }

    /// The leaf value this row lands in.
    pub fn predict(&self, row: &[f64]) -> f64 {
        let mut node = 0;
        while !self.is_leaf(node) {
            node = self.next(node, row);
        }
        self.value[node]
    }

    /// The same tree with reachable nodes renumbered in depth-first preorder (left first), so
    /// a traversal reads its arrays front to back; unreachable nodes are dropped.
    pub fn preorder(&self) -> Tree {
        let mut order = Vec::with_capacity(self.num_nodes());
        let mut stack = vec![0usize];
        while let Some(n) = stack.pop() {
            order.push(n);
            if !self.is_leaf(n) {
                stack.push(self.right[n] as usize);
                stack.push(self.left[n] as usize);
            }
        }
        let mut new_id = vec![LEAF; self.num_nodes()];
        for (i, &n) in order.iter().enumerate() {
            new_id[n] = i as u32;
        }
        let remap = |c: u32| if c == LEAF { LEAF } else { new_id[c as usize] };
        Tree {
            left: order.iter().map(|&n| remap(self.left[n])).collect(),
            right: order.iter().map(|&n| remap(self.right[n])).collect(),
            feature: order.iter().map(|&n| self.feature[n]).collect(),
            threshold: order.iter().map(|&n| self.threshold[n]).collect(),
            default_left: order.iter().map(|&n| self.default_left[n]).collect(),
            missing: order.iter().map(|&n| self.missing[n]).collect(),
            cover: order.iter().map(|&n| self.cover[n]).collect(),
            value: order.iter().map(|&n| self.value[n]).collect(),
            routing: self.routing,
            depth: self.depth,
            expected: self.expected,
        }
    }

    /// Scale every leaf value (DART weights, averaged rf output).
    pub(crate) fn scale(&mut self, factor: f64) {
        for v in &mut self.value {
            *v *= factor;
        }
        self.expected *= factor;
    }

    /// Unique split features used by reachable internal nodes.
    pub(crate) fn used_features(&self) -> Vec<usize> {
        let mut out: Vec<usize> = (0..self.num_nodes())
            .filter(|&n| !self.is_leaf(n))
            .map(|n| self.feature[n] as usize)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

impl TreeBuilder {
    /// Validate the arrays and produce a tree. `index` names the tree in errors;
    /// `num_features` bounds the split feature indices.
    pub fn build(self, index: usize, num_features: usize, routing: Routing) -> Result<Tree> {
        let n = self.left.len();
        let bad = |node: usize, message: String| Error::InvalidTree {
            tree: index,
            node,
            message,
        };
        if n == 0 {
            return Err(bad(0, "tree has no nodes".into()));
        }
        for (name, len) in [
            ("right_children", self.right.len()),
            ("split_indices", self.feature.len()),
            ("split_conditions", self.threshold.len()),
            ("default_left", self.default_left.len()),
            ("missing types", self.missing.len()),
            ("cover", self.cover.len()),
            ("leaf values", self.value.len()),
        ] {
            if len != n {
                return Err(bad(0, format!("{name} has {len} entries, expected {n}")));
            }
        }
        let mut left = vec![LEAF; n];
        let mut right = vec![LEAF; n];
        let mut feature = vec![0u32; n];
        let mut seen = vec![false; n];
        let mut depth = vec![0usize; n];
        let mut max_depth = 0;
        // Iterative DFS: a node seen twice means a cycle or a shared subtree.
        let mut stack = vec![0usize];
        seen[0] = true;
        while let Some(node) = stack.pop() {
            let (l, r) = (self.left[node], self.right[node]);
            let is_leaf = l < 0 && r < 0;
            if is_leaf {
                if !self.value[node].is_finite() {
                    return Err(bad(
                        node,
                        format!("leaf value {} is not finite", self.value[node]),
                    ));
                }
                continue;
            }
            if l < 0 || r < 0 {
                return Err(bad(node, "internal node has only one child".into()));
            }
            if depth[node] + 1 > MAX_DEPTH {
                return Err(bad(node, format!("tree is deeper than {MAX_DEPTH} levels")));
            }
            let f = self.feature[node];
            if f < 0 || f as usize >= num_features {
                return Err(bad(
                    node,
                    format!(
                        "split feature {f} is out of range (model has {num_features} features)"
                    ),
                ));
            }
            if self.threshold[node].is_nan() {
                return Err(bad(node, "split threshold is NaN".into()));
            }
            let c = self.cover[node];
            if !(c.is_finite() && c > 0.0) {
                return Err(bad(
                    node,
                    format!(
                        "internal node cover {c} must be positive and finite (TreeSHAP divides by it)"
                    ),
                ));
            }
            for child in [l, r] {
                if child as u64 >= n as u64 {
                    return Err(bad(
                        node,
                        format!("child index {child} is out of range (tree has {n} nodes)"),
                    ));
                }
                let child = child as usize;
                if child == node || seen[child] {
                    return Err(bad(
                        node,
                        format!("child {child} is reachable twice (cycle or shared node)"),
                    ));
                }
                let cc = self.cover[child];
                if !(cc.is_finite() && cc >= 0.0) {
                    return Err(bad(
                        child,
                        format!("cover {cc} must be non-negative and finite"),
                    ));
                }
                seen[child] = true;
                depth[child] = depth[node] + 1;
                max_depth = max_depth.max(depth[child]);
                stack.push(child);
            }
            left[node] = l as u32;
            right[node] = r as u32;
            feature[node] = f as u32;
        }
        let mut tree = Tree {
            left,
            right,
            feature,
            threshold: self.threshold,
            default_left: self.default_left,
            missing: self.missing,
            cover: self.cover,
            value: self.value,
            routing,
            depth: max_depth,
            expected: 0.0,
        };
        tree.expected = expected_value(&tree);
        Ok(tree)
    }
}

/// Cover-weighted mean of the leaves, bottom-up as XGBoost's `FillNodeMeanValue` does
/// (children weighted by their cover, divided by the parent's own cover).
fn expected_value(tree: &Tree) -> f64 {
    let n = tree.num_nodes();
    let mut order = Vec::with_capacity(n);
    let mut stack = vec![0usize];
    while let Some(node) = stack.pop() {
        order.push(node);
        if !tree.is_leaf(node) {
            stack.push(tree.left[node] as usize);
            stack.push(tree.right[node] as usize);
        }
    }
    let mut mean = vec![0.0; n];
    for &node in order.iter().rev() {
        mean[node] = if tree.is_leaf(node) {
            tree.value[node]
        } else {
            let (l, r) = (tree.left[node] as usize, tree.right[node] as usize);
            (tree.cover[l] * mean[l] + tree.cover[r] * mean[r]) / tree.cover[node]
        };
    }
    mean[0]
}
