//! Interaction values through jobs (`"interactions": true`): the download equals
//! `shaplab explain --interactions` byte for byte, the summary's matrix and dependence
//! partners agree with that file, what cannot be done is refused with a reason, and the
//! download expires with the job's other results (`RESULT_TTL`). Real
//! redis-server, real fixtures, real engine (the CLI binary is the reference).

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::backend::Backend;
use support::jobs::{app, get, get_json, submit_body, wait_for_success};
use support::{TestApp, fixture, upload};

/// Uploads a fixture's model and data; their ids.
async fn upload_fixture(app: &TestApp, name: &str) -> (String, String) {
    let model = std::fs::read(fixture(&format!("{name}/model.json"))).expect("fixture");
    let data = std::fs::read(fixture(&format!("{name}/data.csv"))).expect("fixture");
    (
        upload(app, "model", "model.json", model).await,
        upload(app, "data", "data.csv", data).await,
    )
}

/// `shaplab explain --interactions` on a fixture: (SHAP CSV, interactions CSV, seconds).
async fn cli_files(name: &str) -> (Vec<u8>, Vec<u8>, f64) {
    let dir = support::temp_dir("cli");
    let (out, inter) = (dir.join("shap.csv"), dir.join("inter.csv"));
    let started = Instant::now();
    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_shaplab"))
        .arg("explain")
        .arg("--model")
        .arg(fixture(&format!("{name}/model.json")))
        .arg("--data")
        .arg(fixture(&format!("{name}/data.csv")))
        .arg("--out")
        .arg(&out)
        .arg("--interactions")
        .arg(&inter)
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .expect("shaplab explain runs");
    let seconds = started.elapsed().as_secs_f64();
    assert!(status.success());
    let files = (
        std::fs::read(&out).expect("the CLI wrote its SHAP CSV"),
        std::fs::read(&inter).expect("the CLI wrote its interactions CSV"),
    );
    let _ = std::fs::remove_dir_all(&dir);
    (files.0, files.1, seconds)
}

/// A CSV's lines as numbers, header dropped.
fn numbers(csv: &[u8]) -> Vec<Vec<f64>> {
    String::from_utf8_lossy(csv)
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|c| c.parse().expect("a number")).collect())
        .collect()
}

/// Mean |interaction| of features `i` and `j` for output `o` over every row of the file.
fn mean_abs(lines: &[Vec<f64>], features: usize, o: usize, i: usize, j: usize) -> f64 {
    let f1 = features + 1;
    let sum: f64 = lines
        .iter()
        .map(|l| l[o * f1 * f1 + i * f1 + j].abs())
        .sum();
    sum / lines.len() as f64
}

fn close(got: &Value, want: f64) {
    let got = got.as_f64().expect("a number");
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1e-12),
        "{got} vs {want}"
    );
}

/// Runs an interaction job on the fixture `name` in 16-row chunks and checks it against the
/// CLI: both downloads byte for byte, then the summary's matrix and partners.
async fn an_interaction_job_matches_the_cli(name: &str, outputs: usize) {
    let redis = Backend::start();
    let app = app(&redis, 16, 2).await;
    let (model, data) = upload_fixture(&app, name).await;
    let started = Instant::now();
    let (status, job) = submit_body(
        &app,
        &json!({"model": model, "data": data, "interactions": true}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let id = job["id"].as_str().expect("an id").to_owned();
    wait_for_success(&app, &id, Duration::from_secs(120)).await;
    let job_seconds = started.elapsed().as_secs_f64();
    let (cli_shap, cli_inter, cli_seconds) = cli_files(name).await;
    eprintln!("{name}: job {job_seconds:.2} s, CLI {cli_seconds:.2} s");

    // 60 rows in 16-row chunks (the interaction budget does not shrink them for a model
    // this small): 4 chunks, each with its own interaction blob.
    let (_, job) = get_json(&app, &format!("/api/jobs/{id}")).await;
    assert_eq!(job["progress"]["chunks_total"], 4);
    let (status, inter) = get(&app, &format!("/api/jobs/{id}/interactions.csv")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        inter == cli_inter,
        "interactions.csv differs from the CLI's"
    );
    let (status, shap) = get(&app, &format!("/api/jobs/{id}/shap.csv")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(shap == cli_shap, "shap.csv differs from the CLI's");

    let (status, summary) = get_json(&app, &format!("/api/jobs/{id}/summary")).await;
    assert_eq!(status, StatusCode::OK);
    let lines = numbers(&cli_inter);
    let features = summary["features"].as_array().expect("names").len();
    let matrix = &summary["interactions"];
    let chosen: Vec<usize> = matrix["features"]
        .as_array()
        .expect("an interaction matrix")
        .iter()
        .map(|j| j.as_u64().expect("an index") as usize)
        .collect();
    assert_eq!(chosen.len(), features.min(30));
    // The matrix's features are the most important ones, in the dependence plots' order.
    for (n, &j) in chosen.iter().enumerate() {
        assert_eq!(summary["dependence"]["features"][n]["feature"], j);
    }
    assert_eq!(matrix["mean_abs"].as_array().map(Vec::len), Some(outputs));
    for o in 0..outputs {
        for (a, &i) in chosen.iter().enumerate() {
            for (b, &j) in chosen.iter().enumerate() {
                close(
                    &matrix["mean_abs"][o][a][b],
                    mean_abs(&lines, features, o, i, j),
                );
            }
        }
    }
    // Each partner has the largest mean |interaction| with its feature (itself excluded).
    assert!(
        summary["dependence"]["partner_method"]
            .as_str()
            .is_some_and(|m| m.contains("interaction values"))
    );
    for plot in summary["dependence"]["features"].as_array().expect("plots") {
        let j = plot["feature"].as_u64().expect("an index") as usize;
        for o in 0..outputs {
            let means: Vec<f64> = (0..features)
                .map(|p| {
                    if p == j {
                        0.0
                    } else {
                        mean_abs(&lines, features, o, j, p)
                    }
                })
                .collect();
            let best = means.iter().copied().fold(0.0, f64::max);
            let out = &plot["outputs"][o];
            if best == 0.0 {
                assert_eq!(out["partner"], Value::Null);
                continue;
            }
            let partner = out["partner"].as_u64().expect("a partner") as usize;
            assert_eq!(means[partner], best, "feature {j}, output {o}");
            close(&out["partner_score"], best);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_interaction_job_equals_shaplab_explain_interactions() {
    an_interaction_job_matches_the_cli("xgb_binary_d6", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multiclass_interaction_job_equals_shaplab_explain_interactions_per_class() {
    an_interaction_job_matches_the_cli("xgb_multi_d4", 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactions_with_a_background_or_probability_output_are_refused_with_what_to_change() {
    let redis = Backend::start();
    let app = app(&redis, 16, 0).await;
    let (model, data) = upload_fixture(&app, "xgb_binary_d6").await;
    let cases = [
        (
            json!({"model": model, "data": data, "interactions": true, "background_rows": 50}),
            "background_rows",
        ),
        (
            json!({"model": model, "data": data, "interactions": true, "output": "probability"}),
            "\"output\": \"raw\"",
        ),
    ];
    for (body, hint) in cases {
        let (status, error) = submit_body(&app, &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {error}");
        assert_eq!(error["code"], "unsupported", "{error}");
        assert!(
            error["message"].as_str().is_some_and(|m| m.contains(hint)),
            "{error}"
        );
    }
    let depths = app.queue.depths().await.expect("redis is up");
    assert_eq!(depths.ready, 0, "nothing was queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactions_csv_is_409_while_the_job_waits_and_404_for_a_job_without_them() {
    let redis = Backend::start();
    // No workers: the job stays queued.
    let app = app(&redis, 16, 0).await;
    let (model, data) = upload_fixture(&app, "xgb_binary_d6").await;
    let (_, job) = submit_body(
        &app,
        &json!({"model": model, "data": data, "interactions": true}),
    )
    .await;
    let waiting = job["id"].as_str().expect("an id");
    let (status, error) = get_json(&app, &format!("/api/jobs/{waiting}/interactions.csv")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    assert_eq!(error["code"], "job_not_finished");

    // A job without interactions: 404 whatever its state, saying how to get them.
    let (_, job) = submit_body(&app, &json!({"model": model, "data": data})).await;
    let plain = job["id"].as_str().expect("an id");
    let (status, error) = get_json(&app, &format!("/api/jobs/{plain}/interactions.csv")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    assert_eq!(error["code"], "no_interactions");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("\"interactions\": true")),
        "{error}"
    );
    // Its summary has no matrix and says the partner is the proxy.
    let (_, summary) = get_json(&app, &format!("/api/jobs/{plain}/summary")).await;
    assert_eq!(summary["interactions"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactions_csv_is_410_once_the_job_ended_more_than_result_ttl_ago() {
    let redis = Backend::start();
    let ttl = Duration::from_secs(2);
    let url = redis.url();
    let jobs = server::jobs::JobsConfig {
        chunk_rows: 16,
        result_ttl: ttl,
        ..server::jobs::JobsConfig::default()
    };
    let app = TestApp::spawn_with_config(&url, redis.settings(), jobs, 2).await;
    let (model, data) = upload_fixture(&app, "xgb_binary_d6").await;
    let (_, job) = submit_body(
        &app,
        &json!({"model": model, "data": data, "interactions": true}),
    )
    .await;
    let id = job["id"].as_str().expect("an id").to_owned();
    wait_for_success(&app, &id, Duration::from_secs(60)).await;
    let path = format!("/api/jobs/{id}/interactions.csv");
    let (status, _) = get(&app, &path).await;
    assert_eq!(status, StatusCode::OK);

    let (_, job) = get_json(&app, &format!("/api/jobs/{id}")).await;
    let finished = job["finished_at_ms"].as_u64().expect("ended");
    let wait = (finished + ttl.as_millis() as u64).saturating_sub(server::redis::pool::now_ms());
    tokio::time::sleep(Duration::from_millis(wait + 50)).await;
    let (status, error) = get_json(&app, &path).await;
    assert_eq!(status, StatusCode::GONE, "{error}");
    assert_eq!(error["code"], "result_expired");
}
