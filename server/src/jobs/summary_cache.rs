//! Where a job's summary is kept once computed: as JSON and as gzip, in the blob store beside
//! the job's results, keyed by the number of finished chunks (and a cohort/grouping digest).
//!
//! Why both: the page polls the summary every second or two while a job runs and many
//! browsers may follow one job; re-gzipping a few hundred kilobytes per request costs more
//! than everything else the request does (the load test, docs/operations.md). The route
//! serves the stored gzip as is (`Content-Encoding: gzip`, which the compression layer then
//! leaves alone); the report and comparison read the JSON.
//!
//! Why the chunk count is a sound key: the set of finished chunks only grows and a chunk's
//! values never change once recorded, so the count identifies the set.

use super::cohort::Cohort;
use super::groups::Grouping;
use super::read::{DataFile, ReadError};
use super::spec::JobSpec;
use super::summary::{SummaryInput, compute};
use crate::blobs::BlobStore;
use bytes::Bytes;
use sha2::Digest;
use std::io::Write;

/// The summary's blob key for this many finished chunks and this cohort/grouping.
fn cache_key(spec: &JobSpec, done: usize, (cohort, groups): (&str, &str)) -> String {
    if cohort.is_empty() && groups.is_empty() {
        format!("{}/summary-{done:06}.json", spec.results)
    } else {
        let digest = sha2::Sha256::digest(format!("{cohort}\n{groups}").as_bytes());
        let tag: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("{}/summary-{done:06}-view-{tag}.json", spec.results)
    }
}

/// The summary of `job` as JSON: from the blob store when this number of finished chunks was
/// summarised before, else computed on a blocking thread and stored for the next poll.
pub async fn summary_json(
    blobs: &BlobStore,
    scratch: &std::path::Path,
    spec: &JobSpec,
    results: &[Option<String>],
    rows_total: u64,
    (cohort, groups): (&str, &str),
) -> Result<Bytes, ReadError> {
    let done = super::read::done_chunks(results)?;
    // A cohort's or grouping's summary is cached under a digest of them as given.
    let (cohort, groups) = (cohort.trim(), groups.trim());
    let key = cache_key(spec, done.len(), (cohort, groups));
    if let Ok(cached) = blobs.get_bytes(&key).await {
        return Ok(cached);
    }
    let model = super::read::model(blobs, spec).await?;
    let cohort = Cohort::parse(cohort, &model)?;
    let data = if done.is_empty() {
        None
    } else {
        Some(DataFile::fetch(blobs, spec, scratch).await?)
    };
    let groups = Grouping::parse(groups, &model, data.as_ref())?;
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
            cohort: cohort.as_ref(),
            results: &spec.results,
            groups: groups.as_ref(),
        })?;
        serde_json::to_vec(&summary)
            .map_err(|e| ReadError::Internal(format!("cannot encode the summary: {e}")))
    })
    .await
    .map_err(|e| ReadError::Internal(format!("the summary task failed: {e}")))??;
    if let Err(e) = blobs.put_bytes(&key, json.clone()).await {
        // Only a cache: the next poll computes it again.
        tracing::warn!(blob = %key, "cannot cache a job summary: {e}");
    }
    Ok(Bytes::from(json))
}

/// The summary as the client takes it: [`summary_json`] when `gzip` is false, else the same
/// bytes gzipped — the stored copy when there is one, else compressed once (on a blocking
/// thread) and stored beside the JSON.
pub async fn summary_encoded(
    blobs: &BlobStore,
    scratch: &std::path::Path,
    spec: &JobSpec,
    results: &[Option<String>],
    rows_total: u64,
    view: (&str, &str),
    gzip: bool,
) -> Result<Bytes, ReadError> {
    if !gzip {
        return summary_json(blobs, scratch, spec, results, rows_total, view).await;
    }
    let done = super::read::done_chunks(results)?;
    let key = format!(
        "{}.gz",
        cache_key(spec, done.len(), (view.0.trim(), view.1.trim()))
    );
    if let Ok(cached) = blobs.get_bytes(&key).await {
        return Ok(cached);
    }
    let json = summary_json(blobs, scratch, spec, results, rows_total, view).await?;
    let gz = tokio::task::spawn_blocking(move || gzip_bytes(&json))
        .await
        .map_err(|e| ReadError::Internal(format!("the gzip task failed: {e}")))?
        .map_err(|e| ReadError::Internal(format!("cannot gzip the summary: {e}")))?;
    if let Err(e) = blobs.put_bytes(&key, gz.clone()).await {
        tracing::warn!(blob = %key, "cannot cache a gzipped job summary: {e}");
    }
    Ok(Bytes::from(gz))
}

/// gzip at the default level: stored once and served many times, so a better ratio than the
/// per-request layer's fast setting is worth its few milliseconds.
fn gzip_bytes(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4),
        flate2::Compression::default(),
    );
    encoder.write_all(bytes)?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn gzip_round_trips_and_shrinks_json() {
        let json = serde_json::to_vec(&vec![[0.125_f64, -3.5, 1e-7]; 2000]).unwrap();
        let gz = gzip_bytes(&json).unwrap();
        assert!(gz.len() * 4 < json.len(), "{} vs {}", gz.len(), json.len());
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, json);
    }
}
