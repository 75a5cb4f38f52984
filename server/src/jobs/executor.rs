//! The chunk executor: computes the SHAP values of one chunk's rows with the engine and
//! stores them in the blob store as CSV lines in exactly the format of `shaplab explain`.
//! For an interaction job it also stores the chunk's interaction values, in the format of
//! `shaplab explain --interactions`, and one line of their |value| sums per cell (what the
//! summary reads), both written before the SHAP blob, so the chunk's result reference (the
//! SHAP key) only exists once all three do. Every chunk also stores its additivity check
//! (the largest |base + ΣSHAP − f(x)| over its rows) before the SHAP blob.
//!
//! It runs on the worker's blocking thread (compute must not stall the async runtime, and
//! the heartbeat runs elsewhere), so blob I/O is driven with the runtime handle's
//! `block_on`, which is allowed on blocking threads.
//!
//! Errors are sorted by what a retry could change: a model or data file the engine refuses
//! is [`TaskError::Permanent`] with the engine's message (it names the tree or the row and
//! column); blob store and disk failures are [`TaskError::Retryable`].

use super::cache::{InputCache, InputKey};
use super::spec::JobSpec;
use crate::blobs::{BlobError, BlobStore};
use crate::queue::{CancelToken, Executor, RowRange, TaskError, TaskPayload};
use crate::uploads::UploadId;
use app::wire::{JobOutput, UploadKind};
use shaplab::cli::{BACKGROUND_SEED, reservoir_sample};
use shaplab::output::RowWriter;
use shaplab::{Background, DataRows, Ensemble, Matrix, Output, PathExplainer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows explained between two looks at the [`CancelToken`]: a cancelled job stops within
/// one block (well under a second on W1-sized models), while each block is still big enough
/// to keep every core busy. The engine's results do not depend on the block size.
const CANCEL_BLOCK_ROWS: usize = 512;

/// A job's inputs, parsed once per worker process (see [`super::cache`]).
pub struct Prepared {
    pub model: Ensemble,
    /// Every data row, in model feature order.
    pub rows: Matrix,
    pub background: Option<Background>,
    /// Estimated memory, for the cache budget.
    pub bytes: usize,
}

impl Prepared {
    #[cfg(test)]
    pub(crate) fn for_tests(bytes: usize) -> Self {
        let model = Ensemble::from_bytes(include_bytes!("../../../fixtures/xgb_reg_d3/model.json"))
            .expect("fixture model parses");
        Prepared {
            model,
            rows: Matrix::default(),
            background: None,
            bytes,
        }
    }
}

/// The [`Executor`] that runs the engine.
pub struct ShapExecutor {
    blobs: BlobStore,
    cache: InputCache,
    /// For blob I/O from the blocking thread the worker runs us on.
    runtime: tokio::runtime::Handle,
    /// Where chunk output is written before it goes to the blob store.
    scratch: PathBuf,
}

impl ShapExecutor {
    /// `cache_dir` holds downloads while they are parsed and chunk files while they are
    /// written; `cache_bytes` bounds the parsed inputs kept in memory. Call from within the
    /// tokio runtime.
    pub fn new(blobs: BlobStore, cache_dir: PathBuf, cache_bytes: usize) -> Self {
        ShapExecutor {
            blobs,
            cache: InputCache::new(cache_dir.join("inputs"), cache_bytes),
            runtime: tokio::runtime::Handle::current(),
            scratch: cache_dir.join("chunks"),
        }
    }

    fn fetch(&self, id: &str, kind: UploadKind, dest: &Path) -> Result<(), TaskError> {
        let what = match kind {
            UploadKind::Model => "model",
            UploadKind::Data => "data",
        };
        let upload = UploadId::parse(id).ok_or_else(|| {
            TaskError::Permanent(format!("the job names an invalid {what} upload id {id:?}"))
        })?;
        self.runtime
            .block_on(self.blobs.get_to_file(&upload.file_key(kind), dest))
            .map_err(|e| match e {
                BlobError::NotFound(_) => TaskError::Permanent(format!(
                    "the {what} upload {id} is no longer stored; upload the file again and \
                     resubmit the job"
                )),
                other => {
                    TaskError::Retryable(format!("cannot fetch the {what} upload {id}: {other}"))
                }
            })
    }

    /// Downloads and parses a job's inputs (once per process, through the cache).
    fn load(&self, spec: &JobSpec, dir: &Path) -> Result<Prepared, TaskError> {
        let model_path = dir.join("model");
        let data_path = dir.join("data");
        self.fetch(&spec.model, UploadKind::Model, &model_path)?;
        self.fetch(&spec.data, UploadKind::Data, &data_path)?;
        let mut model = Ensemble::from_path(&model_path).map_err(|e| engine("the model", e))?;
        let rows = DataRows::open(&data_path, &model)
            .and_then(|mut csv| csv.read_all())
            .map_err(|e| engine("the data", e))?;
        if spec.covers_from_data {
            // From all the job's rows, so every chunk (on any worker) uses the same covers.
            model
                .recompute_covers(&rows, "the job's data")
                .map_err(|e| engine("recomputing the covers", e))?;
        }
        let background = match spec.background_rows {
            None => None,
            Some(n) => {
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                // The same seeded reservoir sample `shaplab explain --background-rows n` draws,
                // so a job's values equal the CLI's.
                let sample = DataRows::open(&data_path, &model)
                    .and_then(|mut csv| reservoir_sample(&mut csv, n, BACKGROUND_SEED))
                    .and_then(|m| Background::new(&model, m))
                    .map_err(|e| engine("the background sample", e))?;
                Some(sample)
            }
        };
        let model_bytes = std::fs::metadata(&model_path).map_or(0, |m| m.len() as usize);
        let bytes = model_bytes
            + rows.values.len() * 8
            + background.as_ref().map_or(0, Background::heap_bytes);
        Ok(Prepared {
            model,
            rows,
            background,
            bytes,
        })
    }

    /// SHAP values of rows `start..end` (and their interaction values when asked), in
    /// blocks, stopping early when cancelled.
    fn compute(
        &self,
        prepared: &Prepared,
        output: Output,
        (start, end): (usize, usize),
        interactions: bool,
        cancel: &CancelToken,
    ) -> Result<(Vec<f64>, Option<Vec<f64>>), TaskError> {
        let model = &prepared.model;
        let stride = model.num_outputs * (model.num_features + 1);
        let mut values = Vec::with_capacity((end - start) * stride);
        // Interaction values are per row, so the engine's results do not depend on the block
        // size either: the CLI's blocks and ours give the same numbers.
        let mut pairs = interactions.then(|| {
            Vec::with_capacity((end - start) * stride * stride / model.num_outputs.max(1))
        });
        // Model-only precomputation: per chunk rather than cached, because the explainer
        // borrows the model; it costs milliseconds against a chunk's seconds.
        let path = PathExplainer::new(model);
        let mut at = start;
        while at < end {
            if cancel.is_cancelled() {
                return Err(TaskError::Retryable(
                    "the chunk was stopped before it finished (job cancelled or lease lost)".into(),
                ));
            }
            let to = (at + CANCEL_BLOCK_ROWS).min(end);
            let block = prepared.rows.slice(at, to);
            let explained = match &prepared.background {
                Some(bg) => shaplab::interventional_values(model, &block, bg, output),
                None => path.explain(&block),
            }
            .map_err(|e| engine("explaining the data", e))?;
            values.extend_from_slice(&explained.values);
            if let Some(pairs) = pairs.as_mut() {
                let block_pairs = shaplab::interaction_values(model, &block)
                    .map_err(|e| engine("computing interaction values", e))?;
                pairs.extend_from_slice(&block_pairs);
            }
            at = to;
        }
        Ok((values, pairs))
    }

    /// The chunk's lines, formatted by the engine's own CSV writer so they match the CLI's
    /// byte for byte (the writer insists on a header line: an empty one, dropped here).
    fn format(&self, values: &[f64], width: usize) -> Result<Vec<u8>, TaskError> {
        let io = |e: std::io::Error| {
            TaskError::Retryable(format!("cannot write the chunk's scratch file: {e}"))
        };
        std::fs::create_dir_all(&self.scratch).map_err(io)?;
        let file = self
            .scratch
            .join(format!("{}.csv", uuid::Uuid::new_v4().simple()));
        let written = RowWriter::create(&file, "")
            .and_then(|mut w| {
                w.rows(values, width)?;
                w.finish()
            })
            .map_err(|e| TaskError::Retryable(format!("cannot write the chunk: {e}")));
        let bytes = written.and_then(|()| std::fs::read(&file).map_err(io));
        let _ = std::fs::remove_file(&file);
        let mut bytes = bytes?;
        // Drop the empty header line.
        if bytes.first() == Some(&b'\n') {
            bytes.remove(0);
        }
        Ok(bytes)
    }
}

/// The largest |base + ΣSHAP − f(x)| over the chunk's rows and outputs, where f(x) is the
/// model's own prediction on the explained scale (the raw margin, or the probability): the
/// check an analyst can quote that the values add up (a float32 library shows ~1e-6).
fn additivity_error(
    model: &Ensemble,
    rows: &Matrix,
    start: usize,
    values: &[f64],
    output: Output,
) -> f64 {
    let (f, k) = (model.num_features, model.num_outputs);
    let width = k * (f + 1);
    let mut margin = vec![0.0; k];
    let mut worst = 0.0f64;
    for (i, line) in values.chunks_exact(width.max(1)).enumerate() {
        let x = rows.row(start + i);
        let fx = match output {
            Output::Raw => {
                model.predict_margin(x, &mut margin);
                margin.clone()
            }
            Output::Probability => model.predict(x),
        };
        for (o, target) in fx.iter().enumerate().take(k) {
            let sum: f64 = line[o * (f + 1)..(o + 1) * (f + 1)].iter().sum();
            worst = worst.max((sum - target).abs());
        }
    }
    worst
}

/// An engine error as a task error: the user's input is permanent, I/O is retryable.
fn engine(what: &str, e: shaplab::Error) -> TaskError {
    if e.is_user_error() {
        TaskError::Permanent(format!("{what}: {e}"))
    } else {
        TaskError::Retryable(format!("{what}: {e}"))
    }
}

impl Executor for ShapExecutor {
    fn execute(
        &self,
        payload: TaskPayload,
        rows: RowRange,
        cancel: CancelToken,
    ) -> Result<String, TaskError> {
        let spec = JobSpec::parse(payload.as_str()).map_err(TaskError::Permanent)?;
        let key = InputKey {
            model: spec.model.clone(),
            data: spec.data.clone(),
            background_rows: spec.background_rows,
            covers_from_data: spec.covers_from_data,
        };
        let prepared = self.cache.get_or_load(&key, |dir| self.load(&spec, dir))?;
        let (start, end) = (
            usize::try_from(rows.start).unwrap_or(usize::MAX),
            usize::try_from(rows.end).unwrap_or(usize::MAX),
        );
        if start > end || end > prepared.rows.rows {
            return Err(TaskError::Permanent(format!(
                "rows {}..{} were asked for, but the data has {} rows",
                rows.start, rows.end, prepared.rows.rows
            )));
        }
        let output = match spec.output {
            JobOutput::Raw => Output::Raw,
            JobOutput::Probability => Output::Probability,
        };
        if spec.interactions && (prepared.background.is_some() || output != Output::Raw) {
            return Err(TaskError::Permanent(
                "interaction values are path-dependent and raw only; submit the job again \
                 without \"interactions\" or with raw path-dependent output"
                    .into(),
            ));
        }
        let (values, pairs) =
            self.compute(&prepared, output, (start, end), spec.interactions, &cancel)?;
        let width = prepared.model.num_outputs * (prepared.model.num_features + 1);
        if let Some(pairs) = pairs {
            let pair_width = width * (prepared.model.num_features + 1);
            let mut sums = vec![0.0f64; pair_width];
            for line in pairs.chunks_exact(pair_width.max(1)) {
                for (sum, v) in sums.iter_mut().zip(line) {
                    *sum += v.abs();
                }
            }
            for (key, bytes) in [
                (
                    spec.interactions_key(rows.start, rows.end),
                    self.format(&pairs, pair_width)?,
                ),
                (
                    spec.interaction_sums_key(rows.start, rows.end),
                    self.format(&sums, pair_width)?,
                ),
            ] {
                self.runtime
                    .block_on(self.blobs.put_bytes(&key, bytes))
                    .map_err(|e| {
                        TaskError::Retryable(format!(
                            "cannot store the chunk's interaction values: {e}"
                        ))
                    })?;
            }
        }
        let worst = additivity_error(&prepared.model, &prepared.rows, start, &values, output);
        self.runtime
            .block_on(self.blobs.put_bytes(
                &spec.additivity_key(rows.start, rows.end),
                worst.to_string().into_bytes(),
            ))
            .map_err(|e| {
                TaskError::Retryable(format!("cannot store the chunk's additivity check: {e}"))
            })?;
        let bytes = self.format(&values, width)?;
        let key = spec.chunk_key(rows.start, rows.end);
        self.runtime
            .block_on(self.blobs.put_bytes(&key, bytes))
            .map_err(|e| TaskError::Retryable(format!("cannot store the chunk's values: {e}")))?;
        Ok(key)
    }
}

/// Shared so `serve` and `worker` build the executor the same way.
pub fn shap_executor(
    blobs: BlobStore,
    cache_dir: PathBuf,
    cache_bytes: usize,
) -> Arc<dyn Executor> {
    Arc::new(ShapExecutor::new(blobs, cache_dir, cache_bytes))
}
