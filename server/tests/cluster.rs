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
//!
//! The `CLUSTER FAILOVER` under load (scenarios 21/22) is in `cluster_failover.rs`.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use server::config::RedisSettings;
use server::queue::keys::Partition;
use server::queue::{JobState, Queue, QueueConfig, QueueError, Worker};
use server::redis::{RedisCallError, RedisPool};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::cluster::{TestCluster, cluster_settings, start_cluster, start_cluster_on};
use support::queue::{Runs, request, slow_counting_executor};
use support::{TestApp, fixture, upload};

async fn get_json(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let response = reqwest::get(app.url(path))
        .await
        .expect("the server answers");
    let status = response.status();
    (status, response.json().await.expect("a JSON body"))
}

/// What `shaplab explain` writes for the xgb_binary_d6 fixture.
async fn cli_output() -> Vec<u8> {
    support::jobs::cli_csv(
        &fixture("xgb_binary_d6/model.json"),
        &fixture("xgb_binary_d6/data.csv"),
    )
    .await
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
