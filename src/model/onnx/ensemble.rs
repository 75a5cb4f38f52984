//! `TreeEnsembleRegressor` / `TreeEnsembleClassifier` (ai.onnx.ml opsets 1 and 3) → [`Part`].
//!
//! The attributes are parallel lists: `nodes_*` describe every node of every tree, `target_*` /
//! `class_*` the weights leaves add to each output. Every cross-reference is checked here (ids
//! that name no node, children in another tree, leaves without weights), because onnxruntime's
//! own checks are what make a file valid and a shaplab tree must never index out of range.
//!
//! The raw score is what onnxruntime adds up before `post_transform`, replicated with its quirks
//! (checked against onnxruntime 1.32):
//! - The root of a tree is the first listed node of its tree id.
//! - `AVERAGE` divides the leaf sum (not the base values) by the node's tree count.
//! - A single-target regressor ignores `post_transform` unless it is PROBIT.
//! - A binary classifier whose weights all name one class (skl2onnx and onnxmltools write
//!   class 0 for GradientBoosting, RandomForest, XGBoost and LightGBM binaries) has one score
//!   column, which is the positive class's: onnxruntime returns `[1 − p, p]` or `[−s, s]` or
//!   `[σ(−s), σ(s)]` from it. Weights naming only class 1 ignore a single base value. Layouts
//!   where onnxruntime drops weights or base values outright are refused.

use super::expand::{RawNode, RawTree, Test};
use super::proto::{Attrs, Elem, NodeProto};
use super::{MAX_NODES, Part, PostTransform};
use crate::error::{Error, Result};
use std::collections::{BTreeSet, HashMap};

/// How weight ids (target or class) map to the explained outputs.
struct Layout {
    num_outputs: usize,
    /// `map[id]`: the output of weight id `id`.
    map: Vec<usize>,
    base: Vec<f64>,
    /// A single-target regressor: onnxruntime applies only PROBIT to it.
    single_target: bool,
    /// Every leaf must carry a weight for every class (binary classifiers with two score
    /// columns: onnxruntime switches layouts per row when one class gets no weight).
    every_class_on_every_leaf: bool,
    notes: Vec<String>,
}

fn parse_mode(s: &str) -> Option<Option<Test>> {
    Some(Some(match s {
        "LEAF" => return Some(None),
        "BRANCH_LEQ" => Test::Leq,
        "BRANCH_LT" => Test::Lt,
        "BRANCH_GTE" => Test::Gte,
        "BRANCH_GT" => Test::Gt,
        "BRANCH_EQ" => Test::Eq,
        "BRANCH_NEQ" => Test::Neq,
        _ => return None,
    }))
}

pub fn from_v3(node: &NodeProto, elem: Elem) -> Result<Part> {
    let a = Attrs::new(node);
    let classifier = node.op_type == "TreeEnsembleClassifier";
    let need = |name: &str| -> Result<&[i64]> {
        a.ints(name)?
            .ok_or_else(|| Error::model(a.location(name), "required attribute is missing"))
    };
    let tree_ids = need("nodes_treeids")?;
    let node_ids = need("nodes_nodeids")?;
    let features = need("nodes_featureids")?;
    let true_ids = need("nodes_truenodeids")?;
    let false_ids = need("nodes_falsenodeids")?;
    let modes = a
        .strings("nodes_modes")?
        .ok_or_else(|| Error::model(a.location("nodes_modes"), "required attribute is missing"))?;
    let values = a.values("nodes_values", elem)?.unwrap_or_default();
    let tracks = a.ints("nodes_missing_value_tracks_true")?.unwrap_or(&[]);
    let n = tree_ids.len();
    if n == 0 {
        return Err(Error::model(a.label.clone(), "the ensemble has no nodes"));
    }
    if n > MAX_NODES {
        return Err(Error::Unsupported(format!(
            "{} has {n} nodes; shaplab reads at most {MAX_NODES}",
            a.label
        )));
    }
    for (name, len) in [
        ("nodes_nodeids", node_ids.len()),
        ("nodes_featureids", features.len()),
        ("nodes_truenodeids", true_ids.len()),
        ("nodes_falsenodeids", false_ids.len()),
        ("nodes_modes", modes.len()),
        ("nodes_values", values.len()),
    ] {
        if len != n {
            return Err(Error::model(
                a.location(name),
                format!("{len} entries where nodes_treeids has {n}"),
            ));
        }
    }

    // Trees are runs of one tree id; each (tree, node) id pair names one node.
    let mut runs: Vec<(i64, usize)> = Vec::new(); // (tree id, first node position)
    let mut seen_trees: BTreeSet<i64> = BTreeSet::new();
    let mut local: HashMap<(i64, i64), (usize, usize)> = HashMap::with_capacity(n);
    let mut pos_in_tree = vec![0usize; n];
    for i in 0..n {
        let t = tree_ids[i];
        if runs.last().map(|r| r.0) != Some(t) {
            if !seen_trees.insert(t) {
                return Err(Error::model(
                    a.location("nodes_treeids"),
                    format!("the nodes of tree {t} are not listed together"),
                ));
            }
            runs.push((t, i));
        }
        let run = runs.len() - 1;
        pos_in_tree[i] = i - runs[run].1;
        if local
            .insert((t, node_ids[i]), (run, pos_in_tree[i]))
            .is_some()
        {
            return Err(Error::model(
                a.location("nodes_nodeids"),
                format!("node {} of tree {t} is listed twice", node_ids[i]),
            ));
        }
    }
    let num_trees = runs.len();

    let prefix = if classifier { "class" } else { "target" };
    let w_ids = a.ints(&format!("{prefix}_ids"))?.unwrap_or(&[]);
    let w_nodes = a.ints(&format!("{prefix}_nodeids"))?.unwrap_or(&[]);
    let w_trees = a.ints(&format!("{prefix}_treeids"))?.unwrap_or(&[]);
    let w_values = a
        .values(&format!("{prefix}_weights"), elem)?
        .unwrap_or_default();
    let nw = w_ids.len();
    for (name, len) in [
        ("nodeids", w_nodes.len()),
        ("treeids", w_trees.len()),
        ("weights", w_values.len()),
    ] {
        if len != nw {
            return Err(Error::model(
                a.location(&format!("{prefix}_{name}")),
                format!("{len} entries where {prefix}_ids has {nw}"),
            ));
        }
    }
    let layout = layout(&a, classifier, elem, w_ids)?;
    let aggregate = if classifier {
        "SUM".to_string()
    } else {
        a.string("aggregate_function")?
            .unwrap_or_else(|| "SUM".into())
    };
    let scale = match aggregate.as_str() {
        "SUM" => 1.0,
        "AVERAGE" => 1.0 / num_trees as f64,
        "MIN" | "MAX" => {
            return Err(Error::Unsupported(format!(
                "{} aggregates its trees with {aggregate}: the score is one tree's leaf, not a \
                 sum over trees, and TreeSHAP explains sums",
                a.label
            )));
        }
        other => {
            return Err(Error::model(
                a.location("aggregate_function"),
                format!("unknown aggregate function {other:?}"),
            ));
        }
    };
    let post = PostTransform::parse(&a.string("post_transform")?.unwrap_or_else(|| "NONE".into()))
        .ok_or_else(|| Error::model(a.location("post_transform"), "unknown post_transform"))?;

    // Nodes, with children resolved to local indices of their own tree.
    let mut trees: Vec<RawTree> = runs
        .iter()
        .enumerate()
        .map(|(r, &(t, start))| {
            let end = runs.get(r + 1).map_or(n, |x| x.1);
            RawTree {
                label: format!("tree {t}"),
                nodes: Vec::with_capacity(end - start),
                ids: node_ids[start..end].to_vec(),
            }
        })
        .collect();
    let mut leaf_weights: Vec<Vec<Vec<(usize, f64)>>> = trees
        .iter()
        .map(|t| vec![Vec::new(); t.ids.len()])
        .collect();
    let mut run = 0;
    for i in 0..n {
        if run + 1 < num_trees && runs[run + 1].1 == i {
            run += 1;
        }
        let (t, id) = (tree_ids[i], node_ids[i]);
        let mode = parse_mode(&modes[i]).ok_or_else(|| {
            Error::model(
                a.location("nodes_modes"),
                format!("node {id} of tree {t} has unknown mode {:?}", modes[i]),
            )
        })?;
        let raw = match mode {
            None => RawNode::Leaf {
                weights: Vec::new(),
            },
            Some(test) => {
                let child = |target: i64, which: &str| -> Result<usize> {
                    match local.get(&(t, target)) {
                        Some(&(_, c)) if c == pos_in_tree[i] => Err(Error::model(
                            format!("tree {t}"),
                            format!("node {id}'s {which} branch is the node itself (a cycle)"),
                        )),
                        Some(&(_, c)) => Ok(c),
                        None => Err(Error::model(
                            format!("tree {t}"),
                            format!(
                                "node {id}'s {which} branch is node {target}, which tree {t} does not have"
                            ),
                        )),
                    }
                };
                let feature = usize::try_from(features[i]).map_err(|_| {
                    Error::model(
                        format!("tree {t}"),
                        format!("node {id} splits on feature {}", features[i]),
                    )
                })?;
                let threshold = elem.round(values[i]);
                if threshold.is_nan() {
                    return Err(Error::model(
                        format!("tree {t}"),
                        format!("node {id} has a NaN threshold"),
                    ));
                }
                RawNode::Branch {
                    feature,
                    test,
                    threshold,
                    nan_true: tracks.get(i) == Some(&1),
                    yes: child(true_ids[i], "true")?,
                    no: child(false_ids[i], "false")?,
                }
            }
        };
        trees[run].nodes.push(raw);
    }

    // Leaf weights, mapped to outputs and scaled for AVERAGE.
    let mut on_branches = 0usize;
    for j in 0..nw {
        let (t, id) = (w_trees[j], w_nodes[j]);
        let &(r, c) = local.get(&(t, id)).ok_or_else(|| {
            Error::model(
                a.location(&format!("{prefix}_nodeids")),
                format!("a weight names node {id} of tree {t}, which does not exist"),
            )
        })?;
        if !matches!(trees[r].nodes[c], RawNode::Leaf { .. }) {
            on_branches += 1; // onnxruntime ignores these (old onnxmltools wrote some)
            continue;
        }
        let out = layout.map[w_ids[j] as usize];
        let w = &mut leaf_weights[r][c];
        match w.iter_mut().find(|x| x.0 == out) {
            Some(_) if layout.single_target => {
                return Err(Error::model(
                    format!("tree {t}"),
                    format!(
                        "leaf {id} has two weights for the single target (onnxruntime keeps only one)"
                    ),
                ));
            }
            Some(x) => x.1 += w_values[j] * scale,
            None => w.push((out, w_values[j] * scale)),
        }
    }
    for (tree, weights) in trees.iter_mut().zip(leaf_weights) {
        for ((node, w), id) in tree.nodes.iter_mut().zip(weights).zip(&tree.ids) {
            if let RawNode::Leaf { weights } = node {
                if w.is_empty() {
                    return Err(Error::model(
                        tree.label.clone(),
                        format!("leaf {id} has no weight (onnxruntime refuses such a model too)"),
                    ));
                }
                if layout.every_class_on_every_leaf && w.len() < layout.num_outputs {
                    return Err(Error::Unsupported(format!(
                        "{}: leaf {id} of {} has no weight for one of the two classes, and \
                         onnxruntime then switches that row to a one-column score",
                        a.label, tree.label
                    )));
                }
                *weights = w;
            }
        }
    }
    let mut notes = layout.notes;
    if on_branches > 0 {
        notes.push(format!(
            "{on_branches} weights attached to split nodes are ignored, as onnxruntime ignores them"
        ));
    }
    if aggregate == "AVERAGE" {
        notes.push(format!(
            "AVERAGE aggregation: leaf values divided by the {num_trees} trees"
        ));
    }
    Ok(Part {
        op: node.op_type.clone(),
        trees,
        num_outputs: layout.num_outputs,
        base: layout.base,
        post,
        single_target: layout.single_target,
        notes,
    })
}

/// Outputs, base values and the id → output map, by onnxruntime's rules.
fn layout(a: &Attrs, classifier: bool, elem: Elem, ids: &[i64]) -> Result<Layout> {
    let base = a.values("base_values", elem)?.unwrap_or_default();
    let count = if classifier {
        let ints = a.ints("classlabels_int64s")?.map_or(0, |v| v.len());
        let strings = a.strings("classlabels_strings")?.map_or(0, |v| v.len());
        ints.max(strings)
    } else {
        let t = a.int("n_targets")?.unwrap_or(0);
        usize::try_from(t).unwrap_or(0)
    };
    let what = if classifier {
        "class labels"
    } else {
        "n_targets"
    };
    if count == 0 || count > MAX_NODES {
        return Err(Error::model(a.location(what), format!("{count} outputs")));
    }
    if let Some(&bad) = ids.iter().find(|&&i| i < 0 || i as usize >= count) {
        return Err(Error::model(
            a.label.clone(),
            format!("a weight is for output {bad}, but the node has {count}"),
        ));
    }
    let base_ok =
        base.is_empty() || base.len() == count || (classifier && count == 2 && base.len() == 1);
    if !base_ok {
        return Err(Error::model(
            a.location("base_values"),
            format!(
                "{} base values for {count} outputs (onnxruntime refuses this)",
                base.len()
            ),
        ));
    }
    let identity = |notes: Vec<String>, every: bool| Layout {
        num_outputs: count,
        map: (0..count).collect(),
        base: if base.is_empty() {
            vec![0.0; count]
        } else {
            base.clone()
        },
        single_target: !classifier && count == 1,
        every_class_on_every_leaf: every,
        notes,
    };
    if !classifier || count > 2 {
        return Ok(identity(Vec::new(), false));
    }
    if count == 1 {
        return Err(Error::model(
            a.location(what),
            "a classifier with one class",
        ));
    }
    let present: BTreeSet<i64> = ids.iter().copied().collect();
    let one_column = |class: usize, base: f64, extra: Option<String>| {
        let mut notes = vec![format!(
            "binary classifier with one score column (weights for class {class} only): shaplab \
             explains that score, which onnxruntime turns into the positive class's probability"
        )];
        notes.extend(extra);
        Layout {
            num_outputs: 1,
            map: vec![0, 0],
            base: vec![base],
            single_target: false,
            every_class_on_every_leaf: false,
            notes,
        }
    };
    let b0 = base.first().copied().unwrap_or(0.0);
    match (present.iter().copied().collect::<Vec<_>>().as_slice(), base.len()) {
        ([0], 0 | 1) => Ok(one_column(0, b0, None)),
        ([1], 0) => Ok(one_column(1, 0.0, None)),
        ([1], 1) => Ok(one_column(
            1,
            0.0,
            Some("its single base value is ignored, as onnxruntime ignores it when only class 1 has weights".into()),
        )),
        ([0, 1], 0) => Ok(identity(Vec::new(), true)),
        (classes, b) => Err(Error::Unsupported(format!(
            "{}: a binary classifier with weights for classes {classes:?} and {b} base values; \
             onnxruntime's scores for this layout drop some weights or base values, so they are \
             not the sum of the trees and shaplab does not explain them",
            a.label
        ))),
    }
}
