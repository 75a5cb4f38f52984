//! `GET /api/compare?a=..&b=..`: two jobs with the same features side by side. The same model
//! on two datasets (all rows, and the first 20): importance and mean SHAP equal the CLI's
//! values averaged over each dataset, the shift is their difference; jobs with different
//! features, or a bad query, are refused naming what to change.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use support::backend::Backend;
use support::jobs::{app, cli_rows, get_json, submit_body, wait_for_success};
use support::{TestApp, fixture, temp_dir, upload_to};

async fn job(app: &TestApp, model: &str, data: Vec<u8>) -> String {
    let m = upload_to(
        &app.url(""),
        "model",
        "model",
        std::fs::read(fixture(model)).unwrap(),
    )
    .await;
    let d = upload_to(&app.url(""), "data", "data.csv", data).await;
    let (status, job) = submit_body(app, &json!({"model": m, "data": d})).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let id = job["id"].as_str().unwrap().to_owned();
    wait_for_success(app, &id, Duration::from_secs(60)).await;
    id
}

/// Per feature, the mean and mean |.| of the CLI's SHAP values for `csv` (one output).
async fn cli_means(model: &str, csv: &str) -> (Vec<f64>, Vec<f64>) {
    let dir = temp_dir("compare");
    let file = dir.join("data.csv");
    std::fs::write(&file, csv).unwrap();
    let rows = cli_rows(&fixture(model), &file).await;
    let _ = std::fs::remove_dir_all(&dir);
    let f = rows[0].len() - 1;
    let n = rows.len() as f64;
    let mean = (0..f)
        .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n)
        .collect();
    let abs = (0..f)
        .map(|j| rows.iter().map(|r| r[j].abs()).sum::<f64>() / n)
        .collect();
    (mean, abs)
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64()
        .is_some_and(|a| (a - b).abs() <= 1e-9 * (1.0 + b.abs()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_datasets_compare_by_importance_mean_shap_shift_and_predictions() {
    let redis = Backend::start();
    let app = app(&redis, 25, 2).await;
    let model = "xgb_reg_d3/model.json";
    let all = std::fs::read_to_string(fixture("xgb_reg_d3/data.csv")).unwrap();
    let first: String = all.lines().take(21).map(|l| format!("{l}\n")).collect();
    let a = job(&app, model, all.clone().into_bytes()).await;
    let b = job(&app, model, first.clone().into_bytes()).await;

    let (status, c) = get_json(&app, &format!("/api/compare?a={a}&b={b}")).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["a"]["id"], a.as_str());
    assert_eq!(c["b"]["rows_covered"], 20);
    assert_eq!(c["outputs"], 1);
    let header: Vec<&str> = all.lines().next().unwrap().split(',').collect();
    let (mean_a, abs_a) = cli_means(model, &all).await;
    let (mean_b, abs_b) = cli_means(model, &first).await;
    let features = c["features"][0].as_array().unwrap();
    assert_eq!(features.len(), header.len());
    for f in features {
        let j = header.iter().position(|h| *h == f["name"]).unwrap();
        assert!(close(&f["mean_abs_a"], abs_a[j]), "{f} vs {}", abs_a[j]);
        assert!(close(&f["mean_abs_b"], abs_b[j]), "{f} vs {}", abs_b[j]);
        assert!(close(&f["mean_a"], mean_a[j]), "{f} vs {}", mean_a[j]);
        assert!(close(&f["shift"], mean_b[j] - mean_a[j]), "{f}");
    }
    // Most important in either job first.
    let key = |f: &Value| {
        f["mean_abs_a"]
            .as_f64()
            .unwrap()
            .max(f["mean_abs_b"].as_f64().unwrap())
    };
    assert!(features.windows(2).all(|w| key(&w[0]) >= key(&w[1])));
    let counts = |side: &str| -> u64 {
        c[side]["predictions"][0]["counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .sum()
    };
    assert_eq!(
        (counts("a"), counts("b")),
        (all.lines().count() as u64 - 1, 20)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_with_other_features_and_bad_queries_are_refused_naming_the_problem() {
    let redis = Backend::start();
    let app = app(&redis, 25, 2).await;
    let a = job(
        &app,
        "xgb_reg_d3/model.json",
        std::fs::read(fixture("xgb_reg_d3/data.csv")).unwrap(),
    )
    .await;
    let b = job(
        &app,
        "lgb_cat_binary/model.txt",
        std::fs::read(fixture("lgb_cat_binary/data.csv")).unwrap(),
    )
    .await;
    let (status, error) = get_json(&app, &format!("/api/compare?a={a}&b={b}")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["code"], "invalid_request");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("different features") && message.contains("city"),
        "{message}"
    );

    for (query, words) in [
        (format!("a={a}"), "give both jobs"),
        (
            format!("a={a}&b={a}&c=1"),
            "unexpected or repeated parameter \"c\"",
        ),
    ] {
        let (status, error) = get_json(&app, &format!("/api/compare?{query}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert!(
            error["message"].as_str().unwrap().contains(words),
            "{error}"
        );
    }
    let (status, error) = get_json(&app, &format!("/api/compare?a={a}&b=nosuchjob")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    assert_eq!(error["code"], "job_not_found");
}
