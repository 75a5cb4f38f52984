//! Uploads expire `UPLOAD_TTL` after they were last used (stored, or named by a submitted
//! job): the sweep deletes the unused ones, keeps those a job just used, and a submit naming
//! a deleted upload is refused with what happened and what to do.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use server::blobs::BlobStore;
use server::jobs::JobsConfig;
use server::uploads::expiry::sweep;
use std::time::{Duration, Instant};
use support::backend::Backend;
use support::{TestApp, fixture, upload};

async fn app(redis: &Backend, upload_ttl: Duration, workers: usize) -> TestApp {
    let jobs = JobsConfig {
        chunk_rows: 16,
        upload_ttl,
        ..JobsConfig::default()
    };
    TestApp::spawn_with_config(&redis.url(), redis.settings(), jobs, workers).await
}

async fn submit(app: &TestApp, model: &str, data: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(app.url("/api/jobs"))
        .json(&json!({"model": model, "data": data}))
        .send()
        .await
        .expect("the server answers");
    let status = response.status();
    (status, response.json().await.expect("JSON"))
}

async fn upload_status(app: &TestApp, id: &str) -> StatusCode {
    reqwest::get(app.url(&format!("/api/uploads/{id}")))
        .await
        .expect("the server answers")
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unused_upload_is_deleted_after_the_ttl_and_one_a_job_used_is_kept() {
    let redis = Backend::start();
    let ttl = Duration::from_secs(2);
    // No workers, so no background sweep: the test sweeps by hand, at known ages.
    let app = app(&redis, ttl, 0).await;
    let read = |rel: &str| std::fs::read(fixture(rel)).expect("fixture");
    let model = upload(
        &app,
        "model",
        "model.json",
        read("xgb_binary_d6/model.json"),
    )
    .await;
    let data = upload(&app, "data", "data.csv", read("xgb_binary_d6/data.csv")).await;
    let unused = upload(&app, "data", "other.csv", read("xgb_binary_d6/data.csv")).await;

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, job) = submit(&app, &model, &data).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    tokio::time::sleep(Duration::from_millis(1000)).await;

    // `unused` is 2.5 s old; the job made `model` and `data` new again 1 s ago.
    let blobs = BlobStore::local(&app.data_dir.join("blobs")).expect("blobs");
    let swept = sweep(&blobs, ttl).await.expect("the sweep runs");
    assert_eq!((swept.uploads, swept.blobs), (1, 2), "{swept:?}");
    assert_eq!(upload_status(&app, &unused).await, StatusCode::NOT_FOUND);
    assert!(!app.data_dir.join("blobs/uploads").join(&unused).exists());
    for kept in [&model, &data] {
        assert_eq!(upload_status(&app, kept).await, StatusCode::OK, "{kept}");
    }

    let (status, error) = submit(&app, &model, &unused).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["code"], "upload_not_found");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("UPLOAD_TTL") && message.contains("upload the file"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_running_workers_sweep_expired_uploads_by_themselves() {
    let redis = Backend::start();
    // With workers, the sweep runs every quarter of the TTL.
    let app = app(&redis, Duration::from_secs(1), 1).await;
    let model = std::fs::read(fixture("xgb_binary_d6/model.json")).expect("fixture");
    let id = upload(&app, "model", "model.json", model).await;
    assert_eq!(upload_status(&app, &id).await, StatusCode::OK);
    let start = Instant::now();
    while upload_status(&app, &id).await != StatusCode::NOT_FOUND {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the upload was not swept"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(800),
        "swept too early: {took:?}"
    );
}
