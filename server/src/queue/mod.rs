//! The job queue on Redis: at-least-once chunk tasks with per-task leases, fencing tokens,
//! stall counting, retries with backoff, a dead-letter set, cancellation and graceful release.
//!
//! A job is split into chunk tasks (row ranges); any worker on any machine claims any chunk.
//! All queue state lives in Redis and every mutation is one Lua script, so a crash between two
//! commands cannot leave a task in two places or in none. Execution is at-least-once (a chunk
//! whose worker vanished runs again); fencing tokens make sure only one result is recorded. A job and all its tasks live in one *partition*
//! whose keys share a hash tag, so every script touches one Redis Cluster slot.
//!
//! # Layout
//! - [`ids`]: the vocabulary as types ([`JobId`], [`TaskId`], [`WorkerId`], [`FencingToken`],
//!   [`IdempotencyKey`], [`RowRange`]).
//! - [`keys`]: the key layout of a partition (documented there) and the hash-tag rule.
//! - [`scripts`]: the Lua scripts (`lua/*.lua`) and typed builders for their calls.
//! - [`client`]: [`Queue`], the typed API over the scripts (submit, claim, heartbeat, complete,
//!   fail, release, reap, promote, cancel, requeue, status, audit).
//! - [`dead`]: requeueing every job with dead tasks ([`Queue::requeue_all_dead`]).
//! - [`expire`]: jobs past `RESULT_TTL` become tombstones ([`Queue::expire_results`]).
//! - [`types`]: requests, job status and the outcome of each worker write.
//! - [`error`]: [`QueueError`], separating "Redis unavailable" (retry later) from "not
//!   found", "conflict" and "stale token".
//! - [`worker`]: [`Worker`], a steppable worker loop with a heartbeat task, compute on a
//!   blocking thread, and graceful shutdown.
//! - [`reaper`]: the loop that takes back expired leases and promotes due retries.
//! - [`presence`]: which workers are alive on any machine (health's "workers seen").
//! - [`audit`]: the invariant check (each unfinished task in exactly one of ready /
//!   scheduled / leased, finished tasks in none).

pub mod audit;
pub mod client;
pub mod dead;
pub mod error;
pub mod expire;
pub mod ids;
pub mod keys;
pub mod presence;
pub mod reaper;
pub mod scripts;
pub mod types;
pub mod worker;

pub use client::Queue;
pub use dead::Requeued;
pub use error::QueueError;
pub use ids::{FencingToken, IdError, IdempotencyKey, JobId, RowRange, TaskId, WorkerId};
pub use presence::run_presence;
pub use reaper::run_reaper;
pub use types::{
    Cancellation, ClaimedTask, Completion, FailOutcome, Heartbeat, JobError, JobState, JobStatus,
    QueueDepths, ReapReport, Released, SubmitRequest, Submitted, TaskPayload,
};
pub use worker::{CancelToken, Executor, Outcome, TaskError, Worker, WorkerConfig};

use std::time::Duration;

/// Queue tuning shared by producers, workers and the reaper.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// The first part of every hash tag (`{shaplab:p0}`): a plain word, so several
    /// deployments can share one Redis.
    pub prefix: String,
    /// How many partitions jobs are spread over (each one hash tag, i.e. one cluster slot).
    /// A job id names its partition, so status and cancel work across a change; but workers
    /// only claim from partitions below this number (drain before lowering it), and an
    /// idempotency key may map elsewhere after a change (a resubmit within the TTL could
    /// then create a second job).
    pub partitions: u16,
    /// How long a claim is valid without a heartbeat. Workers heartbeat every third of it.
    pub lease: Duration,
    /// Attempts (claims that ended in a retryable error) before a task is dead.
    pub max_attempts: u32,
    /// Lease expiries ("the worker vanished") before the job fails with `worker_lost`.
    pub max_stalls: u32,
    /// The first retry delay; doubled per attempt, up to `backoff_max`, with equal jitter.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// How long an idempotency key is remembered.
    pub idempotency_ttl: Duration,
    /// Reaper gap: if no reap ran for longer than this, assume Redis (or the reapers) were
    /// unreachable and reap nothing for one lease so live workers can renew first.
    pub reaper_gap: Duration,
    /// Most tasks a single reap/promote call moves (keeps each script short).
    pub batch: u32,
    /// Largest number of chunks one job may have.
    pub max_chunks: u64,
    /// Most tasks waiting in one partition's ready list; a submit that would go past it is
    /// refused with [`QueueError::Full`] (the API's 503 `queue_full`). 0: no cap.
    pub max_ready_tasks: u64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        let lease = Duration::from_secs(30);
        QueueConfig {
            prefix: "shaplab".into(),
            partitions: 1,
            lease,
            max_attempts: 5,
            max_stalls: 2,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            idempotency_ttl: Duration::from_secs(24 * 3600),
            reaper_gap: lease / 2,
            batch: 500,
            max_chunks: 20_000,
            max_ready_tasks: 1_000_000,
        }
    }
}

impl QueueConfig {
    /// Short timings for tests: 1 s lease, 50 ms first retry.
    pub fn for_tests() -> Self {
        let lease = Duration::from_secs(1);
        QueueConfig {
            lease,
            backoff_base: Duration::from_millis(50),
            backoff_max: Duration::from_millis(400),
            reaper_gap: lease / 2,
            ..QueueConfig::default()
        }
    }
}

/// Most partitions `QUEUE_PARTITIONS` may ask for: each is claimed, reaped and promoted
/// separately, so more only adds idle polling.
pub const MAX_PARTITIONS: u16 = 256;

impl QueueConfig {
    /// The defaults with `QUEUE_PARTITIONS` from the process environment.
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        Self::from_lookup(|var| std::env::var(var).ok())
    }

    /// The defaults with `QUEUE_PARTITIONS` (1 to [`MAX_PARTITIONS`], default 1) read through
    /// `lookup`. On a Redis Cluster each partition's keys live on one shard, so a few
    /// partitions per primary spread the queue's load over all of them.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, crate::config::ConfigError> {
        let mut config = QueueConfig::default();
        if let Some(v) = lookup("QUEUE_PARTITIONS")
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
        {
            config.partitions = v
                .parse::<u16>()
                .ok()
                .filter(|n| (1..=MAX_PARTITIONS).contains(n))
                .ok_or(crate::config::ConfigError {
                    var: "QUEUE_PARTITIONS",
                    value: v,
                    expected: "a whole number from 1 to 256, the same in every process",
                })?;
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_default_to_one_and_take_a_bounded_number() {
        let with = |v: &str| QueueConfig::from_lookup(|_| Some(v.to_owned()));
        assert_eq!(
            QueueConfig::from_lookup(|_| None).map(|c| c.partitions),
            Ok(1)
        );
        assert_eq!(with("").map(|c| c.partitions), Ok(1));
        assert_eq!(with(" 12 ").map(|c| c.partitions), Ok(12));
        assert_eq!(with("256").map(|c| c.partitions), Ok(256));
        for bad in ["0", "257", "-1", "many", "2.5"] {
            assert_eq!(
                with(bad).map_err(|e| e.var).err(),
                Some("QUEUE_PARTITIONS"),
                "{bad}"
            );
        }
    }
}
