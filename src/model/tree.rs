//! One decision tree as flat arrays, built only through [`TreeBuilder::build`], which validates
//! the structure so that every explainer can walk it without bounds or cycle checks.

use crate::error::{Error, Result};

/// Deepest tree accepted. TreeSHAP keeps an O(depth²) path buffer and recurses once per level;
/// LightGBM's leaf-wise trees are deep but far below this, so a deeper tree is a corrupt file.
pub const MAX_DEPTH: usize = 256;

/// Marker for "no child": the node is a leaf.
pub const LEAF: u32 = u32::MAX;

/// How a node sends a row left or right. The libraries differ, and getting this wrong silently
/// sends rows down the other branch. Unless a variant says otherwise, NaN (missing) goes to the
/// node's default side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// XGBoost, ONNX `BRANCH_LT`: left iff `(x as f32) < threshold`.
    LessF32,
    /// scikit-learn, CatBoost (`x > border` is the right branch), ONNX `BRANCH_LEQ`: left iff
    /// `(x as f32) <= threshold`, the threshold compared in f64.
    LessEqF32,
    /// LightGBM numeric: the node's missing type, then left iff `x <= threshold` (f64).
    Lgb(MissingType),
    /// ONNX `BRANCH_EQ`, CatBoost one-hot on category codes: left iff `(x as f32) == threshold`.
    EqF32,
    /// XGBoost categorical: a category code in the node's set goes right; any other code
    /// (negative, past the set, not in it) goes left.
    XgbCategory,
    /// LightGBM categorical: a code in the node's set goes left; NaN, negative and other codes
    /// go right (the default side does not apply).
    LgbCategory,
    /// ONNX set membership on category codes (onnxmltools' chains of `BRANCH_EQ`, ml opset 5's
    /// `BRANCH_MEMBER`): left iff `x as f32` is a whole number in the node's set — `2.5` is in
    /// no set of codes, as no `x == c` test holds for it. NaN goes to the default side.
    InSetF32,
}

impl Split {
    /// True for splits that test set membership of a category code.
    pub fn is_categorical(self) -> bool {
        matches!(
            self,
            Split::XgbCategory | Split::LgbCategory | Split::InSetF32
        )
    }
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

/// Category codes a set may hold: 0..MAX_CATEGORY. XGBoost allows 2^24, but a set is a bitset
/// sized by its largest code, so a hostile file naming huge codes on many nodes would take
/// gigabytes; 65,536 categories per feature is far beyond what trees split on usefully.
pub const MAX_CATEGORY: u32 = 1 << 16;

/// A validated tree. Node 0 is the root; leaves have `left == right == LEAF`.
#[derive(Clone, Debug)]
pub struct Tree {
    pub(crate) left: Vec<u32>,
    pub(crate) right: Vec<u32>,
    pub(crate) feature: Vec<u32>,
    pub(crate) threshold: Vec<f64>,
    pub(crate) default_left: Vec<bool>,
    pub(crate) split: Vec<Split>,
    /// Per node, `(start, len)` of its category bitset in `set_words` (`(0, 0)` for numeric
    /// nodes): one flat array rather than a `Vec` per node keeps the tree a few arrays.
    pub(crate) set: Vec<(u32, u32)>,
    pub(crate) set_words: Vec<u32>,
    /// Training cover (XGBoost `sum_hessian`, LightGBM counts): TreeSHAP's zero fractions.
    pub(crate) cover: Vec<f64>,
    /// Leaf values, already multiplied by any tree weight (DART, rf averaging).
    pub(crate) value: Vec<f64>,
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
    pub split: Vec<Split>,
    /// Per node, the category codes of a categorical split as an LSB-first bitset (bit `c` of
    /// word `c / 32`); empty for numeric nodes. May be left empty when no node is categorical.
    pub sets: Vec<Vec<u32>>,
    pub cover: Vec<f64>,
    pub value: Vec<f64>,
}

impl TreeBuilder {
    /// A builder for `n` nodes, all leaves of value 0 with numeric splits of kind `split`.
    pub fn with_nodes(n: usize, split: Split) -> Self {
        TreeBuilder {
            left: vec![-1; n],
            right: vec![-1; n],
            feature: vec![0; n],
            threshold: vec![0.0; n],
            default_left: vec![false; n],
            split: vec![split; n],
            sets: Vec::new(),
            cover: vec![0.0; n],
            value: vec![0.0; n],
        }
    }

    /// Sets node `node`'s category bitset (growing `sets` on first use).
    pub fn set_categories(&mut self, node: usize, words: Vec<u32>) {
        if self.sets.len() < self.left.len() {
            self.sets.resize(self.left.len(), Vec::new());
        }
        if let Some(slot) = self.sets.get_mut(node) {
            *slot = words;
        }
    }
}

/// The bitset holding `codes`, or the first code that is not below [`MAX_CATEGORY`].
pub fn bitset_of(codes: impl IntoIterator<Item = i64>) -> std::result::Result<Vec<u32>, i64> {
    let mut words: Vec<u32> = Vec::new();
    for c in codes {
        if !(0..MAX_CATEGORY as i64).contains(&c) {
            return Err(c);
        }
        let c = c as u32;
        let w = (c / 32) as usize;
        if words.len() <= w {
            words.resize(w + 1, 0);
        }
        words[w] |= 1 << (c % 32);
    }
    Ok(words)
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

    /// How internal `node` routes.
    pub fn split_kind(&self, node: usize) -> Split {
        self.split[node]
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

    /// Replaces every node's cover (e.g. covers recomputed from data for a model that stores
    /// none) and recomputes the expected value. `cover` must have one entry per node, and
    /// internal nodes a positive cover; otherwise the tree is left unchanged.
    pub fn set_covers(&mut self, cover: Vec<f64>) -> bool {
        if cover.len() != self.num_nodes()
            || (0..self.num_nodes())
                .any(|n| !cover[n].is_finite() || (!self.is_leaf(n) && cover[n] <= 0.0))
        {
            return false;
        }
        self.cover = cover;
        self.expected = expected_value(self);
        true
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
            split: order.iter().map(|&n| self.split[n]).collect(),
            set: order.iter().map(|&n| self.set[n]).collect(),
            set_words: self.set_words.clone(),
            cover: order.iter().map(|&n| self.cover[n]).collect(),
            value: order.iter().map(|&n| self.value[n]).collect(),
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
    pub fn build(self, index: usize, num_features: usize) -> Result<Tree> {
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
            ("split kinds", self.split.len()),
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
        if !self.sets.is_empty() && self.sets.len() != n {
            return Err(bad(
                0,
                format!(
                    "category sets has {} entries, expected {n}",
                    self.sets.len()
                ),
            ));
        }
        let max_words = MAX_CATEGORY.div_ceil(32) as usize;
        let mut set = vec![(0u32, 0u32); n];
        let mut set_words = Vec::new();
        for (node, words) in self.sets.into_iter().enumerate() {
            if words.is_empty() {
                continue;
            }
            if !self.split[node].is_categorical() {
                return Err(bad(node, "a numeric split has a category set".into()));
            }
            if words.len() > max_words {
                return Err(bad(
                    node,
                    format!("category set is larger than {MAX_CATEGORY} codes"),
                ));
            }
            set[node] = (set_words.len() as u32, words.len() as u32);
            set_words.extend(words);
        }
        let mut tree = Tree {
            left,
            right,
            feature,
            threshold: self.threshold,
            default_left: self.default_left,
            split: self.split,
            set,
            set_words,
            cover: self.cover,
            value: self.value,
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
