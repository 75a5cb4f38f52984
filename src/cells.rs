//! How one data cell becomes the number a tree compares: numbers parse as numbers, and a
//! categorical feature's cells are matched to the model's category names and become their
//! codes (for CatBoost, by CatBoost's hash of the text, since its files may store no names). Shared by the CSV and Parquet readers so both read a cell the same way.

use crate::model::Categories;
use std::collections::HashMap;

/// Most distinct unseen names kept per feature as examples for the report.
const EXAMPLES: usize = 5;

/// Turns the cells of one model feature into numbers.
#[derive(Clone, Debug)]
pub enum CellReader {
    Numeric,
    /// Integer codes: the model stores no names.
    Codes,
    /// Category names → codes; a name the model never saw becomes `unseen` and is counted.
    Names {
        codes: HashMap<String, f64>,
        /// The names parsed as numbers, for cells like `2.0` against a category named `2`.
        numeric: Vec<(f64, f64)>,
        unseen: f64,
        count: u64,
        examples: Vec<String>,
    },
    /// CatBoost: the cell's text is hashed as CatBoost hashes it and the hash looked up, so a
    /// cell routes exactly as CatBoost would route it, whether or not the file names it.
    Hashed {
        codes: HashMap<u32, f64>,
        unseen: f64,
        count: u64,
        examples: Vec<String>,
    },
}

/// Category cells of one feature the model never saw.
#[derive(Clone, Debug, PartialEq)]
pub struct Unseen {
    pub feature: String,
    pub cells: u64,
    /// Up to five of the unseen names.
    pub examples: Vec<String>,
}

impl CellReader {
    pub fn new(categories: Option<&Categories>) -> Self {
        match categories {
            None => CellReader::Numeric,
            Some(Categories {
                hashed: Some(hashes),
                unseen,
                ..
            }) => CellReader::Hashed {
                codes: hashes
                    .iter()
                    .enumerate()
                    .map(|(i, &h)| (h, i as f64))
                    .collect(),
                unseen: *unseen,
                count: 0,
                examples: Vec::new(),
            },
            Some(c) if c.names.is_empty() => CellReader::Codes,
            Some(c) => {
                let codes: HashMap<String, f64> = c
                    .names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (n.clone(), i as f64))
                    .collect();
                let numeric = c
                    .names
                    .iter()
                    .enumerate()
                    .filter_map(|(i, n)| n.parse::<f64>().ok().map(|v| (v, i as f64)))
                    .collect();
                CellReader::Names {
                    codes,
                    numeric,
                    unseen: c.unseen,
                    count: 0,
                    examples: Vec::new(),
                }
            }
        }
    }

    /// The number for a trimmed cell (NaN when missing), or `None` when a numeric feature's
    /// cell is not a number.
    pub fn read(&mut self, cell: &str) -> Option<f64> {
        let missing = crate::data::is_missing(cell);
        match self {
            // The text before the missing check: a model may have been trained on "NA" or "".
            CellReader::Hashed {
                codes,
                unseen,
                count,
                examples,
            } => {
                if let Some(code) = hashed_code(codes, cell) {
                    return Some(code);
                }
                if missing {
                    return Some(f64::NAN);
                }
                note_unseen(count, examples, cell);
                Some(*unseen)
            }
            _ if missing => Some(f64::NAN),
            CellReader::Numeric | CellReader::Codes => cell.parse::<f64>().ok(),
            CellReader::Names {
                codes,
                numeric,
                unseen,
                count,
                examples,
            } => {
                if let Some(&code) = codes.get(cell) {
                    return Some(code);
                }
                if let Ok(v) = cell.parse::<f64>()
                    && let Some(&(_, code)) = numeric.iter().find(|(n, _)| *n == v)
                {
                    return Some(code);
                }
                note_unseen(count, examples, cell);
                Some(*unseen)
            }
        }
    }

    /// The code of a category name, when this reader knows it.
    pub fn code_of(&self, name: &str) -> Option<f64> {
        match self {
            CellReader::Names { codes, .. } => codes.get(name).copied(),
            CellReader::Hashed { codes, .. } => hashed_code(codes, name),
            _ => None,
        }
    }
}

fn note_unseen(count: &mut u64, examples: &mut Vec<String>, cell: &str) {
    *count += 1;
    if examples.len() < EXAMPLES && !examples.iter().any(|e| e == cell) {
        examples.push(cell.to_string());
    }
}

/// The code of a cell under CatBoost's hash. CatBoost hashes integer categories as their
/// decimal text, so a cell such as `2.0` (a CSV writer's float) also tries `2`.
fn hashed_code(codes: &HashMap<u32, f64>, cell: &str) -> Option<f64> {
    let hash = crate::model::cat_feature_hash;
    if let Some(&code) = codes.get(&hash(cell)) {
        return Some(code);
    }
    let v = cell
        .parse::<f64>()
        .ok()
        .filter(|v| v.fract() == 0.0 && v.abs() < 1e15)?;
    codes.get(&hash(&format!("{}", v as i64))).copied()
}

/// The features whose readers met unseen names, in model feature order.
pub fn unseen_report(names: &[String], readers: &[CellReader]) -> Vec<Unseen> {
    names
        .iter()
        .zip(readers)
        .filter_map(|(name, r)| match r {
            CellReader::Names {
                count, examples, ..
            }
            | CellReader::Hashed {
                count, examples, ..
            } if *count > 0 => Some(Unseen {
                feature: name.clone(),
                cells: *count,
                examples: examples.clone(),
            }),
            _ => None,
        })
        .collect()
}
