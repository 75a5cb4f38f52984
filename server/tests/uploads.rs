//! Uploading model and data files: streamed, capped, validated by the engine, described, and
//! stored in the blob store — with or without Redis.

mod support;

use reqwest::multipart::{Form, Part};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::{TestApp, settings};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(rel)
}

/// An app whose Redis is unreachable: uploads must not need it.
async fn app_with_cap(max_bytes: u64) -> TestApp {
    let url = format!("redis://127.0.0.1:{}", support::free_port());
    TestApp::spawn_with_upload_cap(&url, settings(&url, Duration::from_millis(300)), max_bytes)
        .await
}

fn form(kind: &str, name: &str, bytes: Vec<u8>) -> Form {
    Form::new()
        .text("kind", kind.to_owned())
        .part("file", Part::bytes(bytes).file_name(name.to_owned()))
}

async fn upload(app: &TestApp, form: Form) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(app.url("/api/uploads"))
        .multipart(form)
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

fn stored_uploads(app: &TestApp) -> usize {
    std::fs::read_dir(app.data_dir.join("blobs/uploads")).map_or(0, |d| d.count())
}

#[tokio::test]
async fn a_real_xgboost_model_is_stored_and_described_even_while_redis_is_down() {
    let app = app_with_cap(256 << 20).await;
    let bytes = std::fs::read(fixture("xgb_binary_d6/model.json")).expect("fixture");
    let (status, body) = upload(&app, form("model", "model.json", bytes.clone())).await;

    assert_eq!(status, 201, "{body}");
    assert_eq!(body["kind"], "model");
    assert_eq!(body["name"], "model.json");
    assert_eq!(body["bytes"], bytes.len());
    let sha: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(body["sha256"], sha);
    let summary = &body["summary"];
    assert_eq!(summary["type"], "model");
    assert_eq!(summary["format"], "XGBoost JSON");
    assert_eq!(summary["objective"], "binary:logistic");
    assert_eq!(summary["outputs"], 1);
    assert_eq!(summary["features"], 30);
    assert!(summary["trees"].as_u64().is_some_and(|t| t > 0));
    assert!(
        summary["max_depth"]
            .as_u64()
            .is_some_and(|d| (1..=6).contains(&d))
    );
    assert_eq!(summary["feature_names"][0], "mean_radius");

    // The bytes are in the blob store, unchanged, and the record can be read back.
    let id = body["id"].as_str().expect("an id");
    let stored = std::fs::read(app.data_dir.join(format!("blobs/uploads/{id}/model")))
        .expect("stored model");
    assert_eq!(stored, bytes);
    let again: Value = reqwest::get(app.url(&format!("/api/uploads/{id}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again, body);
}

#[tokio::test]
async fn a_data_csv_is_described_by_rows_columns_and_missing_cells_whatever_the_field_order() {
    let app = app_with_cap(256 << 20).await;
    let csv = b"\xef\xbb\xbfage,income,city_code\n31,52000,3\nNA,,7\n45,61000,null\n".to_vec();
    // The file part comes first here; the kind after it.
    let form = Form::new()
        .part("file", Part::bytes(csv).file_name("people.csv"))
        .text("kind", "data");
    let (status, body) = upload(&app, form).await;
    assert_eq!(status, 201, "{body}");
    let summary = &body["summary"];
    assert_eq!(summary["type"], "data");
    assert_eq!(summary["rows"], 3);
    assert_eq!(
        summary["columns"],
        serde_json::json!(["age", "income", "city_code"])
    );
    assert_eq!(summary["missing_cells"], 3);
}

#[tokio::test]
async fn a_truncated_model_is_refused_with_what_is_wrong_and_nothing_is_stored() {
    let app = app_with_cap(256 << 20).await;
    let bytes = std::fs::read(fixture("xgb_binary_d6/model.json")).expect("fixture");
    let truncated = bytes[..bytes.len() / 2].to_vec();
    let (status, body) = upload(&app, form("model", "model.json", truncated)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "invalid_model");
    assert_eq!(body["retryable"], false);
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("model.json is not a model shaplab can explain: "),
        "{message}"
    );
    assert!(body["request_id"].as_str().is_some_and(|id| id.len() == 32));
    assert_eq!(stored_uploads(&app), 0);
}

#[tokio::test]
async fn a_csv_column_of_words_is_described_with_its_values_and_first_row() {
    // Words may be category names, so the upload (which knows no model yet) accepts them and
    // says where they are; a numeric feature fed words is refused at submit
    // (jobs_formats.rs: words_in_a_column_a_numeric_model_reads_are_refused_at_submit…).
    let app = app_with_cap(256 << 20).await;
    let csv = b"a,b\n1,2\n3,oops\n4,oops\n".to_vec();
    let (status, body) = upload(&app, form("data", "d.csv", csv)).await;
    assert_eq!(status, 201, "{body}");
    let text = &body["summary"]["text_columns"];
    assert_eq!(text.as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(text[0]["name"], "b");
    assert_eq!(text[0]["first_text_row"], 2);
    assert_eq!(text[0]["values"], serde_json::json!(["2", "oops"]));
    assert_eq!(text[0]["counts"], serde_json::json!([1, 2]));
    assert_eq!(body["summary"]["format"], "CSV");
}

#[tokio::test]
async fn an_oversized_upload_is_refused_with_413_and_leaves_nothing_behind() {
    let app = app_with_cap(1_000).await;
    let (status, body) = upload(&app, form("data", "big.csv", vec![b'1'; 5_000])).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["code"], "too_large");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("1000 bytes") && message.contains("MAX_UPLOAD_BYTES"),
        "{message}"
    );
    assert_eq!(stored_uploads(&app), 0);
    let scratch = std::fs::read_dir(app.data_dir.join("scratch")).map_or(0, |d| d.count());
    assert_eq!(scratch, 0, "the partial file was removed");
}

#[tokio::test]
async fn a_form_without_a_kind_or_with_a_wrong_kind_says_what_to_send() {
    let app = app_with_cap(256 << 20).await;
    let no_kind = Form::new().part("file", Part::bytes(b"a\n1\n".to_vec()).file_name("d.csv"));
    let (status, body) = upload(&app, no_kind).await;
    assert_eq!(status, 422);
    assert!(
        body["message"].as_str().unwrap().contains("`kind`"),
        "{body}"
    );

    let (status, body) = upload(&app, form("spreadsheet", "d.csv", b"a\n1\n".to_vec())).await;
    assert_eq!(status, 422);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("`model` or `data`"),
        "{body}"
    );

    let no_file = Form::new().text("kind", "model");
    let (status, body) = upload(&app, no_file).await;
    assert_eq!(status, 422);
    assert!(
        body["message"].as_str().unwrap().contains("`file`"),
        "{body}"
    );
}

#[tokio::test]
async fn an_unknown_or_malformed_upload_id_is_not_found() {
    let app = app_with_cap(256 << 20).await;
    for id in [
        "0b7e6c1e-3b8f-4d0e-9c61-1f2a3b4c5d6e",
        "..%2F..%2Fetc",
        "nope",
    ] {
        let response = reqwest::get(app.url(&format!("/api/uploads/{id}")))
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{id}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "upload_not_found");
    }
}
