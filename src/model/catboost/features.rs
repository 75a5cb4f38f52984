//! `features_info`: which flat column each CatBoost feature is, how its NaNs compare, and
//! what its one-hot splits test.
//!
//! CatBoost numbers float and categorical features separately (`float_feature_index`,
//! `cat_feature_index` in splits) but its SHAP columns follow `flat_feature_index`, the
//! position in the training frame; everything here is turned into flat indices at once so the
//! trees never see the per-kind numbering. One-hot split values are hashes of the category
//! text; each categorical feature gets a list of the hashes it can meet, and a split tests the
//! position in that list (a small code a float compares exactly), never the raw hash.

use super::super::value::{At, Value};
use super::super::{Categories, MAX_CATEGORY};
use super::hash::cat_feature_hash;
use crate::error::{Error, Result};
use std::collections::HashMap;

/// What one CatBoost split asks, in flat feature numbering. "True" is CatBoost's bit 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Test {
    /// True iff `(x as f32) > border`; a NaN is true iff the feature's treatment is `AsTrue`.
    Float {
        feature: usize,
        border: f64,
        nan_true: bool,
    },
    /// True iff the cell's hash is the one at position `code` of the feature's hash list.
    OneHot { feature: usize, code: f64 },
}

struct FloatFeature {
    flat: usize,
    nan_true: bool,
}

struct CatFeature {
    flat: usize,
    /// Hashes in code order; a split's value gets the next code the first time it is seen.
    hashes: Vec<u32>,
    code_of: HashMap<u32, usize>,
}

/// The model's features, read once and consulted by every split.
pub(super) struct Features {
    pub num_features: usize,
    pub names: Option<Vec<String>>,
    floats: HashMap<i64, FloatFeature>,
    cats: HashMap<i64, CatFeature>,
    /// `cat_features_hash` (written by `save_model(..., pool=)`): hash → category text.
    strings: HashMap<u32, String>,
    /// The features `features_info.ctrs` combines, by name, for the CTR refusal.
    ctr_features: Vec<String>,
}

/// A hash as the file writes it: one-hot values are signed 32-bit, `cat_features_hash` keys
/// unsigned; both are the same 32 bits.
fn hash_of(at: &At) -> Result<u32> {
    let v = at.as_i64()?;
    if (i32::MIN as i64..=u32::MAX as i64).contains(&v) {
        Ok(v as u32)
    } else {
        Err(at.err(format!("{v} is not a 32-bit category hash")))
    }
}

fn flat_index(at: &At) -> Result<usize> {
    let v = at.req("flat_feature_index")?;
    let i = v.as_i64()?;
    // A column index past a million is a corrupt file, not a wide model.
    usize::try_from(i)
        .ok()
        .filter(|&i| i < 1 << 20)
        .ok_or_else(|| v.err(format!("flat_feature_index {i} is out of range")))
}

/// A feature's own number among its kind (`feature_index`, else its position in the list).
fn kind_index(at: &At, position: usize) -> Result<i64> {
    match at.get("feature_index") {
        Some(i) => i.as_i64(),
        None => Ok(position as i64),
    }
}

fn id_of(at: &At) -> Result<String> {
    match at.get("feature_id") {
        Some(id) => Ok(id.as_str()?.to_string()),
        None => Ok(String::new()),
    }
}

impl Features {
    pub fn read(info: &At) -> Result<Self> {
        for kind in ["text_features", "embedding_features"] {
            if let Some(list) = info.get(kind)
                && !list.as_array()?.is_empty()
            {
                return Err(Error::Unsupported(format!(
                    "this CatBoost model has {kind}; shaplab explains float and one-hot \
                     categorical features only"
                )));
            }
        }
        let mut by_flat: Vec<Option<String>> = Vec::new();
        let mut place = |flat: usize, id: String, at: &At| -> Result<()> {
            if by_flat.len() <= flat {
                by_flat.resize(flat + 1, None);
            }
            if by_flat[flat].is_some() {
                return Err(at.err(format!("two features have flat_feature_index {flat}")));
            }
            by_flat[flat] = Some(id);
            Ok(())
        };
        let mut floats = HashMap::new();
        if let Some(list) = info.get("float_features") {
            for i in 0..list.as_array()?.len() {
                let f = list.index(i)?;
                let flat = flat_index(&f)?;
                place(flat, id_of(&f)?, &f)?;
                let nan_true = match f.get("nan_value_treatment") {
                    None => false,
                    Some(t) => match t.as_str()? {
                        "AsIs" | "AsFalse" => false,
                        "AsTrue" => true,
                        other => {
                            return Err(t.err(format!("unknown nan_value_treatment {other:?}")));
                        }
                    },
                };
                let index = kind_index(&f, i)?;
                if floats
                    .insert(index, FloatFeature { flat, nan_true })
                    .is_some()
                {
                    return Err(f.err(format!("two float features have feature_index {index}")));
                }
            }
        }
        let mut cats = HashMap::new();
        if let Some(list) = info.get("categorical_features") {
            for i in 0..list.as_array()?.len() {
                let c = list.index(i)?;
                let flat = flat_index(&c)?;
                place(flat, id_of(&c)?, &c)?;
                let mut cat = CatFeature {
                    flat,
                    hashes: Vec::new(),
                    code_of: HashMap::new(),
                };
                // The one-hot values the model's splits use, in the file's order.
                if let Some(values) = c.get("values") {
                    for j in 0..values.as_array()?.len() {
                        let v = values.index(j)?;
                        cat.code(hash_of(&v)?).map_err(|m| v.err(m))?;
                    }
                }
                let index = kind_index(&c, i)?;
                if cats.insert(index, cat).is_some() {
                    return Err(c.err(format!(
                        "two categorical features have feature_index {index}"
                    )));
                }
            }
        }
        let mut strings = HashMap::new();
        if let Some(map) = info.get("cat_features_hash") {
            for i in 0..map.as_array()?.len() {
                let e = map.index(i)?;
                let hash = hash_of(&e.req("hash")?)?;
                let text = e.req("value")?.as_str()?.to_string();
                if cat_feature_hash(&text) != hash {
                    return Err(e.err(format!(
                        "category {text:?} is listed with hash {hash}, but CatBoost's hash of it \
                         is {}",
                        cat_feature_hash(&text)
                    )));
                }
                strings.insert(hash, text);
            }
        }
        if let Some(gap) = by_flat.iter().position(Option::is_none) {
            return Err(info.err(format!(
                "no float or categorical feature has flat_feature_index {gap}"
            )));
        }
        let ids: Vec<String> = by_flat.into_iter().flatten().collect();
        if ids.is_empty() {
            return Err(info.err("the model lists no float or categorical features"));
        }
        let names = if ids.iter().all(|id| !id.is_empty()) {
            Some(ids.clone())
        } else {
            None
        };
        let ctr_features = ctr_feature_names(info, &ids, &floats, &cats)?;
        Ok(Features {
            num_features: ids.len(),
            names,
            floats,
            cats,
            strings,
            ctr_features,
        })
    }

    /// One entry of a tree's `splits` (or a non-symmetric node's `split`).
    pub fn test(&mut self, split: &At) -> Result<Test> {
        let kind = split.req("split_type")?;
        match kind.as_str()? {
            "FloatFeature" => {
                let index = split.req("float_feature_index")?;
                let f = self.floats.get(&index.as_i64()?).ok_or_else(|| {
                    index.err(format!(
                        "split names float feature {}, which features_info does not list",
                        index.as_i64().unwrap_or(-1)
                    ))
                })?;
                let border = split.req("border")?;
                let b = match border.value {
                    Value::Float(x) => *x,
                    Value::Int(x) => *x as f64,
                    _ => return Err(border.err("border is not a number")),
                };
                // CatBoost stores borders as float32 and compares float32 values.
                Ok(Test::Float {
                    feature: f.flat,
                    border: b as f32 as f64,
                    nan_true: f.nan_true,
                })
            }
            "OneHotFeature" => {
                let index = split.req("cat_feature_index")?;
                let c = self.cats.get_mut(&index.as_i64()?).ok_or_else(|| {
                    index.err(format!(
                        "split names categorical feature {}, which features_info does not list",
                        index.as_i64().unwrap_or(-1)
                    ))
                })?;
                let value = split.req("value")?;
                let code = c.code(hash_of(&value)?).map_err(|m| value.err(m))?;
                Ok(Test::OneHot {
                    feature: c.flat,
                    code: code as f64,
                })
            }
            "OnlineCtr" => Err(self.ctr_refusal()),
            other => Err(Error::Unsupported(format!(
                "CatBoost split type {other:?} (at {}) is not supported; shaplab explains \
                 FloatFeature and OneHotFeature splits",
                split.path
            ))),
        }
    }

    /// Why a model with CTR features is refused, and how to retrain it.
    fn ctr_refusal(&self) -> Error {
        let names = if self.ctr_features.is_empty() {
            "its categorical features".to_string()
        } else {
            self.ctr_features.join(", ")
        };
        Error::Unsupported(format!(
            "this CatBoost model splits on CTR features (target statistics of {names}, stored in \
             ctr_data). CatBoost's own SHAP splits a CTR combination's value equally over its \
             columns; shaplab will not guess. Retrain with one-hot encoding: set one_hot_max_size \
             larger than the number of categories of every categorical feature, e.g. \
             CatBoostClassifier(one_hot_max_size=255)"
        ))
    }

    /// Per flat feature, `Some` for a categorical one: its hashes in code order, the category
    /// text where `cat_features_hash` names it, and (saved with `pool=`) every training
    /// category, so that "unseen" means unseen.
    pub fn categories(&mut self) -> Vec<Option<Categories>> {
        let mut out = vec![None; self.num_features];
        let with_map = !self.strings.is_empty();
        let mut all: Vec<u32> = self.strings.keys().copied().collect();
        all.sort_unstable();
        for cat in self.cats.values_mut() {
            if with_map {
                for &h in &all {
                    // At most MAX_CATEGORY codes: past that, a category is routed as unseen,
                    // which is still right unless a split names it (those got codes first).
                    let _ = cat.code(h);
                }
            }
            let names = cat
                .hashes
                .iter()
                .map(|h| match self.strings.get(h) {
                    Some(text) => text.clone(),
                    None => format!("<CatBoost hash {h}>"),
                })
                .collect();
            out[cat.flat] = Some(Categories {
                names,
                unseen: cat.hashes.len() as f64,
                unseen_rule: if with_map {
                    "matched by CatBoost's hash of the text; a category training never saw \
                     matches no one-hot split, as in CatBoost"
                } else {
                    "matched by CatBoost's hash of the text; a category no one-hot split names is \
                     counted as unseen (the file, saved without pool=, lists no other \
                     categories) and matches no split, as in CatBoost"
                },
                hashed: Some(cat.hashes.clone()),
            });
        }
        out
    }

    /// True when the file carries `cat_features_hash`.
    pub fn has_category_names(&self) -> bool {
        !self.strings.is_empty()
    }

    /// True when any feature is categorical.
    pub fn has_categorical(&self) -> bool {
        !self.cats.is_empty()
    }
}

impl CatFeature {
    fn code(&mut self, hash: u32) -> std::result::Result<usize, String> {
        if let Some(&c) = self.code_of.get(&hash) {
            return Ok(c);
        }
        if self.hashes.len() >= MAX_CATEGORY as usize {
            return Err(format!(
                "more than {MAX_CATEGORY} one-hot categories in one feature"
            ));
        }
        let c = self.hashes.len();
        self.hashes.push(hash);
        self.code_of.insert(hash, c);
        Ok(c)
    }
}

/// The features `features_info.ctrs` combines, by name, for the CTR refusal.
fn ctr_feature_names(
    info: &At,
    ids: &[String],
    floats: &HashMap<i64, FloatFeature>,
    cats: &HashMap<i64, CatFeature>,
) -> Result<Vec<String>> {
    let label = |flat: usize| match ids.get(flat) {
        Some(id) if !id.is_empty() => id.clone(),
        _ => format!("f{flat}"),
    };
    let mut out: Vec<String> = Vec::new();
    let Some(ctrs) = info.get("ctrs") else {
        return Ok(out);
    };
    for i in 0..ctrs.as_array()?.len() {
        let Some(elements) = ctrs.index(i)?.get("elements") else {
            continue;
        };
        for j in 0..elements.as_array()?.len() {
            let e = elements.index(j)?;
            let flat = if let Some(c) = e.get("cat_feature_index") {
                cats.get(&c.as_i64()?).map(|c| c.flat)
            } else if let Some(f) = e.get("float_feature_index") {
                floats.get(&f.as_i64()?).map(|f| f.flat)
            } else {
                None
            };
            if let Some(name) = flat.map(label)
                && !out.contains(&name)
            {
                out.push(name);
            }
        }
    }
    Ok(out)
}
