//! What-if (`POST /api/jobs/{id}/whatif`): one row of a job with some feature values
//! changed, explained again by the engine in the API process, answered in the shape of
//! `GET /api/jobs/{id}/rows/{i}` with notes in words (a value outside what the data holds,
//! a category the model never saw).
//!
//! Why the API computes it rather than a worker: one row takes milliseconds (W1's 500 trees:
//! see the README), far less than a queue round trip, and the page waits for the answer.
//! What it needs is prepared once per job and kept in [`WhatIfCache`]: the model (with covers
//! recomputed from the data when the job asked for that), the background sample of an
//! interventional job (the worker's seeded sample, so an unchanged row gives the job's own
//! values), each feature's observed range, and the downloaded data file the row is read from.

use super::read::{DataFile, ReadError, model};
use super::rows::assemble;
use super::spec::JobSpec;
use crate::blobs::BlobStore;
use app::wire::{JobOutput, JobRow, WhatIfRow};
use serde::Deserialize;
use serde_json::Value;
use shaplab::cells::CellReader;
use shaplab::cli::{BACKGROUND_SEED, reservoir_sample};
use shaplab::{Background, DataRows, Ensemble, Matrix, Output, PathExplainer};
use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// Jobs whose what-if inputs are kept: an analyst explores one or two jobs at a time, and
/// each entry holds a parsed model and a copy of its data file.
const CACHED_JOBS: usize = 4;

/// A feature's smallest and largest non-missing value in the data (`None`: all missing).
type Range = Option<(f64, f64)>;

/// One job's inputs in the cache, prepared at most once by whoever asks first.
type Slot = Arc<OnceCell<Arc<WhatIfInputs>>>;

/// The request body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhatIfRequest {
    /// 0-based row of the job's data.
    pub row: u64,
    /// Feature name → new value: a number, `null` (missing), or a category name.
    #[serde(default)]
    pub values: BTreeMap<String, Value>,
}

/// What a what-if needs of a job, prepared once.
pub struct WhatIfInputs {
    pub(super) model: Ensemble,
    background: Option<Background>,
    pub(super) output: Output,
    /// Per feature, the range the data holds.
    pub(super) ranges: Vec<Range>,
    pub(super) rows: u64,
    pub(super) data: DataFile,
}

impl WhatIfInputs {
    /// Downloads and prepares a job's inputs: one streamed pass for the ranges, plus what the
    /// job's method needs (all rows for recomputed covers, a reservoir pass for a background).
    pub async fn prepare(
        blobs: &BlobStore,
        scratch: &Path,
        spec: &JobSpec,
    ) -> Result<Self, ReadError> {
        let mut model = model(blobs, spec).await?;
        let data = DataFile::fetch(blobs, spec, scratch).await?;
        let spec = spec.clone();
        tokio::task::spawn_blocking(move || {
            let internal = |what: &str, e: shaplab::Error| {
                ReadError::Internal(format!("preparing the what-if ({what}): {e}"))
            };
            let (ranges, rows) =
                observed_ranges(&data.path, &model).map_err(|e| internal("data", e))?;
            if spec.covers_from_data {
                // As the executor does: covers counted over every row of the job's data.
                let all = DataRows::open(&data.path, &model)
                    .and_then(|mut d| d.read_all())
                    .map_err(|e| internal("data", e))?;
                model
                    .recompute_covers(&all, "the job's data")
                    .map_err(|e| internal("covers", e))?;
            }
            let background = match spec.background_rows {
                None => None,
                Some(n) => {
                    let n = usize::try_from(n).unwrap_or(usize::MAX);
                    let sample = DataRows::open(&data.path, &model)
                        .and_then(|mut d| reservoir_sample(&mut d, n, BACKGROUND_SEED))
                        .and_then(|m| Background::new(&model, m))
                        .map_err(|e| internal("background sample", e))?;
                    Some(sample)
                }
            };
            let output = match spec.output {
                JobOutput::Raw => Output::Raw,
                JobOutput::Probability => Output::Probability,
            };
            Ok(WhatIfInputs {
                model,
                background,
                output,
                ranges,
                rows,
                data,
            })
        })
        .await
        .map_err(|e| ReadError::Internal(format!("preparing the what-if failed: {e}")))?
    }

    pub fn num_features(&self) -> usize {
        self.model.num_features
    }

    pub fn feature_name(&self, j: usize) -> String {
        self.model.feature_name(j)
    }

    /// Row `request.row` with `request.values` put in, explained; the notes say what the
    /// analyst should know about the values put in.
    pub fn explain(&self, request: &WhatIfRequest) -> Result<WhatIfRow, ReadError> {
        let i = request.row;
        if i >= self.rows {
            return Err(ReadError::RowNotFound(format!(
                "row {i} is past the end: the job has {} rows (0 to {})",
                self.rows,
                self.rows.saturating_sub(1)
            )));
        }
        let edits = self.edits(&request.values)?;
        let mut values = self.original(i)?;
        let mut notes = Vec::new();
        let mut changed = Vec::new();
        for edit in edits {
            values[edit.feature] = edit.value;
            changed.push(self.model.feature_name(edit.feature));
            notes.extend(edit.note);
        }
        let line = self.shap_line(&values)?;
        let JobRow {
            row,
            features,
            base_values,
            predictions,
        } = assemble(&self.model, i, &values, &line);
        Ok(WhatIfRow {
            row,
            features,
            base_values,
            predictions,
            changed,
            notes,
        })
    }

    /// The row's values as the data file holds them, in model feature order.
    fn original(&self, i: u64) -> Result<Vec<f64>, ReadError> {
        let mut found = None;
        self.data
            .visit_rows(&self.model, &[i], |_, v| found = Some(v.to_vec()))?;
        found.ok_or_else(|| {
            ReadError::Internal(format!(
                "the data upload has no row {i} (shorter than the job)"
            ))
        })
    }

    /// SHAP values and base values of one row, by the job's own method.
    fn shap_line(&self, values: &[f64]) -> Result<Vec<f64>, ReadError> {
        let row = Matrix::new(1, values.len(), values.to_vec())
            .map_err(|e| ReadError::Internal(format!("the edited row: {e}")))?;
        let explained = match &self.background {
            Some(bg) => shaplab::interventional_values(&self.model, &row, bg, self.output),
            None => PathExplainer::new(&self.model).explain(&row),
        }
        .map_err(|e| ReadError::Internal(format!("explaining the edited row: {e}")))?;
        Ok(explained.values)
    }

    /// Each requested value as the number the trees compare, with a note when it lies outside
    /// what the model or the data knows. Unknown features and unreadable values are refused.
    fn edits(&self, values: &BTreeMap<String, Value>) -> Result<Vec<Edit>, ReadError> {
        let names: Vec<String> = (0..self.model.num_features)
            .map(|j| self.model.feature_name(j))
            .collect();
        values
            .iter()
            .map(|(name, value)| {
                let feature = names.iter().position(|n| n == name).ok_or_else(|| {
                    ReadError::Invalid(format!(
                        "the model has no feature {name:?}; its features are {}",
                        names.join(", ")
                    ))
                })?;
                self.edit(feature, name, value)
            })
            .collect()
    }

    fn edit(&self, feature: usize, name: &str, value: &Value) -> Result<Edit, ReadError> {
        let categories = self.model.categories_of(feature);
        let mut reader = CellReader::new(categories);
        let number = match value {
            Value::Null => Some(f64::NAN),
            Value::Number(n) => n.as_f64(),
            Value::String(s) => reader.read(s.trim()),
            _ => None,
        };
        let Some(number) = number else {
            let what = if categories.is_some() {
                "a category name, a category code or null"
            } else {
                "a number or null (missing)"
            };
            return Err(ReadError::Invalid(format!(
                "the value {value} for {name:?} cannot be read: give {what}"
            )));
        };
        // As typed: a name as it is, a number without serde's trailing ".0".
        let shown = match value {
            Value::String(s) => s.clone(),
            _ => number.to_string(),
        };
        let note = match categories {
            // Missing is no category at all; an unseen name reads as the library's unseen
            // code, which for LightGBM is NaN too, so the reader's count tells them apart.
            Some(c) => {
                let known = match value {
                    Value::Null => true,
                    Value::String(_) => !matches!(unseen_count(&reader), Some(n) if n > 0),
                    _ => {
                        number >= 0.0
                            && number.fract() == 0.0
                            && (c.names.is_empty() || (number as usize) < c.names.len())
                    }
                };
                (!known).then(|| {
                    format!(
                        "{name} = {shown} is a category the model never saw in training; \
                         it is routed as the model routes unseen categories"
                    )
                })
            }
            None if number.is_nan() => None,
            None => self.ranges[feature].and_then(|(lo, hi)| {
                (number < lo || number > hi).then(|| {
                    format!(
                        "{name} = {shown} is outside the values the data holds ({} to {}); \
                         the trees treat it like the nearest value they split on, so read \
                         the answer with care",
                        app::format::value(lo),
                        app::format::value(hi)
                    )
                })
            }),
        };
        Ok(Edit {
            feature,
            value: number,
            note,
        })
    }
}

/// How many unseen names a reader met (for the readers that name categories).
fn unseen_count(reader: &CellReader) -> Option<u64> {
    match reader {
        CellReader::Names { count, .. } | CellReader::Hashed { count, .. } => Some(*count),
        _ => None,
    }
}

struct Edit {
    feature: usize,
    value: f64,
    note: Option<String>,
}

/// Each feature's smallest and largest non-missing value, and the number of rows.
fn observed_ranges(path: &Path, model: &Ensemble) -> shaplab::Result<(Vec<Range>, u64)> {
    let mut ranges: Vec<Range> = vec![None; model.num_features];
    let mut rows = 0u64;
    let mut data = DataRows::open(path, model)?;
    while let Some(block) = data.next_block(4_096)? {
        for r in 0..block.rows {
            for (range, &v) in ranges.iter_mut().zip(block.row(r)) {
                if v.is_nan() {
                    continue;
                }
                *range = Some(match *range {
                    None => (v, v),
                    Some((lo, hi)) => (lo.min(v), hi.max(v)),
                });
            }
        }
        rows += block.rows as u64;
    }
    Ok((ranges, rows))
}

/// The API process's prepared what-if inputs, for the last few jobs asked about. Each job's
/// inputs are prepared once even when several requests arrive together (they wait on the
/// same cell); a failed preparation is not kept, so the next request tries again.
#[derive(Default)]
pub struct WhatIfCache {
    /// Most recently used last. A std mutex: held only to find or insert an entry, never
    /// across an await.
    entries: Mutex<VecDeque<(String, Slot)>>,
}

impl WhatIfCache {
    /// The job's prepared inputs, from the cache or prepared now.
    pub async fn inputs(
        &self,
        job: &str,
        blobs: &BlobStore,
        scratch: &Path,
        spec: &JobSpec,
    ) -> Result<Arc<WhatIfInputs>, ReadError> {
        let cell = self.cell(job);
        let prepared = cell
            .get_or_try_init(|| async {
                WhatIfInputs::prepare(blobs, scratch, spec)
                    .await
                    .map(Arc::new)
            })
            .await;
        if prepared.is_err() {
            self.forget(job);
        }
        prepared.cloned()
    }

    fn cell(&self, job: &str) -> Slot {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let cell = match entries.iter().position(|(id, _)| id == job) {
            Some(at) => entries.remove(at).map(|(_, c)| c).unwrap_or_default(),
            None => Arc::default(),
        };
        entries.push_back((job.to_owned(), cell.clone()));
        while entries.len() > CACHED_JOBS {
            entries.pop_front();
        }
        cell
    }

    fn forget(&self, job: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|(id, c)| id != job || c.initialized());
    }
}
