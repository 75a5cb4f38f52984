//! `shaplab worker` as its own process: it computes jobs submitted to an app that runs no
//! workers (the scale-out setup), and stops cleanly on SIGTERM.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::backend::Backend;
use support::{TestApp, fixture};

async fn upload(app: &TestApp, kind: &str, file: &str) -> String {
    let bytes = std::fs::read(fixture(file)).expect("fixture");
    support::upload(app, kind, "f", bytes).await
}

/// Kills the worker process if a failed assertion leaves it running.
struct Reap(std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_separate_worker_process_computes_the_job_and_stops_on_sigterm() {
    let redis = Backend::start();
    let url = redis.url();
    let app = TestApp::spawn_with_jobs(&url, redis.settings(), 20, 0).await;
    let model = upload(&app, "model", "xgb_binary_d6/model.json").await;
    let data = upload(&app, "data", "xgb_binary_d6/data.csv").await;

    let worker_dir = support::temp_dir("worker");
    let worker = Command::new(env!("CARGO_BIN_EXE_shaplab"))
        .arg("worker")
        .env("REDIS_URL", &url)
        .env("SHAPLAB_WORKERS", "2")
        .env("SHAPLAB_DATA_DIR", &worker_dir)
        // The app's blob store, as a shared bucket would be on several machines.
        .env(
            "BLOB_STORE_URL",
            format!("file://{}", app.data_dir.join("blobs").display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("shaplab worker starts");
    let mut worker = Reap(worker);

    let response = reqwest::Client::new()
        .post(app.url("/api/jobs"))
        .json(&json!({"model": model, "data": data}))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::CREATED);
    let job: Value = response.json().await.expect("JSON");
    let id = job["id"].as_str().expect("id").to_owned();

    let start = Instant::now();
    let done = loop {
        let job: Value = reqwest::get(app.url(&format!("/api/jobs/{id}")))
            .await
            .expect("answers")
            .json()
            .await
            .expect("JSON");
        if job["state"] != "queued" && job["state"] != "running" {
            break job;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["progress"]["chunks_done"], 3);
    let csv = reqwest::get(app.url(&format!("/api/jobs/{id}/shap.csv")))
        .await
        .expect("answers")
        .text()
        .await
        .expect("text");
    assert_eq!(csv.lines().count(), 61, "header + 60 rows");

    // The app runs no workers, but health sees the other process's two.
    let (_, health) = support::jobs::get_json(&app, "/api/health").await;
    assert_eq!(health["queue"]["embedded_workers"], 0, "{health}");
    assert_eq!(health["queue"]["workers_seen"], 2, "{health}");

    // SIGTERM: the idle workers stop and the process exits 0, promptly.
    let pid = worker.0.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = worker.0.try_wait().expect("wait") {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the worker did not stop"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_dir_all(&worker_dir);
}

#[test]
fn a_worker_without_redis_url_says_what_to_set() {
    let output = Command::new(env!("CARGO_BIN_EXE_shaplab"))
        .arg("worker")
        .env_remove("REDIS_URL")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("REDIS_URL"), "{stderr}");
}
