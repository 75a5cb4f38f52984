//! `shaplab worker`: workers only, no web server. Scale out by running more of these, on
//! this machine or others that reach the same Redis (`REDIS_URL`) and the same blob store
//! (`BLOB_STORE_URL`).

use crate::blobs::{BlobError, BlobStore};
use crate::cli::WorkerArgs;
use crate::config::{ConfigError, RedisSettings, redact_url};
use crate::jobs::executor::shap_executor;
use crate::jobs::workers::Workers;
use crate::jobs::{JobsConfig, default_workers};
use crate::queue::{Queue, QueueConfig};
use crate::redis::RedisPool;
use std::process::ExitCode;
use std::sync::Arc;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum WorkerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(
        "REDIS_URL is not set: a worker must reach the Redis the server uses (e.g. \
         REDIS_URL=redis://host:6379/0); `shaplab serve` alone runs embedded workers"
    )]
    NoRedisUrl,
    #[error(
        "REDIS_URL={url} is not a usable Redis URL ({source}); expected e.g. redis://127.0.0.1:6379/0"
    )]
    RedisUrl {
        url: String,
        source: redis::RedisError,
    },
    #[error("cannot open the blob store: {0}")]
    Blobs(#[from] BlobError),
    #[error("--workers 0 (or SHAPLAB_WORKERS=0) leaves this process nothing to do")]
    NoWorkers,
}

pub async fn run(args: WorkerArgs) -> Result<ExitCode, WorkerError> {
    let settings = RedisSettings::from_env()?;
    let url = settings.url.clone().ok_or(WorkerError::NoRedisUrl)?;
    let count = args.workers.unwrap_or_else(default_workers);
    if count == 0 {
        return Err(WorkerError::NoWorkers);
    }
    let pool = RedisPool::new(&url, &settings).map_err(|source| WorkerError::RedisUrl {
        url: redact_url(&url),
        source,
    })?;
    let queue = Arc::new(Queue::new(Arc::new(pool), QueueConfig::from_env()?));
    let jobs = JobsConfig::from_env()?;
    let blobs = BlobStore::from_env(&args.data_dir)?;
    tracing::info!(redis = %redact_url(&url), blobs = %blobs.location, "worker process");
    let mut workers = Workers::start(
        queue.clone(),
        shap_executor(blobs.clone(), args.data_dir.join("cache"), jobs.cache_bytes),
        count,
    );
    workers.warm_summaries(queue.clone(), blobs.clone(), args.data_dir.join("cache"));
    workers.sweep_uploads(blobs.clone(), jobs.upload_ttl);
    workers.sweep_results(queue, blobs, jobs.result_ttl);
    super::serve::shutdown_signal().await;
    workers.stop().await;
    Ok(ExitCode::SUCCESS)
}
