//! Helpers for the job endpoint suites: submitting a fixture job over HTTP, reading JSON
//! answers, waiting for a terminal state, the CLI's reference SHAP lines, and a worker the
//! test steps by hand.

use super::backend::Backend;
use super::{TestApp, fixture, temp_dir, upload, upload_to};
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::queue::{QueueConfig, Worker, WorkerConfig};
use std::path::Path;
use std::time::{Duration, Instant};

/// An app with `workers` embedded workers and `chunk_rows` rows per chunk.
pub async fn app(redis: &Backend, chunk_rows: u64, workers: usize) -> TestApp {
    TestApp::spawn_with_jobs(&redis.url(), redis.settings(), chunk_rows, workers).await
}

/// Uploads a fixture's model and `data` and submits a raw path-dependent job; its id.
pub async fn submit_job(app: &TestApp, name: &str, data: Vec<u8>) -> String {
    let model = std::fs::read(fixture(&format!("{name}/model.json"))).expect("fixture");
    let model = upload(app, "model", "model.json", model).await;
    let data = upload(app, "data", "data.csv", data).await;
    let response = reqwest::Client::new()
        .post(app.url("/api/jobs"))
        .json(&json!({"model": model, "data": data}))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), StatusCode::CREATED);
    let job: Value = response.json().await.expect("JSON");
    job["id"].as_str().expect("an id").to_owned()
}

/// Uploads fixture `dir`'s `model` and `data.csv`, submits a job with `options` (more fields
/// of the request), and waits for it to succeed; the job id.
pub async fn fixture_job(app: &TestApp, dir: &str, model: &str, options: Value) -> String {
    let up = |kind: &'static str, file: String| async move {
        let bytes = std::fs::read(fixture(&format!("{dir}/{file}"))).expect("fixture");
        upload_to(&app.url(""), kind, &file, bytes).await
    };
    let mut body = options;
    body["model"] = json!(up("model", model.to_owned()).await);
    body["data"] = json!(up("data", "data.csv".to_owned()).await);
    let (status, job) = submit_body(app, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let id = job["id"].as_str().expect("an id").to_owned();
    wait_for_success(app, &id, Duration::from_secs(60)).await;
    id
}

/// `shaplab explain`'s SHAP line for data row `i` (0-based) of fixture `dir` with `edits`
/// (column, cell text) put in, through a one-row file.
pub async fn cli_edited_row(dir: &str, model: &str, i: usize, edits: &[(&str, &str)]) -> Vec<f64> {
    let text = std::fs::read_to_string(fixture(&format!("{dir}/data.csv"))).expect("fixture");
    let mut lines = text.lines();
    let header = lines.next().expect("a header");
    let names: Vec<&str> = header.split(',').collect();
    let mut cells: Vec<String> = lines
        .nth(i)
        .expect("the row")
        .split(',')
        .map(str::to_owned)
        .collect();
    for (name, value) in edits {
        let at = names.iter().position(|n| n == name).expect("a column");
        cells[at] = (*value).to_owned();
    }
    let scratch = temp_dir("edited-row");
    let file = scratch.join("edited.csv");
    std::fs::write(&file, format!("{header}\n{}\n", cells.join(","))).expect("write");
    let rows = cli_rows(&fixture(&format!("{dir}/{model}")), &file).await;
    let _ = std::fs::remove_dir_all(&scratch);
    rows.into_iter().next().expect("one row")
}

/// `POST /api/jobs` with `body`: the status and the JSON answer (a job or an error envelope).
pub async fn submit_body(app: &TestApp, body: &Value) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(app.url("/api/jobs"))
        .json(body)
        .send()
        .await
        .expect("the server answers");
    let status = response.status();
    (status, response.json().await.expect("JSON"))
}

pub async fn get(app: &TestApp, path: &str) -> (StatusCode, Vec<u8>) {
    let response = reqwest::get(app.url(path))
        .await
        .expect("the server answers");
    let status = response.status();
    (status, response.bytes().await.expect("a body").to_vec())
}

pub async fn get_json(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let (status, body) = get(app, path).await;
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    (status, value)
}

/// Polls the job until it has succeeded (panics on another terminal state or after `limit`).
pub async fn wait_for_success(app: &TestApp, id: &str, limit: Duration) {
    let start = Instant::now();
    loop {
        let (_, job) = get_json(app, &format!("/api/jobs/{id}")).await;
        match job["state"].as_str() {
            Some("succeeded") => return,
            Some("failed" | "cancelled") => panic!("job {id} ended: {job}"),
            _ => {}
        }
        assert!(start.elapsed() < limit, "job {id} is not done: {job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What `shaplab explain` writes for a model and data file, byte for byte.
pub async fn cli_csv(model: &Path, data: &Path) -> Vec<u8> {
    cli_csv_with(model, data, &[]).await
}

/// What `shaplab explain` writes for a model and data file with `extra` options.
pub async fn cli_csv_with(model: &Path, data: &Path, extra: &[&str]) -> Vec<u8> {
    let dir = super::temp_dir("cli");
    let out = dir.join("shap.csv");
    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_shaplab"))
        .arg("explain")
        .arg("--model")
        .arg(model)
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(&out)
        .args(extra)
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .expect("shaplab explain runs");
    assert!(status.success());
    let csv = std::fs::read(&out).expect("the CLI wrote its CSV");
    let _ = std::fs::remove_dir_all(&dir);
    csv
}

/// `shaplab explain`'s SHAP rows for a model and data file (header dropped).
pub async fn cli_rows(model: &Path, data: &Path) -> Vec<Vec<f64>> {
    let text = String::from_utf8(cli_csv(model, data).await).expect("UTF-8 CSV");
    text.lines()
        .skip(1)
        .map(|line| {
            line.split(',')
                .map(|c| c.parse().expect("a number"))
                .collect()
        })
        .collect()
}

/// A SHAP worker on the app's queue and blob store, for tests that step chunks by hand.
pub fn manual_worker(app: &TestApp) -> Worker {
    let blobs = server::blobs::BlobStore::local(&app.data_dir.join("blobs")).expect("blobs");
    let executor =
        server::jobs::executor::shap_executor(blobs, app.data_dir.join("cache"), 64 << 20);
    Worker::new(
        app.queue.clone(),
        executor,
        WorkerConfig::for_lease(QueueConfig::for_tests().lease),
    )
}
