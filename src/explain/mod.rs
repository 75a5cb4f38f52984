//! Explainers over an [`Ensemble`]: path-dependent TreeSHAP, interaction values, and
//! interventional TreeSHAP against background rows.
//!
//! Every explainer takes any block of rows on its own (the server calls it chunk by chunk) and
//! computes each row independently, in a fixed order over trees, so results are bit-identical
//! for any thread count and any chunking. Rows run in parallel on the current rayon pool.

mod aligned;
mod batch;
mod groups;
pub mod interactions;
mod interventional;
mod lanes;
mod linear;
mod pairs;
pub mod path;
mod prepare;

pub use interventional::{Background, interventional_values};
pub use pairs::interaction_values;

use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::model::{Covers, Ensemble};
use batch::{BATCH, Batch};
use linear::LinearTrees;
use rayon::prelude::*;

/// Which scale the explained quantity lives on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// The raw margin (log-odds for logistic models).
    Raw,
    /// The model's prediction after its link (probability for logistic models).
    Probability,
}

/// SHAP values for a block of rows.
///
/// `values` is rows × outputs × (features + 1): per output, one value per model feature in model
/// feature order, then the base value — the layout of XGBoost's `pred_contribs` and of the CLI's
/// CSV, so writing a row is a copy.
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    pub rows: usize,
    pub num_features: usize,
    pub num_outputs: usize,
    pub values: Vec<f64>,
}

impl Explanation {
    /// Values per row: outputs × (features + 1).
    pub fn stride(&self) -> usize {
        self.num_outputs * (self.num_features + 1)
    }

    /// The SHAP values and base value of row `row`, output `k`.
    pub fn block(&self, row: usize, k: usize) -> &[f64] {
        let f1 = self.num_features + 1;
        let start = row * self.stride() + k * f1;
        &self.values[start..start + f1]
    }
}

/// Rows must have exactly the model's features, in model order.
pub(crate) fn check_shape(model: &Ensemble, rows: &Matrix) -> Result<()> {
    if rows.cols != model.num_features {
        return Err(Error::InvalidData(format!(
            "rows have {} features, the model expects {}",
            rows.cols, model.num_features
        )));
    }
    Ok(())
}

/// Path-dependent TreeSHAP weighs branches by node covers; a model that stores none (ONNX) has
/// no such weights until they are recomputed from data, and a placeholder would give values that
/// look right and mean nothing.
pub(crate) fn check_covers(model: &Ensemble) -> Result<()> {
    if model.covers == Covers::None {
        return Err(Error::Unsupported(format!(
            "the model stores no node covers ({}), so path-dependent TreeSHAP and interaction \
             values are undefined for it: explain it interventionally against background rows \
             (exact), or recompute covers from a dataset (the values are then labelled as \
             describing that dataset)",
            model.format.name()
        )));
    }
    Ok(())
}

/// Path-dependent TreeSHAP values (what `shap.TreeExplainer(model).shap_values` returns, and
/// XGBoost `pred_contribs` / LightGBM `pred_contrib`), on the raw margin scale.
pub fn shap_values(model: &Ensemble, rows: &Matrix) -> Result<Explanation> {
    PathExplainer::new(model).explain(rows)
}

/// Path-dependent TreeSHAP with the model-only precomputation (quadrature factors per edge,
/// preorder trees, expected values) done once: build one per model, then explain any number
/// of row blocks. [`shap_values`] is the one-shot form.
pub struct PathExplainer<'m> {
    model: &'m Ensemble,
    prepared: LinearTrees,
    expected: Vec<f64>,
}

impl<'m> PathExplainer<'m> {
    pub fn new(model: &'m Ensemble) -> Self {
        PathExplainer {
            model,
            prepared: LinearTrees::new(&model.trees),
            expected: model.expected_values(),
        }
    }

    /// SHAP values of a block of rows (model feature order).
    pub fn explain(&self, rows: &Matrix) -> Result<Explanation> {
        let model = self.model;
        check_covers(model)?;
        check_shape(model, rows)?;
        let f = model.num_features;
        let k = model.num_outputs;
        let stride = k * (f + 1);
        let mut values = vec![0.0; rows.rows * stride];
        // The transposed SHAP buffer holds outputs × features × rows per batch: keep it near
        // 16 MB so wide multi-class models do not take hundreds of MB per thread.
        let cap = ((16 << 20) / (8 * k * f).max(1)).clamp(1, BATCH);
        // Batches of rows go through one tree at a time; each row's arithmetic is independent
        // of the others, so the result does not depend on batching or threads.
        values
            .par_chunks_mut(stride * cap)
            .enumerate()
            .for_each_init(
                || Batch::new(f, k, cap),
                |batch, (chunk, out)| {
                    let first = chunk * cap;
                    let nb = out.len() / stride;
                    batch.load(&rows.values[first * f..(first + nb) * f], nb);
                    for (t, &o) in model.tree_output.iter().enumerate() {
                        self.prepared.add(t, o, batch);
                    }
                    batch.store(out, stride);
                    for row in out.chunks_exact_mut(stride) {
                        for o in 0..k {
                            row[o * (f + 1) + f] = self.expected[o];
                        }
                    }
                },
            );
        Ok(Explanation {
            rows: rows.rows,
            num_features: f,
            num_outputs: k,
            values,
        })
    }
}

/// A fixture's model (`model.json` or `model.txt`) and its `data.csv` rows, for the explainers'
/// unit tests that compare two kernels of the same method.
#[cfg(test)]
pub(crate) fn fixture(dir: &str) -> (Ensemble, Matrix) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(dir);
    let file = ["model.json", "model.txt"]
        .into_iter()
        .map(|f| root.join(f))
        .find(|p| p.exists())
        .expect("a model file");
    let model = Ensemble::from_path(&file).expect("model");
    let rows = crate::CsvRows::open(&root.join("data.csv"), &model)
        .and_then(|mut r| r.read_all())
        .expect("rows");
    (model, rows)
}
