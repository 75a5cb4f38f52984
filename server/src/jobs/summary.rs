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
//! end once their range is known). [`super::summary_cache`] keeps the result (and its gzip)
//! per number of finished chunks, so repeated polls do not recompute it.
//!
//! An interaction job adds a third pass over its interaction blobs ([`super::pairs`]): the
//! mean |interaction value| matrix between the top features, and dependence partners chosen
//! by the largest mean |interaction| instead of the proxy of [`super::partner`].

use super::cohort::Cohort;
use super::groups::Grouping;
use super::pairs::PairSums;
use super::partner::strongest_partner;
use super::read::{DataFile, DoneChunk, ReadError, RowCursor, chunk_values};
use super::spec::additivity_key;
use crate::blobs::BlobStore;
use app::wire::{
    Additivity, BeeswarmSample, CohortSummary, DependenceFeature, DependenceOutput,
    DependenceSample, Histogram, JobOutput, JobSummary,
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
    /// Only the rows of this cohort count (every row when `None`).
    pub cohort: Option<&'a Cohort>,
    /// The job's results prefix, where each chunk's additivity check is.
    pub results: &'a str,
    /// Features shown as groups (their SHAP values summed), when asked for.
    pub groups: Option<&'a Grouping>,
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
        // Per dot: each feature's value and SHAP per output, and the prediction per output.
        let per_row_b = (beeswarm_features * (1 + outputs) + outputs).max(1);
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

/// The bottom-k sample built while the rows stream by, keeping each kept row's SHAP line:
/// the same rows [`sample_rows`] picks from the rows offered (so a cohort's sample is the
/// rows of the cohort with the smallest hashes).
struct BottomK {
    k: usize,
    heap: BinaryHeap<(u64, u64)>,
    lines: HashMap<u64, Vec<f64>>,
}

impl BottomK {
    fn new(k: usize) -> Self {
        BottomK {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
            lines: HashMap::with_capacity(k + 1),
        }
    }

    fn offer(&mut self, row: u64, line: &[f64]) {
        let hash = SplitMix64(SAMPLE_SEED ^ row).next_u64();
        if self.heap.len() < self.k {
            self.heap.push((hash, row));
        } else if self.heap.peek().is_some_and(|&(top, _)| hash < top) {
            if let Some((_, out)) = self.heap.pop() {
                self.lines.remove(&out);
            }
            self.heap.push((hash, row));
        } else {
            return;
        }
        self.lines.insert(row, line.to_vec());
    }

    /// The kept rows ascending, and their lines in that order.
    fn finish(self) -> (Vec<u64>, Vec<f64>) {
        let mut rows: Vec<u64> = self.heap.into_iter().map(|(_, row)| row).collect();
        rows.sort_unstable();
        let mut lines = self.lines;
        let shap = rows
            .iter()
            .flat_map(|r| lines.remove(r).unwrap_or_default())
            .collect();
        (rows, shap)
    }
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
    // The chunk blobs hold the model's features (`f0`); the views show `f`, grouped or not.
    let (f0, k) = (model.num_features, model.num_outputs);
    let f = input.groups.map_or(f0, Grouping::len);
    let (width0, width) = (k * (f0 + 1), k * (f + 1));
    // Pass 1: the chunks (and, for a cohort on feature values, the data rows beside them).
    // Sums of |SHAP| and SHAP, predictions, and the bottom-k sample with its SHAP lines.
    let mut sum_abs = vec![0.0f64; k * f];
    let mut sum_signed = vec![0.0f64; k * f];
    let mut base_values = vec![0.0f64; k];
    let mut predictions: Vec<Vec<f64>> = vec![Vec::new(); k];
    let mut sample = BottomK::new(SAMPLE_ROWS);
    let mut rows_covered = 0u64;
    let mut rows_matched = 0u64;
    let mut cursor = match (input.cohort, input.data) {
        (Some(c), Some(data)) if c.needs_values() => Some(RowCursor::open(data, model)?),
        _ => None,
    };
    // The additivity check of every covered row (whatever the cohort): the largest of the
    // chunks' own; `None` when a chunk has none (written before this check existed).
    let mut additivity = Some(0.0f64);
    for chunk in input.done {
        let values = input
            .runtime
            .block_on(chunk_values(input.blobs, chunk, width0))?;
        let check = input
            .runtime
            .block_on(
                input
                    .blobs
                    .get_bytes(&additivity_key(input.results, chunk.start, chunk.end)),
            )
            .ok()
            .and_then(|b| std::str::from_utf8(&b).ok()?.trim().parse::<f64>().ok());
        additivity = additivity.zip(check).map(|(a, b)| a.max(b));
        let cells = match cursor.as_mut() {
            Some(c) => Some(c.read(chunk.start, chunk.end)?),
            None => None,
        };
        for (offset, source) in values.chunks_exact(width0).enumerate() {
            if let Some(cohort) = input.cohort {
                let row_values = cells
                    .as_ref()
                    .and_then(|v| v.get(offset * f0..(offset + 1) * f0));
                if !cohort.matches(row_values, source) {
                    continue;
                }
            }
            let grouped = input.groups.map(|g| g.line(source, f0, k));
            let line = grouped.as_deref().unwrap_or(source);
            rows_matched += 1;
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
            sample.offer(chunk.start + offset as u64, line);
        }
        rows_covered += chunk.end - chunk.start;
    }
    let (sampled, sample_shap) = sample.finish();
    let slot: HashMap<u64, usize> = sampled.iter().enumerate().map(|(i, &r)| (r, i)).collect();
    let means = |sums: &[f64]| -> Vec<Vec<f64>> {
        (0..k)
            .map(|o| {
                sums[o * f..(o + 1) * f]
                    .iter()
                    .map(|s| {
                        if rows_matched == 0 {
                            0.0
                        } else {
                            s / rows_matched as f64
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
                match input.groups {
                    Some(g) => {
                        sample_values[s * f..(s + 1) * f].copy_from_slice(&g.values(&values[..f0]))
                    }
                    None => sample_values[s * f..(s + 1) * f].copy_from_slice(&values[..f]),
                }
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
            "{n} of {rows_matched} rows: a seeded sample (the {} rows with the smallest \
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
        // base + ΣSHAP over every feature, for the decision plot and the heatmap.
        prediction: (0..k)
            .map(|o| {
                picks
                    .iter()
                    .map(|&s| {
                        sample_shap[s * width + o * (f + 1)..s * width + (o + 1) * (f + 1)]
                            .iter()
                            .sum::<f64>() as f32
                    })
                    .collect()
            })
            .collect(),
        features: bee_features,
    };

    // Pass 3 (interaction jobs): mean |interaction| of each dependence feature with every
    // feature; the top of them is also the matrix (its features are a prefix of `ranked`).
    // Interaction sums are over every row: a cohort's summary leaves them out (its partners
    // come from the proxy on the cohort's sample) rather than mix in other rows.
    let pairs = match input
        .interactions
        .filter(|_| input.cohort.is_none() && input.groups.is_none())
    {
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
    // A group has no single value to put on an axis: only single features get a scatter.
    let single = |j: &usize| input.groups.is_none_or(|g| g.shown[*j].1.len() == 1);
    let features = ranked
        .iter()
        .filter(|j| single(j))
        .take(plan.dependence_features)
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
        features: match input.groups {
            Some(g) => g.names(),
            None => (0..f).map(|j| model.feature_name(j)).collect(),
        },
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
        additivity: additivity.map(|max_abs_error| Additivity {
            max_abs_error,
            rows: rows_covered,
        }),
        cohort: input.cohort.map(|c| CohortSummary {
            expression: c.expression.clone(),
            rows: rows_matched,
        }),
        categories: match input.groups {
            Some(g) => g
                .shown
                .iter()
                .map(|(_, m)| match m.as_slice() {
                    [j] => model.categories_of(*j).map(|c| c.names.clone()),
                    _ => None,
                })
                .collect(),
            None => (0..f)
                .map(|i| model.categories_of(i).map(|c| c.names.clone()))
                .collect(),
        },
        groups: input.groups.map(|g| g.expression.clone()),
    })
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
    fn the_streamed_sample_keeps_the_rows_sample_rows_picks_with_their_lines() {
        let mut streamed = BottomK::new(100);
        for row in 0..5_000u64 {
            streamed.offer(row, &[row as f64, -(row as f64)]);
        }
        let (rows, lines) = streamed.finish();
        assert_eq!(rows, sample_rows([(0, 5_000)].into_iter(), 100));
        let expected: Vec<f64> = rows.iter().flat_map(|&r| [r as f64, -(r as f64)]).collect();
        assert_eq!(lines, expected);
    }

    #[test]
    fn the_plan_keeps_every_plot_inside_the_number_budget() {
        for (f, k) in [(1, 1), (30, 1), (13, 3), (500, 1), (500, 20), (3, 100)] {
            let p = Plan::new(f, k, SAMPLE_ROWS);
            assert!(p.beeswarm_rows * (p.beeswarm_features * (1 + k) + k) <= NUMBER_BUDGET);
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
