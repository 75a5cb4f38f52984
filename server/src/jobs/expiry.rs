//! Results expire `RESULT_TTL` after their job ended (succeeded, failed or cancelled).
//!
//! Two halves, so neither depends on the other's timing:
//! - **The rule** ([`is_expired`]): the API answers `410 result_expired` for a job whose
//!   terminal state is older than the TTL, whether or not the sweep has run yet. A user never
//!   sees a result at 24 h 5 min just because the sweep is late, nor a half-deleted one.
//! - **The sweep** ([`sweep`], run by [`run_sweeper`] next to the reaper): frees the space.
//!   A queue script marks due jobs (their task hashes and dead-letter entries go; the job
//!   hash stays as a tombstone with `expired_ms`), then the result blobs under the job's
//!   prefix are deleted, then the job leaves the finished set, its idempotency key is
//!   forgotten and its tombstone gets a Redis TTL of [`TOMBSTONE_TTL`]. A sweep that dies
//!   half-way is finished
//!   by the next one: marking is idempotent and the job stays in the finished set until its
//!   blobs are gone.
//!
//! Why a tombstone and not an EXPIRE on the job at its terminal state: with the job hash
//! gone, a bookmarked job link would answer 404 "there is no such job", which reads like a
//! typo; for a week it answers 410 "this job finished on … and its results expired".
//! Uploads (the model and data files) are not results and are not expired here.

use super::spec::JobSpec;
use crate::blobs::BlobStore;
use crate::queue::{JobStatus, Queue, QueueError};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How long an expired job's tombstone is kept (then the job is unknown: 404).
pub const TOMBSTONE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Most jobs one sweep pass expires per partition (keeps each script short).
pub const SWEEP_BATCH: u32 = 100;

/// Whether `status`'s results are past `ttl` at `now_ms` (its terminal state is older, or the
/// sweep already expired it).
pub fn is_expired(status: &JobStatus, ttl: Duration, now_ms: u64) -> bool {
    if status.expired_ms.is_some() {
        return true;
    }
    let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
    status.state.is_terminal()
        && status
            .finished_ms
            .is_some_and(|at| now_ms.saturating_sub(at) >= ttl_ms)
}

/// The message of a `410 result_expired` for a job: what it was and when it ended.
pub fn expired_message(status: &JobStatus, ttl: Duration, now_ms: u64) -> String {
    let ended = status
        .finished_ms
        .map(|at| {
            format!(
                " {} ago",
                human(Duration::from_millis(now_ms.saturating_sub(at)))
            )
        })
        .unwrap_or_default();
    format!(
        "job {} {}{ended}; results are kept for {} after a job ends, so they have been \
         deleted. Submit the job again to recompute them.",
        status.id,
        status.state.as_str(),
        human(ttl)
    )
}

/// `90 s`, `45 min`, `3 h`, `2 d` (rounded down to the largest unit that fits).
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..120 => format!("{s} s"),
        120..7_200 => format!("{} min", s / 60),
        7_200..172_800 => format!("{} h", s / 3_600),
        _ => format!("{} d", s / 86_400),
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Jobs whose results were deleted and which now only have a tombstone.
    pub jobs: u64,
    /// Blobs deleted.
    pub blobs: u64,
}

/// Expires every job whose results are past `ttl`: marks it in Redis, deletes its blobs,
/// then forgets it. A job whose blobs cannot be deleted now is retried by the next sweep.
pub async fn sweep(
    queue: &Queue,
    blobs: &BlobStore,
    ttl: Duration,
) -> Result<SweepReport, QueueError> {
    let mut report = SweepReport::default();
    loop {
        let due = queue.expire_results(ttl, SWEEP_BATCH).await?;
        if due.is_empty() {
            return Ok(report);
        }
        let mut forgotten = 0;
        for (job, payload) in due {
            match JobSpec::parse(payload.as_str()) {
                Ok(spec) => match blobs.delete_prefix(&spec.results).await {
                    Ok(n) => report.blobs += n,
                    Err(e) => {
                        tracing::warn!(%job, "cannot delete expired results yet: {e}");
                        continue;
                    }
                },
                // No readable payload: nothing of ours to delete, just forget the job.
                Err(e) => tracing::warn!(%job, "expired job with an unreadable payload: {e}"),
            }
            queue.forget_job(&job, TOMBSTONE_TTL).await?;
            forgotten += 1;
            report.jobs += 1;
        }
        if forgotten == 0 {
            // Every due job is waiting for the blob store: try again next sweep.
            return Ok(report);
        }
    }
}

/// Sweeps every [`sweep_interval`] (a quarter of the TTL, 100 ms to a minute) until
/// `shutdown`. Errors (Redis away) are logged and the next pass tries again.
pub async fn run_sweeper(
    queue: Arc<Queue>,
    blobs: BlobStore,
    ttl: Duration,
    shutdown: impl Future<Output = ()>,
) {
    crate::periodic::every(sweep_interval(ttl), shutdown, || async {
        match sweep(&queue, &blobs, ttl).await {
            Ok(r) if r.jobs > 0 => {
                tracing::info!(jobs = r.jobs, blobs = r.blobs, "expired results deleted")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("result sweep failed: {e}"),
        }
    })
    .await;
}

/// A quarter of the TTL, between 100 ms and a minute: results are deleted at most a minute
/// late (the API refuses them on time regardless), and short test TTLs are honoured.
pub fn sweep_interval(ttl: Duration) -> Duration {
    (ttl / 4).clamp(Duration::from_millis(100), Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{JobId, JobState, TaskPayload};

    fn status(state: JobState, finished_ms: Option<u64>) -> JobStatus {
        JobStatus {
            id: JobId::parse("p0-0123456789abcdef01234567").expect("valid id"),
            state,
            rows_total: 10,
            rows_done: 10,
            chunks_total: 1,
            chunks_done: 1,
            created_ms: 0,
            started_ms: Some(0),
            finished_ms,
            expired_ms: None,
            error: None,
            payload: TaskPayload::new(""),
        }
    }

    #[test]
    fn results_expire_a_ttl_after_the_job_ended_and_never_while_it_runs() {
        let ttl = Duration::from_secs(60);
        // Ended at 1,000 ms: expired from 61,000 ms on.
        let done = status(JobState::Succeeded, Some(1_000));
        assert!(!is_expired(&done, ttl, 60_999));
        assert!(is_expired(&done, ttl, 61_000));
        assert!(is_expired(
            &status(JobState::Cancelled, Some(0)),
            ttl,
            60_000
        ));
        assert!(!is_expired(&status(JobState::Running, None), ttl, u64::MAX));
        let mut swept = status(JobState::Failed, Some(1_000));
        swept.expired_ms = Some(2_000);
        assert!(is_expired(&swept, ttl, 2_000), "the sweep's mark wins");
    }

    #[test]
    fn the_message_says_what_the_job_was_and_when_it_ended() {
        let done = status(JobState::Succeeded, Some(0));
        let m = expired_message(&done, Duration::from_secs(86_400), 3 * 86_400_000);
        assert!(m.contains("succeeded 3 d ago"), "{m}");
        assert!(m.contains("kept for 24 h"), "{m}");
    }

    #[test]
    fn the_sweep_runs_often_enough_for_short_ttls_and_at_most_every_minute() {
        assert_eq!(
            sweep_interval(Duration::from_secs(2)),
            Duration::from_millis(500)
        );
        assert_eq!(
            sweep_interval(Duration::from_secs(86_400)),
            Duration::from_secs(60)
        );
        assert_eq!(
            sweep_interval(Duration::from_millis(10)),
            Duration::from_millis(100)
        );
    }
}
