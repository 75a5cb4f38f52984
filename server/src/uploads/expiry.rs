//! Uploads expire `UPLOAD_TTL` (default 7 days) after they were last *used*: stored, or named
//! by a submitted job (submitting rewrites the upload's record, see
//! [`UploadService::touch`](super::UploadService::touch)). Without this the blob store grows
//! with every file anyone ever dropped on the page.
//!
//! The clock is the blob store's own: an upload's age is the time since the newest of its
//! blobs was written. So the rule needs no Redis (uploads never do) and holds for every
//! process sharing the store; several sweepers deleting the same upload are harmless.
//!
//! What a user sees after expiry: submitting a job with the old id answers 422
//! `upload_not_found` saying the file went unused for longer than `UPLOAD_TTL`, and a job
//! still queued with it fails with "the data upload … is no longer stored; upload the file
//! again". A week is longer than `RESULT_TTL`'s default day, so "Run it again with the same
//! files" on an expired job keeps working for days.

use crate::blobs::{BlobError, BlobStore};
use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where uploads live in the store (`uploads/{id}/…`).
const PREFIX: &str = "uploads";

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Uploads deleted.
    pub uploads: u64,
    /// Blobs deleted (an upload's file and its record).
    pub blobs: u64,
}

/// Deletes every upload whose newest blob is at least `ttl` older than `now_ms` (ms since the
/// Unix epoch). An upload that cannot be deleted now is left for the next sweep.
pub async fn sweep_at(
    blobs: &BlobStore,
    ttl: Duration,
    now_ms: i64,
) -> Result<SweepReport, BlobError> {
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    let mut newest: HashMap<String, i64> = HashMap::new();
    for (key, modified) in blobs.list_modified(PREFIX).await? {
        // `uploads/{id}/{name}`: anything else under the prefix is not ours to judge.
        let mut parts = key.split('/');
        if let (Some(PREFIX), Some(id), Some(_)) = (parts.next(), parts.next(), parts.next()) {
            let at = newest.entry(id.to_owned()).or_insert(i64::MIN);
            *at = (*at).max(modified);
        }
    }
    let mut report = SweepReport::default();
    for (id, at) in newest {
        if now_ms.saturating_sub(at) < ttl_ms {
            continue;
        }
        match blobs.delete_prefix(&format!("{PREFIX}/{id}")).await {
            Ok(n) => {
                report.uploads += 1;
                report.blobs += n;
            }
            Err(e) => tracing::warn!(upload = %id, "cannot delete an expired upload yet: {e}"),
        }
    }
    Ok(report)
}

/// [`sweep_at`] now.
pub async fn sweep(blobs: &BlobStore, ttl: Duration) -> Result<SweepReport, BlobError> {
    sweep_at(blobs, ttl, now_ms()).await
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Sweeps every [`sweep_interval`] until `shutdown`; errors are logged and retried next time.
pub async fn run_sweeper(blobs: BlobStore, ttl: Duration, shutdown: impl Future<Output = ()>) {
    crate::periodic::every(sweep_interval(ttl), shutdown, || async {
        match sweep(&blobs, ttl).await {
            Ok(r) if r.uploads > 0 => {
                tracing::info!(
                    uploads = r.uploads,
                    blobs = r.blobs,
                    "expired uploads deleted"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("upload sweep failed: {e}"),
        }
    })
    .await;
}

/// A quarter of the TTL, between 100 ms and an hour: listing every upload is the cost of a
/// sweep (a bucket listing is billed), and a file kept a little past its week harms nobody.
pub fn sweep_interval(ttl: Duration) -> Duration {
    (ttl / 4).clamp(Duration::from_millis(100), Duration::from_secs(3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (BlobStore, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "shaplab-upload-expiry-{}",
            uuid::Uuid::new_v4().simple()
        ));
        (BlobStore::local(&dir).expect("store"), dir)
    }

    #[tokio::test]
    async fn an_upload_goes_once_its_newest_blob_is_a_ttl_old_and_others_stay() {
        let (blobs, dir) = store();
        for key in [
            "uploads/a/model",
            "uploads/a/meta.json",
            "uploads/b/data.csv",
        ] {
            blobs.put_bytes(key, b"x".to_vec()).await.expect("put");
        }
        // Results live elsewhere and are never an upload's business.
        blobs
            .put_bytes("jobs/j/0-9.csv", b"x".to_vec())
            .await
            .expect("put");
        let written: Vec<i64> = blobs
            .list_modified("uploads")
            .await
            .expect("list")
            .into_iter()
            .map(|(_, at)| at)
            .collect();
        let (first, last) = (written.iter().min(), written.iter().max());
        let (first, last) = (*first.expect("3 blobs"), *last.expect("3 blobs"));
        let ttl = Duration::from_secs(3600);

        // A millisecond before even the oldest blob is a TTL old: nothing goes.
        let early = sweep_at(&blobs, ttl, first + 3_599_999)
            .await
            .expect("sweep");
        assert_eq!(early, SweepReport::default());
        let due = sweep_at(&blobs, ttl, last + 3_600_000)
            .await
            .expect("sweep");
        assert_eq!(
            due,
            SweepReport {
                uploads: 2,
                blobs: 3
            }
        );
        assert!(
            blobs
                .list_modified("uploads")
                .await
                .expect("list")
                .is_empty()
        );
        assert!(
            !dir.join("uploads/a").exists(),
            "emptied directories go too"
        );
        assert_eq!(blobs.list_modified("jobs").await.expect("list").len(), 1);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_sweep_runs_a_quarter_ttl_apart_at_most_hourly() {
        assert_eq!(
            sweep_interval(Duration::from_secs(2)),
            Duration::from_millis(500)
        );
        assert_eq!(
            sweep_interval(Duration::from_secs(7 * 86_400)),
            Duration::from_secs(3600)
        );
    }
}
