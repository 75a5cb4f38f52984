//! Wire types of the views that set results side by side or sweep a feature: two jobs
//! compared, two cohorts compared, partial dependence. Re-exported from [`crate::wire`].

use crate::wire::{Histogram, JobOutput};
use serde::{Deserialize, Serialize};

/// `GET /api/compare?a={id}&b={id}`: two jobs with the same features side by side (model v1
/// against v2 on the same data, or one model on January against June data), from their
/// summaries.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct JobComparison {
    pub a: ComparedJob,
    pub b: ComparedJob,
    pub outputs: usize,
    /// Per output: every feature, the most important in either job first.
    pub features: Vec<Vec<FeatureShift>>,
}

/// One side of a comparison.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct ComparedJob {
    pub id: String,
    pub rows_covered: u64,
    pub rows_total: u64,
    /// True while some of its chunks are not done.
    pub partial: bool,
    pub output: JobOutput,
    pub base_values: Vec<f64>,
    /// Per output: the distribution of its predictions.
    pub predictions: Vec<Histogram>,
}

/// One feature in both jobs, for one output.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct FeatureShift {
    pub name: String,
    pub mean_abs_a: f64,
    pub mean_abs_b: f64,
    /// Mean signed SHAP; `None` for a summary computed before it was recorded.
    pub mean_a: Option<f64>,
    pub mean_b: Option<f64>,
    /// `mean_b − mean_a`: how far the feature's average push moved (drift).
    pub shift: Option<f64>,
}

/// `GET /api/jobs/{id}/cohorts?a=<conditions>&b=<conditions>`: two cohorts of one job side
/// by side, mean |SHAP| per feature with 95 % bootstrap intervals (shap's cohort bar plot),
/// over every covered row.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct CohortComparison {
    pub features: Vec<String>,
    pub outputs: usize,
    pub rows_covered: u64,
    pub partial: bool,
    /// How the intervals were computed, in words.
    pub method: String,
    pub a: CohortBars,
    pub b: CohortBars,
}

/// One cohort's importance with its interval.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct CohortBars {
    /// The conditions (empty: every row).
    pub expression: String,
    pub rows: u64,
    /// `[output][feature]`.
    pub mean_abs: Vec<Vec<f64>>,
    /// `[output][feature]`: the 2.5th and 97.5th percentiles of the bootstrap means.
    pub low: Vec<Vec<f64>>,
    pub high: Vec<Vec<f64>>,
}

/// `GET /api/jobs/{id}/pdp?feature=F`: partial dependence with ICE lines — the model evaluated
/// on a grid of one feature's values over a seeded sample of the job's rows, on the scale the
/// job explains.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct PartialDependence {
    /// Feature index and name.
    pub feature: usize,
    pub name: String,
    pub output: usize,
    /// The grid of the feature's values (codes for a categorical feature).
    pub grid: Vec<f64>,
    /// The grid's category names, for a categorical feature.
    pub categories: Option<Vec<String>>,
    /// The sampled rows (0-based data rows), one ICE line each.
    pub rows: Vec<u64>,
    /// `[row][grid]`: the model's output for the row with the feature set to the grid value.
    pub ice: Vec<Vec<f64>>,
    /// `[grid]`: the mean of the ICE lines.
    pub average: Vec<f64>,
    /// How the grid and the rows were chosen, in words.
    pub method: String,
}
