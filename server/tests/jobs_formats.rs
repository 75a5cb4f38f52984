//! The model formats beyond numeric XGBoost/LightGBM through the whole service: upload
//! descriptions, the submit check, a job's values (equal to `shaplab explain`, byte for byte),
//! the summary and the row explorer — on categorical models with category words in the CSV.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use support::backend::Backend;
use support::jobs::{app, cli_csv, get, get_json, submit_body, wait_for_success};
use support::{TestApp, fixture, upload_record_to, upload_to};

/// Uploads a fixture file and returns the whole record (with its description).
async fn upload_record(app: &TestApp, kind: &str, path: &str) -> Value {
    let bytes = std::fs::read(fixture(path)).expect("fixture");
    let name = path.rsplit('/').next().unwrap_or(path);
    upload_record_to(&app.url(""), kind, name, bytes).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_categorical_lightgbm_model_with_a_csv_of_words_explains_like_the_cli() {
    let redis = Backend::start();
    let app = app(&redis, 25, 2).await;
    let model = upload_record(&app, "model", "lgb_cat_binary/model.txt").await;
    let data = upload_record(&app, "data", "lgb_cat_binary/data.csv").await;

    // The descriptions name the categorical features with their categories, and the words.
    let categorical = &model["summary"]["categorical"];
    let city = categorical
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "city")
        .expect("city is categorical");
    assert_eq!(city["categories"][0], "paris");
    assert_eq!(model["summary"]["covers"], "model");
    let text = data["summary"]["text_columns"].as_array().unwrap();
    assert!(text.iter().any(|t| t["name"] == "city"), "{text:?}");

    let (status, job) = submit_body(&app, &json!({"model": model["id"], "data": data["id"]})).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let id = job["id"].as_str().unwrap().to_owned();
    wait_for_success(&app, &id, Duration::from_secs(60)).await;

    let (status, csv) = get(&app, &format!("/api/jobs/{id}/shap.csv")).await;
    assert_eq!(status, StatusCode::OK);
    let cli = cli_csv(
        &fixture("lgb_cat_binary/model.txt"),
        &fixture("lgb_cat_binary/data.csv"),
    )
    .await;
    assert_eq!(csv, cli, "the job's CSV equals shaplab explain's");

    // The summary carries the category names; the row explorer shows a row's category.
    let (_, summary) = get_json(&app, &format!("/api/jobs/{id}/summary")).await;
    let features = summary["features"].as_array().unwrap();
    let at = features.iter().position(|f| f == "city").unwrap();
    assert_eq!(summary["categories"][at][0], "paris");
    let first_city = std::fs::read_to_string(fixture("lgb_cat_binary/data.csv"))
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(csv_column(&fixture("lgb_cat_binary/data.csv"), "city"))
        .unwrap()
        .to_owned();
    let (_, row) = get_json(&app, &format!("/api/jobs/{id}/rows/0")).await;
    let shown = row["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "city")
        .unwrap();
    if first_city.is_empty() {
        assert!(shown["value"].is_null());
    } else {
        assert_eq!(shown["category"], first_city.as_str());
    }
}

fn csv_column(path: &std::path::Path, name: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .split(',')
        .position(|c| c == name)
        .unwrap()
}

#[tokio::test]
async fn words_in_a_column_a_numeric_model_reads_are_refused_at_submit_naming_the_column() {
    let redis = Backend::start();
    let app = app(&redis, 25, 0).await;
    let model = upload_to(
        &app.url(""),
        "model",
        "model.json",
        std::fs::read(fixture("xgb_reg_d3/model.json")).unwrap(),
    )
    .await;
    let mut csv = std::fs::read_to_string(fixture("xgb_reg_d3/data.csv")).unwrap();
    // The second data row's first cell becomes a word.
    let mut lines: Vec<String> = csv.lines().map(str::to_owned).collect();
    let rest = lines[2].split_once(',').unwrap().1.to_owned();
    lines[2] = format!("old,{rest}");
    csv = lines.join("\n") + "\n";
    let data = upload_to(&app.url(""), "data", "data.csv", csv.into_bytes()).await;
    let (status, body) = submit_body(&app, &json!({"model": model, "data": data})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "invalid_data");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("column \"age\" holds words (\"old\" in row 2)")
            && message.contains("uses it as a number"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn categories_the_model_never_saw_are_counted_on_the_job() {
    let redis = Backend::start();
    let app = app(&redis, 25, 2).await;
    let model = upload_record(&app, "model", "lgb_cat_binary/model.txt").await;
    let data = upload_record(&app, "data", "lgb_cat_binary/data_unseen.csv").await;
    let (status, job) = submit_body(&app, &json!({"model": model["id"], "data": data["id"]})).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let notes = job["inputs"]["notes"].as_array().expect("notes");
    assert_eq!(notes.len(), 1, "{notes:?}");
    let note = notes[0].as_str().unwrap();
    assert!(note.starts_with("city: "), "{note}");
    assert!(
        note.contains("never saw") && note.contains("missing"),
        "{note}"
    );
    let id = job["id"].as_str().unwrap();
    wait_for_success(&app, id, Duration::from_secs(60)).await;
    let (_, again) = get_json(&app, &format!("/api/jobs/{id}")).await;
    assert_eq!(again["inputs"]["notes"], job["inputs"]["notes"]);
}

/// A fixture model and data file explained by a job (with `extra` request fields), then
/// compared with `shaplab explain` (with `cli` options) byte for byte.
async fn job_equals_cli(app: &TestApp, model: &str, data: &str, extra: Value, cli: &[&str]) {
    let m = upload_record(app, "model", model).await;
    let d = upload_record(app, "data", data).await;
    let mut body = json!({"model": m["id"], "data": d["id"]});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (status, job) = submit_body(app, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{model}: {job}");
    let id = job["id"].as_str().unwrap().to_owned();
    wait_for_success(app, &id, Duration::from_secs(60)).await;
    let (status, csv) = get(app, &format!("/api/jobs/{id}/shap.csv")).await;
    assert_eq!(status, StatusCode::OK);
    let expected = support::jobs::cli_csv_with(&fixture(model), &fixture(data), cli).await;
    assert_eq!(
        csv, expected,
        "{model}: the job's CSV equals shaplab explain's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catboost_models_explain_through_a_job_like_the_cli() {
    let redis = Backend::start();
    let app = app(&redis, 25, 2).await;
    job_equals_cli(
        &app,
        "cb_logloss_onehot/model.json",
        "cb_logloss_onehot/data.csv",
        json!({}),
        &[],
    )
    .await;
    job_equals_cli(
        &app,
        "cb_multiclass/model.json",
        "cb_multiclass/data.csv",
        json!({}),
        &[],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scikit_learn_skops_models_explain_through_a_job_like_the_cli() {
    let redis = Backend::start();
    let app = app(&redis, 25, 2).await;
    let forest = upload_record(&app, "model", "sk_rf_clf2/model.skops").await;
    assert_eq!(forest["summary"]["format"], "scikit-learn (skops)");
    assert_eq!(forest["summary"]["outputs"], 2, "predict_proba per class");
    for case in ["sk_rf_clf2", "sk_gb_clf3", "sk_hgb_clf2_cat"] {
        job_equals_cli(
            &app,
            &format!("{case}/model.skops"),
            &format!("{case}/data.csv"),
            json!({}),
            &[],
        )
        .await;
    }
}

#[tokio::test]
async fn a_pickle_upload_is_refused_with_the_line_that_converts_it_to_skops() {
    let redis = Backend::start();
    let app = app(&redis, 25, 0).await;
    let bytes = std::fs::read(fixture("sklearn_refusal/model.pkl")).unwrap();
    let form = reqwest::multipart::Form::new().text("kind", "model").part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name("model.pkl"),
    );
    let response = reqwest::Client::new()
        .post(app.url("/api/uploads"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "invalid_model");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("skops.io.dump(joblib.load('model.pkl'), 'model.skops')"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_onnx_model_is_explained_interventionally_or_with_covers_recomputed_from_the_data() {
    let redis = Backend::start();
    let app = app(&redis, 25, 2).await;
    let model = upload_record(&app, "model", "onnx_gb_clf2/model.onnx").await;
    assert_eq!(model["summary"]["covers"], "none");
    let data = upload_record(&app, "data", "onnx_gb_clf2/data.csv").await;
    // Path-dependent without covers is refused before anything is queued, saying what to do.
    let (status, body) =
        submit_body(&app, &json!({"model": model["id"], "data": data["id"]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "unsupported");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("stores no node covers") && message.contains("background_rows"));

    let (m, d) = ("onnx_gb_clf2/model.onnx", "onnx_gb_clf2/data.csv");
    job_equals_cli(
        &app,
        m,
        d,
        json!({"background_rows": 30}),
        &["--background-rows", "30"],
    )
    .await;
    job_equals_cli(
        &app,
        m,
        d,
        json!({"covers": "data"}),
        &["--covers-from-data"],
    )
    .await;
    let (status, body) = submit_body(
        &app,
        &json!({"model": model["id"], "data": data["id"], "covers": "model"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parquet_data_file_explains_like_its_csv() {
    let redis = Backend::start();
    let app = app(&redis, 25, 2).await;
    let data = upload_record(&app, "data", "lgb_cat_binary/data.parquet").await;
    assert_eq!(data["summary"]["format"], "Parquet");
    assert_eq!(data["summary"]["rows"], 60);
    job_equals_cli(
        &app,
        "lgb_cat_binary/model.txt",
        "lgb_cat_binary/data.parquet",
        json!({}),
        &[],
    )
    .await;
    // And the row explorer's one-row read from the Parquet file.
    let m = upload_record(&app, "model", "lgb_cat_binary/model.txt").await;
    let (_, job) = submit_body(&app, &json!({"model": m["id"], "data": data["id"]})).await;
    let id = job["id"].as_str().unwrap();
    wait_for_success(&app, id, Duration::from_secs(60)).await;
    let (status, row) = get_json(&app, &format!("/api/jobs/{id}/rows/59")).await;
    assert_eq!(status, StatusCode::OK, "{row}");
    assert_eq!(row["row"], 59);
}
