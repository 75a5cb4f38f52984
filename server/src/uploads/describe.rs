//! The engine's verdict on an uploaded file. Runs on a blocking thread: parsing a model or
//! scanning a large CSV is CPU and file work that must not stall the async runtime.

use app::wire::{DataSummary, ModelSummary, UploadKind, UploadSummary};
use std::path::Path;

/// Describes `file` as a `kind`, or says what is wrong with it (the engine's message names the
/// place: the tree and node, the row and column).
pub fn describe(kind: UploadKind, file: &Path) -> Result<UploadSummary, shaplab::Error> {
    match kind {
        UploadKind::Model => {
            let model = shaplab::Ensemble::from_path(file)?;
            Ok(UploadSummary::Model(ModelSummary {
                format: model.format.name().to_owned(),
                objective: model.objective.clone(),
                outputs: model.num_outputs,
                trees: model.trees.len(),
                max_depth: model.max_depth(),
                features: model.num_features,
                feature_names: model.feature_names.clone(),
                notes: model.notes.clone(),
            }))
        }
        UploadKind::Data => {
            let csv = shaplab::describe::describe_csv(file)?;
            Ok(UploadSummary::Data(DataSummary {
                rows: csv.rows,
                columns: csv.columns,
                missing_cells: csv.missing_cells,
            }))
        }
    }
}
