//! Rankings of a job's rows (`GET /api/jobs/{id}/ranked`), so the row explorer can jump to
//! "the highest predictions" or "the largest SHAP values of `age`" without downloading the
//! result: the top (or bottom) `limit` rows by prediction or by one feature's SHAP value,
//! over the chunks finished so far (partial while the job runs).
//!
//! Why a streamed top-k: a job may have millions of rows, so nothing that grows with the row
//! count is kept. Chunk blobs are read one at a time; each line is scanned only as far as the
//! ranked output's cells (the other outputs are skipped, not parsed), and a heap of at most
//! `limit` (≤ [`MAX_LIMIT`](super::rank_query::MAX_LIMIT)) rows holds the ranking. Memory is
//! one chunk blob plus the heap.
//!
//! Prediction is base value + ΣSHAP of the output, i.e. on the job's own scale (the raw
//! margin, or the probability for `output: probability` jobs, whose SHAP values add up to it).
//! Ties rank the lower row first, so a ranking does not depend on the order chunks finished.
//! The request itself (`by`, `feature`, `output`, `order`, `limit`, `cohort`) is
//! [`super::rank_query`]. With a cohort, each chunk is parsed whole and the data rows are
//! streamed beside the chunks when a condition reads feature values (memory: one chunk).

use super::cohort::Cohort;
use super::rank_query::{FeatureRef, Order, RankBy, RankQuery};
use super::read::{DataFile, DoneChunk, ReadError, RowCursor, chunk_values, done_chunks, model};
use super::spec::JobSpec;
use crate::blobs::BlobStore;
use app::wire::{RankedRow, RankedRows};
use shaplab::Ensemble;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::path::Path;

/// A job's result layout: each CSV line is `outputs × (features + 1)` numbers (per output
/// the features' SHAP values, then the base value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub features: usize,
    pub outputs: usize,
    /// Feature names in model order (to resolve `feature=<name>`).
    pub names: Vec<String>,
}

impl Shape {
    /// The feature index of `feature`, checked against the model.
    fn resolve(&self, feature: &FeatureRef) -> Result<usize, ReadError> {
        match feature {
            FeatureRef::Index(j) if *j < self.features => Ok(*j),
            FeatureRef::Index(j) => Err(ReadError::Invalid(format!(
                "feature={j} is out of range: the model has {} features (0 to {})",
                self.features,
                self.features.saturating_sub(1)
            ))),
            FeatureRef::Name(name) => self.names.iter().position(|n| n == name).ok_or_else(|| {
                ReadError::Invalid(format!(
                    "feature={name:?} is not one of the model's features (give an index \
                         from 0 to {} or an exact name)",
                    self.features.saturating_sub(1)
                ))
            }),
        }
    }
}

/// One candidate in the heap, ordered so that the heap's top is the *worst* kept row: the
/// one a better row pushes out.
#[derive(Debug, Clone, Copy)]
struct Entry {
    score: f64,
    row: u64,
    prediction: f64,
    shap: f64,
    order: Order,
}

impl Entry {
    /// `Less` when `self` ranks before `other` (better).
    fn rank(&self, other: &Self) -> Ordering {
        let by_score = match self.order {
            Order::Desc => other.score.total_cmp(&self.score),
            Order::Asc => self.score.total_cmp(&other.score),
        };
        by_score.then(self.row.cmp(&other.row))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.rank(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// Worse rows are "greater", so the max-heap's top is the first to drop.
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank(other)
    }
}

/// The best `limit` rows seen so far.
struct TopK {
    limit: usize,
    heap: BinaryHeap<Entry>,
}

impl TopK {
    fn new(limit: usize) -> Self {
        TopK {
            limit,
            heap: BinaryHeap::with_capacity(limit + 1),
        }
    }

    fn offer(&mut self, entry: Entry) {
        if self.heap.len() < self.limit {
            self.heap.push(entry);
        } else if self.heap.peek().is_some_and(|worst| entry < *worst) {
            self.heap.pop();
            self.heap.push(entry);
        }
    }

    /// Best first.
    fn into_sorted(self) -> Vec<Entry> {
        self.heap.into_sorted_vec()
    }
}

/// What to read from each line: the output's cells and the ranked feature (if any).
#[derive(Debug, Clone, Copy)]
struct Scan {
    features: usize,
    output: usize,
    feature: Option<usize>,
    by: RankBy,
    order: Order,
}

/// Offers every row of one chunk blob to `top`. Only the ranked output's `features + 1`
/// cells of each line are parsed; rows whose score is NaN are left out of the ranking.
fn scan_chunk(
    bytes: &[u8],
    chunk: &DoneChunk,
    scan: Scan,
    top: &mut TopK,
) -> Result<(), ReadError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ReadError::Internal(format!("a chunk blob is not UTF-8: {e}")))?;
    let skip = scan.output * (scan.features + 1);
    let mut lines = 0u64;
    for line in text.lines().filter(|l| !l.is_empty()) {
        let row = chunk.start + lines;
        lines += 1;
        let mut cells = line.split(',').skip(skip);
        let mut sum = 0.0;
        let mut shap = f64::NAN;
        for j in 0..=scan.features {
            let cell = cells.next().ok_or_else(|| {
                ReadError::Internal(format!("row {row}: its chunk line is too short"))
            })?;
            let v: f64 = cell.trim().parse().map_err(|_| {
                ReadError::Internal(format!(
                    "row {row}: a chunk blob holds a non-number {cell:?}"
                ))
            })?;
            sum += v;
            if Some(j) == scan.feature {
                shap = v;
            }
        }
        let score = match scan.by {
            RankBy::Prediction => sum,
            RankBy::Shap => shap,
        };
        if score.is_nan() {
            continue;
        }
        top.offer(Entry {
            score,
            row,
            prediction: sum,
            shap,
            order: scan.order,
        });
    }
    if lines != chunk.end - chunk.start {
        return Err(ReadError::Internal(format!(
            "chunk {} has {lines} lines for rows {}..{}",
            chunk.index, chunk.start, chunk.end
        )));
    }
    Ok(())
}

/// Ranks the rows of `done` chunks (one blob in memory at a time). Returns the rows covered
/// and the ranking, best first. The parsing runs on blocking threads, one chunk at a time.
pub async fn rank_chunks(
    blobs: &BlobStore,
    done: &[DoneChunk],
    shape: &Shape,
    query: &RankQuery,
) -> Result<(u64, Vec<RankedRow>), ReadError> {
    let scan = scan_of(shape, query)?;
    let mut top = TopK::new(query.limit);
    let mut covered = 0u64;
    for chunk in done {
        let bytes = blobs.get_bytes(&chunk.key).await.map_err(|e| match e {
            crate::blobs::BlobError::NotFound(_) => ReadError::Expired(
                "the SHAP values of this job are no longer stored; submit the job again".into(),
            ),
            other => ReadError::Internal(format!("cannot read the SHAP values: {other}")),
        })?;
        let owned = chunk.clone();
        top = tokio::task::spawn_blocking(move || {
            scan_chunk(&bytes, &owned, scan, &mut top).map(|()| top)
        })
        .await
        .map_err(|e| ReadError::Internal(format!("ranking a chunk failed: {e}")))??;
        covered += chunk.end - chunk.start;
    }
    Ok((covered, ranked_rows(top.into_sorted(), scan.feature)))
}

fn ranked_rows(entries: Vec<Entry>, feature: Option<usize>) -> Vec<RankedRow> {
    entries
        .into_iter()
        .map(|e| RankedRow {
            row: e.row,
            prediction: e.prediction,
            shap: feature.map(|_| e.shap),
        })
        .collect()
}

/// What to read of each line, with the output and feature checked against the model.
fn scan_of(shape: &Shape, query: &RankQuery) -> Result<Scan, ReadError> {
    if query.output >= shape.outputs {
        return Err(ReadError::Invalid(format!(
            "output={} is out of range: the model has {} output{} (0 to {})",
            query.output,
            shape.outputs,
            if shape.outputs == 1 { "" } else { "s" },
            shape.outputs.saturating_sub(1)
        )));
    }
    let feature = query
        .feature
        .as_ref()
        .map(|f| shape.resolve(f))
        .transpose()?;
    let scan = Scan {
        features: shape.features,
        output: query.output,
        feature,
        by: query.by,
        order: query.order,
    };
    Ok(scan)
}

/// Ranks the rows of a cohort: each chunk is parsed whole (a condition may read any output)
/// and, when a condition reads feature values, the data rows are streamed beside it.
async fn rank_cohort(
    blobs: &BlobStore,
    data: Option<DataFile>,
    (model, cohort): (Ensemble, Cohort),
    done: Vec<DoneChunk>,
    scan: Scan,
    limit: usize,
) -> Result<(u64, Vec<Entry>), ReadError> {
    let runtime = tokio::runtime::Handle::current();
    let blobs = blobs.clone();
    tokio::task::spawn_blocking(move || {
        let (f, k) = (model.num_features, model.num_outputs);
        let width = k * (f + 1);
        let mut cursor = match &data {
            Some(d) => Some(RowCursor::open(d, &model)?),
            None => None,
        };
        let mut top = TopK::new(limit);
        let mut covered = 0u64;
        for chunk in &done {
            let values = runtime.block_on(chunk_values(&blobs, chunk, width))?;
            let cells = match cursor.as_mut() {
                Some(c) => Some(c.read(chunk.start, chunk.end)?),
                None => None,
            };
            for (offset, line) in values.chunks_exact(width).enumerate() {
                let row_values = cells
                    .as_ref()
                    .and_then(|v| v.get(offset * f..(offset + 1) * f));
                if !cohort.matches(row_values, line) {
                    continue;
                }
                let part = &line[scan.output * (f + 1)..(scan.output + 1) * (f + 1)];
                let prediction: f64 = part.iter().sum();
                let shap = scan.feature.map_or(f64::NAN, |j| part[j]);
                let score = match scan.by {
                    RankBy::Prediction => prediction,
                    RankBy::Shap => shap,
                };
                if !score.is_nan() {
                    top.offer(Entry {
                        score,
                        row: chunk.start + offset as u64,
                        prediction,
                        shap,
                        order: scan.order,
                    });
                }
            }
            covered += chunk.end - chunk.start;
        }
        Ok((covered, top.into_sorted()))
    })
    .await
    .map_err(|e| ReadError::Internal(format!("ranking a cohort failed: {e}")))?
}

/// The ranking a job's finished chunks (`results`, from `Queue::chunk_results`) give, over
/// the query's cohort when it names one.
pub async fn ranked(
    blobs: &BlobStore,
    scratch: &Path,
    spec: &JobSpec,
    results: &[Option<String>],
    query: &RankQuery,
) -> Result<RankedRows, ReadError> {
    let done = done_chunks(results)?;
    let model = model(blobs, spec).await?;
    let shape = Shape {
        features: model.num_features,
        outputs: model.num_outputs,
        names: (0..model.num_features)
            .map(|j| model.feature_name(j))
            .collect(),
    };
    let (rows_covered, rows) = match Cohort::parse(&query.cohort, &model)? {
        None => rank_chunks(blobs, &done, &shape, query).await?,
        Some(cohort) => {
            let scan = scan_of(&shape, query)?;
            let data = match (cohort.needs_values(), done.is_empty()) {
                (true, false) => Some(DataFile::fetch(blobs, spec, scratch).await?),
                _ => None,
            };
            let inputs = (model, cohort);
            let (covered, entries) =
                rank_cohort(blobs, data, inputs, done.clone(), scan, query.limit).await?;
            (covered, ranked_rows(entries, scan.feature))
        }
    };
    let feature = query
        .feature
        .as_ref()
        .map(|f| shape.resolve(f))
        .transpose()?;
    Ok(RankedRows {
        by: match query.by {
            RankBy::Prediction => "prediction",
            RankBy::Shap => "shap",
        }
        .into(),
        feature,
        output: query.output,
        order: match query.order {
            Order::Desc => "desc",
            Order::Asc => "asc",
        }
        .into(),
        partial: done.len() < results.len(),
        rows_covered,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(index: usize, start: u64, end: u64) -> DoneChunk {
        DoneChunk {
            index,
            start,
            end,
            key: String::new(),
        }
    }

    #[test]
    fn the_heap_keeps_the_best_rows_and_breaks_ties_by_row() {
        // Two features, two outputs: a line is f0,f1,base (output 0) then f0,f1,base (output 1).
        // Output 1's predictions: row 10 → 1+1+0 = 2, row 11 → 5, row 12 → 2, row 13 → -1.
        let blob = b"9,9,9,1,1,0\n0,0,0,2,3,0\n0,0,0,0,2,0\n0,0,0,-1,0,0\n";
        let scan = |by, order, feature| Scan {
            features: 2,
            output: 1,
            feature,
            by,
            order,
        };
        let rows = |s: Scan, k| {
            let mut top = TopK::new(k);
            scan_chunk(blob, &chunk(1, 10, 14), s, &mut top).expect("scans");
            top.into_sorted()
                .iter()
                .map(|e| (e.row, e.prediction))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            rows(scan(RankBy::Prediction, Order::Desc, None), 3),
            vec![(11, 5.0), (10, 2.0), (12, 2.0)]
        );
        assert_eq!(
            rows(scan(RankBy::Prediction, Order::Asc, None), 2),
            vec![(13, -1.0), (10, 2.0)]
        );
        // SHAP of feature 0 in output 1: 1, 2, 0, -1 → largest first 11, 10.
        assert_eq!(
            rows(scan(RankBy::Shap, Order::Desc, Some(0)), 2),
            vec![(11, 5.0), (10, 2.0)]
        );
        // A blob with the wrong number of lines is an error, not a silent short ranking.
        let mut top = TopK::new(3);
        assert!(
            scan_chunk(
                blob,
                &chunk(1, 10, 15),
                scan(RankBy::Prediction, Order::Desc, None),
                &mut top
            )
            .is_err()
        );
    }

    #[test]
    fn a_feature_is_resolved_by_index_or_name_and_checked() {
        let shape = Shape {
            features: 2,
            outputs: 1,
            names: vec!["age".into(), "income".into()],
        };
        assert_eq!(shape.resolve(&FeatureRef::Index(1)).ok(), Some(1));
        assert_eq!(
            shape.resolve(&FeatureRef::Name("income".into())).ok(),
            Some(1)
        );
        assert!(matches!(
            shape.resolve(&FeatureRef::Index(2)),
            Err(ReadError::Invalid(_))
        ));
        assert!(matches!(
            shape.resolve(&FeatureRef::Name("height".into())),
            Err(ReadError::Invalid(_))
        ));
    }
}
