//! The ceilings on a job (`SHAPLAB_MAX_*`) and the upload deadline: each refuses with a
//! message naming the limit and the variable that raises it, and nothing is queued.

mod support;

use reqwest::StatusCode;
use serde_json::json;
use server::jobs::JobsConfig;
use server::jobs::limits::Limits;
use std::time::Duration;
use support::backend::Backend;
use support::jobs::submit_body;
use support::{TestApp, fixture, upload};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn app_with(redis: &Backend, limits: Limits, workers: usize, deadline: Duration) -> TestApp {
    let jobs = JobsConfig {
        limits,
        ..JobsConfig::default()
    };
    TestApp::spawn_with_limits(&redis.url(), redis.settings(), jobs, workers, deadline).await
}

/// The 60-row LightGBM fixture (3-level trees), uploaded; the submit body.
async fn fixture_body(app: &TestApp) -> serde_json::Value {
    let model = std::fs::read(fixture("lgb_reg_d3/model.txt")).expect("fixture");
    let data = std::fs::read(fixture("lgb_reg_d3/data.csv")).expect("fixture");
    json!({
        "model": upload(app, "model", "model.txt", model).await,
        "data": upload(app, "data", "data.csv", data).await,
    })
}

#[tokio::test]
async fn rows_trees_depth_and_work_over_their_limits_are_refused_by_name() {
    let redis = Backend::start();
    let cases = [
        (
            Limits {
                rows: 59,
                ..Limits::default()
            },
            "SHAPLAB_MAX_ROWS",
        ),
        (
            Limits {
                columns: 5,
                ..Limits::default()
            },
            "SHAPLAB_MAX_COLUMNS",
        ),
        (
            Limits {
                trees: 1,
                ..Limits::default()
            },
            "SHAPLAB_MAX_TREES",
        ),
        (
            Limits {
                depth: 2,
                ..Limits::default()
            },
            "SHAPLAB_MAX_DEPTH",
        ),
        (
            Limits {
                work: 100,
                ..Limits::default()
            },
            "SHAPLAB_MAX_WORK",
        ),
    ];
    for (limits, var) in cases {
        let app = app_with(&redis, limits, 0, Duration::from_secs(60)).await;
        let body = fixture_body(&app).await;
        let (status, error) = submit_body(&app, &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{var}: {error}");
        assert_eq!(error["code"], "limit_exceeded");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains(var) && message.contains("over this server's limit"),
            "{message}"
        );
        let depths = app.queue.depths().await.expect("depths");
        assert_eq!(depths.ready, 0, "{var}: nothing was queued");
    }
    // Interventional work counts the background rows: fine path-dependent, over with 100.
    let work = Limits {
        work: 60 * 2_000,
        ..Limits::default()
    };
    let app = app_with(&redis, work, 0, Duration::from_secs(60)).await;
    let body = fixture_body(&app).await;
    let (status, _) = submit_body(&app, &body).await;
    assert_eq!(status, StatusCode::CREATED);
    let mut interventional = body.clone();
    interventional["background_rows"] = json!(100);
    let (status, error) = submit_body(&app, &interventional).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("limit_exceeded"))
    );
}

#[tokio::test]
async fn an_owner_at_the_active_jobs_limit_waits_for_one_to_end() {
    let redis = Backend::start();
    let limits = Limits {
        active_jobs: 1,
        ..Limits::default()
    };
    // No workers: the first job stays queued.
    let app = app_with(&redis, limits, 0, Duration::from_secs(60)).await;
    let body = fixture_body(&app).await;
    let (status, first) = submit_body(&app, &body).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, refused) = submit_body(&app, &body).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{refused}");
    assert_eq!(refused["code"], "too_many_active_jobs");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("SHAPLAB_MAX_ACTIVE_JOBS=1")
    );
    let id = first["id"].as_str().unwrap();
    let cancelled = reqwest::Client::new()
        .delete(app.url(&format!("/api/jobs/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    let (status, _) = submit_body(&app, &body).await;
    assert_eq!(status, StatusCode::CREATED, "an ended job no longer counts");
}

#[tokio::test]
async fn an_upload_slower_than_the_deadline_is_refused_with_408() {
    let redis = Backend::start();
    let app = app_with(&redis, Limits::default(), 0, Duration::from_secs(1)).await;
    let mut socket = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    // Headers and the start of a 1 MB body, then nothing: a stalled (or hostile) client.
    let head = "POST /api/uploads HTTP/1.1\r\nHost: localhost\r\n\
                Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: 1000000\r\n\r\n\
                --XyZ\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nmodel\r\n\
                --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"m.json\"\r\n\r\n{";
    socket.write_all(head.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(
        read.is_ok(),
        "the server answered within the deadline's reach: {text}"
    );
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        text.contains("upload_too_slow") && text.contains("SHAPLAB_UPLOAD_DEADLINE"),
        "{text}"
    );
}
