//! shaplab — exact TreeSHAP for XGBoost and LightGBM models.
//!
//! Pure functions over plain data: no web, no Redis, no tokio. Parallel over rows with rayon.
//! Load a model with [`Ensemble::from_path`], read rows with [`DataRows`] (CSV or Parquet, told
//! apart by content; [`CsvRows`] and [`ParquetRows`] underneath), explain them with
//! [`shap_values`], [`interaction_values`] or [`interventional_values`].
//!
//! # Layout
//! - `error`: the one typed error enum, separating bad input from engine/IO failure.
//! - `model`: the flat tree-ensemble form every explainer uses, its validation (`model/tree`),
//!   and the loaders: XGBoost JSON/UBJSON (`model/xgboost`, with a bounded UBJSON reader in
//!   `model/ubjson` over the shared document tree in `model/value`), LightGBM text
//!   (`model/lightgbm`) and CatBoost JSON (`model/catboost`: oblivious trees expanded in the
//!   order CatBoost's SHAP walks them, one-hot categories matched by CatBoost's own hash),
//!   and scikit-learn trees, forests and boosting saved with skops
//!   (`model/skops`: a capped in-memory zip, `.npy` arrays, and an allowlisted schema walk that
//!   executes nothing),
//!   and ONNX tree ensembles (`model/onnx`: hand-written prost messages, the
//!   graph check, onnxruntime's score rules). ONNX stores no node covers; `model/covers`
//!   recomputes them from a dataset for path-dependent TreeSHAP.
//! - `data`: CSV rows streamed in blocks and matched to the model's features by name.
//! - `cells`: how one cell becomes a number (category names → codes), shared by both readers.
//! - `parquet`: Parquet rows through the low-level column readers (no Arrow), only the used
//!   columns, seeking by row-group metadata (`parquet/column`: what each Parquet type means as
//!   a cell; `parquet/describe`: the Parquet summary).
//! - `rows`: `DataRows`, CSV or Parquet chosen by the file's content, and the `RowBlocks` trait.
//! - `describe`: a data file's columns, rows and missing cells, before a model is chosen.
//! - `explain`: SHAP values of row blocks. Path-dependent TreeSHAP runs as Linear TreeSHAP
//!   with Gauss–Legendre quadrature per tree and per big enough subtree (`explain/linear`) and
//!   model-only tables (`explain/prepare`), pushing batches of up to 256 rows through one tree
//!   at a time (`explain/batch`, row loops in `explain/lanes`: portable and AVX2); interaction
//!   values credit every feature pair of each leaf in one pass (`explain/pairs`); the classic
//!   algorithm (`explain/path`) serves trees too deep for the quadrature and, with the classic
//!   interaction algorithm (`explain/interactions`), is the oracle in tests; interventional
//!   TreeSHAP with background rows lives in `explain/interventional`, which groups the
//!   background per leaf once (`explain/groups`: each leaf credits whole groups of background
//!   rows per row explained, blocks of rows routed with AVX2) and keeps a per-row walk for
//!   models and backgrounds beyond the grouping's limits.
//! - `output`: CSV writers for SHAP and interaction values with round-trip float precision.
//! - `cli`: `shaplab explain` — the clap arguments the server embeds and the streaming driver.
//! - `io`: size-capped file reading.
//! - `rng`: SplitMix64, for seeded background sampling.
//! - `fuzzing`: the entry points for outside input that the fuzz targets (`fuzz/`) and their
//!   replay test (`tests/fuzz_replay.rs`) drive.

pub mod cells;
pub mod cli;
pub mod compat;
pub mod data;
pub mod describe;
pub mod error;
pub mod explain;
pub mod fuzzing;
pub mod io;
pub mod model;
pub mod output;
pub mod parquet;
pub mod rng;
pub mod rows;

pub use self::parquet::ParquetRows;
pub use cli::{ExplainArgs, RunSummary, run_explain};
pub use data::{ColumnMap, CsvRows, Matrix};
pub use error::{Error, Result};
pub use explain::{
    Background, Explanation, Output, PathExplainer, interaction_values, interventional_values,
    shap_values,
};
pub use model::{Categories, Covers, Ensemble, Link, ModelFormat, Tree};
pub use rows::{DataRows, RowBlocks, is_parquet};

/// The engine's version, reported by `/api/health` and stamped on exports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
