//! XGBoost `save_model` loader (JSON and UBJSON, xgboost 2.x/3.x, gbtree and dart).
//!
//! Both encodings hold the same document; UBJSON just types its arrays. Numbers XGBoost stores
//! as float32 (thresholds, leaves, hessians, base_score) are rounded back to f32 here, because
//! XGBoost routes and sums in f32 and a threshold parsed as f64 from a decimal string could
//! differ from the one XGBoost compares against.

use super::tree::{MissingType, Routing, TreeBuilder};
use super::value::{At, Value};
use super::{Ensemble, Link, ModelFormat, ubjson};
use crate::error::{Error, Result};

pub fn from_json(bytes: &[u8]) -> Result<Ensemble> {
    let doc: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| Error::Syntax {
        format: "XGBoost JSON",
        location: format!("line {}, column {}", e.line(), e.column()),
        message: e.to_string(),
    })?;
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
    if let Some(st) = t.get("split_type")
        && st.as_i64s()?.iter().any(|&s| s != 0)
    {
        return Err(Error::Unsupported(format!(
            "tree {index} has categorical splits; explain a model trained without enable_categorical \
             (one-hot or ordinal-encode the categories) — shaplab refuses rather than mis-explain"
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
    TreeBuilder {
        left,
        right,
        feature,
        threshold: cond.clone(),
        default_left,
        missing: vec![MissingType::NaN; n],
        cover,
        value: cond,
    }
    .build(index, num_features, Routing::XgbLessF32)
}
