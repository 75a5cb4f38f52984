//! SHAP jobs over HTTP, end to end: real redis-server, real blob store, real engine, real
//! workers embedded in the app. The result must equal `shaplab explain` byte for byte.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::backend::Backend;
use support::{TestApp, TestRedis, fixture, settings, upload};

/// Uploads `bytes` as `kind` and returns the upload id.
/// The xgb_binary_d6 fixture (60 rows, 30 features) uploaded: (model id, data id).
async fn upload_fixture(app: &TestApp) -> (String, String) {
    let model = std::fs::read(fixture("xgb_binary_d6/model.json")).expect("fixture");
    let data = std::fs::read(fixture("xgb_binary_d6/data.csv")).expect("fixture");
    (
        upload(app, "model", "model.json", model).await,
        upload(app, "data", "data.csv", data).await,
    )
}

async fn submit(app: &TestApp, key: Option<&str>, body: &Value) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().post(app.url("/api/jobs")).json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    (status, response.json().await.expect("a JSON body"))
}

async fn get_job(app: &TestApp, id: &str) -> (StatusCode, Value) {
    let response = reqwest::get(app.url(&format!("/api/jobs/{id}")))
        .await
        .expect("the server answers");
    let status = response.status();
    (status, response.json().await.expect("a JSON body"))
}

/// Polls until the job is in a terminal state (at most `limit`), returning its last view.
async fn wait_for_end(app: &TestApp, id: &str, limit: Duration) -> Value {
    let start = Instant::now();
    loop {
        let (status, job) = get_job(app, id).await;
        assert_eq!(status, StatusCode::OK, "{job}");
        let state = job["state"].as_str().unwrap_or("");
        if ["succeeded", "failed", "cancelled"].contains(&state) {
            return job;
        }
        assert!(
            start.elapsed() < limit,
            "job {id} did not end within {limit:?}: {job}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What `shaplab explain` writes for the fixture with `extra` CLI options.
async fn cli_output(extra: &[&str]) -> Vec<u8> {
    support::jobs::cli_csv_with(
        &fixture("xgb_binary_d6/model.json"),
        &fixture("xgb_binary_d6/data.csv"),
        extra,
    )
    .await
}

async fn download(app: &TestApp, id: &str) -> (StatusCode, Vec<u8>) {
    let response = reqwest::get(app.url(&format!("/api/jobs/{id}/shap.csv")))
        .await
        .expect("the server answers");
    let status = response.status();
    (status, response.bytes().await.expect("a body").to_vec())
}

async fn app_with_workers(redis: &Backend, chunk_rows: u64, workers: usize) -> TestApp {
    let url = redis.url();
    TestApp::spawn_with_jobs(&url, redis.settings(), chunk_rows, workers).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_in_chunks_and_its_csv_equals_shaplab_explain_byte_for_byte() {
    let redis = Backend::start();
    // 60 rows in chunks of 16: four chunks, the last one short.
    let app = app_with_workers(&redis, 16, 2).await;
    let (model, data) = upload_fixture(&app).await;

    let (status, job) = submit(&app, Some("e2e-1"), &json!({"model": model, "data": data})).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let id = job["id"].as_str().expect("an id").to_owned();
    assert_eq!(job["progress"]["rows_total"], 60);
    assert_eq!(job["progress"]["chunks_total"], 4);

    let done = wait_for_end(&app, &id, Duration::from_secs(60)).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(
        done["progress"],
        json!({"rows_done": 60, "rows_total": 60, "chunks_done": 4, "chunks_total": 4})
    );
    assert!(done["error"].is_null());
    assert!(done["eta_seconds"].is_null());
    assert!(done["finished_at_ms"].as_u64() >= done["started_at_ms"].as_u64());

    let (status, csv) = download(&app, &id).await;
    assert_eq!(status, StatusCode::OK);
    let expected = cli_output(&[]).await;
    assert_eq!(
        String::from_utf8_lossy(&csv),
        String::from_utf8_lossy(&expected),
        "the job's CSV differs from `shaplab explain`"
    );

    // Health sees this process's two workers, their loops turning, and nothing left queued.
    let health: Value = reqwest::get(app.url("/api/health"))
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(health["queue"]["embedded_workers"], 2, "{health}");
    assert_eq!(health["queue"]["consumer_loop_alive"], true);
    assert_eq!(health["queue"]["queued"], 0);
    let ready = reqwest::get(app.url("/readyz")).await.expect("answers");
    assert_eq!(ready.status(), StatusCode::OK);

    // And Prometheus sees the chunks: how they ended, how long they ran and waited.
    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .expect("answers")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(r#"shaplab_chunks_finished_total{outcome="completed"}"#),
        "{metrics}"
    );
    assert!(metrics.contains("shaplab_chunk_duration_seconds_bucket"));
    assert!(metrics.contains("shaplab_queue_wait_seconds_bucket"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interventional_probability_job_equals_shaplab_explain_too() {
    let redis = Backend::start();
    let app = app_with_workers(&redis, 16, 2).await;
    let (model, data) = upload_fixture(&app).await;

    let body =
        json!({"model": model, "data": data, "output": "probability", "background_rows": 20});
    let (status, job) = submit(&app, None, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let id = job["id"].as_str().expect("an id").to_owned();
    // Interventional chunks shrink with the background: 16 × 9 / 20 = 7 rows → 9 chunks.
    assert_eq!(job["progress"]["chunks_total"], 9);

    let done = wait_for_end(&app, &id, Duration::from_secs(120)).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let (_, csv) = download(&app, &id).await;
    let expected = cli_output(&["--output", "probability", "--background-rows", "20"]).await;
    assert_eq!(
        String::from_utf8_lossy(&csv),
        String::from_utf8_lossy(&expected)
    );
}

#[tokio::test]
async fn status_polls_carry_an_etag_and_a_poll_hint_while_the_job_waits() {
    let redis = Backend::start();
    // No workers: the job stays queued.
    let app = app_with_workers(&redis, 16, 0).await;
    let (model, data) = upload_fixture(&app).await;
    let (_, job) = submit(&app, None, &json!({"model": model, "data": data})).await;
    let url = app.url(&format!("/api/jobs/{}", job["id"].as_str().expect("id")));

    let first = reqwest::get(&url).await.expect("answers");
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()["x-poll-interval"], "1");
    let etag = first.headers()["etag"].to_str().expect("ascii").to_owned();
    let body: Value = first.json().await.expect("JSON");
    assert_eq!(body["state"], "queued");
    assert!(body["eta_seconds"].is_null(), "no rate yet, no ETA");

    let again = reqwest::Client::new()
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("answers");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // Health shows the waiting work: every chunk queued, none running, and how long it waited.
    let health: Value = reqwest::get(app.url("/api/health"))
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        health["queue"]["queued"], body["progress"]["chunks_total"],
        "{health}"
    );
    assert_eq!(health["queue"]["running"], 0);
    assert!(
        health["queue"]["oldest_queued_age_s"]
            .as_f64()
            .is_some_and(|s| s >= 0.0)
    );
}

#[tokio::test]
async fn a_repeated_submit_returns_the_same_job_and_a_reused_key_with_another_body_is_refused() {
    let redis = Backend::start();
    let app = app_with_workers(&redis, 16, 0).await;
    let (model, data) = upload_fixture(&app).await;
    let body = json!({"model": model, "data": data});

    let (first, a) = submit(&app, Some("same-key"), &body).await;
    let (second, b) = submit(&app, Some("same-key"), &body).await;
    assert_eq!((first, second), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(a["id"], b["id"]);

    let other = json!({"model": model, "data": data, "background_rows": 10});
    let (status, error) = submit(&app, Some("same-key"), &other).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["code"], "idempotency_conflict");

    // Without a key, every submit is a new job.
    let (_, c) = submit(&app, None, &body).await;
    let (_, d) = submit(&app, None, &body).await;
    assert_ne!(c["id"], d["id"]);
}

#[tokio::test]
async fn data_without_the_models_columns_is_refused_with_the_missing_columns_listed() {
    let redis = Backend::start();
    let app = app_with_workers(&redis, 16, 0).await;
    let model = std::fs::read(fixture("xgb_binary_d6/model.json")).expect("fixture");
    let model = upload(&app, "model", "model.json", model).await;
    // The fixture without its first two columns.
    let text = std::fs::read_to_string(fixture("xgb_binary_d6/data.csv")).expect("fixture");
    let trimmed: String = text
        .lines()
        .map(|line| line.splitn(3, ',').nth(2).unwrap_or("").to_owned() + "\n")
        .collect();
    let data = upload(&app, "data", "partial.csv", trimmed.into_bytes()).await;

    let (status, error) = submit(&app, None, &json!({"model": model, "data": data})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["code"], "incompatible");
    let message = error["message"].as_str().expect("a message");
    assert!(
        message.contains("mean_radius") && message.contains("mean_texture"),
        "{message}"
    );
    assert!(!message.contains("mean_perimeter"), "{message}");
}

#[tokio::test]
async fn requests_that_cannot_be_run_are_refused_before_anything_is_queued() {
    let redis = Backend::start();
    let app = app_with_workers(&redis, 16, 0).await;
    let (model, data) = upload_fixture(&app).await;
    let cases = [
        // Model and data swapped.
        (json!({"model": data, "data": model}), "wrong_kind"),
        (
            json!({"model": model, "data": "00000000-0000-4000-8000-000000000000"}),
            "upload_not_found",
        ),
        (
            json!({"model": "../../etc/passwd", "data": data}),
            "upload_not_found",
        ),
        (
            json!({"model": model, "data": data, "interactions": true, "background_rows": 10}),
            "unsupported",
        ),
        (
            json!({"model": model, "data": data, "background_rows": 0}),
            "invalid_request",
        ),
        (
            json!({"model": model, "data": data, "outptu": "raw"}),
            "invalid_request",
        ),
        (json!({"model": model}), "invalid_request"),
    ];
    for (body, code) in cases {
        let (status, error) = submit(&app, None, &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {error}");
        assert_eq!(error["code"], code, "{body}: {error}");
    }
    let depths = app.queue.depths().await.expect("redis is up");
    assert_eq!(depths.ready, 0, "nothing was queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_that_turns_out_unreadable_fails_the_job_once_with_a_readable_error() {
    let redis = Backend::start();
    let app = app_with_workers(&redis, 16, 1).await;
    let (model, data) = upload_fixture(&app).await;
    // The stored file is damaged after it was validated (a disk fault, a hand edit): the
    // worker must fail the job permanently, saying where, not retry it forever.
    let stored = app.data_dir.join(format!("blobs/uploads/{data}/data.csv"));
    let text = std::fs::read_to_string(&stored).expect("stored data");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut cells: Vec<&str> = lines[3].split(',').collect();
    cells[0] = "seventeen";
    lines[3] = cells.join(",");
    std::fs::write(&stored, lines.join("\n") + "\n").expect("rewrite");

    let (status, job) = submit(&app, None, &json!({"model": model, "data": data})).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let id = job["id"].as_str().expect("id").to_owned();
    let done = wait_for_end(&app, &id, Duration::from_secs(30)).await;
    assert_eq!(done["state"], "failed", "{done}");
    let message = done["error"]["message"].as_str().expect("a message");
    assert!(
        message.contains("row 3")
            && message.contains("mean_radius")
            && message.contains("seventeen"),
        "{message}"
    );
    let (status, _) = download(&app, &id).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_queued_job_can_be_cancelled_and_then_has_nothing_to_download() {
    let redis = Backend::start();
    let app = app_with_workers(&redis, 16, 0).await;
    let (model, data) = upload_fixture(&app).await;
    let (_, job) = submit(&app, None, &json!({"model": model, "data": data})).await;
    let id = job["id"].as_str().expect("id").to_owned();
    let client = reqwest::Client::new();

    let cancelled = client
        .delete(app.url(&format!("/api/jobs/{id}")))
        .send()
        .await
        .expect("answers");
    assert_eq!(cancelled.status(), StatusCode::OK);
    let body: Value = cancelled.json().await.expect("JSON");
    assert_eq!(body["state"], "cancelled");

    // Cancelling again is harmless.
    let again = client
        .delete(app.url(&format!("/api/jobs/{id}")))
        .send()
        .await
        .expect("answers");
    assert_eq!(again.status(), StatusCode::OK);

    let (_, job) = get_job(&app, &id).await;
    assert_eq!(job["state"], "cancelled");
    let (status, _) = download(&app, &id).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(app.queue.depths().await.expect("up").ready, 0);
}

#[tokio::test]
async fn an_unknown_job_is_404_job_not_found() {
    let redis = Backend::start();
    let app = app_with_workers(&redis, 16, 0).await;
    for id in ["p0-0123456789abcdef01234567", "not-a-job-id"] {
        let (status, error) = get_job(&app, id).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
        assert_eq!(error["code"], "job_not_found");
        let deleted = reqwest::Client::new()
            .delete(app.url(&format!("/api/jobs/{id}")))
            .send()
            .await
            .expect("answers");
        assert_eq!(deleted.status(), StatusCode::NOT_FOUND, "{id}");
        let (status, _) = download(&app, id).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
    }
}

#[tokio::test]
async fn while_redis_is_down_jobs_answer_503_with_retry_after_within_the_timeout() {
    let mut redis = TestRedis::start();
    let url = redis.url();
    let timeout = Duration::from_millis(500);
    let app = TestApp::spawn_with_jobs(&url, settings(&url, timeout), 16, 0).await;
    let (model, data) = upload_fixture(&app).await;
    redis.kill();

    // Uploads need no Redis; the submit's last step does.
    for attempt in 0..3 {
        let start = Instant::now();
        let response = reqwest::Client::new()
            .post(app.url("/api/jobs"))
            .json(&json!({"model": model, "data": data}))
            .send()
            .await
            .expect("answers");
        let took = start.elapsed();
        assert_eq!(
            response.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "attempt {attempt}"
        );
        assert!(response.headers().contains_key("retry-after"));
        let error: Value = response.json().await.expect("JSON");
        assert_eq!(error["code"], "queue_unavailable");
        assert_eq!(error["retryable"], true);
        assert!(took < timeout + Duration::from_secs(1), "took {took:?}");
    }
    let start = Instant::now();
    let response = reqwest::get(app.url("/api/jobs/p0-0123456789abcdef01234567"))
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    assert!(start.elapsed() < timeout + Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_running_job_stops_it_and_withdraws_the_chunks_not_yet_done() {
    let redis = Backend::start();
    // 20,000 rows in chunks of 500: 40 chunks for one worker, about a second of compute.
    let app = app_with_workers(&redis, 500, 1).await;
    let model = std::fs::read(fixture("xgb_binary_d6/model.json")).expect("fixture");
    let model = upload(&app, "model", "model.json", model).await;
    let text = std::fs::read_to_string(fixture("xgb_binary_d6/data.csv")).expect("fixture");
    let mut lines = text.lines();
    let header = lines.next().expect("a header");
    let rows: Vec<&str> = lines.collect();
    let mut big = format!("{header}\n");
    for i in 0..20_000 {
        big.push_str(rows[i % rows.len()]);
        big.push('\n');
    }
    let data = upload(&app, "data", "big.csv", big.into_bytes()).await;

    let (_, job) = submit(&app, None, &json!({"model": model, "data": data})).await;
    let id = job["id"].as_str().expect("id").to_owned();
    let start = Instant::now();
    loop {
        let (_, job) = get_job(&app, &id).await;
        if job["progress"]["chunks_done"].as_u64() >= Some(1) {
            assert_eq!(job["state"], "running", "{job}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{job}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let cancelled = reqwest::Client::new()
        .delete(app.url(&format!("/api/jobs/{id}")))
        .send()
        .await
        .expect("answers");
    assert_eq!(cancelled.status(), StatusCode::OK);
    let at_cancel: Value = cancelled.json().await.expect("JSON");
    assert_eq!(at_cancel["state"], "cancelled");

    // Within a heartbeat (a third of the 1 s test lease) plus one 512-row block, the worker
    // has let go; after that nothing moves and nothing is left queued or leased.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (_, later) = get_job(&app, &id).await;
    assert_eq!(later["state"], "cancelled");
    let done = later["progress"]["chunks_done"].as_u64().expect("a count");
    assert!(done < 40, "the job should not have finished: {later}");
    let depths = app.queue.depths().await.expect("redis is up");
    assert_eq!((depths.ready, depths.leased), (0, 0), "{depths:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, last) = get_job(&app, &id).await;
    assert_eq!(
        last["progress"], later["progress"],
        "no progress after cancel"
    );
}
