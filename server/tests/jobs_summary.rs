//! The result endpoints the plots read: `/summary` (bounded aggregates from the finished
//! chunks, partial while the job runs) and `/rows/{i}` (one row on demand). Real
//! redis-server, real fixtures, real engine; values are checked against `shaplab explain`'s
//! CSV and the data CSV.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use server::queue::JobId;
use std::time::{Duration, Instant};
use support::backend::Backend;
use support::fixture;
use support::jobs::{app, cli_rows, get, get_json, manual_worker, submit_job, wait_for_success};

/// Mean |SHAP| per output and feature over `rows` of the CLI's lines.
fn mean_abs(lines: &[Vec<f64>], rows: &[usize], features: usize, outputs: usize) -> Vec<Vec<f64>> {
    (0..outputs)
        .map(|o| {
            (0..features)
                .map(|j| {
                    let sum: f64 = rows
                        .iter()
                        .map(|&r| lines[r][o * (features + 1) + j].abs())
                        .sum();
                    sum / rows.len() as f64
                })
                .collect()
        })
        .collect()
}

fn assert_close(got: &Value, want: &[Vec<f64>], rel: f64) {
    let got = got.as_array().expect("per output");
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        let g = g.as_array().expect("per feature");
        assert_eq!(g.len(), w.len());
        for (a, b) in g.iter().zip(w) {
            let a = a.as_f64().expect("a number");
            assert!(
                (a - b).abs() <= rel * b.abs().max(f64::MIN_POSITIVE),
                "{a} vs {b}"
            );
        }
    }
}

/// Equal up to a few units in the last place. The server sends round-trip decimals, but
/// serde_json's default float parser (no `float_roundtrip` feature) may land one ULP off.
fn ulps(got: Option<f64>, want: f64) {
    let got = got.expect("a number");
    assert!(
        (got - want).abs() <= 4.0 * f64::EPSILON * want.abs(),
        "{got} vs {want}"
    );
}

/// Checks a finished job's summary against the CLI on the fixture `name`.
async fn finished_summary_matches_the_cli(name: &str, outputs: usize) {
    let redis = Backend::start();
    let app = app(&redis, 16, 2).await;
    let data = std::fs::read(fixture(&format!("{name}/data.csv"))).expect("fixture");
    let id = submit_job(&app, name, data).await;
    wait_for_success(&app, &id, Duration::from_secs(60)).await;

    let (status, bytes) = get(&app, &format!("/api/jobs/{id}/summary")).await;
    assert_eq!(status, StatusCode::OK);
    let summary: Value = serde_json::from_slice(&bytes).expect("JSON");
    let lines = cli_rows(
        &fixture(&format!("{name}/model.json")),
        &fixture(&format!("{name}/data.csv")),
    )
    .await;
    let features = summary["features"].as_array().expect("names").len();
    assert_eq!(summary["partial"], false);
    assert_eq!(summary["outputs"], outputs);
    assert_eq!(summary["rows_covered"], lines.len());
    assert_eq!(summary["rows_total"], lines.len());
    let all: Vec<usize> = (0..lines.len()).collect();
    assert_close(
        &summary["mean_abs_shap"],
        &mean_abs(&lines, &all, features, outputs),
        1e-9,
    );
    // Fewer rows than the sample: every row is a dot.
    assert_eq!(summary["beeswarm"]["size"], lines.len());
    assert_eq!(summary["dependence"]["size"], lines.len());
    for h in summary["predictions"].as_array().expect("per output") {
        let counts: u64 = h["counts"]
            .as_array()
            .expect("bins")
            .iter()
            .map(|c| c.as_u64().expect("a count"))
            .sum();
        assert_eq!(counts, lines.len() as u64);
        assert_eq!(h["counts"].as_array().map(Vec::len), Some(40));
    }
    // A beeswarm dot carries the CLI's SHAP value (as f32).
    let row = summary["beeswarm"]["rows"][0].as_u64().expect("a row") as usize;
    let j = summary["beeswarm"]["features"][0]
        .as_u64()
        .expect("a feature") as usize;
    let dot = summary["beeswarm"]["shap"][0][0][0]
        .as_f64()
        .expect("a value");
    assert!((dot - lines[row][j]).abs() <= 1e-6 * lines[row][j].abs().max(1e-6));

    // The second poll is served from the cache, byte for byte.
    let (_, again) = get(&app, &format!("/api/jobs/{id}/summary")).await;
    assert_eq!(again, bytes);

    // A browser (Accept-Encoding: gzip) gets the stored gzip of the same bytes, and the same
    // stored gzip again on the next poll (not compressed anew per request).
    let gzipped = || async {
        let response = reqwest::Client::new()
            .get(app.url(&format!("/api/jobs/{id}/summary")))
            .header("accept-encoding", "gzip, br")
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.headers()["content-encoding"], "gzip");
        assert_eq!(response.headers()["vary"], "accept-encoding");
        response.bytes().await.expect("a body").to_vec()
    };
    let (gz, gz_again) = (gzipped().await, gzipped().await);
    assert_eq!(gz, gz_again);
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut unzipped)
        .expect("valid gzip");
    assert_eq!(unzipped, bytes);
    assert!(
        gz.len() * 3 < bytes.len(),
        "{} vs {}",
        gz.len(),
        bytes.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_binary_jobs_summary_has_the_clis_mean_abs_shap() {
    finished_summary_matches_the_cli("xgb_binary_d6", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_multiclass_jobs_summary_has_the_clis_mean_abs_shap_per_class() {
    finished_summary_matches_the_cli("xgb_multi_d4", 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_summary_while_chunks_remain_is_partial_and_covers_only_the_finished_ones() {
    let redis = Backend::start();
    // No embedded workers: the test steps one by hand. 60 rows in chunks of 16: 4 chunks.
    let app = app(&redis, 16, 0).await;
    let data = std::fs::read(fixture("xgb_binary_d6/data.csv")).expect("fixture");
    let id = submit_job(&app, "xgb_binary_d6", data).await;

    let (status, empty) = get_json(&app, &format!("/api/jobs/{id}/summary")).await;
    assert_eq!(status, StatusCode::OK, "{empty}");
    assert_eq!(
        (empty["partial"].clone(), empty["rows_covered"].clone()),
        (json!(true), json!(0))
    );
    let (status, error) = get_json(&app, &format!("/api/jobs/{id}/rows/0")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    assert_eq!(error["code"], "job_not_finished");

    let worker = manual_worker(&app);
    for _ in 0..2 {
        let outcome = worker.try_execute_task().await.expect("redis is up");
        assert_eq!(outcome.name(), "completed");
    }

    let job = JobId::parse(&id).expect("a job id");
    let results = app.queue.chunk_results(&job).await.expect("redis is up");
    let covered: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_some())
        .flat_map(|(c, _)| (c * 16..(c * 16 + 16).min(60)).collect::<Vec<_>>())
        .collect();
    assert_eq!(covered.len(), 32);
    let (status, summary) = get_json(&app, &format!("/api/jobs/{id}/summary")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary["partial"], true);
    assert_eq!(summary["rows_covered"], 32);
    assert_eq!(summary["chunks_done"], 2);
    assert_eq!(summary["beeswarm"]["size"], 32);
    let lines = cli_rows(
        &fixture("xgb_binary_d6/model.json"),
        &fixture("xgb_binary_d6/data.csv"),
    )
    .await;
    assert_close(
        &summary["mean_abs_shap"],
        &mean_abs(&lines, &covered, 30, 1),
        1e-9,
    );
    // Rows of a finished chunk answer; rows of a chunk still queued are 409.
    let waiting = (0..60)
        .find(|r| !covered.contains(r))
        .expect("a waiting row");
    let (status, _) = get_json(&app, &format!("/api/jobs/{id}/rows/{}", covered[0])).await;
    assert_eq!(status, StatusCode::OK);
    let (status, error) = get_json(&app, &format!("/api/jobs/{id}/rows/{waiting}")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    assert_eq!(error["code"], "job_not_finished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_has_the_clis_shap_line_the_data_csvs_values_and_the_models_prediction() {
    let redis = Backend::start();
    let app = app(&redis, 16, 2).await;
    for (name, outputs) in [("xgb_binary_d6", 1usize), ("xgb_multi_d4", 3)] {
        let data_path = fixture(&format!("{name}/data.csv"));
        let id = submit_job(&app, name, std::fs::read(&data_path).expect("fixture")).await;
        wait_for_success(&app, &id, Duration::from_secs(60)).await;
        let lines = cli_rows(&fixture(&format!("{name}/model.json")), &data_path).await;
        let data = std::fs::read_to_string(&data_path).expect("fixture");
        let data: Vec<Vec<&str>> = data
            .lines()
            .skip(1)
            .map(|l| l.split(',').collect())
            .collect();
        let margins =
            std::fs::read_to_string(fixture(&format!("{name}/margin.csv"))).expect("fixture");
        let probs =
            std::fs::read_to_string(fixture(&format!("{name}/prediction.csv"))).expect("fixture");
        let numbers = |line: &str| -> Vec<f64> {
            line.split(',')
                .map(|c| c.parse().expect("a number"))
                .collect()
        };
        for i in [0usize, 17, 59] {
            let (status, row) = get_json(&app, &format!("/api/jobs/{id}/rows/{i}")).await;
            assert_eq!(status, StatusCode::OK, "{row}");
            assert_eq!(row["row"], i);
            let features = row["features"].as_array().expect("features");
            let f = features.len();
            for (j, feature) in features.iter().enumerate() {
                let cell = data[i][j].trim();
                match cell {
                    "" => assert!(feature["value"].is_null(), "{feature}"),
                    text => ulps(feature["value"].as_f64(), text.parse().expect("a number")),
                }
                for o in 0..outputs {
                    ulps(feature["shap"][o].as_f64(), lines[i][o * (f + 1) + j]);
                }
            }
            for o in 0..outputs {
                ulps(row["base_values"][o].as_f64(), lines[i][o * (f + 1) + f]);
            }
            // XGBoost's own margins and probabilities (stored as f32): within f32 rounding.
            let want_margin = numbers(margins.lines().nth(i).expect("a line"));
            let want_prob = numbers(probs.lines().nth(i).expect("a line"));
            for o in 0..outputs {
                let m = row["predictions"]["margin"][o].as_f64().expect("a margin");
                let p = row["predictions"]["probability"][o]
                    .as_f64()
                    .expect("a probability");
                assert!(
                    (m - want_margin[o]).abs() < 1e-5,
                    "{m} vs {}",
                    want_margin[o]
                );
                assert!((p - want_prob[o]).abs() < 1e-6, "{p} vs {}", want_prob[o]);
            }
        }

        let (status, error) = get_json(&app, &format!("/api/jobs/{id}/rows/60")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
        assert_eq!(error["code"], "row_not_found");
        let (status, error) = get_json(&app, &format!("/api/jobs/{id}/rows/first")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
        assert_eq!(error["code"], "row_not_found");
    }
    for path in [
        "/api/jobs/p0-0123456789abcdef01234567/rows/0",
        "/api/jobs/p0-0123456789abcdef01234567/summary",
        "/api/jobs/not-a-job/summary",
    ] {
        let (status, error) = get_json(&app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(error["code"], "job_not_found");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_of_a_twenty_thousand_row_job_stays_under_two_megabytes() {
    let redis = Backend::start();
    // 20,000 rows (the fixture's 60 repeated) in 10 chunks of 2,000.
    let app = app(&redis, 2_000, 2).await;
    let text = std::fs::read_to_string(fixture("xgb_multi_d4/data.csv")).expect("fixture");
    let mut lines = text.lines();
    let header = lines.next().expect("a header");
    let rows: Vec<&str> = lines.collect();
    let mut big = format!("{header}\n");
    for i in 0..20_000 {
        big.push_str(rows[i % rows.len()]);
        big.push('\n');
    }
    let id = submit_job(&app, "xgb_multi_d4", big.into_bytes()).await;
    wait_for_success(&app, &id, Duration::from_secs(240)).await;

    let start = Instant::now();
    let (status, bytes) = get(&app, &format!("/api/jobs/{id}/summary")).await;
    let took = start.elapsed();
    assert_eq!(status, StatusCode::OK);
    println!(
        "summary of 20,000 rows × 13 features × 3 classes: {} bytes in {took:?}",
        bytes.len()
    );
    assert!(bytes.len() < 2 << 20, "{} bytes", bytes.len());
    let summary: Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_eq!(summary["rows_covered"], 20_000);
    assert_eq!(summary["partial"], false);
    // 13 features, 3 outputs: the beeswarm shows 12 features, each dot with its value, SHAP
    // per output and prediction per output: 60,000 / (12 × 4 + 3) = 1,176 dots each.
    // Dependence: 60,000 / (13 × 7) = 659 points per scatter.
    let bee = &summary["beeswarm"];
    assert_eq!(bee["size"], 1_176);
    assert_eq!(bee["rows"].as_array().map(Vec::len), Some(1_176));
    assert_eq!(bee["values"][0].as_array().map(Vec::len), Some(1_176));
    assert_eq!(bee["shap"][2][11].as_array().map(Vec::len), Some(1_176));
    assert_eq!(bee["prediction"][2].as_array().map(Vec::len), Some(1_176));
    let dep = &summary["dependence"];
    assert_eq!(dep["size"], 659);
    assert_eq!(dep["features"].as_array().map(Vec::len), Some(13));
    assert_eq!(dep["features"][0]["x"].as_array().map(Vec::len), Some(659));
    assert!(
        dep["features"][0]["outputs"][0]["partner"].is_u64(),
        "the most important feature has a partner: {}",
        dep["features"][0]["outputs"][0]
    );

    let start = Instant::now();
    let (_, again) = get(&app, &format!("/api/jobs/{id}/summary")).await;
    println!("cached poll: {:?}", start.elapsed());
    assert_eq!(again, bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_that_finishes_a_job_leaves_its_summary_in_the_cache() {
    let redis = Backend::start();
    // 5,000 rows (the fixture's 60 repeated) in 5 chunks of 1,000.
    let app = app(&redis, 1_000, 2).await;
    let text = std::fs::read_to_string(fixture("xgb_binary_d6/data.csv")).expect("fixture");
    let mut lines = text.lines();
    let header = lines.next().expect("a header");
    let rows: Vec<&str> = lines.collect();
    let mut big = format!("{header}\n");
    for i in 0..5_000 {
        big.push_str(rows[i % rows.len()]);
        big.push('\n');
    }
    let id = submit_job(&app, "xgb_binary_d6", big.into_bytes()).await;
    wait_for_success(&app, &id, Duration::from_secs(120)).await;

    // Nobody asked for the summary, yet it appears in the cache.
    let job = JobId::parse(&id).expect("a job id");
    let status = app.queue.job(&job).await.expect("the job");
    let spec = server::jobs::spec::JobSpec::parse(status.payload.as_str()).expect("a spec");
    let cached = app
        .data_dir
        .join("blobs")
        .join(&spec.results)
        .join("summary-000005.json");
    let start = Instant::now();
    while !cached.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no warmed summary at {}",
            cached.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "summary warmed {:?} after the job succeeded",
        start.elapsed()
    );
    // (The local store writes a temporary file and renames it: a visible file is complete.)

    let start = Instant::now();
    let (status, bytes) = get(&app, &format!("/api/jobs/{id}/summary")).await;
    let warm = start.elapsed();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, std::fs::read(&cached).expect("the cached summary"));
    let summary: Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_eq!(summary["rows_covered"], 5_000);
    assert_eq!(summary["partial"], false);

    // For comparison: the same summary computed on demand.
    std::fs::remove_file(&cached).expect("remove the cache");
    let start = Instant::now();
    let (_, computed) = get(&app, &format!("/api/jobs/{id}/summary")).await;
    println!(
        "first /summary of 5,000 rows: {warm:?} warmed, {:?} computed on demand",
        start.elapsed()
    );
    assert_eq!(computed, bytes);
}
