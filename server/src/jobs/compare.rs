//! Comparing two jobs with the same features (`GET /api/compare?a=..&b=..`): importance side
//! by side, the shift of each feature's mean SHAP value (drift between two datasets, or what
//! changed between two models on one dataset), and both prediction distributions. Built from
//! the two jobs' summaries (cached per finished chunk count), so it costs two cache reads
//! once the jobs are summarised, whatever their size.

use super::read::ReadError;
use app::wire::{ComparedJob, FeatureShift, JobComparison, JobSummary};

/// Pairs `b`'s features with `a`'s by name. Refused, naming the differences, when the jobs
/// do not explain the same features or the same number of outputs.
pub fn compare(
    (a_id, a): (&str, &JobSummary),
    (b_id, b): (&str, &JobSummary),
) -> Result<JobComparison, ReadError> {
    if a.outputs != b.outputs {
        return Err(ReadError::Invalid(format!(
            "job {a_id} explains {} outputs and job {b_id} {}; compare jobs of models with the \
             same outputs",
            a.outputs, b.outputs
        )));
    }
    let only = |x: &JobSummary, y: &JobSummary| -> Vec<String> {
        x.features
            .iter()
            .filter(|f| !y.features.contains(f))
            .cloned()
            .collect()
    };
    let (only_a, only_b) = (only(a, b), only(b, a));
    if !only_a.is_empty() || !only_b.is_empty() {
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.join(", ")
            }
        };
        return Err(ReadError::Invalid(format!(
            "the jobs explain different features (only in {a_id}: {}; only in {b_id}: {}); \
             compare jobs whose models use the same features",
            list(&only_a),
            list(&only_b)
        )));
    }
    let features = (0..a.outputs)
        .map(|k| {
            let mut rows: Vec<FeatureShift> = a
                .features
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    // Present in b: checked above.
                    let j = b.features.iter().position(|f| f == name).unwrap_or(i);
                    let mean = |s: &JobSummary, at: usize| s.mean_shap.get(k)?.get(at).copied();
                    let abs = |s: &JobSummary, at: usize| {
                        s.mean_abs_shap
                            .get(k)
                            .and_then(|m| m.get(at))
                            .copied()
                            .unwrap_or(0.0)
                    };
                    let (mean_a, mean_b) = (mean(a, i), mean(b, j));
                    FeatureShift {
                        name: name.clone(),
                        mean_abs_a: abs(a, i),
                        mean_abs_b: abs(b, j),
                        mean_a,
                        mean_b,
                        shift: mean_a.zip(mean_b).map(|(x, y)| y - x),
                    }
                })
                .collect();
            rows.sort_by(|x, y| {
                let key = |r: &FeatureShift| r.mean_abs_a.max(r.mean_abs_b);
                key(y).total_cmp(&key(x)).then_with(|| x.name.cmp(&y.name))
            });
            rows
        })
        .collect();
    let side = |id: &str, s: &JobSummary| ComparedJob {
        id: id.to_owned(),
        rows_covered: s.rows_covered,
        rows_total: s.rows_total,
        partial: s.partial,
        output: s.output,
        base_values: s.base_values.clone(),
        predictions: s.predictions.clone(),
    };
    Ok(JobComparison {
        a: side(a_id, a),
        b: side(b_id, b),
        outputs: a.outputs,
        features,
    })
}
