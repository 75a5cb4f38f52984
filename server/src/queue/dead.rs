//! The dead-letter set, wholesale: requeueing every failed job that has dead tasks, for
//! `shaplab requeue-dead` and `POST /api/admin/dead/requeue` without a job id (one job is
//! [`Queue::requeue_dead`]).

use super::client::Queue;
use super::error::QueueError;
use super::ids::JobId;

/// What a requeue did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requeued {
    /// Jobs that went back to queued/running.
    pub jobs: u64,
    /// Their chunk tasks that went back to ready (dead ones, and the ones withdrawn when the
    /// job failed).
    pub tasks: u64,
}

impl Queue {
    /// Requeues every job with a task in the dead-letter set. Jobs that cannot be requeued
    /// (gone, or no longer failed) are skipped and logged: one bad entry must not block
    /// the others.
    pub async fn requeue_all_dead(&self) -> Result<Requeued, QueueError> {
        let mut jobs: Vec<JobId> = Vec::new();
        for task in self.dead_tasks(u32::MAX).await? {
            if !jobs.contains(&task.job) {
                jobs.push(task.job);
            }
        }
        let mut done = Requeued::default();
        for job in jobs {
            match self.requeue_dead(&job).await {
                Ok(tasks) => {
                    done.jobs += 1;
                    done.tasks += tasks;
                }
                Err(e @ (QueueError::NotFound(_) | QueueError::WrongState { .. })) => {
                    tracing::warn!(%job, "dead tasks of a job that cannot be requeued: {e}");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
}
