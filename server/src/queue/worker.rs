//! A worker: claims a chunk task, computes it on a blocking thread while a separate tokio
//! task renews the lease, and writes the outcome back under its fencing token.
//!
//! [`Worker::try_execute_task`] does exactly one task (or reports [`Outcome::Empty`]), so
//! tests drain the queue step by step without sleeping; [`Worker::run`] is that step in a
//! loop with graceful shutdown.
//!
//! Why the pieces are where they are:
//! - Compute runs under `spawn_blocking`, the heartbeat on the async runtime: a chunk that
//!   hogs its thread for seconds cannot starve its own lease renewals.
//! - A lost lease or a cancelled job sets the [`CancelToken`]; the executor polls it and
//!   returns early (Rust cannot kill a thread; a cooperative flag is the honest mechanism).
//! - A finished result is kept and its write retried while Redis is unavailable (bounded by
//!   `write_retry_for`): nothing computed is thrown away because of a short outage.
//! - Waiting for work is a bounded poll (`idle_poll`) plus an in-process wake-up when this
//!   process submits. A blocking `BLPOP` would cut cross-process latency, but it needs a
//!   dedicated connection that must be rebuilt after every Redis restart, which is exactly
//!   where the field's "workers silently stop consuming" bugs live; a poll through the pool
//!   shares its timeout, breaker and reconnects, costs one tiny script per partition per idle
//!   worker per interval, and can never stay stuck.

use super::client::Queue;
use super::error::QueueError;
use super::ids::{JobId, RowRange, TaskId, WorkerId};
use super::types::{ClaimedTask, Completion, FailOutcome, Heartbeat, Released, TaskPayload};
use crate::redis::RedisCallError;
use crate::redis::pool::now_ms;
use crate::telemetry;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::sync::watch;

/// Why a chunk could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TaskError {
    /// Might work next time (I/O hiccup, blob store unavailable): retried with backoff.
    #[error("{0}")]
    Retryable(String),
    /// Will never work (invalid model or data): the job fails at once.
    #[error("{0}")]
    Permanent(String),
}

/// Set when the chunk should stop early (job cancelled or failed, lease lost, shutdown).
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Computes one chunk and returns a reference to its stored result (e.g. a blob id).
/// Runs on a blocking thread; should check the [`CancelToken`] now and then.
pub trait Executor: Send + Sync + 'static {
    fn execute(
        &self,
        payload: TaskPayload,
        rows: RowRange,
        cancel: CancelToken,
    ) -> Result<String, TaskError>;
}

impl<F> Executor for F
where
    F: Fn(TaskPayload, RowRange, CancelToken) -> Result<String, TaskError> + Send + Sync + 'static,
{
    fn execute(
        &self,
        payload: TaskPayload,
        rows: RowRange,
        cancel: CancelToken,
    ) -> Result<String, TaskError> {
        self(payload, rows, cancel)
    }
}

/// Worker timings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// How often the lease is renewed (a third of the lease: two renewals may fail in a row).
    pub heartbeat_every: Duration,
    /// How long an idle worker waits before looking for work again.
    pub idle_poll: Duration,
    /// On shutdown, how long a running chunk may finish before it is released.
    pub shutdown_grace: Duration,
    /// How long a computed result's write is retried while Redis is unavailable.
    pub write_retry_for: Duration,
}

impl WorkerConfig {
    pub fn for_lease(lease: Duration) -> Self {
        WorkerConfig {
            heartbeat_every: lease / 3,
            idle_poll: Duration::from_millis(500),
            shutdown_grace: Duration::from_secs(10),
            write_retry_for: Duration::from_secs(120),
        }
    }
}

/// What one step of the worker did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing was ready.
    Empty,
    /// The result is recorded; `last_chunk` means the job just succeeded.
    Completed { task: TaskId, last_chunk: bool },
    /// A retryable error: the task runs again after `delay`.
    Retrying {
        task: TaskId,
        attempts: u32,
        delay: Duration,
    },
    /// Out of attempts: the task is dead and its job failed.
    Dead { task: TaskId },
    /// A permanent error failed the job.
    Failed { task: TaskId },
    /// The job was cancelled (or failed) while this chunk ran; nothing was recorded.
    Discarded { task: TaskId },
    /// The lease had been lost to another worker; this worker's write was rejected.
    Stale { task: TaskId },
    /// Shutdown: the task went back to the queue, its attempt not counted.
    Released { task: TaskId },
}

impl Outcome {
    /// A short name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Empty => "empty",
            Outcome::Completed { .. } => "completed",
            Outcome::Retrying { .. } => "retrying",
            Outcome::Dead { .. } => "dead",
            Outcome::Failed { .. } => "failed",
            Outcome::Discarded { .. } => "discarded",
            Outcome::Stale { .. } => "stale",
            Outcome::Released { .. } => "released",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    /// Shutting down: claim nothing new, let the running chunk finish.
    Draining,
    /// The grace period is over: release the running chunk.
    ReleaseNow,
}

/// What a worker runs, in the background, after its chunk finished a job (e.g. warming the
/// job's summary so the first page load finds it ready). Gets the job and its payload.
pub type SucceededHook = Arc<
    dyn Fn(JobId, TaskPayload) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync,
>;

/// One worker (one chunk at a time; run several for parallelism).
pub struct Worker {
    id: WorkerId,
    queue: Arc<Queue>,
    executor: Arc<dyn Executor>,
    config: WorkerConfig,
    phase: watch::Sender<Phase>,
    /// When the loop last went round (ms since the epoch): health reports a consumer loop
    /// that stopped turning, the failure mode health checks that only PING miss.
    last_turn_ms: AtomicU64,
    /// Run when this worker's chunk was a job's last (set once, possibly after the loop
    /// started: a `OnceLock` needs no lock on the hot path).
    on_succeeded: std::sync::OnceLock<SucceededHook>,
}

impl Worker {
    /// A worker with a fresh [`WorkerId`].
    pub fn new(queue: Arc<Queue>, executor: Arc<dyn Executor>, config: WorkerConfig) -> Self {
        Worker {
            id: WorkerId::generate(),
            queue,
            executor,
            config,
            phase: watch::Sender::new(Phase::Running),
            last_turn_ms: AtomicU64::new(now_ms()),
            on_succeeded: std::sync::OnceLock::new(),
        }
    }

    /// Runs `hook` (spawned, so the loop claims on meanwhile) whenever this worker's chunk
    /// finishes a job. Only the first hook set counts.
    pub fn on_job_succeeded(&self, hook: SucceededHook) {
        let _ = self.on_succeeded.set(hook);
    }

    pub fn id(&self) -> &WorkerId {
        &self.id
    }

    /// How long since the loop last claimed, finished a chunk or woke from idling. Stays
    /// below `idle_poll` plus one chunk's duration while the loop is alive.
    pub fn since_last_turn(&self) -> Duration {
        Duration::from_millis(now_ms().saturating_sub(self.last_turn_ms.load(Ordering::Relaxed)))
    }

    /// Claims and runs one task. `Err` only when Redis could not be asked for work (or
    /// answered nonsense); a claimed task always ends in an [`Outcome`].
    pub async fn try_execute_task(&self) -> Result<Outcome, QueueError> {
        if *self.phase.borrow() != Phase::Running {
            return Ok(Outcome::Empty);
        }
        let Some(task) = self.queue.claim(&self.id).await? else {
            return Ok(Outcome::Empty);
        };
        if *self.phase.borrow() != Phase::Running {
            return Ok(self.hand_back(&task).await);
        }
        tracing::debug!(task = %task.id, token = %task.token, worker = %self.id, "claimed");
        metrics::histogram!(telemetry::QUEUE_WAIT).record(task.waited.as_secs_f64());
        let started = Instant::now();
        let cancel = CancelToken::default();
        let heartbeat = AbortOnDrop(tokio::spawn(heartbeat_loop(
            self.queue.clone(),
            task.clone(),
            cancel.clone(),
            self.config.heartbeat_every,
        )));
        let executor = self.executor.clone();
        let (payload, rows, flag) = (task.payload.clone(), task.rows, cancel.clone());
        let mut compute =
            tokio::task::spawn_blocking(move || executor.execute(payload, rows, flag));
        let mut phase = self.phase.subscribe();
        let result = tokio::select! {
            joined = &mut compute => Some(joined),
            _ = phase.wait_for(|p| *p == Phase::ReleaseNow) => None,
        };
        drop(heartbeat);
        let Some(joined) = result else {
            // Out of grace: ask the chunk to stop and hand the task back now.
            cancel.cancel();
            return Ok(self.hand_back(&task).await);
        };
        let computed = joined.unwrap_or_else(|e| {
            // A panicking executor must not take the worker down; it may be a transient bug.
            Err(TaskError::Retryable(format!("the executor panicked: {e}")))
        });
        metrics::histogram!(telemetry::CHUNK_DURATION).record(started.elapsed().as_secs_f64());
        let outcome = self.record(&task, computed).await;
        metrics::counter!(telemetry::CHUNKS_FINISHED, "outcome" => outcome.name()).increment(1);
        if let Outcome::Completed {
            last_chunk: true, ..
        } = &outcome
        {
            tokio::spawn(record_job_duration(self.queue.clone(), task.id.job.clone()));
        }
        if let (
            Outcome::Completed {
                last_chunk: true, ..
            },
            Some(hook),
        ) = (&outcome, self.on_succeeded.get())
        {
            tokio::spawn(hook(task.id.job.clone(), task.payload.clone()));
        }
        Ok(outcome)
    }

    async fn record(&self, task: &ClaimedTask, computed: Result<String, TaskError>) -> Outcome {
        let id = task.id.clone();
        let written = match &computed {
            Ok(result_ref) => self
                .persist(|| self.queue.complete(task, result_ref))
                .await
                .map(|c| match c {
                    Completion::Recorded | Completion::AlreadyRecorded => Outcome::Completed {
                        task: id.clone(),
                        last_chunk: false,
                    },
                    Completion::Last => Outcome::Completed {
                        task: id.clone(),
                        last_chunk: true,
                    },
                    Completion::Discarded => Outcome::Discarded { task: id.clone() },
                }),
            Err(error) => self
                .persist(|| self.queue.fail(task, error))
                .await
                .map(|f| match f {
                    FailOutcome::Retry { delay, attempts } => Outcome::Retrying {
                        task: id.clone(),
                        attempts,
                        delay,
                    },
                    FailOutcome::Dead => Outcome::Dead { task: id.clone() },
                    FailOutcome::JobFailed => Outcome::Failed { task: id.clone() },
                    FailOutcome::Discarded => Outcome::Discarded { task: id.clone() },
                }),
        };
        self.settle(&id, written)
    }

    async fn hand_back(&self, task: &ClaimedTask) -> Outcome {
        let id = task.id.clone();
        let written = self
            .persist(|| self.queue.release(task))
            .await
            .map(|r| match r {
                Released::Released => Outcome::Released { task: id.clone() },
                Released::Discarded => Outcome::Discarded { task: id.clone() },
            });
        self.settle(&id, written)
    }

    /// A write that could not be made ends like a lost lease: the reaper will hand the task
    /// to someone else, and this worker must not pretend it succeeded.
    fn settle(&self, id: &TaskId, written: Result<Outcome, QueueError>) -> Outcome {
        match written {
            Ok(outcome) => outcome,
            Err(QueueError::StaleToken(_)) => {
                tracing::info!(task = %id, worker = %self.id, "lease lost: write rejected");
                Outcome::Stale { task: id.clone() }
            }
            Err(e) => {
                tracing::warn!(task = %id, worker = %self.id, "cannot record the outcome: {e}");
                Outcome::Stale { task: id.clone() }
            }
        }
    }

    /// Retries `op` while Redis is unavailable, up to `write_retry_for` (or until the
    /// shutdown grace runs out).
    async fn persist<T, F, Fut>(&self, mut op: F) -> Result<T, QueueError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, QueueError>>,
    {
        let deadline = Instant::now() + self.config.write_retry_for;
        let mut delay = Duration::from_millis(50);
        loop {
            // Once the shutdown grace is over, stop waiting for Redis: the process is about
            // to exit, and the lease will expire and hand the task to another worker.
            let giving_up = *self.phase.borrow() == Phase::ReleaseNow;
            match op().await {
                Err(e) if e.is_retryable() && Instant::now() < deadline && !giving_up => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
                outcome => return outcome,
            }
        }
    }

    /// Runs tasks until `shutdown` resolves; then claims nothing new, lets a running chunk
    /// finish within `shutdown_grace`, and releases it otherwise.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut failures = 0u32;
        loop {
            self.last_turn_ms.store(now_ms(), Ordering::Relaxed);
            let step = self.try_execute_task();
            tokio::pin!(step);
            let mut stopping = false;
            let outcome = tokio::select! {
                outcome = &mut step => outcome,
                () = &mut shutdown => {
                    stopping = true;
                    self.phase.send_replace(Phase::Draining);
                    match tokio::time::timeout(self.config.shutdown_grace, &mut step).await {
                        Ok(outcome) => outcome,
                        Err(_) => {
                            self.phase.send_replace(Phase::ReleaseNow);
                            step.await
                        }
                    }
                }
            };
            if stopping {
                tracing::info!(worker = %self.id, ?outcome, "worker stopped");
                return;
            }
            let wait = match outcome {
                Ok(Outcome::Empty) => {
                    failures = 0;
                    self.config.idle_poll
                }
                Ok(_) => {
                    failures = 0;
                    continue;
                }
                Err(e) => {
                    failures += 1;
                    // Log the start of an outage, not every retry.
                    if failures == 1 {
                        tracing::warn!(worker = %self.id, "cannot claim: {e}");
                    }
                    Self::retry_wait(&e)
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.queue.submitted.notified() => {}
                () = &mut shutdown => {
                    tracing::info!(worker = %self.id, "worker stopped while idle");
                    return;
                }
            }
        }
    }
}

impl Worker {
    /// How long to wait before asking again after a failed claim. While the breaker is open
    /// it says when its next probe is due: waiting exactly that long (instead of a backoff of
    /// our own stacked on top) lets workers resume as soon as Redis answers again. Other
    /// failures already took up to `REDIS_TIMEOUT`; a short pause is enough.
    fn retry_wait(e: &QueueError) -> Duration {
        match e {
            QueueError::Unavailable(RedisCallError::BreakerOpen { retry_after }) => {
                (*retry_after).clamp(Duration::from_millis(10), Duration::from_secs(2))
            }
            _ => Duration::from_millis(100),
        }
    }
}

/// Renews the lease every `every`; stops the chunk if the job ended or the lease was lost.
async fn heartbeat_loop(
    queue: Arc<Queue>,
    task: ClaimedTask,
    cancel: CancelToken,
    every: Duration,
) {
    let mut wait = every;
    loop {
        tokio::time::sleep(wait).await;
        match queue.heartbeat(&task).await {
            Ok(Heartbeat::Renewed) => wait = every,
            Ok(Heartbeat::Stop) => {
                tracing::info!(task = %task.id, "job ended: stopping the chunk");
                cancel.cancel();
                return;
            }
            Err(QueueError::StaleToken(_)) => {
                tracing::warn!(task = %task.id, "lease lost to another worker: stopping");
                cancel.cancel();
                return;
            }
            Err(e) => {
                // Keep trying, sooner: the lease is still ours until its deadline.
                tracing::warn!(task = %task.id, "heartbeat failed: {e}");
                wait = (every / 4).max(Duration::from_millis(20));
            }
        }
    }
}

/// Aborts the heartbeat task when the chunk is over, however the step ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The job this worker just finished: its time from submit to its last chunk, for the
/// `shaplab_job_duration_seconds` histogram (one status read per job; skipped if Redis
/// does not answer).
async fn record_job_duration(queue: Arc<Queue>, job: JobId) {
    if let Ok(status) = queue.job(&job).await
        && let Some(finished) = status.finished_ms
    {
        let took = finished.saturating_sub(status.created_ms);
        metrics::histogram!(telemetry::JOB_DURATION).record(took as f64 / 1000.0);
    }
}
