//! The values the queue API takes and returns: requests, job status, and the outcome of each
//! worker write. Plain data; parsing from Redis replies lives in [`super::client`].

use super::ids::{FencingToken, IdempotencyKey, JobId, RowRange, TaskId};
use std::sync::Arc;
use std::time::Duration;

/// What a task needs besides its row range, opaque to the queue (a JSON string the submitter
/// chooses: model and data blob ids, options). Stored once per job, handed out with each claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPayload(pub Arc<str>);

impl TaskPayload {
    pub fn new(text: impl Into<Arc<str>>) -> Self {
        TaskPayload(text.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A job to queue.
#[derive(Debug, Clone)]
pub struct SubmitRequest {
    pub payload: TaskPayload,
    pub rows_total: u64,
    /// Rows per chunk task (the last chunk may be shorter).
    pub chunk_rows: u64,
    /// Same key + same request → the same job; same key + different request → conflict.
    pub idempotency_key: Option<IdempotencyKey>,
}

/// The job a submit resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub job: JobId,
    /// False when an earlier submit with the same idempotency key created it (→ HTTP 200).
    pub created: bool,
}

/// A job's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobState {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "succeeded" => JobState::Succeeded,
            "failed" => JobState::Failed,
            "cancelled" => JobState::Cancelled,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

/// Why a job failed or stopped: a stable code (`worker_lost`, `attempts_exhausted`,
/// `task_failed`, `cancelled`) and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError {
    pub code: String,
    pub message: String,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatus {
    pub id: JobId,
    pub state: JobState,
    pub rows_total: u64,
    pub rows_done: u64,
    pub chunks_total: u64,
    pub chunks_done: u64,
    pub created_ms: u64,
    pub started_ms: Option<u64>,
    pub finished_ms: Option<u64>,
    /// When the result sweep expired the job's results (RESULT_TTL): what is left is a
    /// tombstone saying the job existed.
    pub expired_ms: Option<u64>,
    pub error: Option<JobError>,
    pub payload: TaskPayload,
}

/// A task leased to this worker.
#[derive(Debug, Clone)]
pub struct ClaimedTask {
    pub id: TaskId,
    pub token: FencingToken,
    pub payload: TaskPayload,
    pub rows: RowRange,
    /// Counting this one.
    pub attempts: u32,
    /// Times an earlier lease of this task expired.
    pub stalls: u32,
    /// How long it waited in the ready list (queue wait, for metrics).
    pub waited: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heartbeat {
    /// The lease is extended.
    Renewed,
    /// The job was cancelled or failed: stop computing.
    Stop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    Recorded,
    /// This was the job's last chunk: the job succeeded (trigger the summary). A retried
    /// write of that last chunk reports `Last` again, so triggering must be idempotent.
    Last,
    /// This token had already completed the task (a retried write whose reply was lost).
    AlreadyRecorded,
    /// The job ended (cancelled/failed) while the chunk ran; its result was not recorded.
    Discarded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Scheduled to run again after `delay` (`attempts` so far).
    Retry { delay: Duration, attempts: u32 },
    /// Out of attempts: the task is in the dead set and the job failed.
    Dead,
    /// A permanent error: the job failed at once.
    JobFailed,
    /// The job had already ended.
    Discarded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// Back at the head of the ready list; the attempt is not counted.
    Released,
    /// The job had ended; nothing to hand back.
    Discarded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancellation {
    /// Cancelled now; `was_running` means workers stop at their next heartbeat.
    Cancelled { was_running: bool },
    /// Already in a terminal state.
    AlreadyFinished(JobState),
}

/// What one reap pass did (summed over partitions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReapReport {
    /// Expired leases put back to ready (stalls + 1).
    pub requeued: u64,
    /// Tasks that stalled too often: their jobs failed with `worker_lost`.
    pub lost: u64,
    /// Partitions skipped because they are in their post-outage grace period.
    pub partitions_in_grace: u32,
}

/// Queue sizes (summed over partitions), for health and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueDepths {
    pub ready: u64,
    pub leased: u64,
    pub scheduled: u64,
    pub dead: u64,
}
