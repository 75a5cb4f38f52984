//! Warming a job's summary as soon as it succeeds: the worker whose chunk was the last one
//! computes the summary and stores it, JSON and gzip, in the blob cache
//! ([`super::summary_cache`]), so the page's first `/summary` after "succeeded" is a cache
//! read instead of a pass over every chunk blob and the data file.
//!
//! Why the worker and not the API: the API may be on another machine and would only start
//! when someone asks; the worker has just finished the job and its machine is already set up
//! for compute. Why in the background: the worker's loop goes on claiming meanwhile, and a
//! warm that fails (blob store hiccup, Redis away) costs nothing but the cache miss that
//! would have happened anyway.

use super::spec::JobSpec;
use super::summary_cache::summary_encoded;
use crate::blobs::BlobStore;
use crate::queue::worker::SucceededHook;
use crate::queue::{JobId, Queue, TaskPayload};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// A hook for [`crate::queue::Worker::on_job_succeeded`] that warms the job's summary;
/// `scratch` is where the data upload is downloaded while the summary reads it.
pub fn summary_warmer(queue: Arc<Queue>, blobs: BlobStore, scratch: PathBuf) -> SucceededHook {
    Arc::new(move |job: JobId, payload: TaskPayload| {
        let (queue, blobs, scratch) = (queue.clone(), blobs.clone(), scratch.clone());
        Box::pin(async move {
            let started = Instant::now();
            match warm(&queue, &blobs, &scratch, &job, &payload).await {
                Ok(bytes) => tracing::info!(
                    %job,
                    bytes,
                    took_ms = started.elapsed().as_millis() as u64,
                    "summary warmed"
                ),
                Err(e) => tracing::warn!(%job, "cannot warm the summary: {e}"),
            }
        })
    })
}

async fn warm(
    queue: &Queue,
    blobs: &BlobStore,
    scratch: &Path,
    job: &JobId,
    payload: &TaskPayload,
) -> Result<usize, String> {
    let spec = JobSpec::parse(payload.as_str())?;
    let status = queue.job(job).await.map_err(|e| e.to_string())?;
    let results = queue.chunk_results(job).await.map_err(|e| e.to_string())?;
    let gz = summary_encoded(
        blobs,
        scratch,
        &spec,
        &results,
        status.rows_total,
        ("", ""),
        true,
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(gz.len())
}
