//! Queue test helpers: a queue with short timings on a real redis-server per test (or under
//! its own prefix on a shared loopback cluster), workers with injected executors, and the
//! invariant check every queue test ends with.

use super::cluster::TestCluster;
use super::{TestRedis, settings};
use server::config::RedisSettings;
use server::queue::keys::Partition;
use server::queue::{
    CancelToken, ClaimedTask, Executor, IdempotencyKey, JobId, JobStatus, Outcome, Queue,
    QueueConfig, ReapReport, RowRange, SubmitRequest, TaskError, TaskId, TaskPayload, Worker,
    WorkerConfig, WorkerId,
};
use server::redis::RedisPool;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Where a scenario's queue lives, so one scenario body runs on both.
#[derive(Clone)]
pub enum Target {
    /// A fresh redis-server per harness (500 ms Redis timeout).
    Single,
    /// A queue under a fresh prefix on a shared cluster: scenarios sharing one cluster never
    /// meet, and nobody waits for six processes per scenario.
    Cluster(Arc<TestCluster>),
}

/// What the harness runs on: its own server, or a share of a cluster the test owns.
enum Backend {
    Single(TestRedis),
    Cluster(Arc<TestCluster>),
}

/// A redis-server (or cluster) and a queue on it.
pub struct QueueHarness {
    pub queue: Arc<Queue>,
    backend: Backend,
    url: String,
    settings: RedisSettings,
}

impl QueueHarness {
    /// A queue with test timings (1 s lease, 50 ms first retry).
    pub fn start() -> Self {
        Self::with_config(QueueConfig::for_tests())
    }

    pub fn with_config(config: QueueConfig) -> Self {
        Self::on(&Target::Single, config)
    }

    /// A queue with `config` on `target`; on a cluster the prefix is replaced by a fresh one.
    pub fn on(target: &Target, mut config: QueueConfig) -> Self {
        let backend = match target {
            Target::Single => Backend::Single(TestRedis::start()),
            Target::Cluster(cluster) => {
                static NEXT: AtomicUsize = AtomicUsize::new(0);
                config.prefix = format!("q{}", NEXT.fetch_add(1, Ordering::Relaxed));
                Backend::Cluster(cluster.clone())
            }
        };
        let (url, settings) = match &backend {
            Backend::Single(redis) => {
                let url = redis.url();
                let settings = settings(&url, Duration::from_millis(500));
                (url, settings)
            }
            // 1 s, not 500 ms: a cluster call can take a slot-map refresh first.
            Backend::Cluster(cluster) => {
                let url = cluster.url();
                let settings = settings(&url, Duration::from_secs(1));
                (url, settings)
            }
        };
        let pool = RedisPool::new(&url, &settings).expect("valid URL");
        QueueHarness {
            queue: Arc::new(Queue::new(Arc::new(pool), config)),
            backend,
            url,
            settings,
        }
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self.backend, Backend::Cluster(_))
    }

    /// SIGSTOPs the Redis process serving `partition` (the one server, or the cluster primary
    /// owning the partition's slot) until the returned guard is resumed or dropped: what a
    /// long GC pause, a frozen VM or a stuck disk look like to clients.
    pub fn pause(&self, partition: u16) -> PausedRedis {
        let pid = match &self.backend {
            Backend::Single(redis) => redis.pid(),
            Backend::Cluster(cluster) => {
                let key = Partition::new(&self.queue.config().prefix, partition).ready();
                let (primary, _) = cluster.owner_of_slot(cluster.keyslot(&key));
                cluster.pid(primary.port)
            }
        }
        .expect("the server serving the partition is running");
        signal(pid, "STOP");
        PausedRedis { pid: Some(pid) }
    }

    /// A worker running `executor`, heartbeating every 100 ms.
    pub fn worker(&self, executor: impl Executor) -> Worker {
        Worker::new(self.queue.clone(), Arc::new(executor), self.worker_config())
    }

    pub fn worker_config(&self) -> WorkerConfig {
        WorkerConfig {
            heartbeat_every: Duration::from_millis(100),
            idle_poll: Duration::from_millis(50),
            shutdown_grace: Duration::from_millis(300),
            write_retry_for: Duration::from_secs(5),
        }
    }

    pub async fn submit(&self, rows: u64, chunk_rows: u64, key: Option<&str>) -> JobId {
        self.queue
            .submit(&request(
                r#"{"model":"m1","data":"d1"}"#,
                rows,
                chunk_rows,
                key,
            ))
            .await
            .expect("submit")
            .job
    }

    pub async fn job(&self, id: &JobId) -> JobStatus {
        self.queue.job(id).await.expect("job status")
    }

    /// Steps `worker` until the queue is empty; returns the outcomes.
    pub async fn drain(&self, worker: &Worker) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        for _ in 0..1000 {
            match worker.try_execute_task().await.expect("claim") {
                Outcome::Empty => return outcomes,
                outcome => outcomes.push(outcome),
            }
        }
        panic!("the queue did not drain in 1000 steps: {outcomes:?}");
    }

    /// Reaps every 50 ms until `done(report so far)` (summed), for at most `limit`.
    pub async fn reap_until(
        &self,
        limit: Duration,
        mut done: impl FnMut(&ReapReport) -> bool,
    ) -> ReapReport {
        let start = Instant::now();
        let mut total = ReapReport::default();
        loop {
            let r = self.queue.reap().await.expect("reap");
            total.requeued += r.requeued;
            total.lost += r.lost;
            total.partitions_in_grace = r.partitions_in_grace;
            if done(&total) {
                return total;
            }
            assert!(
                start.elapsed() < limit,
                "reaping did not reach the goal within {limit:?}: {total:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Promotes every 20 ms until `n` retries moved to ready, for at most `limit`.
    pub async fn promote_until(&self, n: u64, limit: Duration) {
        let start = Instant::now();
        let mut moved = 0;
        while moved < n {
            moved += self.queue.promote().await.expect("promote");
            assert!(
                start.elapsed() < limit,
                "only {moved} of {n} retries came due"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The invariant every queue test ends with.
    pub async fn assert_invariant(&self) {
        let problems = self.queue.audit().await.expect("audit");
        assert!(
            problems.is_empty(),
            "queue invariant violated: {problems:#?}"
        );
    }

    /// `CONFIG SET name value` on the Redis serving `partition` (on a cluster its primary:
    /// `CONFIG` has no key, so a cluster client would send it to any node).
    pub async fn config_set(&self, partition: u16, name: &str, value: &str) {
        match &self.backend {
            Backend::Single(_) => {
                let _: () = self
                    .raw(redis::cmd("CONFIG").arg("SET").arg(name).arg(value))
                    .await;
            }
            Backend::Cluster(cluster) => {
                let key = Partition::new(&self.queue.config().prefix, partition).ready();
                let (primary, _) = cluster.owner_of_slot(cluster.keyslot(&key));
                let reply = cluster.cli(primary.port, &["config", "set", name, value]);
                assert!(reply.contains("OK"), "CONFIG SET {name} {value}: {reply}");
            }
        }
    }

    /// Sends one command on a fresh connection (to read or corrupt state directly).
    /// On a cluster, through a fresh pool (which routes keyed commands to their slot).
    pub async fn raw<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> T {
        if self.is_cluster() {
            let pool = RedisPool::new(&self.url, &self.settings).expect("valid URL");
            return pool.query(cmd).await.expect("raw command");
        }
        let client = redis::Client::open(self.url.as_str()).expect("url");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect");
        cmd.query_async(&mut conn).await.expect("raw command")
    }

    /// One field of a task's hash.
    pub async fn task_field(&self, task: &TaskId, field: &str) -> Option<String> {
        let key = Partition::new(&self.queue.config().prefix, task.job.partition()).task(task);
        self.raw(redis::cmd("HGET").arg(key).arg(field)).await
    }

    /// A second process's view of the same queue: its own connections, its own breaker.
    pub fn another_process(&self) -> Arc<Queue> {
        let pool = RedisPool::new(&self.url, &self.settings).expect("valid URL");
        Arc::new(Queue::new(Arc::new(pool), self.queue.config().clone()))
    }

    /// A claim with no worker behind it: what Redis sees of a worker killed (or frozen)
    /// right after claiming.
    pub async fn vanishing_claim(&self) -> ClaimedTask {
        self.queue
            .claim(&WorkerId::generate())
            .await
            .expect("claim")
            .expect("a ready task")
    }

    /// Waits until at least `n` tasks are leased.
    pub async fn wait_until_leased(&self, n: u64) {
        let start = Instant::now();
        while self.queue.depths().await.expect("depths").leased < n {
            assert!(
                start.elapsed() < Duration::from_secs(6),
                "{n} tasks never leased"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Counts from `stats()` (0 when absent).
    pub async fn stat(&self, name: &str) -> u64 {
        let stats = self.queue.stats().await.expect("stats");
        stats.get(name).copied().unwrap_or(0)
    }
}

/// A Redis process stopped by [`QueueHarness::pause`]; SIGCONT on [`resume`](Self::resume),
/// or on drop so a failing test never leaves a frozen server behind.
pub struct PausedRedis {
    pid: Option<u32>,
}

impl PausedRedis {
    pub fn resume(mut self) {
        if let Some(pid) = self.pid.take() {
            signal(pid, "CONT");
        }
    }
}

impl Drop for PausedRedis {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            signal(pid, "CONT");
        }
    }
}

/// `kill -<name> <pid>`, for a redis-server this test started.
fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status();
}

/// A worker's `run` loop on its own task, stopped on request.
pub struct RunningWorker {
    stop: tokio::sync::oneshot::Sender<()>,
    done: tokio::task::JoinHandle<()>,
}

impl RunningWorker {
    pub fn spawn(worker: Arc<Worker>) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(async move {
            worker
                .run(async {
                    let _ = stopped.await;
                })
                .await;
        });
        RunningWorker { stop, done }
    }

    /// Signals shutdown and waits for the loop to end.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.done.await.expect("the worker loop ended cleanly");
    }
}

/// `run_reaper` on its own task, as another process would run it, stopped on request.
pub struct RunningReaper {
    stop: tokio::sync::oneshot::Sender<()>,
    done: tokio::task::JoinHandle<()>,
}

impl RunningReaper {
    pub fn spawn(queue: Arc<Queue>, every: Duration) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(server::queue::run_reaper(queue, every, async {
            let _ = stopped.await;
        }));
        RunningReaper { stop, done }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.done.await.expect("the reaper ended cleanly");
    }
}

pub fn request(payload: &str, rows: u64, chunk_rows: u64, key: Option<&str>) -> SubmitRequest {
    SubmitRequest {
        payload: TaskPayload::new(payload),
        rows_total: rows,
        chunk_rows,
        idempotency_key: key.map(|k| IdempotencyKey::parse(k).expect("valid key")),
    }
}

/// An executor that succeeds at once with `rows:<start>-<end>` and counts its runs.
pub fn counting_executor(
    runs: Arc<AtomicUsize>,
) -> impl Fn(TaskPayload, RowRange, CancelToken) -> Result<String, TaskError> + Send + Sync + 'static
{
    move |_payload, rows, _cancel| {
        runs.fetch_add(1, Ordering::SeqCst);
        Ok(format!("rows:{}-{}", rows.start, rows.end))
    }
}

/// An executor that runs until cancelled (checking every 5 ms) or until `limit`, then fails.
pub fn until_cancelled(
    limit: Duration,
) -> impl Fn(TaskPayload, RowRange, CancelToken) -> Result<String, TaskError> + Send + Sync + 'static
{
    move |_payload, _rows, cancel| {
        let start = Instant::now();
        while !cancel.is_cancelled() && start.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(5));
        }
        Err(TaskError::Retryable("stopped".into()))
    }
}

/// Runs of each chunk, keyed by `(payload, first row)`: more than one is a duplicate.
pub type Runs = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<(String, u64), u32>>>;

pub fn slow_counting_executor(
    runs: Runs,
) -> impl Fn(
    server::queue::TaskPayload,
    server::queue::RowRange,
    server::queue::CancelToken,
) -> Result<String, server::queue::TaskError>
+ Send
+ Sync
+ 'static {
    move |payload, rows, _cancel| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        if let Ok(mut runs) = runs.lock() {
            *runs
                .entry((payload.as_str().to_owned(), rows.start))
                .or_default() += 1;
        }
        Ok(format!("rows:{}-{}", rows.start, rows.end))
    }
}
