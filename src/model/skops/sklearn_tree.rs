//! `sklearn.tree._tree.Tree`, the fitted tree inside every DecisionTree*, ExtraTree*, forest
//! and GradientBoosting estimator.
//!
//! Its `nodes` array is structured: `left_child i8, right_child i8, feature i8, threshold f8,
//! impurity f8, n_node_samples i8, weighted_n_node_samples f8` and, since scikit-learn 1.3,
//! `missing_go_to_left u1` (itemsize 64 with padding, 56 before). `values` is (nodes,
//! outputs, classes) f64. Fields are read by name, so either layout works. scikit-learn casts
//! X to float32 and goes left iff `(f32)x <= threshold` (compared in f64): `Split::LessEqF32`.
//! NaN goes to `missing_go_to_left`; trees saved before 1.3 have no such field, and their
//! scikit-learn compared NaN like a number (`NaN <= t` is false), so NaN goes right.

use super::schema::Node;
use crate::error::{Error, Result};
use crate::model::tree::{Split, TreeBuilder};

/// The arrays of one fitted tree.
pub struct SkTree {
    left: Vec<i64>,
    right: Vec<i64>,
    feature: Vec<i64>,
    threshold: Vec<f64>,
    missing_left: Vec<bool>,
    cover: Vec<f64>,
    /// `values[node * classes + class]` (single-output trees only).
    values: Vec<f64>,
    pub n_classes: usize,
    pub n_features: usize,
    /// False for trees saved before scikit-learn 1.3 (no missing-value routing stored).
    pub has_missing_routing: bool,
}

impl SkTree {
    /// The `tree_` of a fitted DecisionTree*/ExtraTree* estimator node.
    pub fn of_estimator(estimator: &Node) -> Result<SkTree> {
        let tree = estimator.req("tree_")?;
        if (tree.module(), tree.class()) != ("sklearn.tree._tree", "Tree") {
            return Err(tree.err(format!(
                "tree_ is a {}.{}, not a sklearn.tree._tree.Tree",
                tree.module(),
                tree.class()
            )));
        }
        let args = tree.reduce_args()?;
        let [n_features, n_classes, n_outputs] = args.as_slice() else {
            return Err(tree.err(format!(
                "Tree takes (n_features, n_classes, n_outputs); found {} arguments",
                args.len()
            )));
        };
        let n_features = n_features.as_usize()?;
        let n_outputs = n_outputs.as_usize()?;
        if n_outputs != 1 {
            return Err(Error::Unsupported(format!(
                "{}: a multi-output tree ({n_outputs} outputs) is not supported; \
                 shaplab explains single-output estimators",
                tree.path.trim_start_matches('.')
            )));
        }
        let class_counts = n_classes.array()?.i64s()?;
        let max_classes = class_counts.iter().copied().max().unwrap_or(0);
        let n_classes = usize::try_from(max_classes)
            .ok()
            .filter(|&k| k >= 1 && class_counts.len() == 1)
            .ok_or_else(|| tree.err(format!("bad n_classes {class_counts:?}")))?;

        let nodes = tree.req("nodes")?.array()?;
        let n = nodes.len();
        let node_count = tree.req("node_count")?.as_usize()?;
        if node_count != n {
            return Err(tree.err(format!(
                "node_count is {node_count} but the nodes array holds {n}"
            )));
        }
        let values = tree.req("values")?.array()?;
        if values.shape != [n, 1, n_classes] {
            return Err(tree.err(format!(
                "values has shape {:?}, expected [{n}, 1, {n_classes}]",
                values.shape
            )));
        }
        let has_missing_routing = nodes.has_field("missing_go_to_left");
        let missing_left = if has_missing_routing {
            nodes
                .field_i64s("missing_go_to_left")?
                .into_iter()
                .map(|m| m != 0)
                .collect()
        } else {
            vec![false; n]
        };
        Ok(SkTree {
            left: nodes.field_i64s("left_child")?,
            right: nodes.field_i64s("right_child")?,
            feature: nodes.field_i64s("feature")?,
            threshold: nodes.field_f64s("threshold")?,
            missing_left,
            cover: nodes.field_f64s("weighted_n_node_samples")?,
            values: values.f64s()?,
            n_classes,
            n_features,
            has_missing_routing,
        })
    }

    pub fn num_nodes(&self) -> usize {
        self.left.len()
    }

    /// The stored value of `node` for class (or output) `k`.
    pub fn value(&self, node: usize, k: usize) -> f64 {
        self.values[node * self.n_classes + k]
    }

    /// Class `k`'s fraction at `node`, as `predict_proba` normalises it (a node whose values
    /// sum to zero keeps zeros, as scikit-learn divides by 1 then).
    pub fn fraction(&self, node: usize, k: usize) -> f64 {
        let row = &self.values[node * self.n_classes..(node + 1) * self.n_classes];
        let total: f64 = row.iter().sum();
        row[k] / if total == 0.0 { 1.0 } else { total }
    }

    /// A builder for this tree's structure with leaf values `leaf(node)`.
    pub fn builder(&self, leaf: impl Fn(usize) -> f64) -> TreeBuilder {
        let n = self.num_nodes();
        TreeBuilder {
            left: self.left.clone(),
            right: self.right.clone(),
            feature: self.feature.clone(),
            threshold: self.threshold.clone(),
            default_left: self.missing_left.clone(),
            split: vec![Split::LessEqF32; n],
            sets: Vec::new(),
            cover: self.cover.clone(),
            value: (0..n).map(leaf).collect(),
        }
    }
}
