//! LightGBM 4.x text model loader (`booster.save_model("m.txt")`).
//!
//! Node numbering: LightGBM keeps internal nodes and leaves in separate arrays and marks a leaf
//! child `c` as `!c`. Here internal node `i` stays `i` and leaf `j` becomes `(L − 1) + j`, so the
//! root is node 0 in both cases (for a stump, the single leaf). Cover is LightGBM's counts
//! (`internal_count`, `leaf_count`), which is what its own TreeSHAP uses.

use super::tree::{MissingType, Split, TreeBuilder};
use super::{Categories, Ensemble, Link, ModelFormat};
use crate::error::{Error, Result};
use std::collections::HashMap;

/// Leaves per tree beyond which a file is taken as corrupt (LightGBM's own cap is 131072).
const MAX_LEAVES: usize = 1 << 17;

pub fn from_text(bytes: &[u8]) -> Result<Ensemble> {
    let text = std::str::from_utf8(bytes).map_err(|e| Error::Syntax {
        format: "LightGBM text",
        location: format!("byte {}", e.valid_up_to()),
        message: "not valid UTF-8".into(),
    })?;
    let mut header: HashMap<&str, &str> = HashMap::new();
    let mut average_output = false;
    // (line number of "Tree=", key/value pairs)
    let mut sections: Vec<(usize, HashMap<&str, &str>)> = Vec::new();
    let mut ended = false;
    for (lineno, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line == "end of trees" {
            ended = true;
            break;
        }
        if line.starts_with("Tree=") {
            sections.push((lineno + 1, HashMap::new()));
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            if line == "average_output" && sections.is_empty() {
                average_output = true;
            }
            continue;
        };
        match sections.last_mut() {
            Some((_, map)) => map.insert(k, v),
            None => header.insert(k, v),
        };
    }
    if !ended {
        return Err(Error::Syntax {
            format: "LightGBM text",
            location: "end of file".into(),
            message: "truncated: no \"end of trees\" line".into(),
        });
    }
    let get = |key: &str| -> Result<&str> {
        header
            .get(key)
            .copied()
            .ok_or_else(|| Error::model("header", format!("missing {key}=")))
    };
    let int = |key: &str| -> Result<usize> {
        let v = get(key)?;
        v.trim()
            .parse()
            .map_err(|_| Error::model("header", format!("{key}={v} is not a non-negative integer")))
    };
    let num_features = int("max_feature_idx")? + 1;
    let k = int("num_tree_per_iteration").or_else(|_| int("num_class"))?;
    if k == 0 || k > 1 << 16 {
        return Err(Error::model(
            "header",
            format!("num_tree_per_iteration={k} is implausible"),
        ));
    }
    let objective_line = header.get("objective").copied().unwrap_or("custom");
    let link = link_of(objective_line)?;
    let feature_names = header
        .get("feature_names")
        .map(|names| names.split(' ').map(str::to_string).collect::<Vec<_>>());

    let mut trees = Vec::with_capacity(sections.len());
    let mut tree_output = Vec::with_capacity(sections.len());
    for (i, (lineno, map)) in sections.iter().enumerate() {
        trees.push(read_tree(i, *lineno, map, num_features)?);
        tree_output.push(i % k);
    }
    let iterations = trees.len().div_ceil(k).max(1) as f64;
    let objective = objective_line.split(' ').next().unwrap_or("").to_string();
    let mut ensemble = Ensemble::new(
        ModelFormat::LightgbmText,
        objective,
        num_features,
        k,
        feature_names,
        vec![0.0; k],
        link,
        trees,
        tree_output,
    )?;
    ensemble.categories = read_categories(text, &header, num_features)?;
    if average_output {
        // rf mode: LightGBM's raw score and pred_contrib are the *sum* of the trees (checked
        // against lightgbm 4.7); only its predictions divide by the number of iterations.
        ensemble.margin_scale = 1.0 / iterations;
        ensemble.notes.push(format!(
            "random-forest model: raw values are the sum over the trees, as LightGBM's raw_score and \
             pred_contrib report them; its predictions divide that by {iterations} iterations"
        ));
    }
    Ok(ensemble)
}

fn link_of(objective_line: &str) -> Result<Link> {
    let mut parts = objective_line.split(' ');
    let name = parts.next().unwrap_or("");
    let sigmoid = parts
        .find_map(|p| p.strip_prefix("sigmoid:"))
        .map(|s| s.parse::<f64>())
        .transpose()
        .map_err(|_| {
            Error::model(
                "header",
                format!("bad sigmoid in objective={objective_line}"),
            )
        })?
        .unwrap_or(1.0);
    Ok(match name {
        "regression" | "regression_l2" | "regression_l1" | "huber" | "fair" | "quantile"
        | "mape" | "lambdarank" | "rank_xendcg" | "custom" | "none" => Link::Identity,
        "binary" | "multiclassova" => Link::Logistic { scale: sigmoid },
        "cross_entropy" | "xentropy" => Link::Logistic { scale: 1.0 },
        "multiclass" | "softmax" => Link::Softmax,
        "poisson" | "gamma" | "tweedie" => Link::Log,
        other => {
            return Err(Error::Unsupported(format!(
                "LightGBM objective {other:?} is not supported"
            )));
        }
    })
}

fn read_tree(
    index: usize,
    lineno: usize,
    map: &HashMap<&str, &str>,
    num_features: usize,
) -> Result<super::Tree> {
    let loc = || format!("tree {index} (line {lineno})");
    let field = |key: &str| -> Result<&str> {
        map.get(key)
            .copied()
            .ok_or_else(|| Error::model(loc(), format!("missing {key}=")))
    };
    fn list<T: std::str::FromStr>(
        loc: &str,
        key: &str,
        s: &str,
        expected: usize,
    ) -> Result<Vec<T>> {
        let s = s.trim();
        let out: Vec<T> = if s.is_empty() {
            Vec::new()
        } else {
            s.split(' ')
                .map(|x| {
                    x.parse::<T>()
                        .map_err(|_| Error::model(loc, format!("{key}: {x:?} is not a number")))
                })
                .collect::<Result<_>>()?
        };
        if out.len() != expected {
            return Err(Error::model(
                loc,
                format!("{key} has {} values, expected {expected}", out.len()),
            ));
        }
        Ok(out)
    }
    let leaves: usize = field("num_leaves")?
        .trim()
        .parse()
        .map_err(|_| Error::model(loc(), "num_leaves is not an integer"))?;
    if leaves == 0 || leaves > MAX_LEAVES {
        return Err(Error::model(
            loc(),
            format!("num_leaves={leaves} is out of range"),
        ));
    }
    if map.get("is_linear").is_some_and(|v| v.trim() == "1") {
        return Err(Error::Unsupported(format!(
            "{}: linear trees are not supported",
            loc()
        )));
    }
    let l = &loc();
    let leaf_value: Vec<f64> = list(l, "leaf_value", field("leaf_value")?, leaves)?;
    let leaf_count: Vec<f64> = match map.get("leaf_count") {
        Some(s) => list(l, "leaf_count", s, leaves)?,
        None => vec![0.0; leaves],
    };
    let internal = leaves - 1;
    let n = internal + leaves;
    let mut b = TreeBuilder::with_nodes(n, Split::Lgb(MissingType::None));
    b.value[internal..].copy_from_slice(&leaf_value);
    b.cover[internal..].copy_from_slice(&leaf_count);
    if internal > 0 {
        let split_feature: Vec<i64> = list(l, "split_feature", field("split_feature")?, internal)?;
        let threshold: Vec<f64> = list(l, "threshold", field("threshold")?, internal)?;
        let decision: Vec<u32> = list(l, "decision_type", field("decision_type")?, internal)?;
        let lc: Vec<i64> = list(l, "left_child", field("left_child")?, internal)?;
        let rc: Vec<i64> = list(l, "right_child", field("right_child")?, internal)?;
        let count: Vec<f64> = list(l, "internal_count", field("internal_count")?, internal)?;
        // A child c < 0 is leaf !c; map it behind the internal nodes.
        let map_child = |c: i64| -> i64 {
            if c < 0 {
                (internal as i64).saturating_add(!c)
            } else {
                c
            }
        };
        let sets = category_sets(l, map, &decision)?;
        for i in 0..internal {
            b.feature[i] = split_feature[i];
            b.default_left[i] = decision[i] & 2 != 0;
            if decision[i] & 1 != 0 {
                // The threshold is the index of the node's bitset in cat_boundaries.
                let set = sets
                    .get(threshold[i] as usize)
                    .filter(|_| threshold[i] >= 0.0 && threshold[i].fract() == 0.0)
                    .ok_or_else(|| {
                        Error::model(
                            loc(),
                            format!(
                                "node {i}: categorical threshold {} names no bitset ({} in cat_boundaries)",
                                threshold[i],
                                sets.len()
                            ),
                        )
                    })?;
                b.split[i] = Split::LgbCategory;
                b.set_categories(i, set.clone());
                b.left[i] = map_child(lc[i]);
                b.right[i] = map_child(rc[i]);
                b.cover[i] = count[i];
                continue;
            }
            b.threshold[i] = threshold[i];
            b.split[i] = Split::Lgb(match (decision[i] >> 2) & 3 {
                0 => MissingType::None,
                1 => MissingType::Zero,
                2 => MissingType::NaN,
                m => {
                    return Err(Error::model(
                        loc(),
                        format!("node {i}: unknown missing type {m}"),
                    ));
                }
            });
            b.left[i] = map_child(lc[i]);
            b.right[i] = map_child(rc[i]);
            b.cover[i] = count[i];
        }
    }
    b.build(index, num_features)
}

/// The tree's category bitsets: `cat_threshold[cat_boundaries[j]..cat_boundaries[j + 1]]`.
fn category_sets(loc: &str, map: &HashMap<&str, &str>, decision: &[u32]) -> Result<Vec<Vec<u32>>> {
    if decision.iter().all(|d| d & 1 == 0) {
        return Ok(Vec::new());
    }
    let field = |key: &str| -> Result<&str> {
        map.get(key)
            .copied()
            .ok_or_else(|| Error::model(loc, format!("has categorical splits but no {key}=")))
    };
    let parse = |key: &str, s: &str| -> Result<Vec<u64>> {
        s.split_whitespace()
            .map(|x| {
                x.parse::<u64>()
                    .map_err(|_| Error::model(loc, format!("{key}: {x:?} is not a number")))
            })
            .collect()
    };
    let bounds = parse("cat_boundaries", field("cat_boundaries")?)?;
    let words = parse("cat_threshold", field("cat_threshold")?)?;
    let max_words = super::MAX_CATEGORY.div_ceil(32) as u64;
    bounds
        .windows(2)
        .map(|w| {
            if w[0] > w[1] || w[1] > words.len() as u64 || w[1] - w[0] > max_words {
                return Err(Error::model(
                    loc,
                    format!("cat_boundaries {}..{} is out of range", w[0], w[1]),
                ));
            }
            words[w[0] as usize..w[1] as usize]
                .iter()
                .map(|&x| {
                    u32::try_from(x).map_err(|_| {
                        Error::model(loc, format!("cat_threshold {x} is not a 32-bit word"))
                    })
                })
                .collect()
        })
        .collect()
}

/// Which features are categorical (their `feature_infos` entry lists categories, `-1:2:0`,
/// where a numeric one is `[min:max]`), named from the `pandas_categorical` line when the model
/// was trained on a DataFrame: one list per categorical column, in column order.
fn read_categories(
    text: &str,
    header: &HashMap<&str, &str>,
    num_features: usize,
) -> Result<Vec<Option<Categories>>> {
    let mut out: Vec<Option<Categories>> = vec![None; num_features];
    let Some(infos) = header.get("feature_infos") else {
        return Ok(out);
    };
    let categorical: Vec<usize> = infos
        .split(' ')
        .enumerate()
        .filter(|(_, info)| !info.starts_with('[') && *info != "none" && !info.is_empty())
        .map(|(i, _)| i)
        .filter(|&i| i < num_features)
        .collect();
    let pandas = text
        .lines()
        .rev()
        .find_map(|l| l.trim_end_matches('\r').strip_prefix("pandas_categorical:"));
    let lists: Vec<Vec<String>> = match pandas.map(str::trim) {
        None | Some("null") | Some("") => Vec::new(),
        Some(json) => {
            let v: serde_json::Value = serde_json::from_str(json)
                .map_err(|e| Error::model("pandas_categorical", format!("not a JSON list: {e}")))?;
            let lists = v.as_array().ok_or_else(|| {
                Error::model("pandas_categorical", "expected a list of category lists")
            })?;
            lists
                .iter()
                .map(|l| {
                    l.as_array()
                        .ok_or_else(|| Error::model("pandas_categorical", "expected a list"))?
                        .iter()
                        .map(|c| match c {
                            serde_json::Value::String(s) => Ok(s.clone()),
                            serde_json::Value::Number(n) => Ok(super::xgboost::format_number(
                                n.as_f64().unwrap_or(f64::NAN),
                            )),
                            serde_json::Value::Bool(b) => Ok(b.to_string()),
                            other => Err(Error::model(
                                "pandas_categorical",
                                format!("category {other} is not a string or a number"),
                            )),
                        })
                        .collect()
                })
                .collect::<Result<_>>()?
        }
    };
    if !lists.is_empty() && lists.len() != categorical.len() {
        return Err(Error::model(
            "pandas_categorical",
            format!(
                "{} category lists for {} categorical features",
                lists.len(),
                categorical.len()
            ),
        ));
    }
    for (j, &i) in categorical.iter().enumerate() {
        out[i] = Some(Categories {
            names: lists.get(j).cloned().unwrap_or_default(),
            unseen: f64::NAN,
            unseen_rule: "treated as missing (LightGBM's pandas rule: categories it never saw become NaN, \
                          which goes right at every categorical split)",
            hashed: None,
        });
    }
    Ok(out)
}
