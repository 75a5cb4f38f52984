//! The JSON types of the API: uploads, jobs, rows, summaries, rankings and the error envelope.
//! The `/api/health` report is in [`crate::wire_health`], the views in [`crate::wire_views`];
//! all are re-exported here, so their paths stay `crate::wire::…`.

use serde::{Deserialize, Serialize};

pub use crate::wire_health::*;

/// What an uploaded file is for.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum UploadKind {
    Model,
    Data,
}

/// `POST /api/uploads` → 201: a stored, validated file and what it holds.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Upload {
    pub id: String,
    pub kind: UploadKind,
    /// The file name the browser sent (display only; never used as a path).
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
    pub created_at_ms: u64,
    pub summary: UploadSummary,
    /// Who uploaded it (the sign-in name; `local` without sign-in). Only they, and admins,
    /// can see or use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// The description of an uploaded file.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum UploadSummary {
    Model(ModelSummary),
    Data(DataSummary),
}

/// What a model file holds.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct ModelSummary {
    /// `XGBoost JSON`, `XGBoost UBJSON` or `LightGBM text`.
    pub format: String,
    pub objective: String,
    pub outputs: usize,
    pub trees: usize,
    pub max_depth: usize,
    /// Leaves over all trees (the unit of TreeSHAP's work per row; 0 in older records).
    #[serde(default)]
    pub leaves: usize,
    pub features: usize,
    /// Absent when the model was trained without names (columns then match by position).
    pub feature_names: Option<Vec<String>>,
    /// What the loader noticed that an analyst should know.
    pub notes: Vec<String>,
    /// The categorical features, with their categories (absent from older records).
    #[serde(default)]
    pub categorical: Vec<CategoricalFeature>,
    /// Where path-dependent TreeSHAP's node covers come from: `model` (stored by the
    /// library), `none` (the file stores none: explained interventionally), `recomputed`.
    #[serde(default = "covers_model")]
    pub covers: String,
}

fn covers_model() -> String {
    "model".into()
}

/// A categorical feature of a model.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct CategoricalFeature {
    pub name: String,
    /// Category names in code order; empty when the model stores only integer codes.
    pub categories: Vec<String>,
    /// How a category the model never saw is routed, in words.
    pub unseen_rule: String,
    /// True when cells may hold words although `categories` is empty (CatBoost reads a
    /// category by the hash of its text).
    #[serde(default)]
    pub by_hash: bool,
}

/// What a data file holds.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct DataSummary {
    pub rows: u64,
    pub columns: Vec<String>,
    pub missing_cells: u64,
    /// `CSV` or `Parquet` (absent from older records: CSV).
    #[serde(default = "format_csv")]
    pub format: String,
    /// Columns holding words (category names), with their distinct values.
    #[serde(default)]
    pub text_columns: Vec<TextColumn>,
}

fn format_csv() -> String {
    "CSV".into()
}

/// A column of words in a data file.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct TextColumn {
    pub name: String,
    /// Distinct values, sorted (at most 256).
    pub values: Vec<String>,
    /// Cells holding each value.
    pub counts: Vec<u64>,
    /// True when the column has more distinct values than listed.
    pub more: bool,
    /// First data row (1-based) whose cell is not a number.
    pub first_text_row: u64,
}

/// Which scale a job explains: the raw margin or the model's prediction after its link.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum JobOutput {
    #[default]
    Raw,
    Probability,
}

/// `POST /api/jobs`: what to explain. Unknown fields are refused, so a typo is a 422 rather
/// than a silently ignored option.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// Upload id of the model.
    pub model: String,
    /// Upload id of the data CSV.
    pub data: String,
    #[serde(default)]
    pub output: JobOutput,
    /// Also compute SHAP interaction values (path-dependent only; the summary then ranks
    /// interaction partners by them and `GET /api/jobs/{id}/interactions.csv` has them all).
    #[serde(default)]
    pub interactions: bool,
    /// Interventional TreeSHAP against a seeded sample of this many data rows (as
    /// `shaplab explain --background-rows`); `probability` without it uses 100.
    #[serde(default)]
    pub background_rows: Option<u64>,
    /// `"data"`: recompute the node covers from the job's data rows before path-dependent
    /// TreeSHAP (for models that store none, such as ONNX; as `shaplab explain --covers-from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covers: Option<String>,
}

/// A job's lifecycle, as the page sees it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobState {
    /// No further change will happen: stop polling.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

/// How far a job has come (chunks finish in any order; rows are summed over finished chunks).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct JobProgress {
    pub rows_done: u64,
    pub rows_total: u64,
    pub chunks_done: u64,
    pub chunks_total: u64,
}

/// Why a job failed or stopped: a stable `code` and a message for people.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct JobFailure {
    pub code: String,
    pub message: String,
}

/// `GET /api/jobs/{id}` (and the answer to `POST /api/jobs`, `DELETE /api/jobs/{id}`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Job {
    pub id: String,
    pub state: JobState,
    pub progress: JobProgress,
    /// Seconds left at the rate so far; absent before the first chunk finishes and once the
    /// job has ended.
    pub eta_seconds: Option<u64>,
    pub error: Option<JobFailure>,
    pub created_at_ms: u64,
    pub started_at_ms: Option<u64>,
    pub finished_at_ms: Option<u64>,
    /// What the job explains (absent from servers older than this field).
    #[serde(default)]
    pub inputs: Option<JobInputs>,
}

/// The request a job was submitted with: lets the page show the files and options, build the
/// JSON export, and resubmit an expired job with the same files.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct JobInputs {
    /// Upload id of the model.
    pub model: String,
    /// Upload id of the data.
    pub data: String,
    pub output: JobOutput,
    pub background_rows: Option<u64>,
    #[serde(default)]
    pub interactions: bool,
    /// True when path-dependent TreeSHAP used covers recomputed from the job's data rather
    /// than covers stored in the model (labelled so on the page).
    #[serde(default)]
    pub covers_from_data: bool,
    /// What the analyst should know about how the inputs were read (categories the model
    /// never saw and how they were routed, recomputed covers).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// `GET /api/jobs/{id}/rows/{i}`: one explained row, loaded on demand by the row explorer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct JobRow {
    /// 0-based, in the data file's order.
    pub row: u64,
    /// In model feature order (the CSV's column order).
    pub features: Vec<RowFeature>,
    /// Per output: the expected value the SHAP values start from.
    pub base_values: Vec<f64>,
    pub predictions: RowPredictions,
}

/// `POST /api/jobs/{id}/whatif`: a row with some values changed, explained again; the fields
/// of [`JobRow`] plus what changed and notes in words.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct WhatIfRow {
    pub row: u64,
    pub features: Vec<RowFeature>,
    pub base_values: Vec<f64>,
    pub predictions: RowPredictions,
    /// The features whose values were changed, in the request's order.
    pub changed: Vec<String>,
    /// Values outside the data's observed range, categories the model never saw.
    pub notes: Vec<String>,
}

impl WhatIfRow {
    /// The row part, for the plots the row explorer draws.
    pub fn as_row(&self) -> JobRow {
        JobRow {
            row: self.row,
            features: self.features.clone(),
            base_values: self.base_values.clone(),
            predictions: self.predictions.clone(),
        }
    }
}

/// One feature of one row.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct RowFeature {
    pub name: String,
    /// `None` when the cell is missing.
    pub value: Option<f64>,
    /// Per output.
    pub shap: Vec<f64>,
    /// The category name of a categorical feature's value (its code is `value`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

/// The model's output for one row.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct RowPredictions {
    /// Raw margin per output.
    pub margin: Vec<f64>,
    /// After the model's link (probability, count, …); absent for identity-link models.
    pub probability: Option<Vec<f64>>,
}

/// `GET /api/jobs/{id}/summary`: bounded aggregates for the plots, from the finished chunks.
/// Its size does not grow with the number of rows.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct JobSummary {
    /// True while some chunks are not done (the job runs, or ended early).
    pub partial: bool,
    pub rows_covered: u64,
    pub rows_total: u64,
    pub chunks_done: u64,
    pub chunks_total: u64,
    /// The scale the SHAP values explain (`raw` margin or `probability`).
    pub output: JobOutput,
    pub outputs: usize,
    /// Model feature names; every feature index below points into this list.
    pub features: Vec<String>,
    /// `[output][feature]`: mean |SHAP| over the covered rows.
    pub mean_abs_shap: Vec<Vec<f64>>,
    /// `[output][feature]`: mean SHAP (signed) over the covered rows, for comparing jobs
    /// (absent from summaries cached before it existed).
    #[serde(default)]
    pub mean_shap: Vec<Vec<f64>>,
    /// Per output: the base value (the same on every row).
    pub base_values: Vec<f64>,
    pub beeswarm: BeeswarmSample,
    pub dependence: DependenceSample,
    /// Per output: the distribution of base value + ΣSHAP over the covered rows.
    pub predictions: Vec<Histogram>,
    /// Present when the job computed interaction values (`interactions: true`).
    #[serde(default)]
    pub interactions: Option<InteractionSummary>,
    /// Per feature: `Some(names)` for a categorical feature (its sample values are codes into
    /// the names; empty names when the model stores codes only), `None` for a numeric one.
    #[serde(default)]
    pub categories: Vec<Option<Vec<String>>>,
    /// The check that the values add up, over every covered row (absent for jobs computed
    /// before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additivity: Option<Additivity>,
    /// Present when features are shown grouped (`name:a,b; …`): `features` then lists the
    /// groups in place of their members, each with the sum of their SHAP values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<String>,
    /// Present when the summary covers a cohort: every aggregate, sample and histogram above
    /// is then over the cohort's rows only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cohort: Option<CohortSummary>,
}

/// max |base value + ΣSHAP − f(x)| over rows and outputs, f(x) the model's own prediction on
/// the explained scale.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Additivity {
    pub max_abs_error: f64,
    pub rows: u64,
}

/// The cohort a summary covers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct CohortSummary {
    /// The conditions, as the server read them (`age>=60; city=paris`).
    pub expression: String,
    /// Rows of the covered ones that belong to it.
    pub rows: u64,
}

/// Mean |SHAP interaction value| between the most important features, over the covered rows.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct InteractionSummary {
    /// Feature indices included (the most important first; at most 30, to bound the size).
    pub features: Vec<usize>,
    /// `[output][i][j]`: mean |interaction value| of `features[i]` with `features[j]`; the
    /// diagonal holds each feature's main effect.
    pub mean_abs: Vec<Vec<Vec<f64>>>,
}

/// Rows sampled for the beeswarm: columns per feature, `rows[n]` is the n-th dot's row.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct BeeswarmSample {
    /// How the rows were chosen (plain words, shown under the plot).
    pub method: String,
    /// Dots per feature (= `rows.len()`).
    pub size: u64,
    pub rows: Vec<u64>,
    /// Feature indices included (the most important first).
    pub features: Vec<usize>,
    /// `[i][n]`: value of `features[i]` on `rows[n]` (`None`: missing).
    pub values: Vec<Vec<Option<f32>>>,
    /// `[output][i][n]`: SHAP value of `features[i]` on `rows[n]`.
    pub shap: Vec<Vec<Vec<f32>>>,
    /// `[output][n]`: the prediction (base value + ΣSHAP over every feature) of `rows[n]`
    /// (absent from summaries cached before it was recorded).
    #[serde(default)]
    pub prediction: Vec<Vec<f32>>,
}

/// Dependence scatters: per feature x = value, y = SHAP, colour = the partner's value.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct DependenceSample {
    pub method: String,
    /// How the strongest partner was chosen (a proxy: interaction values are not computed).
    pub partner_method: String,
    pub size: u64,
    pub rows: Vec<u64>,
    pub features: Vec<DependenceFeature>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct DependenceFeature {
    pub feature: usize,
    /// The feature's value on each sampled row.
    pub x: Vec<Option<f32>>,
    /// Per output.
    pub outputs: Vec<DependenceOutput>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct DependenceOutput {
    /// SHAP value of the feature on each sampled row.
    pub y: Vec<f32>,
    /// The strongest partner (feature index), if any feature scored above zero.
    pub partner: Option<usize>,
    pub partner_score: f64,
    /// The partner's value on each sampled row (empty without a partner).
    pub colour: Vec<Option<f32>>,
}

/// Equal-width bins over `[min, max]`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Histogram {
    pub min: f64,
    pub max: f64,
    pub counts: Vec<u64>,
}

/// `GET /api/jobs/{id}/ranked?by=prediction|shap&feature=F&output=K&order=desc|asc&limit=N`:
/// the rows at the top (or bottom) of a ranking over the finished chunks, so the row
/// explorer can jump to "the highest prediction" or "the largest SHAP value of `age`".
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct RankedRows {
    /// `prediction` or `shap`.
    pub by: String,
    /// The feature ranked on when `by` is `shap`.
    pub feature: Option<usize>,
    pub output: usize,
    /// `desc` (largest first) or `asc`.
    pub order: String,
    /// True while some chunks are not done: the ranking covers `rows_covered` rows.
    pub partial: bool,
    pub rows_covered: u64,
    pub rows: Vec<RankedRow>,
}

/// One row of a ranking.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct RankedRow {
    pub row: u64,
    /// Base value + ΣSHAP on the job's scale (`raw` margin or `probability`).
    pub prediction: f64,
    /// The ranked feature's SHAP value (when `by` is `shap`).
    pub shap: Option<f64>,
}

/// The API's one error envelope (every 4xx/5xx answer of `/api/*`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct ApiErrorBody {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub retryable: bool,
    #[serde(default)]
    pub request_id: Option<String>,
}

// The comparison, cohort and partial-dependence types live in their own file (one concern
// each); their paths stay `crate::wire::…`.
pub use crate::wire_views::*;
