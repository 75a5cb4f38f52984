//! `shaplab serve`.

use crate::auth::{Auth, AuthConfig};
use crate::blobs::{BlobError, BlobStore};
use crate::cli::ServeArgs;
use crate::config::{
    ConfigError, RedisSettings, max_upload_bytes_from, redact_url, upload_deadline_from,
};
use crate::jobs::executor::shap_executor;
use crate::jobs::workers::Workers;
use crate::jobs::{JobsConfig, default_workers};
use crate::queue::{Queue, QueueConfig};
use crate::redis::probe::{HealthProbe, RedisMode};
use crate::redis::{PrivateRedis, PrivateRedisError, RedisPool};
use crate::startup::{self, AppState};
use crate::uploads::UploadService;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use thiserror::Error;
use tokio::net::TcpListener;

/// Why `serve` could not start or stopped with an error.
#[derive(Debug, Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    PrivateRedis(#[from] PrivateRedisError),
    #[error(
        "REDIS_URL={url} is not a usable Redis URL ({source}); expected e.g. redis://127.0.0.1:6379/0"
    )]
    RedisUrl {
        url: String,
        source: redis::RedisError,
    },
    #[error(
        "cannot listen on {addr}: {source} (is another server using the port? set PORT to pick another)"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot open the blob store: {0}")]
    Blobs(#[from] BlobError),
    /// Serving everyone as admin on a reachable address.
    #[error("{0}")]
    Unsafe(String),
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

pub async fn run(args: ServeArgs) -> Result<ExitCode, ServeError> {
    // Before anything starts: refusing must not leave a private Redis behind.
    let auth = AuthConfig::from_env()?;
    auth.check_bind(args.host).map_err(ServeError::Unsafe)?;
    let settings = RedisSettings::from_env()?;
    let (url, mode, private) = match &settings.url {
        Some(url) => {
            tracing::info!(redis = %redact_url(url), "using the Redis named by REDIS_URL");
            (url.clone(), RedisMode::External, None)
        }
        None => {
            let redis = PrivateRedis::start(&args.data_dir).await?;
            tracing::info!(
                url = %redis.url(),
                log = %redis.log().display(),
                "REDIS_URL is unset: started a private redis-server (AOF on); it stops when shaplab exits"
            );
            (redis.url(), RedisMode::Private, Some(redis))
        }
    };
    let private = private.map(|p| Arc::new(tokio::sync::Mutex::new(Some(p))));
    let outcome = serve_with(&args, &settings, &url, mode, private.clone(), auth).await;
    if let Some(private) = private
        && let Some(redis) = private.lock().await.take()
    {
        tracing::info!("stopping the private redis-server");
        redis.stop().await;
    }
    outcome.map(|()| ExitCode::SUCCESS)
}

async fn serve_with(
    args: &ServeArgs,
    settings: &RedisSettings,
    url: &str,
    mode: RedisMode,
    private_redis: Option<Arc<tokio::sync::Mutex<Option<PrivateRedis>>>>,
    auth: AuthConfig,
) -> Result<(), ServeError> {
    let pool = RedisPool::new(url, settings).map_err(|source| ServeError::RedisUrl {
        url: redact_url(url),
        source,
    })?;
    // One pool for health, API and workers: one breaker, so health reports what they see.
    let pool = Arc::new(pool);
    let health = Arc::new(HealthProbe::new(pool.clone(), url, settings, mode));
    let queue_config = QueueConfig::from_env()?;
    let auth = Arc::new(Auth::new(auth, pool.clone(), &queue_config.prefix));
    tracing::info!(mode = auth.config.mode.as_str(), "sign-in (SHAPLAB_AUTH)");
    let queue = Arc::new(Queue::new(pool, queue_config));
    let jobs = JobsConfig::from_env()?;
    let blobs = BlobStore::from_env(&args.data_dir)?;
    tracing::info!(location = %blobs.location, "blob store");
    let mut workers = Workers::start(
        queue.clone(),
        shap_executor(blobs.clone(), args.data_dir.join("cache"), jobs.cache_bytes),
        args.workers.unwrap_or_else(default_workers),
    );
    // Even with `--workers 0`: results must be deleted whoever computed them.
    workers.sweep_results(queue.clone(), blobs.clone(), jobs.result_ttl);
    workers.sweep_uploads(blobs.clone(), jobs.upload_ttl);
    workers.warm_summaries(queue.clone(), blobs.clone(), args.data_dir.join("cache"));
    let uploads = Arc::new(UploadService {
        blobs,
        scratch: args.data_dir.join("scratch"),
        max_bytes: max_upload_bytes_from(|var| std::env::var(var).ok())?,
        deadline: upload_deadline_from(|var| std::env::var(var).ok())?,
    });
    let addr = SocketAddr::new(args.host, args.port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let addr = listener.local_addr().map_err(ServeError::Serve)?;
    let state = AppState {
        health,
        uploads,
        queue,
        jobs: Arc::new(jobs),
        workers: workers.workers.clone().into(),
        private_redis,
        whatif: Default::default(),
        auth,
    };
    let router = startup::router(state, startup::leptos_options(addr));
    tracing::info!(
        "shaplab {} serving on http://{addr} with {} embedded worker(s)",
        crate::VERSION,
        workers.len()
    );
    let stop = workers.stop_signal();
    let served = startup::serve(listener, router, async move {
        shutdown_signal().await;
        // Workers start draining at once, alongside the HTTP requests in flight.
        stop.send_replace(true);
    })
    .await;
    // Running chunks finish within the grace period or go back to the queue.
    workers.stop().await;
    served.map_err(ServeError::Serve)
}

/// Completes on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
