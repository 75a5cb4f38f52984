//! One explained row (`GET /api/jobs/{id}/rows/{i}`), for the row explorer's waterfall and
//! force plots: its feature values, SHAP values, base values and predictions.
//!
//! The SHAP line comes from the chunk blob that holds the row (chunk `i / chunk_rows`); the
//! feature values from the data upload, read directly. Why a direct read and not the
//! workers' input cache: the cache lives in worker processes (possibly other machines), the
//! API process has none. The read is a bounded scan: the CSV is streamed in blocks and the
//! scan stops at row `i`, so memory is one block and the time is that of parsing `i` rows
//! (about a second per 100 MB of CSV); the page asks for one row at a time, on demand.

use super::read::{DataFile, ReadError, chunk_rows, chunk_values, done_chunks, model};
use super::spec::JobSpec;
use crate::blobs::BlobStore;
use app::wire::{JobRow, RowFeature, RowPredictions};
use shaplab::{Ensemble, Link};
use std::path::Path;

/// Row `i` of a job whose chunk results are `results` (from `Queue::chunk_results`).
pub async fn job_row(
    blobs: &BlobStore,
    scratch: &Path,
    spec: &JobSpec,
    results: &[Option<String>],
    rows_total: u64,
    i: u64,
) -> Result<JobRow, ReadError> {
    if i >= rows_total {
        return Err(ReadError::RowNotFound(format!(
            "row {i} is past the end: the job has {rows_total} rows (0 to {})",
            rows_total.saturating_sub(1)
        )));
    }
    let done = done_chunks(results)?;
    let not_yet = || {
        ReadError::NotFinished(format!(
            "the chunk holding row {i} is not finished yet; try again once the job has \
             progressed"
        ))
    };
    let per_chunk = chunk_rows(&done).ok_or_else(not_yet)?;
    let index = usize::try_from(i / per_chunk).unwrap_or(usize::MAX);
    let chunk = done.iter().find(|c| c.index == index).ok_or_else(not_yet)?;
    if !(chunk.start..chunk.end).contains(&i) {
        return Err(ReadError::Internal(format!(
            "chunk {index} holds rows {}..{}, not row {i}",
            chunk.start, chunk.end
        )));
    }
    let model = model(blobs, spec).await?;
    let (f, k) = (model.num_features, model.num_outputs);
    let width = k * (f + 1);
    let values = chunk_values(blobs, chunk, width).await?;
    let at = usize::try_from(i - chunk.start).unwrap_or(usize::MAX) * width;
    let line = values[at..at + width].to_vec();
    let data = DataFile::fetch(blobs, spec, scratch).await?;
    tokio::task::spawn_blocking(move || {
        let mut row_values = None;
        data.visit_rows(&model, &[i], |_, v| row_values = Some(v.to_vec()))?;
        let row_values = row_values.ok_or_else(|| {
            ReadError::Internal(format!(
                "the data upload has no row {i} (shorter than the job)"
            ))
        })?;
        Ok(assemble(&model, i, &row_values, &line))
    })
    .await
    .map_err(|e| ReadError::Internal(format!("reading the row failed: {e}")))?
}

/// The category a categorical feature's code stands for: its name, or words for a category
/// the model never saw (the cell's own text is not kept once it became a code).
fn category_name(model: &Ensemble, feature: usize, code: f64) -> Option<String> {
    let names = &model.categories_of(feature)?.names;
    if names.is_empty() || code.is_nan() {
        return None;
    }
    let name = (code >= 0.0 && code.fract() == 0.0)
        .then(|| names.get(code as usize))
        .flatten();
    Some(
        name.cloned()
            .unwrap_or_else(|| "(a category the model never saw)".into()),
    )
}

/// The row's answer from its feature values (model order) and its SHAP line.
pub(super) fn assemble(model: &Ensemble, i: u64, values: &[f64], line: &[f64]) -> JobRow {
    let (f, k) = (model.num_features, model.num_outputs);
    let features = (0..f)
        .map(|j| RowFeature {
            name: model.feature_name(j),
            value: (!values[j].is_nan()).then_some(values[j]),
            shap: (0..k).map(|o| line[o * (f + 1) + j]).collect(),
            category: category_name(model, j, values[j]),
        })
        .collect();
    let mut margin = vec![0.0; k];
    model.predict_margin(values, &mut margin);
    let probability = (model.link != Link::Identity).then(|| model.predict(values));
    JobRow {
        row: i,
        features,
        base_values: (0..k).map(|o| line[o * (f + 1) + f]).collect(),
        predictions: RowPredictions {
            margin,
            probability,
        },
    }
}
