//! `RESULT_TTL`: a job's results are served until its terminal state is older than the TTL,
//! then every result endpoint (and the job itself) answers `410 result_expired`, and the
//! sweep deletes the result blobs and the job's Redis state, leaving a tombstone with a
//! Redis TTL. Real redis-server, real engine, TTLs of a second or two.

mod support;

use reqwest::StatusCode;
use server::blobs::BlobStore;
use server::jobs::JobsConfig;
use server::jobs::expiry::{TOMBSTONE_TTL, sweep};
use server::queue::JobId;
use server::queue::keys::Partition;
use server::redis::RedisPool;
use std::path::Path;
use std::time::{Duration, Instant};
use support::backend::Backend;
use support::jobs::{get, get_json, submit_job, wait_for_success};
use support::{TestApp, fixture};

async fn app(redis: &Backend, ttl: Duration, workers: usize) -> TestApp {
    let url = redis.url();
    let jobs = JobsConfig {
        chunk_rows: 16,
        result_ttl: ttl,
        ..JobsConfig::default()
    };
    TestApp::spawn_with_config(&url, redis.settings(), jobs, workers).await
}

/// One Redis command through a fresh pool (the test's own view of the keys; on a cluster the
/// pool routes each keyed command to its slot).
async fn redis_cmd<T: redis::FromRedisValue>(redis: &Backend, cmd: &redis::Cmd) -> T {
    let pool = RedisPool::new(&redis.url(), &redis.settings()).expect("valid URL");
    pool.query(cmd).await.expect("the command runs")
}

/// Files under `dir` (recursively).
fn files_under(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let path = e.path();
            if path.is_dir() { files_under(&path) } else { 1 }
        })
        .sum()
}

/// The job's result directory in the local blob store (from its payload).
async fn results_dir(app: &TestApp, id: &JobId) -> std::path::PathBuf {
    let status = app.queue.job(id).await.expect("the job");
    let spec = server::jobs::spec::JobSpec::parse(status.payload.as_str()).expect("a spec");
    app.data_dir.join("blobs").join(spec.results)
}

const RESULT_PATHS: [&str; 5] = ["", "/summary", "/rows/0", "/ranked", "/shap.csv"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_are_served_until_the_ttl_then_410_and_the_sweep_deletes_them() {
    let redis = Backend::start();
    let ttl = Duration::from_secs(3);
    let app = app(&redis, ttl, 2).await;
    let data = std::fs::read(fixture("xgb_binary_d6/data.csv")).expect("fixture");
    let id = submit_job(&app, "xgb_binary_d6", data).await;
    wait_for_success(&app, &id, Duration::from_secs(60)).await;
    let job = JobId::parse(&id).expect("a job id");
    let dir = results_dir(&app, &job).await;

    // Within the TTL every result answers (and the summary leaves its cache blob behind).
    for path in RESULT_PATHS {
        let (status, body) = get(&app, &format!("/api/jobs/{id}{path}")).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{path}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    // Header + 4 chunks, each with its additivity check, + the summary cache as JSON and gzip.
    // The finishing worker warms both in the background, so the GET may have come first.
    let warmed = Instant::now() + Duration::from_secs(10);
    while files_under(&dir) < 11 && Instant::now() < warmed {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(files_under(&dir), 11, "{}", dir.display());

    // Past the TTL: 410 everywhere, saying what the job was.
    let finished = app
        .queue
        .job(&job)
        .await
        .expect("the job")
        .finished_ms
        .expect("ended");
    let now = server::redis::pool::now_ms();
    let wait = (finished + ttl.as_millis() as u64).saturating_sub(now) + 50;
    tokio::time::sleep(Duration::from_millis(wait)).await;
    for path in RESULT_PATHS {
        let (status, error) = get_json(&app, &format!("/api/jobs/{id}{path}")).await;
        assert_eq!(status, StatusCode::GONE, "{path}: {error}");
        assert_eq!(error["code"], "result_expired", "{path}");
        let message = error["message"].as_str().expect("a message");
        assert!(
            message.contains("succeeded") && message.contains("3 s"),
            "{message}"
        );
    }
    let cancel = reqwest::Client::new()
        .delete(app.url(&format!("/api/jobs/{id}")))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(
        cancel.status(),
        StatusCode::CONFLICT,
        "an ended job is not cancelled"
    );

    // The sweep (a quarter of the TTL apart) deletes the blobs and the Redis state.
    let p = Partition::new("shaplab", job.partition());
    let start = Instant::now();
    loop {
        let in_finished: Option<f64> =
            redis_cmd(&redis, redis::cmd("ZSCORE").arg(p.finished()).arg(&id)).await;
        // Gone entirely: no file, and no emptied directory left per expired job either.
        if in_finished.is_none() && !dir.exists() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the sweep did not run"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let tasks: u64 = redis_cmd(
        &redis,
        redis::cmd("EXISTS")
            .arg(format!("{}task:{id}:0", p.prefix()))
            .arg(format!("{}task:{id}:3", p.prefix())),
    )
    .await;
    assert_eq!(tasks, 0, "task hashes are deleted");
    let expired: Option<u64> = redis_cmd(
        &redis,
        redis::cmd("HGET").arg(p.job(&job)).arg("expired_ms"),
    )
    .await;
    assert!(expired.is_some(), "the job hash is a tombstone");
    let pttl: i64 = redis_cmd(&redis, redis::cmd("PTTL").arg(p.job(&job))).await;
    assert!(
        pttl > 0 && pttl <= TOMBSTONE_TTL.as_millis() as i64,
        "the tombstone expires: PTTL {pttl}"
    );
    let (status, error) = get_json(&app, &format!("/api/jobs/{id}")).await;
    assert_eq!(status, StatusCode::GONE, "{error}");
    let problems = app.queue.audit().await.expect("redis is up");
    assert!(problems.is_empty(), "{problems:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_job_expires_too_its_idempotency_key_is_freed_and_sweeps_repeat_safely() {
    let redis = Backend::start();
    let ttl = Duration::from_secs(1);
    // No workers (so no background sweep): the test sweeps by hand.
    let app = app(&redis, ttl, 0).await;
    let model = support::upload(
        &app,
        "model",
        "model.json",
        std::fs::read(fixture("xgb_binary_d6/model.json")).expect("fixture"),
    )
    .await;
    let data = support::upload(
        &app,
        "data",
        "data.csv",
        std::fs::read(fixture("xgb_binary_d6/data.csv")).expect("fixture"),
    )
    .await;
    let submit = || async {
        reqwest::Client::new()
            .post(app.url("/api/jobs"))
            .header("Idempotency-Key", "nightly-run")
            .json(&serde_json::json!({"model": model, "data": data}))
            .send()
            .await
            .expect("the server answers")
    };
    let first = submit().await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let id = first.json::<serde_json::Value>().await.expect("JSON")["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let job = JobId::parse(&id).expect("a job id");
    let dir = results_dir(&app, &job).await;
    assert_eq!(files_under(&dir), 1, "the header blob is written at submit");
    let cancel = reqwest::Client::new()
        .delete(app.url(&format!("/api/jobs/{id}")))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(cancel.status(), StatusCode::OK);

    let blobs = BlobStore::local(&app.data_dir.join("blobs")).expect("blobs");
    let early = sweep(&app.queue, &blobs, ttl).await.expect("redis is up");
    assert_eq!(early.jobs, 0, "nothing is due before the TTL");
    let (status, _) = get_json(&app, &format!("/api/jobs/{id}")).await;
    assert_eq!(status, StatusCode::OK);

    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    let (status, error) = get_json(&app, &format!("/api/jobs/{id}")).await;
    assert_eq!(status, StatusCode::GONE, "{error}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("cancelled")),
        "{error}"
    );
    let swept = sweep(&app.queue, &blobs, ttl).await.expect("redis is up");
    assert_eq!((swept.jobs, swept.blobs), (1, 1));
    assert!(
        !dir.exists(),
        "an emptied directory is left: {}",
        dir.display()
    );
    let again = sweep(&app.queue, &blobs, ttl).await.expect("redis is up");
    assert_eq!(again.jobs, 0, "a job is swept once");

    // The key now names no job: the same request creates a new one.
    let second = submit().await;
    assert_eq!(second.status(), StatusCode::CREATED);
    let second_id = second.json::<serde_json::Value>().await.expect("JSON")["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    assert_ne!(second_id, id);
    let (status, _) = get_json(&app, &format!("/api/jobs/{second_id}")).await;
    assert_eq!(status, StatusCode::OK);
    let problems = app.queue.audit().await.expect("redis is up");
    assert!(problems.is_empty(), "{problems:?}");
}
