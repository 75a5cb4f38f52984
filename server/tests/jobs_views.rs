//! The views computed for the page beyond the summary: partial dependence with ICE lines
//! (`GET /api/jobs/{id}/pdp`), checked against `shaplab explain` on edited rows (its SHAP values
//! add up to the model's output there), and the summary's per-row predictions that the decision
//! plot and heatmap draw.

mod support;

use reqwest::StatusCode;
use serde_json::json;
use support::backend::Backend;
use support::fixture;
use support::jobs::{app, cli_edited_row, cli_rows, fixture_job, get_json};

/// The model's raw output for data row `i` with column `name` set to `value`, by the CLI:
/// base + ΣSHAP of a one-row file.
async fn cli_output(dir: &str, model: &str, i: usize, name: &str, value: &str) -> f64 {
    cli_edited_row(dir, model, i, &[(name, value)])
        .await
        .iter()
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ice_lines_are_the_models_output_on_edited_rows_and_their_mean_is_the_pd() {
    let redis = Backend::start();
    let app = app(&redis, 25, 2).await;
    let id = fixture_job(&app, "xgb_reg_d3", "model.json", json!({})).await;
    let (status, p) = get_json(&app, &format!("/api/jobs/{id}/pdp?feature=bmi&grid=5")).await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["name"], "bmi");
    let grid: Vec<f64> = p["grid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(grid.len(), 5);
    assert!(grid.windows(2).all(|w| w[0] < w[1]));
    let rows: Vec<usize> = p["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(rows.len(), 50);
    let ice = p["ice"].as_array().unwrap();
    for (r, g) in [(0usize, 0usize), (7, 4), (49, 2)] {
        let want = cli_output(
            "xgb_reg_d3",
            "model.json",
            rows[r],
            "bmi",
            &format!("{:.17e}", grid[g]),
        )
        .await;
        let got = ice[r][g].as_f64().unwrap();
        assert!(
            (got - want).abs() < 1e-9,
            "row {} at {}: {got} vs {want}",
            rows[r],
            grid[g]
        );
    }
    for (g, avg) in p["average"].as_array().unwrap().iter().enumerate() {
        let mean = ice.iter().map(|l| l[g].as_f64().unwrap()).sum::<f64>() / ice.len() as f64;
        assert!((avg.as_f64().unwrap() - mean).abs() < 1e-9);
    }
    // A categorical feature: one grid point per category, named.
    let id = fixture_job(&app, "lgb_cat_binary", "model.txt", json!({})).await;
    let (status, p) = get_json(&app, &format!("/api/jobs/{id}/pdp?feature=city")).await;
    assert_eq!(status, StatusCode::OK, "{p}");
    let names = p["categories"].as_array().unwrap();
    assert_eq!(p["grid"].as_array().unwrap().len(), names.len());
    assert_eq!(names[0], "paris");
    // Bad requests name the problem.
    for (query, words) in [
        ("", "give feature"),
        ("feature=height", "not one of the model's features"),
        ("feature=city&output=3", "out of range"),
        ("feature=city&grid=x", "grid"),
    ] {
        let (status, e) = get_json(&app, &format!("/api/jobs/{id}/pdp?{query}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {e}");
        assert!(
            e["message"].as_str().unwrap().contains(words),
            "{query}: {e}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_sample_carries_each_rows_prediction() {
    let redis = Backend::start();
    let app = app(&redis, 25, 2).await;
    let id = fixture_job(&app, "xgb_reg_d3", "model.json", json!({})).await;
    let cli = cli_rows(
        &fixture("xgb_reg_d3/model.json"),
        &fixture("xgb_reg_d3/data.csv"),
    )
    .await;
    let (_, s) = get_json(&app, &format!("/api/jobs/{id}/summary")).await;
    let rows = s["beeswarm"]["rows"].as_array().unwrap();
    let predictions = s["beeswarm"]["prediction"][0].as_array().unwrap();
    assert_eq!(rows.len(), predictions.len());
    for (r, p) in rows.iter().zip(predictions) {
        let want: f64 = cli[r.as_u64().unwrap() as usize].iter().sum();
        // Sent as f32.
        assert!(
            (p.as_f64().unwrap() - want).abs() <= 1e-4 * (1.0 + want.abs()),
            "{r}: {p} vs {want}"
        );
    }
}
