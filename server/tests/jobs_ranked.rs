//! `GET /api/jobs/{id}/ranked`: the top rows by prediction or by one feature's SHAP value,
//! over the finished chunks. Real redis-server, real fixtures, real engine; every ranking is
//! checked against one computed here from `shaplab explain`'s CSV (and the top row's
//! prediction against `/rows/{i}`, which predicts with the model itself).

mod support;

use reqwest::StatusCode;
use serde_json::Value;
use server::blobs::BlobStore;
use server::jobs::rank_query::{FeatureRef, Order, RankBy, RankQuery};
use server::jobs::ranked::{Shape, rank_chunks};
use server::jobs::read::DoneChunk;
use std::time::{Duration, Instant};
use support::backend::Backend;
use support::fixture;
use support::jobs::{app, cli_rows, get_json, manual_worker, submit_job, wait_for_success};

/// Base + ΣSHAP of output `o` for each CLI line (`f` features).
fn predictions(lines: &[Vec<f64>], f: usize, o: usize) -> Vec<f64> {
    lines
        .iter()
        .map(|l| l[o * (f + 1)..(o + 1) * (f + 1)].iter().sum())
        .collect()
}

/// The expected ranking of `rows` by `score`: (row, score), best first, ties by row.
fn expected(
    rows: impl Iterator<Item = usize>,
    score: &[f64],
    desc: bool,
    limit: usize,
) -> Vec<(u64, f64)> {
    let mut all: Vec<(u64, f64)> = rows.map(|r| (r as u64, score[r])).collect();
    all.sort_by(|a, b| {
        let by = if desc {
            b.1.total_cmp(&a.1)
        } else {
            a.1.total_cmp(&b.1)
        };
        by.then(a.0.cmp(&b.0))
    });
    all.truncate(limit);
    all
}

/// The (row, number) pairs of a ranking, `field` being `prediction` or `shap`.
fn pairs(ranked: &Value, field: &str) -> Vec<(u64, f64)> {
    ranked["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["row"].as_u64().expect("a row"),
                r[field].as_f64().expect("a number"),
            )
        })
        .collect()
}

/// Same rows in the same order, numbers equal up to summation order (1e-12 relative).
fn assert_same(got: &[(u64, f64)], want: &[(u64, f64)]) {
    assert_eq!(
        got.iter().map(|p| p.0).collect::<Vec<_>>(),
        want.iter().map(|p| p.0).collect::<Vec<_>>(),
        "rows differ: got {got:?}, want {want:?}"
    );
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g.1 - w.1).abs() <= 1e-12 * w.1.abs().max(1.0),
            "{g:?} vs {w:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_jobs_rankings_match_the_clis_values() {
    let redis = Backend::start();
    let app = app(&redis, 16, 2).await;

    // Binary (30 features, 1 output), 60 rows in 4 chunks.
    let name = "xgb_binary_d6";
    let id = submit_job(
        &app,
        name,
        std::fs::read(fixture(&format!("{name}/data.csv"))).expect("fixture"),
    )
    .await;
    wait_for_success(&app, &id, Duration::from_secs(60)).await;
    let lines = cli_rows(
        &fixture(&format!("{name}/model.json")),
        &fixture(&format!("{name}/data.csv")),
    )
    .await;
    let pred = predictions(&lines, 30, 0);

    let (status, ranked) = get_json(&app, &format!("/api/jobs/{id}/ranked")).await;
    assert_eq!(status, StatusCode::OK, "{ranked}");
    assert_eq!(ranked["by"], "prediction");
    assert_eq!(ranked["order"], "desc");
    assert_eq!(ranked["output"], 0);
    assert_eq!(ranked["partial"], false);
    assert_eq!(ranked["rows_covered"], 60);
    assert!(ranked["feature"].is_null());
    assert!(ranked["rows"][0]["shap"].is_null());
    assert_same(
        &pairs(&ranked, "prediction"),
        &expected(0..60, &pred, true, 20),
    );

    // The top row's prediction is the model's own margin for that row (from /rows/{i}).
    let top = ranked["rows"][0]["row"].as_u64().expect("a row");
    let (_, row) = get_json(&app, &format!("/api/jobs/{id}/rows/{top}")).await;
    let margin = row["predictions"]["margin"][0].as_f64().expect("a margin");
    let ours = ranked["rows"][0]["prediction"]
        .as_f64()
        .expect("a prediction");
    assert!(
        (ours - margin).abs() < 1e-9 * margin.abs().max(1.0),
        "{ours} vs {margin}"
    );

    // Lowest predictions; a limit past the row count returns every row.
    let (_, asc) = get_json(&app, &format!("/api/jobs/{id}/ranked?order=asc&limit=1000")).await;
    assert_same(
        &pairs(&asc, "prediction"),
        &expected(0..60, &pred, false, 60),
    );

    // By one feature's SHAP value, ascending, with each row's prediction alongside.
    let shap5: Vec<f64> = lines.iter().map(|l| l[5]).collect();
    let (status, by_shap) = get_json(
        &app,
        &format!("/api/jobs/{id}/ranked?by=shap&feature=5&order=asc&limit=7"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{by_shap}");
    assert_eq!(by_shap["feature"], 5);
    let want = expected(0..60, &shap5, false, 7);
    assert_same(&pairs(&by_shap, "shap"), &want);
    let with_pred: Vec<(u64, f64)> = want.iter().map(|&(r, _)| (r, pred[r as usize])).collect();
    assert_same(&pairs(&by_shap, "prediction"), &with_pred);

    // Multiclass (13 features, 3 classes): class 2, by SHAP of a feature named in the query.
    let name = "xgb_multi_d4";
    let id = submit_job(
        &app,
        name,
        std::fs::read(fixture(&format!("{name}/data.csv"))).expect("fixture"),
    )
    .await;
    wait_for_success(&app, &id, Duration::from_secs(60)).await;
    let lines = cli_rows(
        &fixture(&format!("{name}/model.json")),
        &fixture(&format!("{name}/data.csv")),
    )
    .await;
    // flavanoids is feature 6; class 2's cells start at 2 × 14 = 28.
    let shap: Vec<f64> = lines.iter().map(|l| l[28 + 6]).collect();
    let (status, ranked) = get_json(
        &app,
        &format!("/api/jobs/{id}/ranked?by=shap&feature=flavanoids&output=2&limit=10"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ranked}");
    assert_eq!(ranked["feature"], 6);
    assert_eq!(ranked["output"], 2);
    assert_same(&pairs(&ranked, "shap"), &expected(0..60, &shap, true, 10));
    let pred2 = predictions(&lines, 13, 2);
    let (_, ranked) = get_json(&app, &format!("/api/jobs/{id}/ranked?output=2&limit=200")).await;
    assert_same(
        &pairs(&ranked, "prediction"),
        &expected(0..60, &pred2, true, 60),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ranking_while_chunks_remain_covers_only_the_finished_rows() {
    let redis = Backend::start();
    // No embedded workers: the test steps two of the four chunks by hand.
    let app = app(&redis, 16, 0).await;
    let name = "xgb_binary_d6";
    let id = submit_job(
        &app,
        name,
        std::fs::read(fixture(&format!("{name}/data.csv"))).expect("fixture"),
    )
    .await;

    let (status, empty) = get_json(&app, &format!("/api/jobs/{id}/ranked")).await;
    assert_eq!(status, StatusCode::OK, "{empty}");
    assert_eq!(empty["partial"], true);
    assert_eq!(empty["rows_covered"], 0);
    assert_eq!(empty["rows"].as_array().map(Vec::len), Some(0));

    let worker = manual_worker(&app);
    for _ in 0..2 {
        let outcome = worker.try_execute_task().await.expect("redis is up");
        assert_eq!(outcome.name(), "completed");
    }
    let job = server::queue::JobId::parse(&id).expect("a job id");
    let results = app.queue.chunk_results(&job).await.expect("redis is up");
    let covered: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_some())
        .flat_map(|(c, _)| c * 16..(c * 16 + 16).min(60))
        .collect();
    assert_eq!(covered.len(), 32);

    let lines = cli_rows(
        &fixture(&format!("{name}/model.json")),
        &fixture(&format!("{name}/data.csv")),
    )
    .await;
    let pred = predictions(&lines, 30, 0);
    let (status, ranked) = get_json(&app, &format!("/api/jobs/{id}/ranked?limit=50")).await;
    assert_eq!(status, StatusCode::OK, "{ranked}");
    assert_eq!(ranked["partial"], true);
    assert_eq!(ranked["rows_covered"], 32);
    assert_same(
        &pairs(&ranked, "prediction"),
        &expected(covered.iter().copied(), &pred, true, 50),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ranking_parameters_are_422_with_a_message_naming_the_problem() {
    let redis = Backend::start();
    let app = app(&redis, 16, 0).await;
    let name = "xgb_binary_d6";
    let id = submit_job(
        &app,
        name,
        std::fs::read(fixture(&format!("{name}/data.csv"))).expect("fixture"),
    )
    .await;
    for (query, words) in [
        ("by=shap&feature=30", "out of range"),
        ("by=shap&feature=height", "not one of the model's features"),
        ("output=1", "out of range"),
        ("by=shap", "feature"),
        ("by=loss", "prediction"),
        ("order=up", "desc"),
        ("limit=0", "at least one row"),
        ("limit=ten", "limit"),
        ("oder=asc", "unknown parameter"),
    ] {
        let (status, error) = get_json(&app, &format!("/api/jobs/{id}/ranked?{query}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {error}");
        assert_eq!(error["code"], "invalid_request", "{query}");
        let message = error["message"].as_str().expect("a message");
        assert!(message.contains(words), "{query}: {message}");
    }
    let (status, error) = get_json(&app, "/api/jobs/p0-0123456789abcdef01234567/ranked").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["code"], "job_not_found");
}

/// A fixed pseudo-random value in (-1, 1) for row `r`, feature `j` (SplitMix64-style mix).
fn value(r: u64, j: u64) -> f64 {
    let mut z = r.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ j.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    // Three decimals keep the blobs small (and every sum exact enough to compare).
    ((z % 2_000) as f64 - 999.5) / 1_000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_row_ranking_streams_over_the_chunks() {
    // 1,000,000 rows × 4 features × 2 outputs in 200 chunk blobs of 5,000 rows, written here
    // in the workers' format; the ranking reads them one at a time.
    const ROWS: u64 = 1_000_000;
    const CHUNK: u64 = 5_000;
    let (f, k) = (4usize, 2usize);
    let dir = support::temp_dir("ranked-1m");
    let blobs = BlobStore::local(&dir).expect("blob dir");
    let mut done = Vec::new();
    let mut pred1 = Vec::with_capacity(ROWS as usize);
    let mut shap = Vec::with_capacity(ROWS as usize);
    for (index, start) in (0..ROWS).step_by(CHUNK as usize).enumerate() {
        let end = (start + CHUNK).min(ROWS);
        let mut text = String::with_capacity((end - start) as usize * 64);
        for r in start..end {
            let cells: Vec<f64> = (0..(k * (f + 1)) as u64).map(|c| value(r, c)).collect();
            pred1.push(cells[f + 1..].iter().sum::<f64>());
            shap.push(cells[f + 1 + 2]);
            let line: Vec<String> = cells.iter().map(|c| c.to_string()).collect();
            text.push_str(&line.join(","));
            text.push('\n');
        }
        let key = format!("jobs/big/rows-{start:012}-{end:012}.csv");
        blobs
            .put_bytes(&key, text.into_bytes())
            .await
            .expect("write a chunk");
        done.push(DoneChunk {
            index,
            start,
            end,
            key,
        });
    }
    let shape = Shape {
        features: f,
        outputs: k,
        names: (0..f).map(|j| format!("f{j}")).collect(),
    };
    let query = |by, order, feature| RankQuery {
        by,
        feature,
        output: 1,
        order,
        limit: 200,
        cohort: String::new(),
    };

    let start = Instant::now();
    let (covered, rows) = rank_chunks(
        &blobs,
        &done,
        &shape,
        &query(RankBy::Prediction, Order::Desc, None),
    )
    .await
    .expect("ranks");
    let took = start.elapsed();
    println!("ranked 1,000,000 rows × {f} features × {k} outputs (200 chunks) in {took:?}");
    assert_eq!(covered, ROWS);
    let got: Vec<(u64, f64)> = rows.iter().map(|r| (r.row, r.prediction)).collect();
    assert_same(&got, &expected(0..ROWS as usize, &pred1, true, 200));

    let feature = Some(FeatureRef::Index(2));
    let (_, rows) = rank_chunks(
        &blobs,
        &done,
        &shape,
        &query(RankBy::Shap, Order::Asc, feature),
    )
    .await
    .expect("ranks");
    let got: Vec<(u64, f64)> = rows
        .iter()
        .map(|r| (r.row, r.shap.expect("a SHAP value")))
        .collect();
    assert_same(&got, &expected(0..ROWS as usize, &shap, false, 200));
    let _ = std::fs::remove_dir_all(&dir);
}
