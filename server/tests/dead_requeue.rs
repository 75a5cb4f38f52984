//! Dead-letter requeue from outside: `POST /api/admin/dead/requeue` and
//! `shaplab requeue-dead [--job ID]`. Jobs are driven into the dead-letter set by a worker
//! whose chunk 0 always fails, on a queue allowing one attempt; requeueing puts the dead
//! chunk and the chunks withdrawn when the job failed back in the ready list.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use server::queue::{
    JobId, JobState, Outcome, Queue, QueueConfig, RowRange, SubmitRequest, TaskError, TaskPayload,
    Worker, WorkerConfig,
};
use server::redis::RedisPool;
use std::sync::Arc;
use std::time::Duration;
use support::TestApp;
use support::backend::Backend;

const BIN: &str = env!("CARGO_BIN_EXE_shaplab");

/// A queue on `redis` that gives every task a single attempt.
fn one_attempt_queue(redis: &Backend) -> Arc<Queue> {
    let url = redis.url();
    let pool = RedisPool::new(&url, &redis.settings()).expect("valid URL");
    Arc::new(Queue::new(
        Arc::new(pool),
        QueueConfig {
            max_attempts: 1,
            ..QueueConfig::for_tests()
        },
    ))
}

/// Submits a job of 6 rows in 2 chunks and lets its chunk 0 die: the job fails, chunk 1 is
/// withdrawn. Returns the job.
async fn dead_job(queue: &Arc<Queue>) -> JobId {
    let submitted = queue
        .submit(&SubmitRequest {
            payload: TaskPayload::new("{}"),
            rows_total: 6,
            chunk_rows: 3,
            idempotency_key: None,
        })
        .await
        .expect("redis is up");
    let worker = Worker::new(
        queue.clone(),
        Arc::new(
            |_: TaskPayload, _: RowRange, _| -> Result<String, TaskError> {
                Err(TaskError::Retryable("disk full".into()))
            },
        ),
        WorkerConfig::for_lease(Duration::from_secs(1)),
    );
    let outcome = worker.try_execute_task().await.expect("redis is up");
    assert!(matches!(outcome, Outcome::Dead { .. }), "{outcome:?}");
    let job = queue.job(&submitted.job).await.expect("the job");
    assert_eq!(job.state, JobState::Failed);
    submitted.job
}

async fn post(app: &TestApp, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().post(app.url("/api/admin/dead/requeue"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    (status, response.json().await.expect("JSON"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_endpoint_requeues_one_job_or_every_job_with_dead_tasks() {
    let redis = Backend::start();
    let url = redis.url();
    let app = TestApp::spawn(&url, redis.settings()).await;
    let queue = one_attempt_queue(&redis);
    let first = dead_job(&queue).await;
    let second = dead_job(&queue).await;
    let third = dead_job(&queue).await;
    assert_eq!(queue.depths().await.expect("depths").dead, 3);

    // One job: its dead chunk and its withdrawn chunk go back.
    let (status, body) = post(&app, Some(json!({"job": first.to_string()}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"requeued": 2, "jobs": 1}));
    assert_eq!(
        queue.job(&first).await.expect("job").state,
        JobState::Queued
    );
    assert_eq!(queue.depths().await.expect("depths").ready, 2);

    // The same job again: it is no longer failed.
    let (status, body) = post(&app, Some(json!({"job": first.to_string()}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "wrong_state");

    // No body: every other job with dead tasks.
    let (status, body) = post(&app, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"requeued": 4, "jobs": 2}));
    for job in [&second, &third] {
        assert_eq!(queue.job(job).await.expect("job").state, JobState::Queued);
    }
    let depths = queue.depths().await.expect("depths");
    assert_eq!((depths.dead, depths.ready), (0, 6));
    let (status, body) = post(&app, Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"requeued": 0, "jobs": 0}));

    for (body, status, code) in [
        (
            json!({"job": "p0-0123456789abcdef01234567"}),
            StatusCode::NOT_FOUND,
            "job_not_found",
        ),
        (
            json!({"job": "nonsense"}),
            StatusCode::NOT_FOUND,
            "job_not_found",
        ),
        (
            json!({"jobs": []}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
    ] {
        let (got, error) = post(&app, Some(body.clone())).await;
        assert_eq!(got, status, "{body}: {error}");
        assert_eq!(error["code"], code, "{body}");
    }
    let problems = queue.audit().await.expect("redis is up");
    assert!(problems.is_empty(), "{problems:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_requeues_one_job_or_every_job_with_dead_tasks() {
    let redis = Backend::start();
    let queue = one_attempt_queue(&redis);
    let first = dead_job(&queue).await;
    let second = dead_job(&queue).await;
    let run = |args: Vec<String>| {
        let url = redis.url();
        async move {
            tokio::process::Command::new(BIN)
                .arg("requeue-dead")
                .args(args)
                .env("REDIS_URL", url)
                .env("REDIS_TIMEOUT", "2")
                .output()
                .await
                .expect("run shaplab")
        }
    };

    let out = run(vec!["--job".into(), first.to_string()]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "requeued 2 tasks of 1 job");
    assert_eq!(
        queue.job(&first).await.expect("job").state,
        JobState::Queued
    );
    assert_eq!(
        queue.job(&second).await.expect("job").state,
        JobState::Failed
    );

    let out = run(vec![]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "requeued 2 tasks of 1 job"
    );
    assert_eq!(
        queue.job(&second).await.expect("job").state,
        JobState::Queued
    );
    let depths = queue.depths().await.expect("depths");
    assert_eq!((depths.dead, depths.ready), (0, 4));

    // A job that is not failed: a non-zero exit and a message saying why.
    let out = run(vec!["--job".into(), first.to_string()]).await;
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("only failed jobs can be requeued"),
        "{stderr}"
    );

    // Without REDIS_URL there is nothing to requeue against.
    let out = tokio::process::Command::new(BIN)
        .arg("requeue-dead")
        .env_remove("REDIS_URL")
        .output()
        .await
        .expect("run shaplab");
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("REDIS_URL is not set"));
}
