//! Jobs: explaining a whole data upload with a model upload, chunk by chunk, through the
//! queue. The queue ([`crate::queue`]) knows nothing about SHAP; this module is where its
//! opaque payloads and result references get their meaning.
//!
//! A job's payload is a [`spec::JobSpec`] (upload ids, output, background size, and the blob
//! prefix its results go under). Each chunk's SHAP block is one blob of CSV lines in exactly
//! the format of `shaplab explain`, without the header; the header is written once at submit
//! time, so the download is the header blob followed by the chunk blobs in order. An
//! interaction job (`interactions: true`, path-dependent raw only) stores a second blob per
//! chunk and header in the format of `shaplab explain --interactions`, the same way.
//!
//! # Layout
//! - [`spec`]: the payload stored with each job, and the blob keys derived from it.
//! - [`submit`]: checking a request (uploads exist, kinds, column compatibility) and queuing it.
//! - [`limits`]: the ceilings on rows, columns, trees, depth, estimated work and active jobs.
//! - [`compare`]: two jobs' summaries side by side (importance, mean SHAP shift, predictions).
//! - [`cohort`]: a filter on rows (feature values, categories, prediction, SHAP ranges).
//! - [`cohorts`]: two cohorts of one job, mean |SHAP| with group-bootstrap intervals.
//! - [`cache`]: a worker process's bounded cache of parsed models and data, so a job's inputs
//!   are downloaded and parsed once per process, not once per chunk.
//! - [`groups`]: feature groups (one-hot siblings or named), their SHAP the sum of members'.
//! - [`expiry`]: results older than `RESULT_TTL`: the 410 rule and the sweep that deletes them.
//! - [`executor`]: the [`crate::queue::Executor`] that computes one chunk with the engine.
//! - [`workers`]: starting N workers and the reaper, and stopping them gracefully.
//! - [`read`]: reading results back: finished chunks' ranges and values, the job's inputs.
//! - [`report`]: the self-contained HTML report (inline SVG, print stylesheet).
//! - [`rows`]: one explained row (values, SHAP, base values, predictions) for the explorer.
//! - [`ranked`]: the top rows by prediction or by one feature's SHAP value (streamed top-k).
//! - [`rank_query`]: a ranking's query parameters, parsed and checked.
//! - [`summary`]: the bounded aggregates and samples the plots draw, from finished chunks.
//! - [`summary_cache`]: the summary kept as JSON and gzip per number of finished chunks.
//! - [`warm`]: the worker that finishes a job computes its summary right away (cache warm).
//! - [`partner`]: the strongest interaction partner of a feature, by a cheap proxy.
//! - [`pdp`]: partial dependence with ICE lines, the model evaluated on a grid in the API.
//! - [`pairs`]: an interaction job's mean |interaction| matrix and partners, from its blobs.
//! - [`whatif`]: one row with edited values explained again in the API process, with the
//!   job's prepared inputs cached.

pub mod cache;
pub mod cohort;
pub mod cohorts;
pub mod compare;
pub mod executor;
pub mod expiry;
pub mod groups;
pub mod limits;
pub mod pairs;
pub mod partner;
pub mod pdp;
pub mod rank_query;
pub mod ranked;
pub mod read;
pub mod report;
pub mod rows;
pub mod spec;
pub mod submit;
pub mod summary;
pub mod summary_cache;
pub mod warm;
pub mod whatif;
pub mod workers;

use crate::config::ConfigError;

/// Rows per chunk for path-dependent jobs when `CHUNK_ROWS` is unset.
///
/// Why 5,000: a chunk should take about 1–5 s, long enough that queue overhead (a few Redis
/// scripts, one blob write) is noise, short enough that progress moves and a lost worker costs
/// little. `make bench` measures W1 (500 trees of depth 6, 50 features) at ~4,800 rows/s on
/// one thread in release builds, so 5,000 rows are ~1 s on a free core and a few seconds on a
/// shared one or for bigger models.
pub const DEFAULT_CHUNK_ROWS: u64 = 5_000;

/// Interventional TreeSHAP with 100 background rows costs about 11 times path-dependent on W1
/// (`make bench`: ~1,000 vs ~11,000 rows/s per thread), so interventional chunks are
/// `CHUNK_ROWS × 9 / background_rows` rows (450 with 100) to keep them in the same band. Its
/// cost grows more slowly than the background (rows sharing a leaf's pattern are grouped), so
/// larger backgrounds make shorter chunks: the safe side.
pub const INTERVENTIONAL_FACTOR: u64 = 9;

/// Interaction values per chunk (rows × outputs × (features + 1)²) an interaction job aims
/// for: its chunks are `min(CHUNK_ROWS, 2,000,000 / values per row)` rows (at least 1).
///
/// Why a budget of values, not a time factor: a row yields `K·(F+1)²` numbers against the
/// `K·(F+1)` of SHAP, so for all but tiny models what grows is the output, not the compute
/// (the one-pass algorithm in `shaplab::explain::pairs` credits each leaf's path pairs once,
/// a few times a SHAP pass). Two million values are at most ~40 MB of CSV (a non-zero value
/// is typically 18–20 bytes with its comma; measured: 19 MB for xgb_binary_d6's 2,081-row
/// chunks, whose many zero cells take two bytes), which bounds one blob and so the
/// download's and the summary's memory (one blob at a time). Time stays in the SHAP chunks'
/// band: measured on xgb_binary_d6 (30 features: 961 values a row, 20,000 rows, debug
/// build, one worker on two shared cores), a 2,081-row interaction chunk took ~2.4 s where a
/// 5,000-row SHAP chunk took ~0.75 s. Small models keep `CHUNK_ROWS` (a 4-feature model has
/// 25 values a row: 5,000 rows are 125,000 values).
pub const INTERACTION_VALUES_PER_CHUNK: u64 = 2_000_000;

/// Settings for submitting jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobsConfig {
    /// `CHUNK_ROWS`: rows per path-dependent chunk task.
    pub chunk_rows: u64,
    /// `SHAPLAB_JOB_CACHE_MB` (default 1024): memory a worker process may keep for parsed
    /// models and data (see [`cache`]).
    pub cache_bytes: usize,
    /// `RESULT_TTL` (default 24 h): how long a finished job's results are served and kept
    /// (see [`expiry`]).
    pub result_ttl: std::time::Duration,
    /// `UPLOAD_TTL` (default 7 d): how long an upload is kept after it was stored or last
    /// used by a submitted job (see [`crate::uploads::expiry`]).
    pub upload_ttl: std::time::Duration,
    /// `SHAPLAB_MAX_*`: what one job may ask for (see [`limits`]).
    pub limits: limits::Limits,
}

/// Default budget of the per-process input cache.
pub const DEFAULT_CACHE_MB: usize = 1024;

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            chunk_rows: DEFAULT_CHUNK_ROWS,
            cache_bytes: DEFAULT_CACHE_MB << 20,
            result_ttl: crate::config::DEFAULT_RESULT_TTL,
            upload_ttl: crate::config::DEFAULT_UPLOAD_TTL,
            limits: limits::Limits::default(),
        }
    }
}

impl JobsConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|var| std::env::var(var).ok())
    }

    /// Reads `CHUNK_ROWS` and `SHAPLAB_JOB_CACHE_MB` (numbers ≥ 1), `RESULT_TTL` and
    /// `UPLOAD_TTL` through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let number = |var, default, expected| {
            crate::config::positive_number(&lookup, var, default, expected)
        };
        let chunk_rows = number(
            "CHUNK_ROWS",
            DEFAULT_CHUNK_ROWS,
            "a whole number of rows, at least 1 (e.g. 5000)",
        )?;
        let cache_mb = number(
            "SHAPLAB_JOB_CACHE_MB",
            DEFAULT_CACHE_MB as u64,
            "a whole number of MiB, at least 1 (e.g. 1024)",
        )?;
        Ok(JobsConfig {
            chunk_rows,
            cache_bytes: usize::try_from(cache_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX),
            result_ttl: crate::config::result_ttl_from(&lookup)?,
            upload_ttl: crate::config::upload_ttl_from(&lookup)?,
            limits: limits::Limits::from_lookup(&lookup)?,
        })
    }

    /// Rows per chunk for a job with this many background rows (`None`: path-dependent).
    pub fn chunk_rows_for(&self, background_rows: Option<u64>) -> u64 {
        match background_rows {
            None => self.chunk_rows,
            Some(bg) => (self.chunk_rows.saturating_mul(INTERVENTIONAL_FACTOR) / bg.max(1)).max(1),
        }
    }
}

impl JobsConfig {
    /// Rows per chunk for an interaction job whose model yields `values_per_row` interaction
    /// values a row (outputs × (features + 1)²); see [`INTERACTION_VALUES_PER_CHUNK`].
    pub fn interaction_chunk_rows(&self, values_per_row: u64) -> u64 {
        (INTERACTION_VALUES_PER_CHUNK / values_per_row.max(1)).clamp(1, self.chunk_rows)
    }
}

/// The number of workers when neither `--workers` nor `SHAPLAB_WORKERS` says: one per core
/// (each computes one chunk at a time; the engine's rayon pool spreads each chunk over the
/// cores, so more workers than cores would only queue behind each other).
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_rows_defaults_and_rejects_nonsense() {
        assert_eq!(
            JobsConfig::from_lookup(|_| None).map(|c| c.chunk_rows),
            Ok(DEFAULT_CHUNK_ROWS)
        );
        assert_eq!(
            JobsConfig::from_lookup(|_| Some("250".into())).map(|c| c.chunk_rows),
            Ok(250)
        );
        assert!(JobsConfig::from_lookup(|_| Some("0".into())).is_err());
        assert!(JobsConfig::from_lookup(|_| Some("lots".into())).is_err());
    }

    #[test]
    fn interventional_chunks_shrink_with_the_background() {
        let c = JobsConfig {
            chunk_rows: 5_000,
            ..JobsConfig::default()
        };
        assert_eq!(c.chunk_rows_for(None), 5_000);
        // 5,000 × 9 / 100 = 450 rows.
        assert_eq!(c.chunk_rows_for(Some(100)), 450);
        assert_eq!(c.chunk_rows_for(Some(1_000_000)), 1);
    }

    #[test]
    fn interaction_chunks_hold_about_two_million_values() {
        let c = JobsConfig {
            chunk_rows: 5_000,
            ..JobsConfig::default()
        };
        // W1: 50 features, 1 output → 51² = 2,601 values a row; 2,000,000 / 2,601 = 768.
        assert_eq!(c.interaction_chunk_rows(2_601), 768);
        // 4 features, 1 output: 25 a row, so CHUNK_ROWS bounds it.
        assert_eq!(c.interaction_chunk_rows(25), 5_000);
        // More values in one row than the budget: one row a chunk.
        assert_eq!(c.interaction_chunk_rows(10 * 1_001 * 1_001), 1);
    }
}
