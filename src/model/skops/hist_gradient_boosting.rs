//! HistGradientBoostingRegressor / HistGradientBoostingClassifier.
//!
//! `_predictors[iteration][k]` is a TreePredictor whose `nodes` are records (`value` with the
//! learning rate applied, `count` = cover, `feature_idx`, `num_threshold`,
//! `missing_go_to_left`, `left`, `right`, `is_leaf`, `is_categorical`, `bitset_idx`, …; itemsize
//! 56 in scikit-learn 1.9, read by field name). The raw margin is `_baseline_prediction[k]`
//! plus the leaves.
//!
//! Routing, from `_predictor.pyx` `_predict_one_from_raw_data`: X is float64 (X_DTYPE) and a
//! numeric node goes left iff `x <= num_threshold` in f64, NaN to `missing_go_to_left` — the
//! same test as `Split::Lgb(MissingType::NaN)`. A categorical node sends NaN, negative and
//! unknown codes to the missing side, codes in `raw_left_cat_bitsets[bitset_idx]` left, and
//! other known codes right. Both cases fit existing split kinds exactly:
//! - missing side right: `LgbCategory` with the left set (in the set → left, else right);
//! - missing side left: `XgbCategory` with the set of known codes *not* in the left set (in
//!   it → right, NaN → default left, anything else → left).

use super::common;
use super::hgb_layout::{Layout, layout};
use super::schema::Node;
use crate::error::{Error, Result};
use crate::model::tree::{MissingType, Split, TreeBuilder};
use crate::model::{Ensemble, Link, Tree};

pub fn load(root: &Node, class: &str) -> Result<Ensemble> {
    let classifier = class.ends_with("Classifier");
    let iterations = root.req("_predictors")?.items()?;
    if iterations.is_empty() {
        return Err(root.err("the model has no iterations"));
    }
    let grid: Vec<Vec<Node>> = iterations.iter().map(Node::items).collect::<Result<_>>()?;
    let k = grid[0].len();
    if k == 0 || grid.iter().any(|row| row.len() != k) {
        return Err(root.err("_predictors is not an (iterations, K) grid of trees"));
    }
    let loss = root.req("loss")?.as_str()?;
    let classes = if classifier {
        Some(common::classes(root)?)
    } else {
        None
    };
    let link = match (&classes, loss.as_str()) {
        (Some(c), "log_loss" | "auto" | "binary_crossentropy" | "categorical_crossentropy") => {
            let want = if c.len() == 2 { 1 } else { c.len() };
            if k != want {
                return Err(root.err(format!(
                    "{} classes need {want} trees per iteration, found {k}",
                    c.len()
                )));
            }
            if k == 1 {
                Link::Logistic { scale: 1.0 }
            } else {
                Link::Softmax
            }
        }
        (
            None,
            "squared_error"
            | "least_squares"
            | "absolute_error"
            | "least_absolute_deviation"
            | "quantile",
        ) => Link::Identity,
        (None, "poisson" | "gamma") => Link::Log,
        (_, other) => {
            return Err(Error::Unsupported(format!(
                "{class} loss {other:?} is not supported"
            )));
        }
    };
    if !classifier && k != 1 {
        return Err(root.err(format!("a regressor with {k} trees per iteration")));
    }
    let baseline = root.req("_baseline_prediction")?;
    let base_margin = match baseline.loader() {
        "NdArrayNode" => baseline.array()?.f64s()?,
        _ => vec![baseline.as_f64()?],
    };
    if base_margin.len() != k {
        return Err(baseline.err(format!(
            "{} baseline values for {k} outputs",
            base_margin.len()
        )));
    }
    let num_features = common::num_features(root, 0)?;
    let layout = layout(root, num_features)?;
    let mut trees = Vec::with_capacity(iterations.len() * k);
    let mut tree_output = Vec::with_capacity(iterations.len() * k);
    for row in &grid {
        for (j, p) in row.iter().enumerate() {
            trees.push(read_predictor(p, trees.len(), num_features, &layout)?);
            tree_output.push(j);
        }
    }
    let mut ensemble = common::boosted_ensemble(
        root,
        class,
        num_features,
        base_margin,
        link,
        trees,
        tree_output,
        classes.as_deref(),
    )?;
    if layout.categories.iter().any(Option::is_some) {
        ensemble.notes.push(
            "categorical columns are read by category name and coded as the model's \
             OrdinalEncoder codes them; an unknown category counts as missing"
                .into(),
        );
    }
    ensemble.categories = layout.categories;
    Ok(ensemble)
}

fn read_predictor(p: &Node, index: usize, num_features: usize, layout: &Layout) -> Result<Tree> {
    let nodes = p.req("nodes")?.array()?;
    let n = nodes.len();
    let threshold_field = if nodes.has_field("num_threshold") {
        "num_threshold"
    } else {
        "threshold"
    };
    let value = nodes.field_f64s("value")?;
    let cover = nodes.field_f64s("count")?;
    let feature_idx = nodes.field_i64s("feature_idx")?;
    let threshold = nodes.field_f64s(threshold_field)?;
    let missing_left = nodes.field_i64s("missing_go_to_left")?;
    let left = nodes.field_i64s("left")?;
    let right = nodes.field_i64s("right")?;
    let is_leaf = nodes.field_i64s("is_leaf")?;
    let is_cat = if nodes.has_field("is_categorical") {
        nodes.field_i64s("is_categorical")?
    } else {
        vec![0; n]
    };
    let mut b = TreeBuilder::with_nodes(n, Split::Lgb(MissingType::NaN));
    b.value = value;
    b.cover = cover;
    // Only models with categorical splits store bitsets worth reading.
    let (ids, words): (Vec<i64>, Vec<u32>) = if is_cat.iter().any(|&c| c != 0) {
        let raw = p.req("raw_left_cat_bitsets")?.array()?;
        if raw.shape.len() != 2 || raw.shape[1] != 8 {
            return Err(p.err(format!("raw_left_cat_bitsets has shape {:?}", raw.shape)));
        }
        let words = raw.i64s()?.into_iter().map(|w| w as u32).collect();
        (nodes.field_i64s("bitset_idx")?, words)
    } else {
        (Vec::new(), Vec::new())
    };
    for i in 0..n {
        if is_leaf[i] != 0 {
            continue; // with_nodes made it a leaf
        }
        b.left[i] = left[i];
        b.right[i] = right[i];
        b.default_left[i] = missing_left[i] != 0;
        b.threshold[i] = threshold[i];
        let f = usize::try_from(feature_idx[i])
            .ok()
            .filter(|&f| f < layout.original.len())
            .ok_or_else(|| {
                p.err(format!(
                    "node {i}: feature_idx {} is out of range",
                    feature_idx[i]
                ))
            })?;
        b.feature[i] = layout.original[f] as i64;
        if is_cat[i] == 0 {
            continue;
        }
        let row = usize::try_from(ids[i])
            .ok()
            .filter(|&r| r < words.len() / 8)
            .ok_or_else(|| p.err(format!("node {i}: bitset_idx {} is out of range", ids[i])))?;
        let left_set = words[row * 8..row * 8 + 8].to_vec();
        let known = layout.known[f].as_ref().ok_or_else(|| {
            p.err(format!(
                "node {i} splits feature {f} as categorical, but it is numeric"
            ))
        })?;
        b.threshold[i] = 0.0;
        if b.default_left[i] {
            let right_set = (0..8)
                .map(|w| known.get(w).copied().unwrap_or(0) & !left_set[w])
                .collect();
            b.split[i] = Split::XgbCategory;
            b.set_categories(i, right_set);
        } else {
            b.split[i] = Split::LgbCategory;
            b.set_categories(i, left_set);
        }
    }
    b.build(index, num_features)
}
