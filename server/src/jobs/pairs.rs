//! Interaction values in the job summary: mean |interaction value| between the most
//! important features, and each dependence plot's partner by the largest of them, read from
//! an interaction job's per-chunk sums of |interaction value| (`interaction-sums-…`, one line
//! of `outputs × (features + 1)²` numbers, written by the worker next to the chunk's values),
//! or from the chunk's values themselves (`interactions-…`, the CLI's format) when a chunk
//! has no sums blob. Why sums: a summary is recomputed each time a chunk finishes, and
//! rescanning every row's (F+1)² values each time would cost the job's whole output
//! (gigabytes for a million rows) per poll; the sums cost one line per chunk.
//!
//! Why only some matrix rows are kept: a row of the file holds outputs × (F+1)² numbers, but
//! the page needs the matrix between the top ≤ 30 features and, for the partners, the rows
//! of the ≤ 50 features that have a dependence plot against every feature. So the sums kept
//! are `outputs × dependence features × F` whatever the rows, cells outside those rows are
//! skipped without being parsed, and one chunk blob is in memory at a time.

use super::read::{DoneChunk, ReadError};
use super::spec::JobSpec;
use crate::blobs::{BlobError, BlobStore};
use app::wire::InteractionSummary;

/// Most features in the summary's matrix (the UI's heat map stays readable at 30).
pub const MATRIX_FEATURES: usize = 30;
/// Numbers the matrix may send (outputs × features²): with many classes fewer features are
/// kept, so the matrix stays under ~250 KB and the summary under its 2 MB bound.
pub const MATRIX_NUMBERS: usize = 10_000;

/// Sums of |interaction value| of the `rows` features (matrix rows) against every feature.
pub struct PairSums {
    features: usize,
    outputs: usize,
    /// Feature index → its position in `rows`, for features that have one.
    position: Vec<Option<usize>>,
    /// `[output][position][feature]`, flattened.
    sums: Vec<f64>,
    /// Rows summed over.
    covered: u64,
}

impl PairSums {
    /// Reads every done chunk's interaction blob, keeping the matrix rows of `rows`.
    /// Runs on a blocking thread (blobs are fetched with `runtime.block_on`).
    pub fn read(
        blobs: &BlobStore,
        runtime: &tokio::runtime::Handle,
        spec: &JobSpec,
        done: &[DoneChunk],
        (features, outputs): (usize, usize),
        rows: &[usize],
    ) -> Result<Self, ReadError> {
        let mut position = vec![None; features];
        for (n, &j) in rows.iter().enumerate() {
            position[j] = Some(n);
        }
        let mut pairs = PairSums {
            features,
            outputs,
            position,
            sums: vec![0.0; outputs * rows.len() * features],
            covered: 0,
        };
        let read = |key: String| {
            runtime
                .block_on(blobs.get_bytes(&key))
                .map_err(|e| match e {
                    BlobError::NotFound(_) => ReadError::Expired(
                        "the interaction values of this job are no longer stored; submit the job \
                     again"
                            .into(),
                    ),
                    other => {
                        ReadError::Internal(format!("cannot read interaction values: {other}"))
                    }
                })
        };
        for chunk in done {
            let rows = chunk.end - chunk.start;
            match read(spec.interaction_sums_key(chunk.start, chunk.end)) {
                Ok(sums) => pairs.add_chunk(&sums, 1, rows)?,
                // A chunk computed before sums were written: its values, row by row.
                Err(ReadError::Expired(_)) => {
                    let values = read(spec.interactions_key(chunk.start, chunk.end))?;
                    pairs.add_chunk(&values, rows, rows)?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(pairs)
    }

    /// Adds one blob of `lines_expected` lines covering `rows` rows: a chunk's values (a
    /// line per row) or its sums (one line; the |sum of |v|| is the sum itself).
    fn add_chunk(&mut self, bytes: &[u8], lines_expected: u64, rows: u64) -> Result<(), ReadError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| ReadError::Internal(format!("an interaction blob is not UTF-8: {e}")))?;
        let (f, f1) = (self.features, self.features + 1);
        let kept = self.sums.len() / self.outputs.max(1) / f.max(1);
        let width = self.outputs * f1 * f1;
        let mut lines = 0u64;
        for line in text.lines().filter(|l| !l.is_empty()) {
            let mut cells = 0;
            for (c, cell) in line.split(',').enumerate() {
                cells += 1;
                let (o, i, p) = (c / (f1 * f1), (c / f1) % f1, c % f1);
                if i == f || p == f || o >= self.outputs {
                    continue;
                }
                let Some(n) = self.position[i] else { continue };
                let v: f64 = cell.trim().parse().map_err(|_| {
                    ReadError::Internal(format!("an interaction blob holds a non-number {cell:?}"))
                })?;
                self.sums[(o * kept + n) * f + p] += v.abs();
            }
            if cells != width {
                return Err(ReadError::Internal(format!(
                    "an interaction line has {cells} values, expected {width}"
                )));
            }
            lines += 1;
        }
        if lines != lines_expected {
            return Err(ReadError::Internal(format!(
                "an interaction blob has {lines} lines, expected {lines_expected}"
            )));
        }
        self.covered += rows;
        Ok(())
    }

    /// Mean |interaction value| of feature `i` (one of the kept rows) with `p`.
    fn mean(&self, o: usize, i: usize, p: usize) -> f64 {
        let kept = self.sums.len() / self.outputs.max(1) / self.features.max(1);
        match (self.position[i], self.covered) {
            (Some(n), c) if c > 0 => self.sums[(o * kept + n) * self.features + p] / c as f64,
            _ => 0.0,
        }
    }

    /// The feature with the largest mean |interaction| with `feature` (itself excluded) for
    /// output `o`, and that mean; `None` when every one is zero.
    pub fn partner(&self, feature: usize, o: usize) -> Option<(usize, f64)> {
        (0..self.features)
            .filter(|&p| p != feature)
            .map(|p| (p, self.mean(o, feature, p)))
            .filter(|&(_, m)| m > 0.0)
            .fold(None, |best: Option<(usize, f64)>, (p, m)| match best {
                Some((_, b)) if b >= m => best,
                _ => Some((p, m)),
            })
    }

    /// The matrix between the first features of `ranked` (most important first); all of them
    /// must be kept rows. `None` while no row is covered.
    pub fn summary(&self, ranked: &[usize]) -> Option<InteractionSummary> {
        if self.covered == 0 {
            return None;
        }
        let budget = (MATRIX_NUMBERS / self.outputs.max(1)).isqrt().max(1);
        let features: Vec<usize> = ranked
            .iter()
            .copied()
            .filter(|&j| self.position[j].is_some())
            .take(MATRIX_FEATURES.min(budget))
            .collect();
        let mean_abs = (0..self.outputs)
            .map(|o| {
                features
                    .iter()
                    .map(|&i| features.iter().map(|&j| self.mean(o, i, j)).collect())
                    .collect()
            })
            .collect();
        Some(InteractionSummary { features, mean_abs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_keep_only_the_asked_rows_and_the_partner_is_the_largest_off_diagonal() {
        // 2 features, 1 output: a line is the 3×3 matrix row-major (bias last).
        // Row 0: |0:1| = 2; row 1: |0:1| = 4 → mean 3. Feature 1's row is not kept.
        let mut pairs = PairSums {
            features: 2,
            outputs: 1,
            position: vec![Some(0), None],
            sums: vec![0.0; 2],
            covered: 0,
        };
        pairs
            .add_chunk(b"1,-2,0,-2,5,0,0,0,9\n0.5,4,0,4,1,0,0,0,9\n", 2, 2)
            .expect("parses");
        assert_eq!(pairs.mean(0, 0, 1), 3.0);
        assert_eq!(pairs.mean(0, 0, 0), 0.75);
        assert_eq!(pairs.partner(0, 0), Some((1, 3.0)));
        let s = pairs.summary(&[0, 1]).expect("rows covered");
        assert_eq!(s.features, vec![0]);
        assert_eq!(s.mean_abs, vec![vec![vec![0.75]]]);
        // Two more rows as one line of sums: |0:1| sums to 6 → (2 + 4 + 6) / 4 = 3.
        pairs
            .add_chunk(b"1,6,0,6,2,0,0,0,18\n", 1, 2)
            .expect("parses");
        assert_eq!(pairs.mean(0, 0, 1), 3.0);
        // A short line is refused.
        assert!(pairs.add_chunk(b"1,2\n", 1, 1).is_err());
    }
}
