//! `POST /api/jobs/{id}/whatif`: a row with edited values, explained in the API process.
//! An unchanged row answers what `/rows/{i}` answers; an edited row answers what `shaplab
//! explain` computes for a one-row file holding the edited values (numeric and categorical
//! models, category names in the CSV); values outside the data's range and categories the
//! model never saw come back as notes; bad requests are 4xx naming what to change.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::TestApp;
use support::backend::Backend;
use support::jobs::{app, cli_edited_row, fixture_job, get_json};

async fn whatif(app: &TestApp, id: &str, body: Value) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(app.url(&format!("/api/jobs/{id}/whatif")))
        .json(&body)
        .send()
        .await
        .expect("the server answers");
    let status = response.status();
    let timing = response
        .headers()
        .get("server-timing")
        .map(|v| v.to_str().unwrap_or("").to_owned());
    let body: Value = response.json().await.expect("JSON");
    if status.is_success() {
        let timing = timing.expect("a Server-Timing header");
        assert!(timing.contains("explain;dur="), "{timing}");
    }
    (status, body)
}

/// A row answer's SHAP line in the CLI's layout: per output, the features' values then the
/// base value.
fn line(row: &Value) -> Vec<f64> {
    let features = row["features"].as_array().expect("features");
    let outputs = row["base_values"].as_array().expect("base values").len();
    let mut out = Vec::new();
    for k in 0..outputs {
        out.extend(
            features
                .iter()
                .map(|f| f["shap"][k].as_f64().expect("a number")),
        );
        out.push(row["base_values"][k].as_f64().expect("a number"));
    }
    out
}

fn assert_close(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (j, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-9 * (1.0 + y.abs()),
            "{what}: value {j}: {x} vs {y}"
        );
    }
}

fn prediction(row: &Value) -> f64 {
    row["predictions"]["margin"][0].as_f64().expect("a margin")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_row_is_explained_like_the_cli_explains_the_edited_values() {
    let redis = Backend::start();
    let app = app(&redis, 25, 2).await;
    let id = fixture_job(&app, "xgb_reg_d3", "model.json", json!({})).await;

    // Nothing changed: the job's own row.
    let (status, same) = whatif(&app, &id, json!({"row": 3})).await;
    assert_eq!(status, StatusCode::OK, "{same}");
    let (_, row) = get_json(&app, &format!("/api/jobs/{id}/rows/3")).await;
    assert_close(&line(&same), &line(&row), "unchanged row");
    assert_eq!(same["changed"], json!([]));

    // Two values changed, one to missing: the CLI's values for a file holding that row.
    let (status, edited) = whatif(
        &app,
        &id,
        json!({"row": 3, "values": {"bmi": 0.05, "s2": null}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["changed"], json!(["bmi", "s2"]));
    let cli = cli_edited_row(
        "xgb_reg_d3",
        "model.json",
        3,
        &[("bmi", "0.05"), ("s2", "")],
    )
    .await;
    assert_close(&line(&edited), &cli, "edited row");
    let bmi = edited["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "bmi")
        .unwrap();
    assert_eq!(bmi["value"], 0.05);
    assert_ne!(
        prediction(&edited),
        prediction(&row),
        "the edit moves the prediction"
    );
    // Additivity: base + Σ SHAP is the model's own prediction of the edited row.
    let sum: f64 = line(&edited).iter().sum();
    assert!(
        (sum - prediction(&edited)).abs() < 1e-6,
        "{sum} vs {}",
        prediction(&edited)
    );
    assert_eq!(
        edited["notes"],
        json!([]),
        "0.05 lies inside the data's bmi range"
    );

    // Outside the data's range: answered, and flagged in words.
    let (status, far) = whatif(&app, &id, json!({"row": 3, "values": {"bmi": 50}})).await;
    assert_eq!(status, StatusCode::OK, "{far}");
    let note = far["notes"][0].as_str().expect("a note");
    assert!(
        note.starts_with("bmi = 50 is outside the values the data holds"),
        "{note}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_category_is_changed_by_name_and_an_unseen_one_is_flagged() {
    let redis = Backend::start();
    let app = app(&redis, 25, 2).await;
    let id = fixture_job(&app, "lgb_cat_binary", "model.txt", json!({})).await;

    let (status, edited) = whatif(&app, &id, json!({"row": 1, "values": {"city": "lima"}})).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    let city = edited["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "city")
        .unwrap();
    assert_eq!(city["category"], "lima");
    let cli = cli_edited_row("lgb_cat_binary", "model.txt", 1, &[("city", "lima")]).await;
    assert_close(&line(&edited), &cli, "edited category");
    assert_eq!(edited["notes"], json!([]));

    let (status, unseen) =
        whatif(&app, &id, json!({"row": 1, "values": {"city": "atlantis"}})).await;
    assert_eq!(status, StatusCode::OK, "{unseen}");
    let note = unseen["notes"][0].as_str().expect("a note");
    assert!(
        note.contains("city = atlantis is a category the model never saw"),
        "{note}"
    );
    let cli = cli_edited_row("lgb_cat_binary", "model.txt", 1, &[("city", "atlantis")]).await;
    assert_close(&line(&unseen), &cli, "unseen category");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interventional_job_answers_its_own_values_for_an_unchanged_row() {
    let redis = Backend::start();
    let app = app(&redis, 25, 2).await;
    let id = fixture_job(
        &app,
        "xgb_binary_d6",
        "model.json",
        json!({"output": "probability"}),
    )
    .await;
    let (status, same) = whatif(&app, &id, json!({"row": 5})).await;
    assert_eq!(status, StatusCode::OK, "{same}");
    let (_, row) = get_json(&app, &format!("/api/jobs/{id}/rows/5")).await;
    assert_close(
        &line(&same),
        &line(&row),
        "unchanged row, probability output",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_what_if_requests_are_refused_naming_what_to_change() {
    let redis = Backend::start();
    let app = app(&redis, 25, 2).await;
    let id = fixture_job(&app, "xgb_reg_d3", "model.json", json!({})).await;
    let cases = [
        (
            json!({"row": 0, "values": {"height": 1}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "no feature \"height\"",
        ),
        (
            json!({"row": 0, "values": {"age": "old"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "give a number or null",
        ),
        (
            json!({"row": 0, "values": {"age": [1]}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "cannot be read",
        ),
        (
            json!({"values": {}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "missing field `row`",
        ),
        (
            json!({"row": 0, "colour": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "unknown field `colour`",
        ),
        (
            json!({"row": 100000}),
            StatusCode::NOT_FOUND,
            "row_not_found",
            "past the end",
        ),
    ];
    for (body, want, code, words) in cases {
        let (status, error) = whatif(&app, &id, body.clone()).await;
        assert_eq!(status, want, "{body}: {error}");
        assert_eq!(error["code"], code, "{body}: {error}");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{body}: {message}");
    }
    let (status, error) = whatif(&app, "nosuchjob", json!({"row": 0})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    assert_eq!(error["code"], "job_not_found");
}
