//! `QUEUE_PARTITIONS` on a Redis Cluster: the real `shaplab serve` binary with six
//! partitions spreads jobs over several partitions, and so over several primaries (each
//! partition's keys share one hash tag, so one slot), runs them all, and reports the
//! partition count in `/api/health`. With the default of one partition the whole queue sits
//! on one primary: the cluster adds failover but no capacity.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use server::queue::JobId;
use server::queue::keys::Partition;
use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::cluster::start_cluster;
use support::{fixture, free_port, temp_dir, upload_to};

/// The server process, killed when the test ends however it ends.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    let response = client.get(url).send().await.expect("the server answers");
    response.json().await.expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_queue_partitions_jobs_spread_over_the_primaries_and_all_finish() {
    let cluster = start_cluster().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let data_dir = temp_dir("partitions");
    let _serve = Serve(
        Command::new(env!("CARGO_BIN_EXE_shaplab"))
            .args(["serve", "--port", &port.to_string(), "--workers", "2"])
            .arg("--data-dir")
            .arg(&data_dir)
            .env("REDIS_URL", cluster.url())
            .env("QUEUE_PARTITIONS", "6")
            .env("CHUNK_ROWS", "20")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run shaplab serve"),
    );
    let client = reqwest::Client::new();
    let start = Instant::now();
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "serve never answered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let read = |rel: &str| std::fs::read(fixture(rel)).expect("fixture");
    let model = upload_to(
        &base,
        "model",
        "model.json",
        read("xgb_binary_d6/model.json"),
    )
    .await;
    let data = upload_to(&base, "data", "data.csv", read("xgb_binary_d6/data.csv")).await;
    let mut jobs = Vec::new();
    for i in 0..12 {
        let response = client
            .post(format!("{base}/api/jobs"))
            .header("Idempotency-Key", format!("spread-{i}"))
            .json(&json!({"model": model, "data": data}))
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), StatusCode::CREATED);
        let job: Value = response.json().await.expect("JSON");
        jobs.push(job["id"].as_str().expect("an id").to_owned());
    }

    for id in &jobs {
        let start = Instant::now();
        loop {
            let job = get_json(&client, &format!("{base}/api/jobs/{id}")).await;
            if job["state"] == "succeeded" {
                assert_eq!(job["progress"]["chunks_done"], 3, "{job}");
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "{job}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    let partitions: BTreeSet<u16> = jobs
        .iter()
        .map(|id| JobId::parse(id).expect("a job id").partition())
        .collect();
    let primaries: BTreeSet<u16> = tokio::task::block_in_place(|| {
        partitions
            .iter()
            .map(|&p| {
                let slot = cluster.keyslot(&Partition::new("shaplab", p).ready());
                cluster.owner_of_slot(slot).0.port
            })
            .collect()
    });
    eprintln!("12 jobs in partitions {partitions:?}, on primaries {primaries:?}");
    assert!(partitions.len() >= 3, "{partitions:?}");
    assert!(partitions.iter().all(|&p| p < 6), "{partitions:?}");
    assert!(
        primaries.len() >= 2,
        "every partition on one primary: {primaries:?}"
    );

    let health = get_json(&client, &format!("{base}/api/health")).await;
    assert_eq!(health["queue"]["partitions"], 6, "{health}");
    assert_eq!(health["queue"]["queued"], 0, "{health}");
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[test]
fn a_bad_queue_partitions_value_stops_serve_with_what_to_set() {
    let output = Command::new(env!("CARGO_BIN_EXE_shaplab"))
        .args(["serve", "--port", &free_port().to_string()])
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .env("QUEUE_PARTITIONS", "0")
        .output()
        .expect("run shaplab serve");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("QUEUE_PARTITIONS") && stderr.contains("from 1 to 256"),
        "{stderr}"
    );
}
