//! Reading a job's results back for the result endpoints (`/summary`, `/rows/{i}`,
//! `/ranked`): where
//! each finished chunk's rows are, its CSV lines as numbers, and the job's inputs.
//!
//! Why the API reads the inputs itself rather than asking a worker: workers may run on other
//! machines and their input cache ([`super::cache`]) is per process, so the API process
//! downloads the model and the data upload from the blob store when it needs them. Chunk
//! blobs are read one at a time, so memory stays at one chunk whatever the job's size.

use super::spec::JobSpec;
use crate::blobs::{BlobError, BlobStore};
use crate::uploads::UploadId;
use app::wire::UploadKind;
use shaplab::{DataRows, Ensemble};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a result cannot be read: "not there (yet)" is the caller's 4xx, the rest is ours.
#[derive(Debug, Error)]
pub enum ReadError {
    /// The part of the result that was asked for is not computed yet.
    #[error("{0}")]
    NotFinished(String),
    /// The row index is past the end of the data.
    #[error("{0}")]
    RowNotFound(String),
    /// The request cannot be answered as asked (a ranking's feature out of range, …).
    #[error("{0}")]
    Invalid(String),
    /// An input or result blob is gone (expired or deleted).
    #[error("{0}")]
    Expired(String),
    #[error("{0}")]
    Internal(String),
}

impl ReadError {
    fn blob(what: &str, e: BlobError) -> Self {
        match e {
            BlobError::NotFound(_) => ReadError::Expired(format!(
                "the {what} of this job is no longer stored; submit the job again"
            )),
            other => ReadError::Internal(format!("cannot read the {what}: {other}")),
        }
    }
}

/// A finished chunk: rows `start..end` and the blob holding their CSV lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoneChunk {
    pub index: usize,
    pub start: u64,
    pub end: u64,
    pub key: String,
}

/// The rows of a chunk blob, read from its key (`…/rows-{start:012}-{end:012}.csv`, see
/// [`JobSpec::chunk_key`]): the key is the one record of a chunk's range the API can see.
pub fn chunk_range(key: &str) -> Option<(u64, u64)> {
    let name = key.rsplit('/').next()?;
    let middle = name.strip_prefix("rows-")?.strip_suffix(".csv")?;
    let (start, end) = middle.split_once('-')?;
    let (start, end) = (start.parse().ok()?, end.parse().ok()?);
    (start <= end).then_some((start, end))
}

/// The finished chunks of a job (from [`crate::queue::Queue::chunk_results`]), in row order.
pub fn done_chunks(results: &[Option<String>]) -> Result<Vec<DoneChunk>, ReadError> {
    results
        .iter()
        .enumerate()
        .filter_map(|(index, key)| key.as_ref().map(|k| (index, k)))
        .map(|(index, key)| {
            let (start, end) = chunk_range(key).ok_or_else(|| {
                ReadError::Internal(format!("chunk {index} has an unreadable result key {key}"))
            })?;
            Ok(DoneChunk {
                index,
                start,
                end,
                key: key.clone(),
            })
        })
        .collect()
}

/// Rows per chunk, learned from any finished chunk (chunk `c > 0` starts at `c × rows`;
/// chunk 0 is full unless it is the only one). `None` while no chunk is done.
pub fn chunk_rows(done: &[DoneChunk]) -> Option<u64> {
    done.iter().find_map(|c| {
        if c.index > 0 {
            Some(c.start / c.index as u64)
        } else {
            Some(c.end - c.start)
        }
        .filter(|&n| n > 0)
    })
}

/// Parses a chunk blob: one line per row of `width` numbers (the CLI's format), flattened.
pub fn parse_lines(bytes: &[u8], width: usize, rows: usize) -> Result<Vec<f64>, ReadError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ReadError::Internal(format!("a chunk blob is not UTF-8: {e}")))?;
    let mut values = Vec::with_capacity(rows * width);
    let mut lines = 0;
    for line in text.lines().filter(|l| !l.is_empty()) {
        let before = values.len();
        for cell in line.split(',') {
            let v: f64 = cell.trim().parse().map_err(|_| {
                ReadError::Internal(format!("a chunk blob holds a non-number {cell:?}"))
            })?;
            values.push(v);
        }
        if values.len() - before != width {
            return Err(ReadError::Internal(format!(
                "a chunk line has {} values, expected {width}",
                values.len() - before
            )));
        }
        lines += 1;
    }
    if lines != rows {
        return Err(ReadError::Internal(format!(
            "a chunk blob has {lines} lines for {rows} rows"
        )));
    }
    Ok(values)
}

/// Reads a chunk's values (`rows × width`).
pub async fn chunk_values(
    blobs: &BlobStore,
    chunk: &DoneChunk,
    width: usize,
) -> Result<Vec<f64>, ReadError> {
    let bytes = blobs
        .get_bytes(&chunk.key)
        .await
        .map_err(|e| ReadError::blob("SHAP values", e))?;
    let rows = usize::try_from(chunk.end - chunk.start).unwrap_or(usize::MAX);
    parse_lines(&bytes, width, rows)
}

/// The job's model, parsed.
pub async fn model(blobs: &BlobStore, spec: &JobSpec) -> Result<Ensemble, ReadError> {
    let id = UploadId::parse(&spec.model)
        .ok_or_else(|| ReadError::Internal(format!("bad model upload id {:?}", spec.model)))?;
    let bytes = blobs
        .get_bytes(&id.file_key(UploadKind::Model))
        .await
        .map_err(|e| ReadError::blob("model upload", e))?;
    Ensemble::from_bytes(&bytes).map_err(|e| ReadError::Internal(format!("the model: {e}")))
}

/// A downloaded copy of the job's data upload, removed when dropped.
pub struct DataFile {
    dir: PathBuf,
    pub path: PathBuf,
}

impl DataFile {
    /// Downloads the data upload into a fresh directory under `scratch` (streamed in parts).
    pub async fn fetch(
        blobs: &BlobStore,
        spec: &JobSpec,
        scratch: &Path,
    ) -> Result<Self, ReadError> {
        let id = UploadId::parse(&spec.data)
            .ok_or_else(|| ReadError::Internal(format!("bad data upload id {:?}", spec.data)))?;
        let dir = scratch.join(format!("read-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| ReadError::Internal(format!("cannot create {}: {e}", dir.display())))?;
        let file = DataFile {
            path: dir.join("data"),
            dir,
        };
        blobs
            .get_to_file(&id.file_key(UploadKind::Data), &file.path)
            .await
            .map_err(|e| ReadError::blob("data upload", e))?;
        Ok(file)
    }

    /// Streams the rows in model feature order, calling `take(row, values)` for each row in
    /// `wanted` (sorted ascending); stops after the last wanted row. Memory: one block.
    pub fn visit_rows(
        &self,
        model: &Ensemble,
        wanted: &[u64],
        mut take: impl FnMut(u64, &[f64]),
    ) -> Result<(), ReadError> {
        const BLOCK_ROWS: usize = 4_096;
        let Some(&last) = wanted.last() else {
            return Ok(());
        };
        let internal = |e: shaplab::Error| ReadError::Internal(format!("the data: {e}"));
        // One row (the row explorer): jump to it by a byte scan instead of parsing every row
        // before it (the last row of a 1M-row file: seconds → a fraction of one).
        let (mut csv, mut at) = match wanted {
            [row] => match DataRows::open_at_row(&self.path, model, *row).map_err(internal)? {
                Some(csv) => (csv, *row),
                None => return Ok(()),
            },
            _ => (DataRows::open(&self.path, model).map_err(internal)?, 0u64),
        };
        let mut next = wanted.iter().peekable();
        while at <= last {
            let Some(block) = csv
                .next_block(BLOCK_ROWS)
                .map_err(|e| ReadError::Internal(format!("the data: {e}")))?
            else {
                break;
            };
            let end = at + block.rows as u64;
            while let Some(&&row) = next.peek() {
                if row >= end {
                    break;
                }
                if row >= at {
                    take(row, block.row((row - at) as usize));
                }
                next.next();
            }
            at = end;
        }
        Ok(())
    }
}

/// The data file's rows read forward in row ranges, for a pass that walks finished chunks in
/// row order and needs every row's values (a cohort's conditions). Rows between the ranges
/// (unfinished chunks) are read and dropped. Memory: one block plus the range asked for.
pub struct RowCursor {
    rows: DataRows,
    /// The next row the reader will give.
    at: u64,
    features: usize,
}

impl RowCursor {
    pub fn open(file: &DataFile, model: &Ensemble) -> Result<Self, ReadError> {
        Ok(RowCursor {
            rows: DataRows::open(&file.path, model)
                .map_err(|e| ReadError::Internal(format!("the data: {e}")))?,
            at: 0,
            features: model.num_features,
        })
    }

    /// Rows `start..end` (at or after the last range read), flattened in model feature order.
    pub fn read(&mut self, start: u64, end: u64) -> Result<Vec<f64>, ReadError> {
        const BLOCK_ROWS: u64 = 4_096;
        let f = self.features;
        let mut out =
            Vec::with_capacity(usize::try_from(end.saturating_sub(start)).unwrap_or(0) * f);
        while self.at < end {
            let want = (end - self.at).min(BLOCK_ROWS) as usize;
            let block = self
                .rows
                .next_block(want)
                .map_err(|e| ReadError::Internal(format!("the data: {e}")))?
                .ok_or_else(|| {
                    ReadError::Internal(format!(
                        "the data upload ends at row {}, before the job's row {end}",
                        self.at
                    ))
                })?;
            for r in 0..block.rows {
                let row = self.at + r as u64;
                if row >= start {
                    out.extend_from_slice(&block.row(r)[..f]);
                }
            }
            self.at += block.rows as u64;
        }
        Ok(out)
    }
}

impl Drop for DataFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_key_names_its_rows() {
        assert_eq!(
            chunk_range("jobs/ab/rows-000000005000-000000010000.csv"),
            Some((5_000, 10_000))
        );
        assert_eq!(chunk_range("jobs/ab/header.csv"), None);
        assert_eq!(
            chunk_range("jobs/ab/rows-000000000010-000000000005.csv"),
            None
        );
    }

    #[test]
    fn chunk_rows_are_learned_from_any_finished_chunk() {
        let chunk = |index, start, end| DoneChunk {
            index,
            start,
            end,
            key: String::new(),
        };
        // 60 rows in chunks of 16: chunk 3 is rows 48..60, so 48 / 3 = 16.
        assert_eq!(chunk_rows(&[chunk(3, 48, 60)]), Some(16));
        assert_eq!(chunk_rows(&[chunk(0, 0, 16)]), Some(16));
        assert_eq!(chunk_rows(&[]), None);
    }

    #[test]
    fn chunk_lines_parse_back_to_the_numbers_and_a_short_line_is_refused() {
        let values = parse_lines(b"1,-2.5,3e-3\n4,5,6\n", 3, 2).expect("parses");
        assert_eq!(values, vec![1.0, -2.5, 0.003, 4.0, 5.0, 6.0]);
        assert!(parse_lines(b"1,2\n", 3, 1).is_err());
        assert!(parse_lines(b"1,2,3\n", 3, 2).is_err());
    }
}
