//! Whether a data file's columns can feed a model, decided from the data's description (its
//! text columns and their distinct values) before any row is explained: the server refuses an
//! incompatible job at submit instead of failing it halfway, and reports the categories the
//! model never saw.

use crate::data::ColumnMap;
use crate::describe::TextColumn;
use crate::error::{Error, Result};
use crate::model::{Covers, Ensemble};

/// Checks the text columns against the model's feature kinds; returns notes for the user
/// (unseen categories, how they are routed). `Err` when a numeric feature's column holds words
/// or a codes-only categorical feature gets names.
pub fn check_columns(
    model: &Ensemble,
    map: &ColumnMap,
    text: &[TextColumn],
) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    for (feature, name) in map.names.iter().enumerate() {
        let Some(column) = text.iter().find(|t| &t.name == name) else {
            continue;
        };
        let example = column
            .values
            .iter()
            .find(|v| v.parse::<f64>().is_err())
            .cloned()
            .unwrap_or_default();
        match model.categories_of(feature) {
            None => {
                return Err(Error::InvalidData(format!(
                    "column {name:?} holds words ({example:?} in row {}), but the model uses it as a \
                     number; give numbers in this column, or explain a model trained with it as a \
                     categorical feature",
                    column.first_text_row
                )));
            }
            // CatBoost routes by the text's hash: any word can be read, even without names.
            Some(c) if c.names.is_empty() && c.hashed.is_some() => {}
            Some(c) if c.names.is_empty() => {
                return Err(Error::InvalidData(format!(
                    "column {name:?} holds words ({example:?} in row {}), but the model was trained \
                     on integer category codes without names; give the codes it was trained on",
                    column.first_text_row
                )));
            }
            Some(c) => {
                let unseen: Vec<(&String, u64)> = column
                    .values
                    .iter()
                    .zip(&column.counts)
                    .filter(|(v, _)| {
                        !c.names.contains(v)
                            && !v
                                .parse::<f64>()
                                .is_ok_and(|x| c.names.iter().any(|n| n.parse() == Ok(x)))
                    })
                    .map(|(v, &n)| (v, n))
                    .collect();
                if unseen.is_empty() {
                    continue;
                }
                let cells: u64 = unseen.iter().map(|(_, n)| n).sum();
                let shown: Vec<String> = unseen
                    .iter()
                    .take(5)
                    .map(|(v, n)| format!("{v} ×{n}"))
                    .collect();
                let more = if unseen.len() > 5 { ", …" } else { "" };
                let at_least = if column.more { "at least " } else { "" };
                notes.push(format!(
                    "{name}: {at_least}{cells} cell(s) hold {} categor{} the model never saw ({}{more}); \
                     {}",
                    unseen.len(),
                    if unseen.len() == 1 { "y" } else { "ies" },
                    shown.join(", "),
                    c.unseen_rule
                ));
            }
        }
    }
    Ok(notes)
}

/// Why path-dependent TreeSHAP cannot run on this model, if it cannot: a model that stores
/// no covers is explained interventionally (or with covers recomputed from data).
pub fn path_dependent_refusal(model: &Ensemble) -> Option<String> {
    match model.covers {
        Covers::None => Some(format!(
            "the {} model stores no node covers, which path-dependent TreeSHAP needs: explain it \
             interventionally against background rows (exact), or recompute the covers from a \
             dataset (the values are then labelled as using recomputed covers)",
            model.format.name()
        )),
        _ => None,
    }
}
