//! The engine's entry points for outside input, as the fuzz targets (`fuzz/`) and their replay
//! test (`tests/fuzz_replay.rs`) call them: whatever the bytes, each returns (an error or a
//! result) and never panics, hangs or allocates without bound.

use crate::{DataRows, Ensemble, Matrix, Tree, shap_values};
use std::io::Write;
use std::path::Path;

/// A model file (every format, detected by content): load it; if it loads and is small,
/// explain one row of zeros and check the values add up, as every job does.
pub fn model_file(bytes: &[u8]) {
    let Ok(model) = Ensemble::from_bytes(bytes) else {
        return;
    };
    let nodes: usize = model.trees.iter().map(Tree::num_nodes).sum();
    if model.num_features == 0 || model.num_features > 1_000 || nodes > 100_000 {
        return;
    }
    if let Ok(row) = Matrix::new(1, model.num_features, vec![0.0; model.num_features]) {
        let _ = shap_values(&model, &row);
    }
}

/// A data file (CSV or Parquet, detected by content) read against `model`: written to
/// `scratch` first, because the readers stream from files, as jobs do.
pub fn table_file(bytes: &[u8], model: &Ensemble, scratch: &Path) {
    let written = std::fs::File::create(scratch).and_then(|mut f| f.write_all(bytes));
    if written.is_err() {
        return;
    }
    let _ = crate::describe::describe_data(scratch);
    if let Ok(mut rows) = DataRows::open(scratch, model) {
        // Bounded: a fuzzer's file is small, but a claimed row count must not be trusted.
        for _ in 0..64 {
            match rows.next_block(1_024) {
                Ok(Some(block)) => {
                    let _ = shap_values(model, &block);
                }
                _ => break,
            }
        }
    }
}
