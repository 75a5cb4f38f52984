//! Queue errors, split by what the caller should do: retry later (Redis unavailable → 503
//! with `Retry-After`), tell the user (not found, conflict, invalid), or drop the write (stale
//! fencing token: another worker owns the task now).

use super::ids::{JobId, TaskId};
use crate::redis::RedisCallError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum QueueError {
    /// Redis could not be reached or did not answer in time: retryable.
    #[error("the job queue is unavailable: {0}")]
    Unavailable(#[source] RedisCallError),
    /// Redis answered with an error (out of memory, script error, …).
    #[error("Redis rejected a queue operation: {0}")]
    Rejected(#[source] RedisCallError),
    #[error("job {0} not found")]
    NotFound(JobId),
    /// The idempotency key was used before with a different request.
    #[error("idempotency key already used for a different request (job {existing})")]
    Conflict { existing: JobId },
    /// The task's fencing token moved on: this worker's lease was lost to another worker.
    #[error("task {0}: stale fencing token, another worker owns the task now")]
    StaleToken(TaskId),
    /// The request cannot be queued as given (the message says why).
    #[error("{0}")]
    Invalid(String),
    /// The queue is at its depth cap, or Redis is out of memory: try again later.
    #[error("the job queue is full ({waiting} tasks waiting); try again later")]
    Full { waiting: u64 },
    /// A queue operation does not apply in the job's current state.
    #[error("job {job} is {state}: {message}")]
    WrongState {
        job: JobId,
        state: String,
        message: &'static str,
    },
    /// A script answered something this version does not understand (a bug or a foreign key).
    #[error("unexpected reply from a queue script: {0}")]
    Protocol(String),
}

impl QueueError {
    /// Worth trying again later (the API answers 503 with `Retry-After`).
    pub fn is_retryable(&self) -> bool {
        matches!(self, QueueError::Unavailable(_) | QueueError::Full { .. })
    }

    /// When to try again, for a `Retry-After` header: the breaker's next probe when it is
    /// open, else one second.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            QueueError::Unavailable(RedisCallError::BreakerOpen { retry_after }) => {
                Some((*retry_after).max(std::time::Duration::from_secs(1)))
            }
            QueueError::Unavailable(_) => Some(std::time::Duration::from_secs(1)),
            QueueError::Full { .. } => Some(std::time::Duration::from_secs(5)),
            _ => None,
        }
    }

    pub(crate) fn protocol(what: impl Into<String>) -> Self {
        QueueError::Protocol(what.into())
    }
}

impl From<RedisCallError> for QueueError {
    fn from(e: RedisCallError) -> Self {
        // A server that is loading its AOF, failing over or read-only after a failover is
        // "not available yet", not a bug: the caller should retry, like a dropped connection.
        // So is a redirect the cluster client could not follow in time (MOVED / ASK to a
        // replica being promoted: seen as a 500 on a submit just after a primary was killed).
        let transient = matches!(
            &e,
            RedisCallError::Redis(r) if matches!(
                r.code(),
                Some(
                    "LOADING" | "TRYAGAIN" | "CLUSTERDOWN" | "MASTERDOWN" | "READONLY" | "MOVED"
                        | "ASK"
                )
            )
        );
        // `maxmemory` reached: Redis refuses writes until memory is freed. That is a full
        // queue (503 `queue_full`), not a bug and not an outage.
        let out_of_memory = matches!(&e, RedisCallError::Redis(r) if r.code() == Some("OOM"));
        if out_of_memory {
            QueueError::Full { waiting: 0 }
        } else if e.is_unavailable() || transient {
            QueueError::Unavailable(e)
        } else {
            QueueError::Rejected(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error redis-rs gives for a reply line like `-MOVED 7740 127.0.0.1:7001`.
    fn reply(line: &str) -> RedisCallError {
        let value = redis::parse_redis_value(format!("-{line}\r\n").as_bytes()).expect("parses");
        RedisCallError::Redis(value.extract_error().expect_err("an error reply"))
    }

    #[test]
    fn a_cluster_between_states_is_unavailable_and_a_script_error_is_not() {
        for line in [
            "MOVED 7740 127.0.0.1:7001",
            "ASK 7740 127.0.0.1:7001",
            "TRYAGAIN Multiple keys request during rehashing of slot",
            "CLUSTERDOWN The cluster is down",
            "READONLY You can't write against a read only replica.",
            "LOADING Redis is loading the dataset in memory",
        ] {
            let e = QueueError::from(reply(line));
            assert!(matches!(e, QueueError::Unavailable(_)), "{line}: {e:?}");
        }
        let e = QueueError::from(reply("ERR user_script:1: Script attempted to access key"));
        assert!(matches!(e, QueueError::Rejected(_)), "{e:?}");
        let e = QueueError::from(reply("OOM command not allowed"));
        assert!(matches!(e, QueueError::Full { .. }), "{e:?}");
    }
}
