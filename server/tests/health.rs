//! `/healthz`, `/readyz` and `/api/health` against a real redis-server that the test kills and
//! restarts under the running app.

mod support;

use serde_json::Value;
use std::time::{Duration, Instant};
use support::{TestApp, TestRedis, settings};

async fn health(app: &TestApp) -> (reqwest::StatusCode, Value, Duration) {
    let started = Instant::now();
    let response = reqwest::get(app.url("/api/health"))
        .await
        .expect("the server answers");
    let status = response.status();
    let body = response.json::<Value>().await.expect("a JSON body");
    (status, body, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_redis_down_and_back_up_without_restarting_the_app() {
    let mut redis = TestRedis::start();
    let timeout = Duration::from_secs(1);
    let app = TestApp::spawn(&redis.url(), settings(&redis.url(), timeout)).await;

    // Up: connected, with a latency and what the server says of itself.
    let (status, body, _) = health(&app).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["redis"]["connected"], true);
    assert!(
        body["redis"]["latency_ms"]
            .as_f64()
            .is_some_and(|ms| ms >= 0.0)
    );
    assert!(
        body["redis"]["server"]["version"]
            .as_str()
            .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit())),
        "{body}"
    );
    assert_eq!(body["version"], server::VERSION);
    assert_eq!(body["config"]["redis_timeout_s"], 1.0);
    assert_eq!(body["config"]["redis_connection_pool_size"], 2);
    // An idle queue: nothing waiting, running, retrying or dead.
    assert_eq!(body["queue"]["queued"], 0, "{body}");
    assert_eq!(body["queue"]["running"], 0);
    assert_eq!(body["queue"]["dead"], 0);
    assert!(body["queue"]["oldest_queued_age_s"].is_null());

    // Down: still 200, `degraded`, quickly (within REDIS_TIMEOUT + 1 s), with the reason.
    redis.kill();
    for attempt in 1..=3 {
        let (status, body, took) = health(&app).await;
        if attempt == 3 {
            // Three failed probes in a row: API calls now fail fast, and health says so.
            assert_eq!(body["redis"]["breaker"]["state"], "open", "{body}");
            assert_eq!(body["redis"]["breaker"]["opened_total"], 1);
        }
        assert_eq!(status, 200);
        assert_eq!(body["status"], "degraded", "{body}");
        assert_eq!(body["redis"]["connected"], false);
        assert!(body["redis"]["latency_ms"].is_null());
        assert!(body["queue"].is_null(), "no depths without Redis");
        assert!(
            body["redis"]["last_error"]
                .as_str()
                .is_some_and(|e| !e.is_empty())
        );
        assert!(took <= timeout + Duration::from_secs(1), "took {took:?}");
    }
    // Liveness and readiness do not depend on a shared Redis.
    assert_eq!(
        reqwest::get(app.url("/healthz")).await.unwrap().status(),
        200
    );
    assert_eq!(
        reqwest::get(app.url("/readyz")).await.unwrap().status(),
        200
    );

    // Back up on the same port: the same app recovers by itself.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body, _) = health(&app).await;
        if body["redis"]["connected"] == true {
            assert_eq!(body["status"], "ok");
            assert_eq!(body["redis"]["breaker"]["state"], "closed");
            // The outage stays visible to an operator after recovery.
            assert!(body["redis"]["last_error"].is_string());
            break;
        }
        assert!(Instant::now() < deadline, "no recovery within 10 s: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_boots_and_answers_while_redis_has_never_been_reachable() {
    let port = support::free_port(); // nothing listens here
    let url = format!("redis://127.0.0.1:{port}");
    let app = TestApp::spawn(&url, settings(&url, Duration::from_millis(500))).await;

    let (status, body, took) = health(&app).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "degraded");
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    let page = reqwest::get(app.url("/")).await.expect("page");
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Explain your tree models")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_in_redis_url_never_reach_the_health_report() {
    let redis = TestRedis::start();
    let url = format!("redis://:s3cret@127.0.0.1:{}", redis.port);
    let app = TestApp::spawn(&url, settings(&url, Duration::from_secs(1))).await;
    let (_, body, _) = health(&app).await;
    let text = body.to_string();
    assert!(!text.contains("s3cret"), "{text}");
    assert!(
        body["config"]["redis_url"]
            .as_str()
            .unwrap()
            .contains(":***@")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_and_time_requests_by_route_template() {
    let redis = TestRedis::start();
    let app = TestApp::spawn(&redis.url(), settings(&redis.url(), Duration::from_secs(1))).await;
    let _ = health(&app).await;
    let _ = reqwest::get(app.url("/api/uploads/not-an-id"))
        .await
        .expect("404 answer");

    let text = reqwest::get(app.url("/metrics"))
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("text");
    assert!(
        text.lines()
            .any(|l| l.starts_with("shaplab_http_requests_total{")
                && l.contains("route=\"/api/health\"")
                && l.contains("status=\"200\"")),
        "{text}"
    );
    // Route templates, not concrete paths: ids never become label values.
    assert!(text.contains("route=\"/api/uploads/{id}\""), "{text}");
    assert!(!text.contains("not-an-id"));
    assert!(
        text.contains("shaplab_http_request_duration_seconds_bucket{"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_close_to_its_maxmemory_is_reported_with_what_to_do() {
    let redis = TestRedis::start();
    let client = redis::Client::open(redis.url()).expect("URL");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis is up");
    let used: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut conn)
        .await
        .expect("INFO");
    let used: u64 = used
        .lines()
        .find_map(|l| l.trim_end().strip_prefix("used_memory:")?.parse().ok())
        .expect("used_memory");
    // A limit just above what the empty server uses: about 95 % full.
    let limit = used * 100 / 95;
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(limit)
        .query_async(&mut conn)
        .await
        .expect("CONFIG SET");
    let app = TestApp::spawn(&redis.url(), settings(&redis.url(), Duration::from_secs(1))).await;
    let (status, body, _) = health(&app).await;
    assert_eq!(status, 200);
    let server = &body["redis"]["server"];
    assert_eq!(server["maxmemory_bytes"], limit, "{body}");
    assert!(server["used_memory_bytes"].as_u64() > Some(0), "{body}");
    let warnings = body["redis"]["warnings"].to_string();
    assert!(
        warnings.contains("maxmemory") && warnings.contains("new jobs are refused"),
        "{body}"
    );
}
