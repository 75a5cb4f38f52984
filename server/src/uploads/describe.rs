//! The engine's verdict on an uploaded file. Runs on a blocking thread: parsing a model or
//! scanning a large CSV is CPU and file work that must not stall the async runtime.

use app::wire::{
    CategoricalFeature, DataSummary, ModelSummary, TextColumn, UploadKind, UploadSummary,
};
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
                leaves: model.total_leaves(),
                features: model.num_features,
                feature_names: model.feature_names.clone(),
                notes: model.notes.clone(),
                categorical: (0..model.num_features)
                    .filter_map(|i| {
                        model.categories_of(i).map(|c| CategoricalFeature {
                            name: model.feature_name(i),
                            categories: c.names.clone(),
                            unseen_rule: c.unseen_rule.to_owned(),
                            by_hash: c.hashed.is_some(),
                        })
                    })
                    .collect(),
                covers: covers_word(&model.covers).to_owned(),
            }))
        }
        UploadKind::Data => {
            let format = if shaplab::is_parquet(file)? {
                "Parquet"
            } else {
                "CSV"
            };
            let csv = shaplab::describe::describe_data(file)?;
            Ok(UploadSummary::Data(DataSummary {
                rows: csv.rows,
                columns: csv.columns,
                missing_cells: csv.missing_cells,
                format: format.to_owned(),
                text_columns: csv
                    .text_columns
                    .into_iter()
                    .map(|t| TextColumn {
                        name: t.name,
                        values: t.values,
                        counts: t.counts,
                        more: t.more,
                        first_text_row: t.first_text_row,
                    })
                    .collect(),
            }))
        }
    }
}

/// The wire word for where a model's covers come from.
pub fn covers_word(covers: &shaplab::Covers) -> &'static str {
    match covers {
        shaplab::Covers::Model => "model",
        shaplab::Covers::Recomputed { .. } => "recomputed",
        shaplab::Covers::None => "none",
    }
}

/// The engine's form of the data summary's text columns (for the compatibility check).
pub fn engine_text_columns(summary: &DataSummary) -> Vec<shaplab::describe::TextColumn> {
    summary
        .text_columns
        .iter()
        .map(|t| shaplab::describe::TextColumn {
            name: t.name.clone(),
            values: t.values.clone(),
            counts: t.counts.clone(),
            more: t.more,
            first_text_row: t.first_text_row,
        })
        .collect()
}
