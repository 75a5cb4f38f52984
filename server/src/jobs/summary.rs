//! The job summary (`GET /api/jobs/{id}/summary`): the bounded aggregates the plots draw,
//! computed from whichever chunks are finished, so the page can draw while the job runs.
//!
//! Why bounded: the page must download the same few hundred kilobytes for a million rows as
//! for a thousand (issue 5: under 2 MB). Everything that grows with rows is aggregated
//! (mean |SHAP|, a 40-bin histogram) or sampled: one seeded sample of at most
//! [`SAMPLE_ROWS`] rows feeds the beeswarm and the dependence scatters, and each plot's
//! number of points is cut so its numbers fit a fixed budget whatever the feature and
//! output counts (see [`Plan`]). Sample values are sent as f32: seven digits are more than
//! a plot can show, and the row endpoint serves exact values.
//!
//! Why a bottom-k hash sample: the rows with the smallest SplitMix64 hash of their index are
//! kept. The choice depends only on the row index and the seed, not on the order chunks
//! finish in, so a partial summary's dots are a subset-consistent preview of the final ones
//! (a dot, once shown, only leaves when a row with a smaller hash arrives).
//!
//! Cost: one pass over the finished chunk blobs (one chunk in memory at a time) plus a scan
//! of the data CSV up to the last sampled row for the sampled rows' feature values; memory
//! is the sample plus one f64 per covered row and output (the predictions, binned at the
//! end once their range is known). The caller caches the result per number of finished
//! chunks, so repeated polls do not recompute it.
//!
//! An interaction job adds a third pass over its interaction blobs ([`super::pairs`]): the
//! mean |interaction value| matrix between the top features, and dependence partners chosen
//! by the largest mean |interaction| instead of the proxy of [`super::partner`].

use super::pairs::PairSums;
use super::partner::strongest_partner;
use super::read::{DataFile, DoneChunk, ReadError, chunk_values};
use crate::blobs::BlobStore;
use app::wire::{
    BeeswarmSample, DependenceFeature, DependenceOutput, DependenceSample, Histogram, JobOutput,
    JobSummary,
};
use shaplab::Ensemble;
use shaplab::rng::SplitMix64;
use std::collections::{BinaryHeap, HashMap};

/// Most rows in the shared sample (and the beeswarm's dots per feature).
pub const SAMPLE_ROWS: usize = 2_000;
/// Features in the beeswarm (the most important by mean |SHAP| summed over outputs).
pub const BEESWARM_FEATURES: usize = 12;
/// Features with a dependence scatter (the most important first).
pub const DEPENDENCE_FEATURES: usize = 50;
/// Most points in one dependence scatter.
pub const DEPENDENCE_ROWS: usize = 1_000;
/// Numbers the beeswarm may send (values + SHAP per output), and the dependence scatters
/// (x + per output y and colour). 60,000 numbers of at most ~15 characters each keep
/// either under 0.9 MB, the whole summary under 2 MB.
pub const NUMBER_BUDGET: usize = 60_000;
/// Bins of the prediction histogram.
pub const HISTOGRAM_BINS: usize = 40;
/// The sample's seed (fixed: the same job always shows the same dots).
pub const SAMPLE_SEED: u64 = 0x5348_4150_5355_4d31;

/// What one summary is computed from.
pub struct SummaryInput<'a> {
    pub blobs: &'a BlobStore,
    pub runtime: &'a tokio::runtime::Handle,
    pub model: &'a Ensemble,
    /// The data upload; only read when some row is sampled.
    pub data: Option<&'a DataFile>,
    pub output: JobOutput,
    pub done: &'a [DoneChunk],
    pub rows_total: u64,
    pub chunks_total: u64,
    /// The job's spec when it computed interaction values (their blobs are read), else `None`.
    pub interactions: Option<&'a super::spec::JobSpec>,
}

/// How many points each plot gets, from the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub beeswarm_features: usize,
    pub beeswarm_rows: usize,
    pub dependence_features: usize,
    pub dependence_rows: usize,
}

impl Plan {
    /// For `features` features, `outputs` outputs and a sample of `sampled` rows.
    pub fn new(features: usize, outputs: usize, sampled: usize) -> Self {
        let beeswarm_features = features.min(BEESWARM_FEATURES);
        let dependence_features = features.min(DEPENDENCE_FEATURES);
        let per_row_b = (beeswarm_features * (1 + outputs)).max(1);
        let per_row_d = (dependence_features * (1 + 2 * outputs)).max(1);
        Plan {
            beeswarm_features,
            beeswarm_rows: sampled.min(SAMPLE_ROWS).min(NUMBER_BUDGET / per_row_b),
            dependence_features,
            dependence_rows: sampled.min(DEPENDENCE_ROWS).min(NUMBER_BUDGET / per_row_d),
        }
    }
}

/// The rows of `covered` ranges with the `k` smallest seeded hashes, ascending by row.
pub fn sample_rows(covered: impl Iterator<Item = (u64, u64)>, k: usize) -> Vec<u64> {
    let mut heap: BinaryHeap<(u64, u64)> = BinaryHeap::with_capacity(k + 1);
    for (start, end) in covered {
        for row in start..end {
            let hash = SplitMix64(SAMPLE_SEED ^ row).next_u64();
            if heap.len() < k {
                heap.push((hash, row));
            } else if heap.peek().is_some_and(|&(top, _)| hash < top) {
                heap.pop();
                heap.push((hash, row));
            }
        }
    }
    let mut rows: Vec<u64> = heap.into_iter().map(|(_, row)| row).collect();
    rows.sort_unstable();
    rows
}

/// `m` of `n` positions, evenly spaced (a stride sample of the sample).
fn stride(n: usize, m: usize) -> Vec<usize> {
    if m >= n {
        return (0..n).collect();
    }
    (0..m).map(|i| i * n / m).collect()
}

fn histogram(values: &[f64], bins: usize) -> Histogram {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let (min, max) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if min > max {
        return Histogram {
            min: 0.0,
            max: 0.0,
            counts: vec![0; bins],
        };
    }
    let mut counts = vec![0u64; bins];
    let span = max - min;
    for v in values.iter().copied().filter(|v| v.is_finite()) {
        let bin = if span > 0.0 {
            (((v - min) / span) * bins as f64) as usize
        } else {
            0
        };
        counts[bin.min(bins - 1)] += 1;
    }
    Histogram { min, max, counts }
}

fn opt32(v: f64) -> Option<f32> {
    (!v.is_nan()).then_some(v as f32)
}

/// Computes the summary. Runs on a blocking thread: chunk blobs are read with
/// `runtime.block_on`, one at a time.
pub fn compute(input: &SummaryInput<'_>) -> Result<JobSummary, ReadError> {
    let model = input.model;
    let (f, k) = (model.num_features, model.num_outputs);
    let width = k * (f + 1);
    let sampled = sample_rows(input.done.iter().map(|c| (c.start, c.end)), SAMPLE_ROWS);
    let slot: HashMap<u64, usize> = sampled.iter().enumerate().map(|(i, &r)| (r, i)).collect();

    // Pass 1: the chunks. Sums of |SHAP|, predictions, and the sampled rows' SHAP lines.
    let mut sum_abs = vec![0.0f64; k * f];
    let mut sum_signed = vec![0.0f64; k * f];
    let mut base_values = vec![0.0f64; k];
    let mut predictions: Vec<Vec<f64>> = vec![Vec::new(); k];
    let mut sample_shap = vec![0.0f64; sampled.len() * width];
    let mut rows_covered = 0u64;
    for chunk in input.done {
        let values = input
            .runtime
            .block_on(chunk_values(input.blobs, chunk, width))?;
        for (offset, line) in values.chunks_exact(width).enumerate() {
            for o in 0..k {
                let part = &line[o * (f + 1)..(o + 1) * (f + 1)];
                let mut sum = part[f];
                for (j, &v) in part[..f].iter().enumerate() {
                    sum_abs[o * f + j] += v.abs();
                    sum_signed[o * f + j] += v;
                    sum += v;
                }
                base_values[o] = part[f];
                predictions[o].push(sum);
            }
            if let Some(&s) = slot.get(&(chunk.start + offset as u64)) {
                sample_shap[s * width..(s + 1) * width].copy_from_slice(line);
            }
        }
        rows_covered += chunk.end - chunk.start;
    }
    let means = |sums: &[f64]| -> Vec<Vec<f64>> {
        (0..k)
            .map(|o| {
                sums[o * f..(o + 1) * f]
                    .iter()
                    .map(|s| {
                        if rows_covered == 0 {
                            0.0
                        } else {
                            s / rows_covered as f64
                        }
                    })
                    .collect()
            })
            .collect()
    };
    let (mean_abs_shap, mean_shap) = (means(&sum_abs), means(&sum_signed));

    // Pass 2: the sampled rows' feature values (NaN = missing).
    let mut sample_values = vec![f64::NAN; sampled.len() * f];
    if let (Some(data), false) = (input.data, sampled.is_empty()) {
        data.visit_rows(model, &sampled, |row, values| {
            if let Some(&s) = slot.get(&row) {
                sample_values[s * f..(s + 1) * f].copy_from_slice(&values[..f]);
            }
        })?;
    }
    let value = |j: usize, s: usize| sample_values[s * f + j];
    let shap = |o: usize, j: usize, s: usize| sample_shap[s * width + o * (f + 1) + j];

    // Features by importance (mean |SHAP| summed over outputs), most important first.
    let mut ranked: Vec<usize> = (0..f).collect();
    let total = |j: usize| (0..k).map(|o| mean_abs_shap[o][j]).sum::<f64>();
    ranked.sort_by(|&a, &b| total(b).total_cmp(&total(a)).then(a.cmp(&b)));

    let plan = Plan::new(f, k, sampled.len());
    let sample_method = |n: usize| {
        format!(
            "{n} of {rows_covered} rows: a seeded sample (the {} rows with the smallest \
             SplitMix64 hash of their index, then evenly spaced)",
            sampled.len()
        )
    };

    let picks = stride(sampled.len(), plan.beeswarm_rows);
    let bee_features: Vec<usize> = ranked[..plan.beeswarm_features].to_vec();
    let beeswarm = BeeswarmSample {
        method: sample_method(picks.len()),
        size: picks.len() as u64,
        rows: picks.iter().map(|&s| sampled[s]).collect(),
        values: bee_features
            .iter()
            .map(|&j| picks.iter().map(|&s| opt32(value(j, s))).collect())
            .collect(),
        shap: (0..k)
            .map(|o| {
                bee_features
                    .iter()
                    .map(|&j| picks.iter().map(|&s| shap(o, j, s) as f32).collect())
                    .collect()
            })
            .collect(),
        features: bee_features,
    };

    // Pass 3 (interaction jobs): mean |interaction| of each dependence feature with every
    // feature; the top of them is also the matrix (its features are a prefix of `ranked`).
    let pairs = match input.interactions {
        Some(spec) => Some(PairSums::read(
            input.blobs,
            input.runtime,
            spec,
            input.done,
            (f, k),
            &ranked[..plan.dependence_features],
        )?),
        None => None,
    };

    let picks = stride(sampled.len(), plan.dependence_rows);
    let features = ranked[..plan.dependence_features]
        .iter()
        .map(|&j| {
            let outputs = (0..k)
                .map(|o| {
                    let partner = match &pairs {
                        Some(pairs) => pairs.partner(j, o),
                        None => {
                            // The proxy is scored on the whole sample (more rows, same cost).
                            let phi: Vec<f64> = (0..sampled.len()).map(|s| shap(o, j, s)).collect();
                            strongest_partner(j, f, sampled.len(), value, &phi)
                        }
                    };
                    DependenceOutput {
                        y: picks.iter().map(|&s| shap(o, j, s) as f32).collect(),
                        partner: partner.map(|(p, _)| p),
                        partner_score: partner.map_or(0.0, |(_, score)| score),
                        colour: match partner {
                            Some((p, _)) => picks.iter().map(|&s| opt32(value(p, s))).collect(),
                            None => Vec::new(),
                        },
                    }
                })
                .collect();
            DependenceFeature {
                feature: j,
                x: picks.iter().map(|&s| opt32(value(j, s))).collect(),
                outputs,
            }
        })
        .collect();
    let dependence = DependenceSample {
        method: sample_method(picks.len()),
        partner_method: if pairs.is_some() {
            format!(
                "strongest partner by SHAP interaction values: the feature with the largest \
                 mean |interaction value| with this one over all {rows_covered} covered rows \
                 (path-dependent, as shap's TreeExplainer.shap_interaction_values); the score \
                 is that mean"
            )
        } else {
            "strongest partner by python shap's approximate_interactions: the sample sorted \
             by the feature's value and cut into bins of up to 50 rows; a candidate scores \
             the mean |Pearson r| between its value and this feature's SHAP value within a \
             bin (the SHAP spread left at a fixed value). This job did not compute \
             interaction values."
                .into()
        },
        size: picks.len() as u64,
        rows: picks.iter().map(|&s| sampled[s]).collect(),
        features,
    };

    let chunks_done = input.done.len() as u64;
    Ok(JobSummary {
        partial: chunks_done < input.chunks_total,
        rows_covered,
        rows_total: input.rows_total,
        chunks_done,
        chunks_total: input.chunks_total,
        output: input.output,
        outputs: k,
        features: (0..f).map(|j| model.feature_name(j)).collect(),
        mean_abs_shap,
        mean_shap,
        base_values,
        beeswarm,
        dependence,
        predictions: predictions
            .iter()
            .map(|p| histogram(p, HISTOGRAM_BINS))
            .collect(),
        interactions: pairs.as_ref().and_then(|p| p.summary(&ranked)),
        categories: (0..f)
            .map(|i| model.categories_of(i).map(|c| c.names.clone()))
            .collect(),
    })
}

/// The summary of `job` as JSON: from the blob store when this number of finished chunks was
/// summarised before (the set of finished chunks only grows, and a chunk's values never
/// change once recorded, so the count identifies the set), else computed on a blocking
/// thread and stored for the next poll.
pub async fn summary_json(
    blobs: &BlobStore,
    scratch: &std::path::Path,
    spec: &super::spec::JobSpec,
    results: &[Option<String>],
    rows_total: u64,
) -> Result<bytes::Bytes, ReadError> {
    let done = super::read::done_chunks(results)?;
    let cache_key = format!("{}/summary-{:06}.json", spec.results, done.len());
    if let Ok(cached) = blobs.get_bytes(&cache_key).await {
        return Ok(cached);
    }
    let model = super::read::model(blobs, spec).await?;
    let data = if done.is_empty() {
        None
    } else {
        Some(DataFile::fetch(blobs, spec, scratch).await?)
    };
    let runtime = tokio::runtime::Handle::current();
    let task_blobs = blobs.clone();
    let output = spec.output;
    let chunks_total = results.len() as u64;
    let spec = spec.clone();
    let json = tokio::task::spawn_blocking(move || {
        let summary = compute(&SummaryInput {
            blobs: &task_blobs,
            runtime: &runtime,
            model: &model,
            data: data.as_ref(),
            output,
            done: &done,
            rows_total,
            chunks_total,
            interactions: spec.interactions.then_some(&spec),
        })?;
        serde_json::to_vec(&summary)
            .map_err(|e| ReadError::Internal(format!("cannot encode the summary: {e}")))
    })
    .await
    .map_err(|e| ReadError::Internal(format!("the summary task failed: {e}")))??;
    if let Err(e) = blobs.put_bytes(&cache_key, json.clone()).await {
        // Only a cache: the next poll computes it again.
        tracing::warn!(blob = %cache_key, "cannot cache a job summary: {e}");
    }
    Ok(bytes::Bytes::from(json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_depends_on_row_indices_only_and_grows_consistently() {
        let all = sample_rows([(0, 10_000)].into_iter(), 100);
        assert_eq!(all.len(), 100);
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        // Chunks listed in another order pick the same rows.
        let shuffled = sample_rows([(5_000, 10_000), (0, 5_000)].into_iter(), 100);
        assert_eq!(all, shuffled);
        // A partial sample's rows that are in the final sample's range of hashes stay.
        let half = sample_rows([(0, 5_000)].into_iter(), 100);
        let kept = all.iter().filter(|r| **r < 5_000).count();
        assert!(kept > 0 && all.iter().filter(|r| **r < 5_000).all(|r| half.contains(r)));
    }

    #[test]
    fn the_plan_keeps_every_plot_inside_the_number_budget() {
        for (f, k) in [(1, 1), (30, 1), (13, 3), (500, 1), (500, 20), (3, 100)] {
            let p = Plan::new(f, k, SAMPLE_ROWS);
            assert!(p.beeswarm_rows * p.beeswarm_features * (1 + k) <= NUMBER_BUDGET);
            assert!(p.dependence_rows * p.dependence_features * (1 + 2 * k) <= NUMBER_BUDGET);
        }
        // 30 features, 1 output: 2,000 beeswarm dots; 60,000 / (30 × 3) = 666 per scatter.
        let p = Plan::new(30, 1, SAMPLE_ROWS);
        assert_eq!((p.beeswarm_rows, p.dependence_rows), (2_000, 666));
    }

    #[test]
    fn the_histogram_puts_the_maximum_in_the_last_bin() {
        // Range 0..4 in 4 bins of width 1: 0 → bin 0, 1.5 → bin 1, 4 → bin 3 (the last).
        let h = histogram(&[0.0, 1.5, 4.0], 4);
        assert_eq!(h.counts, vec![1, 1, 0, 1]);
        assert_eq!((h.min, h.max), (0.0, 4.0));
        assert_eq!(histogram(&[2.0, 2.0], 3).counts, vec![2, 0, 0]);
    }
}
