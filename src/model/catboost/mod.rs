//! CatBoost JSON loader (`model.save_model("model.json", format="json")`, catboost 1.x).
//!
//! Why it is shaped like this: CatBoost's JSON is a flat description of what its evaluator
//! does, not a list of binary trees. Symmetric (oblivious) trees are expanded into full binary
//! trees in the order CatBoost's own ShapValues walks them, covers are the stored
//! `leaf_weights` summed up each tree (what that ShapValues uses), and `scale_and_bias`
//! becomes a leaf scale plus a base margin — so path-dependent TreeSHAP here reproduces
//! `get_feature_importance(type="ShapValues")` and the engine needs nothing CatBoost-specific
//! beyond one split kind per question.
//!
//! # Layout
//! - `features`: `features_info` → flat feature indices, NaN treatment, one-hot category codes
//!   (and the CTR refusal, which names the features CatBoost combined).
//! - `trees`: oblivious and non-symmetric trees → engine trees, one per output.
//! - `hash`: CatBoost's category hash (CityHash64 v1.0, low 32 bits), because a file saved
//!   without `pool=` stores split values as hashes and no names.
//!
//! Facts (catboost 1.2.10): the objective is `model_info.params.loss_function.type`;
//! `scale_and_bias` is `[scale, [bias per output]]`; CatBoost's ShapValues refuses a model
//! whose scale is not 1, so such models are explained as what they predict (scale × leaves)
//! with a note. CTR features (`OnlineCtr` splits over `ctr_data`) are refused.

mod features;
mod hash;
mod trees;

pub use hash::cat_feature_hash;

use super::value::{At, Value};
use super::{Covers, Ensemble, Link, ModelFormat};
use crate::error::{Error, Result};
use features::Features;

/// Most engine nodes a model may expand to (every output counts its own copy of a tree, and
/// each tree a fixed overhead of [`TREE_COST`] nodes): ~1.5 GB of trees. An oblivious tree
/// of depth 16 stores 65,536 leaf values but expands to twice that many nodes, and one leaf
/// value per output becomes a whole tree, so a small file could otherwise ask for a huge
/// ensemble.
const MAX_NODES: usize = 1 << 25;

/// What an engine tree's own arrays cost, in nodes.
const TREE_COST: usize = 16;

/// Objectives whose prediction is the raw value.
const IDENTITY: &[&str] = &[
    "RMSE",
    "MAE",
    "Quantile",
    "Expectile",
    "Huber",
    "Lq",
    "MAPE",
    "LogCosh",
];

/// A parsed JSON document with `features_info` and `oblivious_trees` or `trees`.
pub fn from_document(doc: serde_json::Value) -> Result<Ensemble> {
    let doc = Value::from(doc);
    let root = At::root(&doc);
    let info = root.req("features_info")?;
    let mut features = Features::read(&info)?;
    let objective = root
        .req("model_info")?
        .req("params")?
        .req("loss_function")?
        .req("type")?
        .as_str()?
        .to_string();
    let link = link_of(&objective)?;
    let (scale, bias) = scale_and_bias(&root)?;

    let (list, oblivious) = match (root.get("oblivious_trees"), root.get("trees")) {
        (Some(t), None) => (t, true),
        (None, Some(t)) => (t, false),
        (Some(_), Some(_)) => {
            return Err(root.err("the file has both oblivious_trees and trees"));
        }
        (None, None) => return Err(root.err("missing oblivious_trees (or trees)")),
    };
    let count = list.as_array()?.len();
    let mut dims: Option<usize> = None;
    let mut weighted = true;
    let mut nodes = 0usize;
    let mut trees = Vec::new();
    let mut tree_output = Vec::new();
    let mut empty_nonzero = Vec::new();
    let mut epsilon = false;
    for i in 0..count {
        let t = list.index(i)?;
        let (raw, d) = if oblivious {
            trees::oblivious(&t, i, dims, &mut features, &mut weighted)?
        } else {
            trees::non_symmetric(&t, i, dims, &mut features, &mut weighted)?
        };
        dims = Some(d);
        nodes = nodes.saturating_add((raw.len() + TREE_COST).saturating_mul(d));
        if nodes > MAX_NODES {
            return Err(t.err(format!(
                "the model expands to more than {MAX_NODES} tree nodes by tree {i}"
            )));
        }
        let done = trees::finish(raw, d, scale, i, features.num_features)?;
        if done.empty_nonzero {
            empty_nonzero.push(i);
        }
        epsilon |= done.epsilon;
        for (k, tree) in done.trees.into_iter().enumerate() {
            trees.push(tree);
            tree_output.push(k);
        }
    }
    let dims = dims.unwrap_or(bias.len());
    let base_margin = match bias.len() {
        1 => vec![bias[0]; dims],
        n if n == dims => bias,
        n => {
            return Err(Error::model(
                "/scale_and_bias",
                format!("{n} biases for trees with {dims} outputs"),
            ));
        }
    };
    let expected_outputs = match link {
        Link::Softmax if dims < 2 => Some("at least 2"),
        Link::Logistic { .. } | Link::Identity if dims != 1 => Some("1"),
        _ => None,
    };
    if let Some(want) = expected_outputs {
        return Err(Error::model(
            "/model_info/params/loss_function",
            format!("objective {objective} needs {want} outputs, the trees have {dims}"),
        ));
    }

    let mut ensemble = Ensemble::new(
        ModelFormat::CatboostJson,
        objective,
        features.num_features,
        dims,
        features.names.clone(),
        base_margin,
        link,
        trees,
        tree_output,
    )?;
    ensemble.categories = features.categories();
    ensemble.notes = notes(
        &features,
        &ensemble,
        scale,
        (&empty_nonzero, epsilon),
        weighted,
    );
    if !weighted {
        ensemble.covers = Covers::None;
    }
    Ok(ensemble)
}

fn link_of(objective: &str) -> Result<Link> {
    match objective {
        "Logloss" | "CrossEntropy" => Ok(Link::Logistic { scale: 1.0 }),
        "MultiClass" => Ok(Link::Softmax),
        o if IDENTITY.contains(&o) => Ok(Link::Identity),
        other => Err(Error::Unsupported(format!(
            "CatBoost objective {other:?} is not supported; shaplab reads {}, Logloss, \
             CrossEntropy and MultiClass models",
            IDENTITY.join(", ")
        ))),
    }
}

/// `[scale, [bias, …]]` (an older single bias number is accepted too); `[1, [0]]` when absent.
fn scale_and_bias(root: &At) -> Result<(f64, Vec<f64>)> {
    let Some(sb) = root.get("scale_and_bias") else {
        return Ok((1.0, vec![0.0]));
    };
    let scale_at = sb.index(0)?;
    let scale = match scale_at.value {
        Value::Float(x) => *x,
        Value::Int(x) => *x as f64,
        _ => return Err(scale_at.err("the scale is not a number")),
    };
    let bias_at = sb.index(1)?;
    let bias = match bias_at.value {
        Value::Float(x) => vec![*x],
        Value::Int(x) => vec![*x as f64],
        _ => bias_at.as_f64s()?,
    };
    if !scale.is_finite() || scale == 0.0 {
        return Err(scale_at.err(format!("scale {scale} must be finite and non-zero")));
    }
    if bias.is_empty() || bias.iter().any(|b| !b.is_finite()) {
        return Err(bias_at.err("the bias must be one or more finite numbers"));
    }
    Ok((scale, bias))
}

/// What an analyst should know about how the file was read.
fn notes(
    features: &Features,
    ensemble: &Ensemble,
    scale: f64,
    (empty_nonzero, epsilon): (&[usize], bool),
    weighted: bool,
) -> Vec<String> {
    let mut notes = Vec::new();
    if features.has_categorical() {
        let names: Vec<String> = (0..ensemble.num_features)
            .filter(|&i| ensemble.categories_of(i).is_some())
            .map(|i| ensemble.feature_name(i))
            .collect();
        let source = if features.has_category_names() {
            "the file's cat_features_hash names the training categories"
        } else {
            "the file was saved without pool=, so it names no categories: a cell that matches \
             no one-hot split is reported as unseen even if training saw it (routing is \
             unaffected); save_model(..., format=\"json\", pool=train_pool) stores the names"
        };
        notes.push(format!(
            "one-hot categorical features {} are matched by CatBoost's hash of the cell text \
             (CityHash64 v1.0, as CatBoost hashes categories), so cells route exactly as in \
             CatBoost; {source}. Empty/NA cells match no one-hot split",
            names.join(", ")
        ));
    }
    if scale != 1.0 {
        notes.push(format!(
            "leaf values are multiplied by the model's scale {scale} (scale_and_bias), as \
             CatBoost predicts; CatBoost's own ShapValues refuses models whose scale is not 1"
        ));
    }
    if !empty_nonzero.is_empty() {
        let shown: Vec<String> = empty_nonzero
            .iter()
            .take(10)
            .map(|t| t.to_string())
            .collect();
        let more = if empty_nonzero.len() > 10 {
            ", …"
        } else {
            ""
        };
        let vanishing = if epsilon {
            " (empty leaves that disagree get a vanishing weight, so values add up to the \
             prediction)"
        } else {
            ""
        };
        notes.push(format!(
            "{} tree(s) ({}{more}) have leaves no training row reached (leaf weight 0) that hold \
             non-zero values. shaplab explains them with the file's weights{vanishing}; \
             CatBoost's own ShapValues, for such a model, mixes the leaf counts of the rows being \
             explained into the weights, so its values for a row change with the batch it is \
             explained in",
            empty_nonzero.len(),
            shown.join(", "),
        ));
    }
    if !weighted {
        notes.push(
            "the file stores no leaf_weights: path-dependent values use equal leaf weights and \
             are not CatBoost's; interventional values (with background rows) are exact"
                .into(),
        );
    }
    notes
}
