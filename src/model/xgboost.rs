//! XGBoost `save_model` loader (JSON and UBJSON, xgboost 2.x/3.x, gbtree and dart).
//!
//! Both encodings hold the same document; UBJSON just types its arrays. Numbers XGBoost stores
//! as float32 (thresholds, leaves, hessians, base_score) are rounded back to f32 here, because
//! XGBoost routes and sums in f32 and a threshold parsed as f64 from a decimal string could
//! differ from the one XGBoost compares against.

use super::tree::{Split, TreeBuilder, bitset_of};
use super::value::{At, Value};
use super::{Categories, Ensemble, Link, ModelFormat, ubjson};
use crate::error::{Error, Result};

/// A parsed JSON document with a `learner`.
pub fn from_value(doc: serde_json::Value) -> Result<Ensemble> {
    from_document(&Value::from(doc), ModelFormat::XgboostJson)
}

pub fn from_ubjson(bytes: &[u8]) -> Result<Ensemble> {
    from_document(&ubjson::parse(bytes)?, ModelFormat::XgboostUbjson)
}

fn f32s(at: &At) -> Result<Vec<f64>> {
    Ok(at.as_f64s()?.into_iter().map(|x| x as f32 as f64).collect())
}

fn from_document(doc: &Value, format: ModelFormat) -> Result<Ensemble> {
    let root = At::root(doc);
    let learner = root.req("learner")?;
    let params = learner.req("learner_model_param")?;
    let num_features = params.req("num_feature")?.as_i64()?;
    if num_features <= 0 {
        return Err(params.err(format!("num_feature is {num_features}")));
    }
    let num_features = num_features as usize;
    let num_class = params
        .get("num_class")
        .map(|v| v.as_i64())
        .transpose()?
        .unwrap_or(0);
    let num_target = params
        .get("num_target")
        .map(|v| v.as_i64())
        .transpose()?
        .unwrap_or(1);
    let objective = learner.req("objective")?.req("name")?.as_str()?.to_string();
    let (link, margin_of): (Link, fn(f32) -> f32) = match objective.as_str() {
        "binary:logistic" | "reg:logistic" => {
            (Link::Logistic { scale: 1.0 }, |p| -(1.0 / p - 1.0).ln())
        }
        "count:poisson" | "reg:gamma" | "reg:tweedie" | "survival:cox" => (Link::Log, |p| p.ln()),
        "multi:softprob" | "multi:softmax" => (Link::Softmax, |p| p),
        "reg:squarederror"
        | "reg:linear"
        | "reg:squaredlogerror"
        | "reg:pseudohubererror"
        | "reg:absoluteerror"
        | "reg:quantileerror"
        | "binary:logitraw"
        | "binary:hinge"
        | "rank:pairwise"
        | "rank:ndcg"
        | "rank:map" => (Link::Identity, |p| p),
        other => {
            return Err(Error::Unsupported(format!(
                "XGBoost objective {other:?} is not supported"
            )));
        }
    };
    let num_outputs = if link == Link::Softmax {
        num_class.max(1)
    } else {
        num_target.max(1)
    } as usize;
    if num_outputs > 1 << 16 {
        return Err(params.err(format!("{num_outputs} outputs is implausible")));
    }

    let base = parse_base_score(&params.req("base_score")?)?;
    let base: Vec<f32> = match base.len() {
        1 => vec![base[0]; num_outputs],
        n if n == num_outputs => base,
        n => {
            return Err(params.err(format!(
                "base_score has {n} values for {num_outputs} outputs"
            )));
        }
    };
    let base_margin: Vec<f64> = base.iter().map(|&b| margin_of(b) as f64).collect();

    let booster = learner.req("gradient_booster")?;
    let (model, weights) = match booster.req("name")?.as_str()? {
        "gbtree" => (booster.req("model")?, None),
        "dart" => (
            booster.req("gbtree")?.req("model")?,
            Some(f32s(&booster.req("weight_drop")?)?),
        ),
        other => {
            return Err(Error::Unsupported(format!(
                "XGBoost booster {other:?} (only gbtree and dart have trees)"
            )));
        }
    };
    let trees_at = model.req("trees")?;
    let n_trees = trees_at.as_array()?.len();
    let tree_info = model.req("tree_info")?.as_i64s()?;
    if tree_info.len() != n_trees {
        return Err(model.err(format!(
            "tree_info has {} entries for {n_trees} trees",
            tree_info.len()
        )));
    }
    if let Some(w) = &weights
        && w.len() != n_trees
    {
        return Err(booster.err(format!(
            "weight_drop has {} entries for {n_trees} trees",
            w.len()
        )));
    }
    let mut trees = Vec::with_capacity(n_trees);
    let mut tree_output = Vec::with_capacity(n_trees);
    for i in 0..n_trees {
        let t = trees_at.index(i)?;
        let mut tree = read_tree(&t, i, num_features)?;
        if let Some(w) = &weights {
            tree.scale(w[i]);
        }
        trees.push(tree);
        let o = tree_info[i];
        if o < 0 {
            return Err(model.err(format!("tree_info[{i}] is negative")));
        }
        tree_output.push(o as usize);
    }

    let feature_names = match learner.get("feature_names") {
        Some(v) => {
            let names = v.as_strs()?;
            if names.is_empty() { None } else { Some(names) }
        }
        None => None,
    };
    let mut ensemble = Ensemble::new(
        format,
        objective,
        num_features,
        num_outputs,
        feature_names,
        base_margin,
        link,
        trees,
        tree_output,
    )?;
    ensemble.categories = read_categories(&learner, &model, num_features)?;
    if let Some(best) = learner
        .get("attributes")
        .and_then(|a| a.get("best_iteration"))
    {
        let best = best
            .as_i64()
            .map(|b| b.to_string())
            .unwrap_or_else(|_| "?".into());
        ensemble.notes.push(format!(
            "all {n_trees} trees are explained, as Booster.predict does (the model's best_iteration {best} is ignored)"
        ));
    }
    Ok(ensemble)
}

/// `"5E-1"` (≤ 3.0), `"[6.27E-1]"` or `"[a,b,c]"` (≥ 3.1), or a bare number.
fn parse_base_score(at: &At) -> Result<Vec<f32>> {
    let text = match at.value {
        Value::Str(s) => s.clone(),
        Value::Float(x) => return Ok(vec![*x as f32]),
        Value::Int(x) => return Ok(vec![*x as f32]),
        _ => return Err(at.err("expected a number or a string")),
    };
    let inner = text.trim().trim_start_matches('[').trim_end_matches(']');
    inner
        .split(',')
        .map(|s| {
            let v: f32 = s.trim().parse().map_err(|_| {
                at.err(format!(
                    "base_score {text:?} is not a number or a list of numbers"
                ))
            })?;
            if v.is_finite() {
                Ok(v)
            } else {
                Err(at.err(format!("base_score {text:?} is not finite")))
            }
        })
        .collect()
}

fn read_tree(t: &At, index: usize, num_features: usize) -> Result<super::Tree> {
    let leaf_vector = t.get("tree_param").and_then(|p| p.get("size_leaf_vector"));
    if let Some(s) = leaf_vector
        && s.as_i64()? > 1
    {
        return Err(Error::Unsupported(format!(
            "tree {index} is a multi-target (vector-leaf) tree; only scalar leaves are supported"
        )));
    }
    let left = t.req("left_children")?.as_i64s()?;
    let right = t.req("right_children")?.as_i64s()?;
    let feature = t.req("split_indices")?.as_i64s()?;
    let cond = f32s(&t.req("split_conditions")?)?;
    let default_left: Vec<bool> = t
        .req("default_left")?
        .as_i64s()?
        .into_iter()
        .map(|d| d != 0)
        .collect();
    let cover = f32s(&t.req("sum_hessian")?)?;
    let n = left.len();
    let mut b = TreeBuilder {
        left,
        right,
        feature,
        threshold: cond.clone(),
        default_left,
        split: vec![Split::LessF32; n],
        sets: Vec::new(),
        cover,
        value: cond,
    };
    if let Some(st) = t.get("split_type") {
        let types = st.as_i64s()?;
        if types.iter().any(|&s| s != 0) {
            read_categorical_nodes(t, &types, &mut b)?;
        }
    }
    b.build(index, num_features)
}

/// Categorical nodes (`split_type` 1): their category sets, CSR-encoded in `categories`
/// (`categories_nodes` ascending, `categories_segments` offsets, `categories_sizes` lengths).
/// The threshold of such a node is a dummy; a code in the set goes right.
fn read_categorical_nodes(t: &At, types: &[i64], b: &mut TreeBuilder) -> Result<()> {
    let n = b.left.len();
    if types.len() != n {
        return Err(t.err(format!(
            "split_type has {} entries for {n} nodes",
            types.len()
        )));
    }
    let nodes = t.req("categories_nodes")?.as_i64s()?;
    let segments = t.req("categories_segments")?.as_i64s()?;
    let sizes = t.req("categories_sizes")?.as_i64s()?;
    let codes = t.req("categories")?.as_i64s()?;
    if segments.len() != nodes.len() || sizes.len() != nodes.len() {
        return Err(t.err(format!(
            "categories_nodes has {} entries but categories_segments {} and categories_sizes {}",
            nodes.len(),
            segments.len(),
            sizes.len()
        )));
    }
    for (node, &kind) in types.iter().enumerate() {
        match kind {
            0 => {}
            1 => b.split[node] = Split::XgbCategory,
            other => return Err(t.err(format!("node {node} has split_type {other}"))),
        }
    }
    for ((&node, &start), &size) in nodes.iter().zip(&segments).zip(&sizes) {
        let in_range = usize::try_from(node).ok().filter(|&i| i < n);
        let Some(node) = in_range.filter(|&i| types[i] == 1) else {
            return Err(t.err(format!(
                "categories_nodes names node {node}, which is not a categorical split"
            )));
        };
        let end = start.checked_add(size);
        let set = match (
            usize::try_from(start),
            end.and_then(|e| usize::try_from(e).ok()),
        ) {
            (Ok(s), Some(e)) if s <= e && e <= codes.len() => &codes[s..e],
            _ => {
                return Err(t.err(format!(
                    "node {node}: category segment {start}+{size} is outside the {} categories",
                    codes.len()
                )));
            }
        };
        let words = bitset_of(set.iter().copied()).map_err(|c| {
            t.err(format!(
                "node {node}: category code {c} is outside 0..{}",
                super::MAX_CATEGORY
            ))
        })?;
        b.set_categories(node, words);
        // A categorical node's split_condition is a dummy (1e-45); keep it out of the way.
        b.threshold[node] = 0.0;
    }
    Ok(())
}

/// The categories of each feature: names from the 3.1+ `cats` block (the code is the position
/// in the feature's list), codes only for features marked `c` in `feature_types` without one.
fn read_categories(
    learner: &At,
    model: &At,
    num_features: usize,
) -> Result<Vec<Option<Categories>>> {
    let unseen_code = |names: usize| Categories {
        names: Vec::new(),
        unseen: names as f64,
        unseen_rule: "routed as a category outside every split's set (left at each categorical \
                      split, as XGBoost routes a code it was not trained on); XGBoost's own pandas \
                      path would silently read such a word as the nearest known word below it, or refuse",
        hashed: None,
    };
    let mut out: Vec<Option<Categories>> = vec![None; num_features];
    if let Some(types) = learner.get("feature_types") {
        let types = types.as_strs()?;
        for (i, ty) in types.iter().enumerate().take(num_features) {
            if ty == "c" {
                out[i] = Some(unseen_code(0));
            }
        }
    }
    let Some(cats) = model.get("cats") else {
        return Ok(out);
    };
    let enc = cats.req("enc")?;
    let count = enc.as_array()?.len();
    // A model without categorical features stores an empty block.
    if count == 0 {
        return Ok(out);
    }
    if count != num_features {
        return Err(cats.err(format!(
            "cats has {count} features, the model has {num_features}"
        )));
    }
    for (i, slot) in out.iter_mut().enumerate() {
        let e = enc.index(i)?;
        let names = category_names(&e)?;
        if names.is_empty() {
            continue;
        }
        let mut c = unseen_code(names.len());
        c.names = names;
        *slot = Some(c);
    }
    Ok(out)
}

/// One feature's `enc` entry: strings as UTF-8 bytes split by `offsets`, or plain numbers.
fn category_names(e: &At) -> Result<Vec<String>> {
    let values = e.req("values")?;
    let offsets = match e.get("offsets") {
        Some(o) => o.as_i64s()?,
        None => Vec::new(),
    };
    if offsets.is_empty() {
        let numbers = values.as_f64s()?;
        return Ok(numbers.iter().map(|v| format_number(*v)).collect());
    }
    let bytes: Vec<u8> = values
        .as_i64s()?
        .into_iter()
        .map(|b| u8::try_from(b).map_err(|_| values.err(format!("{b} is not a byte"))))
        .collect::<Result<_>>()?;
    // `offsets` holds the start of every name and the end of the last.
    offsets
        .windows(2)
        .map(|w| {
            let (a, z) = (usize::try_from(w[0]).ok(), usize::try_from(w[1]).ok());
            match (a, z) {
                (Some(a), Some(z)) if a <= z && z <= bytes.len() => {
                    String::from_utf8(bytes[a..z].to_vec())
                        .map_err(|_| e.err("a category name is not valid UTF-8"))
                }
                _ => Err(e.err(format!("category offsets {w:?} are out of range"))),
            }
        })
        .collect()
}

/// A numeric category as a person writes it: `3`, not `3.0`.
pub(crate) fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}
