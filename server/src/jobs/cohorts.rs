//! Two cohorts of one job side by side (`GET /api/jobs/{id}/cohorts?a=..&b=..`): mean |SHAP|
//! per feature in each, with 95 % bootstrap intervals, over every covered row.
//!
//! Why a group bootstrap: resampling a million rows a thousand times is a billion row visits.
//! Instead each row falls into one of [`GROUPS`] groups by a seeded hash of its index (a
//! random partition that does not depend on chunk order), one streamed pass keeps each
//! group's |SHAP| sums and row count, and the bootstrap resamples groups: [`REPLICATES`]
//! draws of [`GROUPS`] groups with replacement, each giving a ratio-of-sums mean. Groups of
//! random rows are exchangeable, so this estimates the same sampling spread as resampling
//! rows, at a cost that does not grow with the rows. Memory: groups × outputs × features.

use super::cohort::Cohort;
use super::read::{DataFile, ReadError, RowCursor, chunk_values, done_chunks, model};
use super::spec::JobSpec;
use crate::blobs::BlobStore;
use app::wire::{CohortBars, CohortComparison};
use shaplab::rng::SplitMix64;
use std::path::Path;

/// Random groups the rows are split into.
pub const GROUPS: usize = 100;
/// Bootstrap replicates.
pub const REPLICATES: usize = 1_000;
/// Fixed seeds: the same job and cohorts always give the same intervals.
const GROUP_SEED: u64 = 0x434f_484f_5254_5331;
const BOOTSTRAP_SEED: u64 = 0x424f_4f54_5354_5231;

/// One cohort's per-group sums.
struct Side {
    cohort: Option<Cohort>,
    /// `[group][output × features + feature]`.
    sums: Vec<Vec<f64>>,
    counts: Vec<u64>,
}

impl Side {
    fn new(cohort: Option<Cohort>, width: usize) -> Self {
        Side {
            cohort,
            sums: vec![vec![0.0; width]; GROUPS],
            counts: vec![0; GROUPS],
        }
    }

    fn offer(
        &mut self,
        group: usize,
        values: Option<&[f64]>,
        line: &[f64],
        (f, k): (usize, usize),
    ) {
        if self
            .cohort
            .as_ref()
            .is_some_and(|c| !c.matches(values, line))
        {
            return;
        }
        self.counts[group] += 1;
        let sums = &mut self.sums[group];
        for o in 0..k {
            for j in 0..f {
                sums[o * f + j] += line[o * (f + 1) + j].abs();
            }
        }
    }

    /// The means and their bootstrap percentiles, `[output][feature]` each.
    fn bars(&self, (f, k): (usize, usize)) -> CohortBars {
        let rows: u64 = self.counts.iter().sum();
        let mean_of = |pick: &mut dyn FnMut() -> usize| -> Option<Vec<f64>> {
            let mut sum = vec![0.0; k * f];
            let mut count = 0u64;
            for _ in 0..GROUPS {
                let g = pick();
                count += self.counts[g];
                sum.iter_mut().zip(&self.sums[g]).for_each(|(s, v)| *s += v);
            }
            (count > 0).then(|| sum.into_iter().map(|s| s / count as f64).collect())
        };
        let mut next = 0;
        let mean = mean_of(&mut || {
            next += 1;
            next - 1
        })
        .unwrap_or_else(|| vec![0.0; k * f]);
        let mut rng = SplitMix64(BOOTSTRAP_SEED);
        let mut replicates: Vec<Vec<f64>> = (0..REPLICATES)
            .filter_map(|_| mean_of(&mut || rng.below(GROUPS)))
            .collect();
        let mut low = vec![0.0; k * f];
        let mut high = vec![0.0; k * f];
        let mut column = Vec::with_capacity(replicates.len());
        for c in 0..k * f {
            column.clear();
            column.extend(replicates.iter().map(|r| r[c]));
            column.sort_by(f64::total_cmp);
            (low[c], high[c]) = match column.len() {
                0 => (mean[c], mean[c]),
                n => (column[n * 25 / 1000], column[(n * 975 / 1000).min(n - 1)]),
            };
        }
        replicates.clear();
        let per_output = |v: &[f64]| v.chunks(f.max(1)).map(<[f64]>::to_vec).collect();
        CohortBars {
            expression: self
                .cohort
                .as_ref()
                .map(|c| c.expression.clone())
                .unwrap_or_default(),
            rows,
            mean_abs: per_output(&mean),
            low: per_output(&low),
            high: per_output(&high),
        }
    }
}

/// Compares cohorts `a` and `b` (conditions; empty means every row) of a job.
pub async fn compare_cohorts(
    blobs: &BlobStore,
    scratch: &Path,
    spec: &JobSpec,
    results: &[Option<String>],
    (a, b): (&str, &str),
) -> Result<CohortComparison, ReadError> {
    let done = done_chunks(results)?;
    let model = model(blobs, spec).await?;
    let (f, k) = (model.num_features, model.num_outputs);
    let mut sides = [
        Side::new(Cohort::parse(a, &model)?, k * f),
        Side::new(Cohort::parse(b, &model)?, k * f),
    ];
    let needs_values = sides
        .iter()
        .any(|s| s.cohort.as_ref().is_some_and(Cohort::needs_values));
    let data = match (needs_values, done.is_empty()) {
        (true, false) => Some(DataFile::fetch(blobs, spec, scratch).await?),
        _ => None,
    };
    let runtime = tokio::runtime::Handle::current();
    let task_blobs = blobs.clone();
    let partial = done.len() < results.len();
    let features = (0..f).map(|j| model.feature_name(j)).collect();
    tokio::task::spawn_blocking(move || {
        let width = k * (f + 1);
        let mut cursor = match &data {
            Some(d) => Some(RowCursor::open(d, &model)?),
            None => None,
        };
        let mut covered = 0u64;
        for chunk in &done {
            let values = runtime.block_on(chunk_values(&task_blobs, chunk, width))?;
            let cells = match cursor.as_mut() {
                Some(c) => Some(c.read(chunk.start, chunk.end)?),
                None => None,
            };
            for (offset, line) in values.chunks_exact(width).enumerate() {
                let row = chunk.start + offset as u64;
                let group = (SplitMix64(GROUP_SEED ^ row).next_u64() % GROUPS as u64) as usize;
                let row_values = cells
                    .as_ref()
                    .and_then(|v| v.get(offset * f..(offset + 1) * f));
                for side in sides.iter_mut() {
                    side.offer(group, row_values, line, (f, k));
                }
            }
            covered += chunk.end - chunk.start;
        }
        let [a, b] = &sides;
        Ok(CohortComparison {
            features,
            outputs: k,
            rows_covered: covered,
            partial,
            method: format!(
                "95 % intervals from {REPLICATES} bootstrap replicates over {GROUPS} random \
                 groups of rows (each row's group is a seeded hash of its index); means over \
                 every covered row"
            ),
            a: a.bars((f, k)),
            b: b.bars((f, k)),
        })
    })
    .await
    .map_err(|e| ReadError::Internal(format!("comparing cohorts failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_holds_the_mean_and_narrows_with_more_rows() {
        // One feature, one output; |SHAP| alternates 1 and 3 (mean 2).
        let spread = |rows: u64| {
            let mut side = Side::new(None, 1);
            for row in 0..rows {
                let group = (SplitMix64(GROUP_SEED ^ row).next_u64() % GROUPS as u64) as usize;
                let v = if row % 2 == 0 { 1.0 } else { -3.0 };
                side.offer(group, None, &[v, 0.5], (1, 1));
            }
            let bars = side.bars((1, 1));
            assert_eq!(bars.rows, rows);
            assert!((bars.mean_abs[0][0] - 2.0).abs() < 1e-12);
            assert!(bars.low[0][0] <= 2.0 && 2.0 <= bars.high[0][0], "{bars:?}");
            bars.high[0][0] - bars.low[0][0]
        };
        let (small, large) = (spread(400), spread(40_000));
        assert!(small > 0.0 && large < small / 3.0, "{small} vs {large}");
    }
}
