//! `shaplab requeue-dead [--job ID]`: failed jobs with dead-letter tasks go back to the queue
//! (the CLI twin of `POST /api/admin/dead/requeue`). Prints what it did, one line.

use crate::cli::RequeueDeadArgs;
use crate::config::{ConfigError, RedisSettings, redact_url};
use crate::queue::{JobId, Queue, QueueConfig, QueueError, Requeued};
use crate::redis::RedisPool;
use std::process::ExitCode;
use std::sync::Arc;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RequeueError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(
        "REDIS_URL is not set: name the Redis the server uses (e.g. REDIS_URL=redis://host:6379/0)"
    )]
    NoRedisUrl,
    #[error(
        "REDIS_URL={url} is not a usable Redis URL ({source}); expected e.g. redis://127.0.0.1:6379/0"
    )]
    RedisUrl {
        url: String,
        source: redis::RedisError,
    },
    #[error("{0:?} is not a job id (they look like p0-0123456789abcdef01234567)")]
    BadJobId(String),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

pub async fn run(args: RequeueDeadArgs) -> Result<ExitCode, RequeueError> {
    let settings = RedisSettings::from_env()?;
    let url = settings.url.clone().ok_or(RequeueError::NoRedisUrl)?;
    let pool = RedisPool::new(&url, &settings).map_err(|source| RequeueError::RedisUrl {
        url: redact_url(&url),
        source,
    })?;
    let queue = Queue::new(Arc::new(pool), QueueConfig::from_env()?);
    let done = match args.job {
        None => queue.requeue_all_dead().await?,
        Some(text) => {
            let id = JobId::parse(&text).map_err(|_| RequeueError::BadJobId(text.clone()))?;
            let tasks = queue.requeue_dead(&id).await?;
            Requeued { jobs: 1, tasks }
        }
    };
    println!(
        "requeued {} task{} of {} job{}",
        done.tasks,
        if done.tasks == 1 { "" } else { "s" },
        done.jobs,
        if done.jobs == 1 { "" } else { "s" }
    );
    Ok(ExitCode::SUCCESS)
}
