//! How a HistGradientBoosting model's columns reach its trees.
//!
//! Without categorical features the trees index the input columns directly. With them
//! (scikit-learn ≥ 1.4 always does this), `_preprocessor` is a ColumnTransformer: an
//! OrdinalEncoder turns each categorical column's values into their position in
//! `categories_` (an unknown or missing value becomes NaN), a pass-through keeps the numeric
//! columns, and the output puts the encoded columns *first*. So tree feature `j` is input
//! column `original[j]`, and a categorical column's cells become codes through its category
//! names — which is what [`Categories`] does when the data is read.
//!
//! Known categories per (transformed) categorical feature come from
//! `_bin_mapper.bin_thresholds_`; the split routing that needs them lives in the HGB loader.

use super::schema::Node;
use crate::error::{Error, Result};
use crate::model::Categories;
use crate::model::tree::bitset_of;

pub struct Layout {
    /// Transformed column → input column.
    pub original: Vec<usize>,
    /// Per input column: its categories when categorical.
    pub categories: Vec<Option<Categories>>,
    /// Per transformed column: the bitset of known category codes when categorical.
    pub known: Vec<Option<Vec<u32>>>,
}

const UNSEEN_RULE: &str = "treated as missing, as HistGradientBoosting's OrdinalEncoder maps a \
                           category it never saw to NaN";

pub fn layout(root: &Node, num_features: usize) -> Result<Layout> {
    let pre = root.attr("_preprocessor").filter(|p| !p.is_null());
    let (original, names) = match &pre {
        None => ((0..num_features).collect(), None),
        Some(p) => {
            let (o, n) = column_transformer(p, num_features)?;
            (o, Some(n))
        }
    };
    let mut layout = Layout {
        original,
        categories: vec![None; num_features],
        known: vec![None; num_features],
    };
    let Some(mapper) = root.attr("_bin_mapper") else {
        return Ok(layout);
    };
    let Some(is_cat) = mapper.attr("is_categorical_").filter(|c| !c.is_null()) else {
        return Ok(layout);
    };
    let is_cat = is_cat.array()?.i64s()?;
    if is_cat.len() != num_features {
        return Err(mapper.err(format!(
            "is_categorical_ has {} entries for {num_features} features",
            is_cat.len()
        )));
    }
    let thresholds = mapper.req("bin_thresholds_")?.items()?;
    if thresholds.len() != num_features {
        return Err(mapper.err("bin_thresholds_ does not have one entry per feature"));
    }
    for (j, &c) in is_cat.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let codes = thresholds[j].array()?.f64s()?;
        // The raw category values HGB was trained on; it routes them through a uint8 cast.
        let ints: Vec<i64> = codes
            .iter()
            .map(|&v| {
                if v.fract() == 0.0 && (0.0..256.0).contains(&v) {
                    Ok(v as i64)
                } else {
                    Err(thresholds[j].err(format!("known category {v} is not a code in 0..256")))
                }
            })
            .collect::<Result<_>>()?;
        let words = bitset_of(ints).map_err(|c| mapper.err(format!("category {c}")))?;
        layout.known[j] = Some(words);
        let input = layout.original[j];
        let category_names = match &names {
            Some(n) => n[input].clone().ok_or_else(|| {
                mapper.err(format!(
                    "feature {j} is categorical but not ordinal-encoded"
                ))
            })?,
            // Without a preprocessor the cells are the codes themselves.
            None => Vec::new(),
        };
        layout.categories[input] = Some(Categories {
            names: category_names,
            unseen: f64::NAN,
            unseen_rule: UNSEEN_RULE,
            hashed: None,
        });
    }
    Ok(layout)
}

/// The ColumnTransformer HistGradientBoosting builds: (transformed → input column, category
/// names per input column).
#[allow(clippy::type_complexity)]
fn column_transformer(
    ct: &Node,
    num_features: usize,
) -> Result<(Vec<usize>, Vec<Option<Vec<String>>>)> {
    if ct.class() != "ColumnTransformer" {
        return Err(Error::Unsupported(format!(
            "a HistGradientBoosting preprocessor of class {}",
            ct.class()
        )));
    }
    let indices = ct.req("_transformer_to_input_indices")?;
    let mut original = Vec::with_capacity(num_features);
    let mut names: Vec<Option<Vec<String>>> = vec![None; num_features];
    for t in ct.req("transformers_")?.items()? {
        let parts = t.items()?;
        let [name, transformer, _columns] = parts.as_slice() else {
            return Err(t.err("a transformer is not a (name, transformer, columns) triple"));
        };
        let name = name.as_str()?;
        let cols: Vec<usize> = indices
            .req(&name)?
            .items()?
            .iter()
            .map(Node::as_usize)
            .collect::<Result<_>>()?;
        if transformer.loader() == "JsonNode" {
            // 'drop' of no columns is harmless; anything else changes the columns.
            if transformer.as_str()? == "drop" && cols.is_empty() {
                continue;
            }
            return Err(Error::Unsupported(format!(
                "a HistGradientBoosting preprocessor step {name:?} that is not an estimator"
            )));
        }
        match transformer.class() {
            "OrdinalEncoder" => {
                let unknown = transformer.req("unknown_value")?.as_f64()?;
                let infrequent = match transformer.attr("_infrequent_enabled") {
                    Some(v) => v.json()?.as_bool().unwrap_or(true),
                    None => false,
                };
                if !unknown.is_nan() || infrequent {
                    return Err(Error::Unsupported(
                        "an OrdinalEncoder other than the one HistGradientBoosting builds \
                         (unknown_value NaN, no infrequent categories)"
                            .into(),
                    ));
                }
                let cats = transformer.req("categories_")?.items()?;
                if cats.len() != cols.len() {
                    return Err(transformer.err("categories_ does not match its columns"));
                }
                for (&c, list) in cols.iter().zip(&cats) {
                    let slot = names
                        .get_mut(c)
                        .ok_or_else(|| ct.err(format!("column {c} is out of range")))?;
                    *slot = Some(category_names(list)?);
                }
            }
            "FunctionTransformer" => {}
            other => {
                return Err(Error::Unsupported(format!(
                    "a HistGradientBoosting preprocessor step of class {other}"
                )));
            }
        }
        original.extend(cols);
    }
    let mut seen = vec![false; num_features];
    for &c in &original {
        match seen.get_mut(c) {
            Some(s) if !*s => *s = true,
            _ => return Err(ct.err(format!("column {c} is missing, repeated or out of range"))),
        }
    }
    if original.len() != num_features {
        return Err(ct.err(format!(
            "the preprocessor outputs {} of {num_features} columns",
            original.len()
        )));
    }
    Ok((original, names))
}

/// One column's categories in code order, without the trailing NaN OrdinalEncoder adds when
/// the training data had missing values (missing cells are NaN anyway).
fn category_names(list: &Node) -> Result<Vec<String>> {
    if list.is_npy() {
        let mut values = list.array()?.f64s()?;
        if values.last().is_some_and(|v| v.is_nan()) {
            values.pop();
        }
        if values.iter().any(|v| v.is_nan()) {
            return Err(list.err("NaN is not the last category"));
        }
        return Ok(values
            .into_iter()
            .map(crate::model::xgboost::format_number)
            .collect());
    }
    let mut items = list.items()?;
    if items
        .last()
        .is_some_and(|n| n.as_f64().is_ok_and(f64::is_nan))
    {
        items.pop();
    }
    items
        .iter()
        .map(|n| match n.json()? {
            serde_json::Value::String(s) => Ok(s),
            serde_json::Value::Number(x) => Ok(x.to_string()),
            _ => Err(n.err("a category is neither a string nor a number")),
        })
        .collect()
}
