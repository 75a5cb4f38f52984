//! `TreeEnsemble` (ai.onnx.ml opset 5) → [`Part`].
//!
//! Opset 5 stores interior nodes and leaves in separate lists: a branch names its children by
//! position, with `nodes_trueleafs`/`nodes_falseleafs` saying whether the position is in the
//! leaf list. Trees start at `tree_roots`; nodes and leaves may be shared between parents (a
//! one-leaf tree is a node whose two branches name the same leaf). Each leaf adds one weight to
//! one target; there are no base values. `BRANCH_MEMBER` tests take their sets from
//! `membership_values`, one NaN-terminated run per member node in node order. Modes, splits and
//! weights are tensors in the input's element type.

use super::expand::{RawNode, RawTree, Test};
use super::proto::{Attrs, Elem, NodeProto};
use super::{MAX_EXPANDED_NODES, MAX_NODES, Part, PostTransform};
use crate::error::{Error, Result};
use std::collections::HashMap;

/// A child reference: an interior node or a leaf, by position in its list.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Ref {
    Node(usize),
    Leaf(usize),
}

pub fn from_v5(node: &NodeProto, elem: Elem) -> Result<Part> {
    let a = Attrs::new(node);
    let need_ints = |name: &str| -> Result<&[i64]> {
        a.ints(name)?
            .ok_or_else(|| Error::model(a.location(name), "required attribute is missing"))
    };
    let need_tensor = |name: &str| {
        a.tensor(name)?
            .ok_or_else(|| Error::model(a.location(name), "required attribute is missing"))
    };
    let roots = need_ints("tree_roots")?;
    let features = need_ints("nodes_featureids")?;
    let true_ids = need_ints("nodes_truenodeids")?;
    let true_leaf = need_ints("nodes_trueleafs")?;
    let false_ids = need_ints("nodes_falsenodeids")?;
    let false_leaf = need_ints("nodes_falseleafs")?;
    let tracks = a.ints("nodes_missing_value_tracks_true")?.unwrap_or(&[]);
    let modes = need_tensor("nodes_modes")?.integers(&a.location("nodes_modes"))?;
    let (splits, _) = need_tensor("nodes_splits")?.floats(&a.location("nodes_splits"))?;
    let members = match a.tensor("membership_values")? {
        Some(t) => t.floats(&a.location("membership_values"))?.0,
        None => Vec::new(),
    };
    let targets = need_ints("leaf_targetids")?;
    let (weights, _) = need_tensor("leaf_weights")?.floats(&a.location("leaf_weights"))?;
    let n_targets = a.int("n_targets")?.unwrap_or(0);
    let n = features.len();
    let nl = targets.len();
    if n > MAX_NODES || nl > MAX_NODES {
        return Err(Error::Unsupported(format!(
            "{} has {n} nodes and {nl} leaves; shaplab reads at most {MAX_NODES}",
            a.label
        )));
    }
    for (name, len) in [
        ("nodes_truenodeids", true_ids.len()),
        ("nodes_trueleafs", true_leaf.len()),
        ("nodes_falsenodeids", false_ids.len()),
        ("nodes_falseleafs", false_leaf.len()),
        ("nodes_modes", modes.len()),
        ("nodes_splits", splits.len()),
    ] {
        if len != n {
            return Err(Error::model(
                a.location(name),
                format!("{len} entries where nodes_featureids has {n}"),
            ));
        }
    }
    if weights.len() != nl {
        return Err(Error::model(
            a.location("leaf_weights"),
            format!("{} weights where leaf_targetids has {nl}", weights.len()),
        ));
    }
    let k = usize::try_from(n_targets)
        .ok()
        .filter(|&k| (1..=MAX_NODES).contains(&k))
        .ok_or_else(|| Error::model(a.location("n_targets"), format!("{n_targets} targets")))?;
    if roots.is_empty() {
        return Err(Error::model(
            a.location("tree_roots"),
            "the ensemble has no trees",
        ));
    }
    let scale = match a.int("aggregate_function")?.unwrap_or(1) {
        1 => 1.0,
        0 => 1.0 / roots.len() as f64,
        f @ (2 | 3) => {
            return Err(Error::Unsupported(format!(
                "{} aggregates its trees with {}: the score is one tree's leaf, not a sum over \
                 trees, and TreeSHAP explains sums",
                a.label,
                if f == 2 { "MIN" } else { "MAX" }
            )));
        }
        other => {
            return Err(Error::model(
                a.location("aggregate_function"),
                format!("unknown aggregate function {other}"),
            ));
        }
    };
    let post = match a.int("post_transform")?.unwrap_or(0) {
        0 => PostTransform::None,
        1 => PostTransform::Softmax,
        2 => PostTransform::Logistic,
        3 => PostTransform::SoftmaxZero,
        4 => PostTransform::Probit,
        other => {
            return Err(Error::model(
                a.location("post_transform"),
                format!("unknown post_transform {other}"),
            ));
        }
    };

    // Membership sets, one NaN-terminated run per BRANCH_MEMBER node, in node order.
    let mut runs = members.split(|v| v.is_nan());
    let mut tests = Vec::with_capacity(n);
    for (i, &m) in modes.iter().enumerate() {
        tests.push(match m {
            0 => Test::Leq,
            1 => Test::Lt,
            2 => Test::Gte,
            3 => Test::Gt,
            4 => Test::Eq,
            5 => Test::Neq,
            6 => {
                let mut set: Vec<f64> = runs
                    .next()
                    .unwrap_or(&[])
                    .iter()
                    .map(|&v| elem.round(v))
                    .collect();
                set.sort_by(f64::total_cmp);
                set.dedup();
                Test::Member(set)
            }
            other => {
                return Err(Error::model(
                    a.location("nodes_modes"),
                    format!("node {i} has unknown mode {other}"),
                ));
            }
        });
    }
    let child = |i: usize, id: i64, leaf: i64, which: &str| -> Result<Ref> {
        let (limit, what) = if leaf == 1 {
            (nl, "leaves")
        } else {
            (n, "nodes")
        };
        match usize::try_from(id) {
            Ok(c) if c < limit => Ok(if leaf == 1 {
                Ref::Leaf(c)
            } else {
                Ref::Node(c)
            }),
            _ => Err(Error::model(
                a.label.clone(),
                format!(
                    "node {i}'s {which} branch is {} {id}, but there are {limit} {what}",
                    &what[..what.len() - 1]
                ),
            )),
        }
    };

    let mut trees = Vec::with_capacity(roots.len());
    let mut budget = MAX_EXPANDED_NODES;
    for (t, &root) in roots.iter().enumerate() {
        let root = match usize::try_from(root) {
            Ok(r) if r < n => Ref::Node(r),
            _ => {
                return Err(Error::model(
                    a.location("tree_roots"),
                    format!("tree {t} starts at node {root}, but there are {n} nodes"),
                ));
            }
        };
        // The nodes this tree reaches, numbered locally in discovery order (root first).
        let mut index: HashMap<Ref, usize> = HashMap::from([(root, 0)]);
        let mut order = vec![root];
        let mut nodes = Vec::new();
        let mut next = 0;
        while next < order.len() {
            if budget == 0 {
                return Err(Error::Unsupported(format!(
                    "{} reaches more than {MAX_EXPANDED_NODES} nodes over its trees",
                    a.label
                )));
            }
            budget -= 1;
            let r = order[next];
            next += 1;
            // Leaves may be shared (a one-leaf tree names its leaf twice); an interior node
            // reached twice is refused, as onnxruntime refuses it.
            let mut local = |c: Ref| -> Result<usize> {
                if let (Ref::Node(i), Some(_)) = (c, index.get(&c)) {
                    return Err(Error::model(
                        format!("{}, tree {t}", a.label),
                        format!("node {i} is reached twice: a cycle or a shared interior node"),
                    ));
                }
                let len = order.len();
                Ok(*index.entry(c).or_insert_with(|| {
                    order.push(c);
                    len
                }))
            };
            nodes.push(match r {
                Ref::Leaf(j) => {
                    let target = usize::try_from(targets[j])
                        .ok()
                        .filter(|&x| x < k)
                        .ok_or_else(|| {
                            Error::model(
                                a.location("leaf_targetids"),
                                format!("leaf {j} is for target {}, but there are {k}", targets[j]),
                            )
                        })?;
                    RawNode::Leaf {
                        weights: vec![(target, elem.round(weights[j]) * scale)],
                    }
                }
                Ref::Node(i) => {
                    let yes = local(child(i, true_ids[i], true_leaf[i], "true")?)?;
                    let no = local(child(i, false_ids[i], false_leaf[i], "false")?)?;
                    let feature = usize::try_from(features[i]).map_err(|_| {
                        Error::model(
                            a.label.clone(),
                            format!("node {i} splits on feature {}", features[i]),
                        )
                    })?;
                    let threshold = elem.round(splits[i]);
                    let member = matches!(tests[i], Test::Member(_));
                    if threshold.is_nan() && !member {
                        return Err(Error::model(
                            a.label.clone(),
                            format!("node {i} has a NaN split"),
                        ));
                    }
                    RawNode::Branch {
                        feature,
                        test: tests[i].clone(),
                        threshold: if member { 0.0 } else { threshold },
                        nan_true: tracks.get(i) == Some(&1),
                        yes,
                        no,
                    }
                }
            });
        }
        let ids = order
            .iter()
            .map(|r| match r {
                Ref::Node(i) | Ref::Leaf(i) => *i as i64,
            })
            .collect();
        trees.push(RawTree {
            label: format!("tree {t}"),
            nodes,
            ids,
        });
    }
    let mut notes = Vec::new();
    if scale != 1.0 {
        notes.push(format!(
            "AVERAGE aggregation: leaf values divided by the {} trees",
            roots.len()
        ));
    }
    Ok(Part {
        op: node.op_type.clone(),
        trees,
        num_outputs: k,
        base: vec![0.0; k],
        post,
        single_target: k == 1,
        notes,
    })
}
