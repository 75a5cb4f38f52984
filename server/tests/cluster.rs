//! The job queue on a Redis Cluster: a 6-process loopback cluster (3 primaries, 3 replicas)
//! per test, started by `support::cluster`.
//!
//! - a real job through the HTTP API, compared byte for byte with `shaplab explain`;
//! - `/api/health` reporting cluster mode and `CLUSTER INFO`;
//! - scripts forgotten by every node (`SCRIPT FLUSH`) are loaded again on first use;
//! - a pool made before the cluster exists fails fast, then connects once the cluster is up;
//! - queue scenarios of QUEUE.md on one cluster (2/4 idempotency, 3 concurrent submits with one
//!   key, 12 cancel, 5 a vanished worker's task reaped and finished elsewhere), the invariant
//!   checked after each;
//! - `CLUSTER FAILOVER` of the primary serving a partition while jobs are submitted and run
//!   (QUEUE.md scenarios 21/22): brief errors at most, then every job succeeds, every chunk
//!   ran, and the queue's invariant holds.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use server::config::RedisSettings;
use server::queue::keys::Partition;
use server::queue::{
    CancelToken, JobId, JobState, Queue, QueueConfig, QueueError, RowRange, TaskError, TaskPayload,
    Worker,
};
use server::redis::{RedisCallError, RedisPool};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::cluster::TestCluster;
use support::queue::{RunningReaper, RunningWorker, request};
use support::{TestApp, fixture, upload, wait_until};

/// Settings for a cluster: a longer timeout than the single-server suites (a call that lands
/// on a slot mid-failover waits for the cluster to agree), `cluster` for a seed-only URL.
fn cluster_settings(url: &str, cluster: bool) -> RedisSettings {
    RedisSettings {
        cluster,
        ..support::settings(url, Duration::from_secs(2))
    }
}

/// Starts a cluster off the async runtime's threads (it takes a few seconds of blocking
/// process calls).
async fn start_cluster() -> TestCluster {
    tokio::task::spawn_blocking(TestCluster::start)
        .await
        .expect("the cluster starts")
}

/// Starts a cluster on ports chosen beforehand (see [`TestCluster::free_ports`]).
async fn start_cluster_on(ports: Vec<(u16, u16)>) -> TestCluster {
    tokio::task::spawn_blocking(move || TestCluster::start_on(ports))
        .await
        .expect("the cluster starts")
}

async fn get_json(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let response = reqwest::get(app.url(path))
        .await
        .expect("the server answers");
    let status = response.status();
    (status, response.json().await.expect("a JSON body"))
}

/// What `shaplab explain` writes for the xgb_binary_d6 fixture.
async fn cli_output() -> Vec<u8> {
    let dir = support::temp_dir("cluster-cli");
    let out = dir.join("shap.csv");
    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_shaplab"))
        .arg("explain")
        .arg("--model")
        .arg(fixture("xgb_binary_d6/model.json"))
        .arg("--data")
        .arg(fixture("xgb_binary_d6/data.csv"))
        .arg("--out")
        .arg(&out)
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .expect("shaplab explain runs");
    assert!(status.success());
    let csv = std::fs::read(&out).expect("the CLI wrote its CSV");
    let _ = std::fs::remove_dir_all(&dir);
    csv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_through_the_api_on_a_cluster_equals_shaplab_explain() {
    let cluster = start_cluster().await;
    let url = cluster.url();
    // 60 rows in chunks of 16: four chunks.
    let app = TestApp::spawn_with_jobs(&url, cluster_settings(&url, false), 16, 2).await;
    let model = std::fs::read(fixture("xgb_binary_d6/model.json")).expect("fixture");
    let data = std::fs::read(fixture("xgb_binary_d6/data.csv")).expect("fixture");
    let model = upload(&app, "model", "model.json", model).await;
    let data = upload(&app, "data", "data.csv", data).await;

    let response = reqwest::Client::new()
        .post(app.url("/api/jobs"))
        .header("Idempotency-Key", "cluster-e2e-1")
        .json(&json!({"model": model, "data": data}))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), StatusCode::CREATED);
    let job: Value = response.json().await.expect("JSON");
    let id = job["id"].as_str().expect("an id").to_owned();

    let deadline = Instant::now() + Duration::from_secs(30);
    let done = loop {
        let (status, job) = get_json(&app, &format!("/api/jobs/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{job}");
        if ["succeeded", "failed", "cancelled"].contains(&job["state"].as_str().unwrap_or("")) {
            break job;
        }
        assert!(Instant::now() < deadline, "job did not end in 30 s: {job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["progress"]["chunks_done"], 4);

    let response = reqwest::get(app.url(&format!("/api/jobs/{id}/shap.csv")))
        .await
        .expect("the server answers");
    assert_eq!(response.status(), StatusCode::OK);
    let csv = response.bytes().await.expect("a body").to_vec();
    assert!(
        csv == cli_output().await,
        "the CSV differs from shaplab explain"
    );

    let problems = app.queue.audit().await.expect("audit");
    assert!(problems.is_empty(), "{problems:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_made_before_the_cluster_exists_fails_fast_then_connects_once_it_is_up() {
    let ports = TestCluster::free_ports();
    let url = ports
        .iter()
        .map(|(port, _)| format!("redis://127.0.0.1:{port}"))
        .collect::<Vec<_>>()
        .join(",");
    let timeout = Duration::from_millis(500);
    let settings = RedisSettings {
        cluster: false,
        ..support::settings(&url, timeout)
    };
    // Built without connecting, as `serve` does at boot.
    let pool = Arc::new(RedisPool::new(&url, &settings).expect("a pool before the cluster"));
    assert!(pool.is_cluster());
    let ping = redis::cmd("PING");
    for _ in 0..3 {
        let started = Instant::now();
        let err = pool
            .query::<String>(&ping)
            .await
            .expect_err("no cluster yet");
        assert!(err.is_unavailable(), "{err}");
        assert!(started.elapsed() <= timeout + Duration::from_millis(200));
    }
    let started = Instant::now();
    let err = pool.query::<String>(&ping).await.expect_err("breaker open");
    assert!(matches!(err, RedisCallError::BreakerOpen { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_millis(50));

    let cluster = start_cluster_on(ports).await;
    let up = Instant::now();
    while pool.probe::<String>(&ping).await.is_err() {
        assert!(
            up.elapsed() < Duration::from_secs(15),
            "no recovery within 15 s: {:?}",
            pool.status().last_error
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "a pool made before the cluster answered {:?} after the cluster was up \
         ({} connection rebuilds)",
        up.elapsed(),
        pool.status().rebuilds_total
    );
    // Keyed commands and scripts flow on every connection of the pool, not just the first.
    let queue = Queue::new(pool.clone(), QueueConfig::for_tests());
    for _ in 0..4 {
        queue
            .submit(&request("{}", 10, 5, None))
            .await
            .expect("submit once the cluster is up");
    }
    assert_eq!(queue.depths().await.expect("depths").ready, 8);
    drop(cluster);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_cluster_mode_and_the_clusters_state() {
    let cluster = start_cluster().await;
    // A seed node and REDIS_CLUSTER=1: the client finds the other five itself.
    let url = cluster.seed_url();
    let app = TestApp::spawn(&url, cluster_settings(&url, true)).await;

    let (status, report) = get_json(&app, "/api/health").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["status"], "ok", "{report}");
    let redis = &report["redis"];
    assert_eq!(redis["connected"], true, "{report}");
    assert_eq!(redis["mode"], "cluster");
    // INFO answered by one primary, not a map of every node's INFO.
    assert_eq!(redis["server"]["role"], "master", "{report}");
    assert_eq!(redis["server"]["aof_enabled"], true);
    let info = &redis["server"]["cluster"];
    assert_eq!(info["state"], "ok", "{report}");
    assert_eq!(info["slots_ok"], 16384);
    assert_eq!(info["known_nodes"], 6);
    assert_eq!(info["size"], 3);

    // `shaplab check-redis` takes the same report from a node list.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_shaplab"))
        .arg("check-redis")
        .env("REDIS_URL", cluster.url())
        .env("REDIS_TIMEOUT", "2")
        .env_remove("REDIS_CLUSTER")
        .output()
        .await
        .expect("shaplab check-redis runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let printed: Value = serde_json::from_slice(&output.stdout).expect("the report as JSON");
    assert_eq!(printed["redis"]["mode"], "cluster");
    assert_eq!(printed["redis"]["server"]["cluster"]["state"], "ok");

    // One primary that may evict keys puts its partitions at risk: every probe says so,
    // whichever primary answers its INFO, and names that primary.
    let primary = cluster
        .nodes(cluster.ports[0])
        .into_iter()
        .find(|n| n.primary)
        .expect("a primary");
    let set = cluster.cli(
        primary.port,
        &["config", "set", "maxmemory-policy", "allkeys-lru"],
    );
    assert!(set.contains("OK"), "{set}");
    for _ in 0..3 {
        let (_, report) = get_json(&app, "/api/health").await;
        let warnings = report["redis"]["warnings"].to_string();
        assert!(
            warnings.contains("allkeys-lru") && warnings.contains(&primary.port.to_string()),
            "{report}"
        );
        assert_eq!(
            report["redis"]["server"]["maxmemory_policy"], "allkeys-lru",
            "{report}"
        );
    }
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_shaplab"))
        .arg("check-redis")
        .env("REDIS_URL", cluster.url())
        .env("REDIS_TIMEOUT", "2")
        .env_remove("REDIS_CLUSTER")
        .output()
        .await
        .expect("shaplab check-redis runs");
    assert_eq!(
        output.status.code(),
        Some(1),
        "an evicting primary fails the check"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_every_node_forgot_are_loaded_again_on_first_use() {
    let cluster = start_cluster().await;
    let url = cluster.url();
    let pool = RedisPool::new(&url, &cluster_settings(&url, false)).expect("pool");
    assert!(pool.is_cluster());
    let queue = Queue::new(Arc::new(pool), QueueConfig::for_tests());
    let first = queue
        .submit(&request("{}", 10, 5, None))
        .await
        .expect("submit");
    for &port in &cluster.ports {
        assert!(cluster.cli(port, &["script", "flush"]).contains("OK"));
    }
    // EVALSHA meets NOSCRIPT on the slot's primary; redis-rs loads the script (on every
    // node) and runs it again, so the caller sees a plain success.
    let second = queue
        .submit(&request("{}", 10, 5, None))
        .await
        .expect("submit after SCRIPT FLUSH");
    assert_ne!(first.job, second.job);
    assert_eq!(queue.depths().await.expect("depths").ready, 4);
    let problems = queue.audit().await.expect("audit");
    assert!(problems.is_empty(), "{problems:?}");
}

/// A queue on `pool` under its own prefix (so scenarios sharing one cluster do not meet),
/// over 3 partitions (3 hash tags, spread over the primaries by their slots).
fn queue_with_prefix(pool: &Arc<RedisPool>, prefix: &str) -> Arc<Queue> {
    Arc::new(Queue::new(
        pool.clone(),
        QueueConfig {
            prefix: prefix.to_owned(),
            partitions: 3,
            ..QueueConfig::for_tests()
        },
    ))
}

async fn assert_invariant(queue: &Queue) {
    let problems = queue.audit().await.expect("audit");
    assert!(
        problems.is_empty(),
        "queue invariant violated: {problems:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_scenarios_hold_on_a_cluster() {
    let cluster = start_cluster().await;
    let url = cluster.url();
    let pool = Arc::new(RedisPool::new(&url, &cluster_settings(&url, false)).expect("pool"));
    let worker_config = server::queue::WorkerConfig {
        heartbeat_every: Duration::from_millis(100),
        idle_poll: Duration::from_millis(50),
        shutdown_grace: Duration::from_millis(300),
        write_retry_for: Duration::from_secs(5),
    };

    // 2 + 4: a resubmit with the same key and body is the same job; another body is refused.
    let queue = queue_with_prefix(&pool, "idem");
    let first = queue
        .submit(&request("{\"a\":1}", 10, 5, Some("key-1")))
        .await
        .expect("submit");
    let again = queue
        .submit(&request("{\"a\":1}", 10, 5, Some("key-1")))
        .await
        .expect("resubmit");
    assert_eq!(
        (again.job.clone(), again.created),
        (first.job.clone(), false)
    );
    let conflict = queue
        .submit(&request("{\"a\":2}", 10, 5, Some("key-1")))
        .await
        .expect_err("another body");
    assert!(
        matches!(conflict, QueueError::Conflict { .. }),
        "{conflict}"
    );
    assert_invariant(&queue).await;

    // 3: 50 concurrent submits with one key make one job.
    let submits = (0..50).map(|_| {
        let queue = queue.clone();
        tokio::spawn(async move {
            queue
                .submit(&request("{\"b\":1}", 10, 5, Some("key-50")))
                .await
                .expect("submit")
        })
    });
    let mut jobs = Vec::new();
    for submit in submits {
        jobs.push(submit.await.expect("task").job);
    }
    jobs.dedup();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_invariant(&queue).await;

    // 12: a queued job is cancelled at once and leaves nothing to claim.
    let queue = queue_with_prefix(&pool, "cancel");
    let job = queue
        .submit(&request("{}", 20, 5, None))
        .await
        .expect("submit")
        .job;
    let cancelled = queue.cancel(&job).await.expect("cancel");
    assert!(
        matches!(
            cancelled,
            server::queue::Cancellation::Cancelled { was_running: false }
        ),
        "{cancelled:?}"
    );
    assert_eq!(
        queue.job(&job).await.expect("job").state,
        JobState::Cancelled
    );
    let d = queue.depths().await.expect("depths");
    assert_eq!(d.ready + d.leased + d.scheduled, 0, "{d:?}");
    assert_invariant(&queue).await;

    // 5: a worker that vanishes after claiming: the lease expires, the reaper requeues the
    // task with stalls = 1, and another worker finishes the job.
    let queue = queue_with_prefix(&pool, "stall");
    let job = queue
        .submit(&request("{}", 5, 5, None))
        .await
        .expect("submit")
        .job;
    let vanished = queue
        .claim(&server::queue::WorkerId::generate())
        .await
        .expect("claim")
        .expect("a ready task");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if queue.reap().await.expect("reap").requeued == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the expired lease was not reaped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let key = Partition::new("stall", job.partition()).task(&vanished.id);
    let stalls: Option<String> = pool
        .query(redis::cmd("HGET").arg(&key).arg("stalls"))
        .await
        .expect("HGET");
    assert_eq!(stalls.as_deref(), Some("1"));
    let runs: Runs = Arc::default();
    let worker = Worker::new(
        queue.clone(),
        Arc::new(slow_counting_executor(runs.clone())),
        worker_config.clone(),
    );
    let outcome = worker.try_execute_task().await.expect("a step");
    assert!(
        matches!(
            outcome,
            server::queue::Outcome::Completed {
                last_chunk: true,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(
        queue.job(&job).await.expect("job").state,
        JobState::Succeeded
    );
    assert_invariant(&queue).await;
}

/// One submit of the load generator: when (since the test started) and what came back.
struct Submit {
    at: Duration,
    outcome: Result<JobId, String>,
}

/// Runs of each chunk, keyed by `(payload, first row)`: more than one is a duplicate.
type Runs = Arc<Mutex<HashMap<(String, u64), u32>>>;

fn slow_counting_executor(
    runs: Runs,
) -> impl Fn(TaskPayload, RowRange, CancelToken) -> Result<String, TaskError> + Send + Sync + 'static
{
    move |payload, rows, _cancel| {
        std::thread::sleep(Duration::from_millis(20));
        if let Ok(mut runs) = runs.lock() {
            *runs
                .entry((payload.as_str().to_owned(), rows.start))
                .or_default() += 1;
        }
        Ok(format!("rows:{}-{}", rows.start, rows.end))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_failover_under_load_loses_no_job_and_leaves_no_task_stuck() {
    let cluster = start_cluster().await;
    let url = cluster.url();
    let pool = Arc::new(RedisPool::new(&url, &cluster_settings(&url, false)).expect("pool"));
    let config = QueueConfig {
        partitions: 3,
        ..QueueConfig::for_tests()
    };
    let partition = Partition::new(&config.prefix, 0);
    let queue = Arc::new(Queue::new(pool.clone(), config));
    let runs: Runs = Arc::default();
    let worker_config = server::queue::WorkerConfig {
        heartbeat_every: Duration::from_millis(100),
        idle_poll: Duration::from_millis(50),
        shutdown_grace: Duration::from_millis(300),
        write_retry_for: Duration::from_secs(10),
    };
    let workers: Vec<RunningWorker> = (0..3)
        .map(|_| {
            RunningWorker::spawn(Arc::new(Worker::new(
                queue.clone(),
                Arc::new(slow_counting_executor(runs.clone())),
                worker_config.clone(),
            )))
        })
        .collect();
    let reaper = RunningReaper::spawn(queue.clone(), Duration::from_millis(200));

    // The primary serving partition 0 and its replica, which will take over.
    let slot = cluster.keyslot(&partition.ready());
    let (old_primary, replica) = cluster.owner_of_slot(slot);

    // Submit a 4-chunk job every 40 ms (round-robin over the partitions) until told to stop;
    // fail over 1 s in, stop 1 s after the cluster has settled.
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let submitter = {
        let (queue, stop) = (queue.clone(), stop.clone());
        tokio::spawn(async move {
            let mut log = Vec::new();
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let payload = format!(r#"{{"job":{n}}}"#);
                let outcome = match queue.submit(&request(&payload, 40, 10, None)).await {
                    Ok(s) => Ok(s.job),
                    Err(e @ QueueError::Unavailable(_)) => Err(e.to_string()),
                    Err(e) => panic!("submit {n} failed with a non-retryable error: {e}"),
                };
                log.push(Submit {
                    at: started.elapsed(),
                    outcome,
                });
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
            log
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let failover_at = started.elapsed();
    let replica_port = replica.port;
    let reply = tokio::task::block_in_place(|| cluster.cli(replica_port, &["cluster", "failover"]));
    assert!(reply.contains("OK"), "CLUSTER FAILOVER: {reply}");
    // The replica's own view first (when writes to the slot can succeed again), then every
    // node's.
    let promoted_at = tokio::task::block_in_place(|| {
        wait_until(Duration::from_secs(20), || {
            cluster.cli(replica_port, &["role"]).starts_with("master")
        })
        .then(|| started.elapsed())
    })
    .expect("the replica was promoted within 20 s");
    let agreed = tokio::task::block_in_place(|| {
        cluster.wait_primary(slot, replica_port, Duration::from_secs(20))
    });
    assert!(
        agreed,
        "the replica on {replica_port} did not take over slot {slot} from {} within 20 s",
        old_primary.port
    );
    let settled_at = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let log = submitter.await.expect("the submitter ran");
    let accepted: Vec<JobId> = log
        .iter()
        .filter_map(|s| s.outcome.as_ref().ok().cloned())
        .collect();
    let refused: Vec<&String> = log
        .iter()
        .filter_map(|s| s.outcome.as_ref().err())
        .collect();
    // Writes to the failed-over partition flow again once the replica is promoted.
    let p0_back_at = log
        .iter()
        .filter(|s| s.at > promoted_at)
        .find(|s| s.outcome.as_ref().is_ok_and(|j| j.partition() == 0))
        .map(|s| s.at)
        .expect("a submit to the failed-over partition succeeded after the promotion");
    assert!(!accepted.is_empty());

    // Every accepted job ends, and succeeds.
    let deadline = Instant::now() + Duration::from_secs(30);
    for job in &accepted {
        loop {
            match queue.job(job).await {
                Ok(status) if status.state == JobState::Succeeded => {
                    assert_eq!(status.chunks_done, status.chunks_total);
                    break;
                }
                Ok(status) => assert!(
                    !matches!(status.state, JobState::Failed | JobState::Cancelled),
                    "job {job} ended {:?}: {:?}",
                    status.state,
                    status.error
                ),
                Err(QueueError::Unavailable(_)) => {}
                Err(e) => panic!("job {job}: {e}"),
            }
            assert!(
                Instant::now() < deadline,
                "job {job} did not finish in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let all_done_at = started.elapsed();
    // A submit refused mid-failover may still have been queued (the reply was lost): give
    // such jobs time to finish too, then nothing may be left waiting, leased or dead.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let d = queue.depths().await.expect("depths");
        if d.ready + d.leased + d.scheduled == 0 {
            assert_eq!(d.dead, 0, "no task died");
            break;
        }
        assert!(Instant::now() < deadline, "tasks left behind: {d:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    for worker in workers {
        worker.stop().await;
    }
    reaper.stop().await;
    let problems = queue.audit().await.expect("audit");
    assert!(problems.is_empty(), "{problems:?}");

    let runs = runs.lock().map(|r| r.clone()).unwrap_or_default();
    let tasks_run = runs.len();
    let duplicates: u32 = runs.values().map(|n| n - 1).sum();
    let p0 = accepted.iter().filter(|j| j.partition() == 0).count();
    eprintln!(
        "failover: {} jobs accepted ({p0} on the failed-over partition), {} submits refused \
         (first: {:?}), {tasks_run} chunks run, {duplicates} duplicate runs; after CLUSTER \
         FAILOVER: replica promoted in {:?}, partition writable again in {:?}, every node \
         agreed in {:?}, all accepted jobs done in {:?}; breaker opened {} times",
        accepted.len(),
        refused.len(),
        refused.first(),
        promoted_at - failover_at,
        p0_back_at - failover_at,
        settled_at - failover_at,
        all_done_at - failover_at,
        pool.status().breaker_opened_total,
    );
    assert!(tasks_run >= accepted.len() * 4);
}
