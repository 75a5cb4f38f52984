//! `GET /api/jobs/{id}/report.html`: one self-contained HTML file (no script, no external
//! reference, a CSP forbidding any) holding the inputs with their SHA-256, the options, the
//! additivity check, the plots, chosen rows' waterfalls and a cohort comparison.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use support::backend::Backend;
use support::jobs::{app, get, get_json, submit_body, wait_for_success};
use support::{TestApp, fixture, upload_record_to};

async fn record(app: &TestApp, kind: &str, path: &str) -> Value {
    let bytes = std::fs::read(fixture(path)).unwrap();
    let name = path.rsplit('/').next().unwrap();
    upload_record_to(&app.url(""), kind, name, bytes).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_is_one_self_contained_file_with_inputs_checks_plots_rows_and_cohorts() {
    let redis = Backend::start();
    let app = app(&redis, 25, 2).await;
    let model = record(&app, "model", "lgb_cat_binary/model.txt").await;
    let data = record(&app, "data", "lgb_cat_binary/data.csv").await;
    let (status, job) = submit_body(&app, &json!({"model": model["id"], "data": data["id"]})).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let id = job["id"].as_str().unwrap().to_owned();
    wait_for_success(&app, &id, Duration::from_secs(60)).await;

    let response = reqwest::get(app.url(&format!("/api/jobs/{id}/report.html?a=city%3Dparis")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let h = response.headers();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
    let html = response.text().await.unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    for needle in [
        model["sha256"].as_str().unwrap(),
        data["sha256"].as_str().unwrap(),
        "model.txt",
        "data.csv",
        "path-dependent TreeSHAP with the model&#39;s covers",
        "max |base value + ΣSHAP − f(x)|",
        "<h2>Importance</h2>",
        "<h2>Beeswarm</h2>",
        "<h2>Dependence</h2>",
        "<h2>Cohorts</h2>",
        "cohort A (city=paris",
        "@media print",
    ] {
        assert!(html.contains(needle), "the report lacks {needle:?}");
    }
    // Importance, beeswarm, 3 dependence plots, 2 rows (highest and lowest), cohorts.
    assert_eq!(html.matches("<svg").count(), 8, "plots");
    // Nothing that would fetch anything: no script, link, image source or CSS url().
    for banned in ["<script", "<link", " src=", "url(", "@import"] {
        assert!(!html.contains(banned), "the report holds {banned:?}");
    }
    // The additivity check the page shows, over every row.
    let (_, summary) = get_json(&app, &format!("/api/jobs/{id}/summary")).await;
    let check = &summary["additivity"];
    assert_eq!(check["rows"], summary["rows_covered"]);
    assert!(check["max_abs_error"].as_f64().unwrap() < 1e-9, "{check}");

    // Chosen rows; bad parameters are refused naming them.
    let (status, body) = get(&app, &format!("/api/jobs/{id}/report.html?rows=0,5")).await;
    assert_eq!(status, StatusCode::OK);
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("Row 0: raw output") && html.contains("Row 5: raw output"));
    assert!(!html.contains("<h2>Cohorts</h2>"));
    let eleven = (0..11).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    for (query, words) in [
        ("rows=x".to_owned(), "row numbers joined by commas"),
        (format!("rows={eleven}"), "at most 10 rows"),
        ("colour=1".to_owned(), "unexpected parameter \"colour\""),
    ] {
        let (status, e) = get_json(&app, &format!("/api/jobs/{id}/report.html?{query}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {e}");
        assert!(
            e["message"].as_str().unwrap().contains(words),
            "{query}: {e}"
        );
    }
}
