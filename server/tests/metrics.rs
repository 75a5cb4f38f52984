//! `GET /metrics` in the Prometheus text format: the process's own metrics (HTTP, Redis
//! calls, chunks, job durations) and the whole queue read from Redis at scrape time (tasks by
//! state, oldest queued age, the scripts' event counters), with `shaplab_queue_up 0` instead
//! of the queue part while Redis is down.

mod support;

use reqwest::StatusCode;
use std::time::{Duration, Instant};
use support::backend::Backend;
use support::jobs::{app, submit_job, wait_for_success};
use support::{TestRedis, fixture};

async fn scrape(app: &support::TestApp) -> (StatusCode, String) {
    let response = reqwest::get(app.url("/metrics"))
        .await
        .expect("the server answers");
    let status = response.status();
    (status, response.text().await.expect("text"))
}

/// The value of the sample line `name` (with its labels), if present.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_job_the_scrape_counts_the_queues_events_and_the_jobs_duration() {
    let redis = Backend::start();
    // 60 rows in chunks of 16: 4 chunks, 2 workers.
    let app = app(&redis, 16, 2).await;
    let data = std::fs::read(fixture("xgb_binary_d6/data.csv")).expect("fixture");
    let id = submit_job(&app, "xgb_binary_d6", data).await;
    wait_for_success(&app, &id, Duration::from_secs(30)).await;

    // The job's duration is recorded just after its last chunk (one status read): poll.
    let start = Instant::now();
    let text = loop {
        let (status, text) = scrape(&app).await;
        assert_eq!(status, StatusCode::OK);
        if sample(&text, "shaplab_job_duration_seconds_count").is_some_and(|n| n >= 1.0) {
            break text;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // This test's Redis saw exactly this job.
    let event = |e: &str| {
        sample(
            &text,
            &format!("shaplab_queue_events_total{{event=\"{e}\"}}"),
        )
    };
    assert_eq!(sample(&text, "shaplab_queue_up"), Some(1.0), "{text}");
    assert_eq!(event("submitted_jobs"), Some(1.0), "{text}");
    assert_eq!(event("submitted_tasks"), Some(4.0), "{text}");
    assert_eq!(event("completed"), Some(4.0), "{text}");
    assert_eq!(event("reaped"), Some(0.0), "{text}");
    assert_eq!(
        sample(&text, "shaplab_queue_workers_seen"),
        Some(2.0),
        "{text}"
    );
    for state in ["queued", "running", "scheduled", "dead"] {
        let line = format!("shaplab_queue_tasks{{state=\"{state}\"}}");
        assert_eq!(sample(&text, &line), Some(0.0), "{state}: {text}");
    }
    assert_eq!(
        sample(&text, "shaplab_queue_oldest_queued_age_seconds"),
        Some(0.0)
    );
    assert!(text.contains("# TYPE shaplab_queue_events_total counter"));
    assert!(
        text.contains("shaplab_job_duration_seconds_bucket{le=\"1\"}"),
        "{text}"
    );
    assert!(
        text.contains("shaplab_chunk_duration_seconds_bucket{"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_down_the_scrape_says_the_queue_is_down_and_keeps_the_rest() {
    let mut redis = TestRedis::start();
    let url = redis.url();
    let timeout = Duration::from_secs(1);
    let app = support::TestApp::spawn(&url, support::settings(&url, timeout)).await;
    let (_, up) = scrape(&app).await;
    assert_eq!(sample(&up, "shaplab_queue_up"), Some(1.0), "{up}");

    redis.kill();
    for _ in 0..3 {
        let start = Instant::now();
        let (status, text) = scrape(&app).await;
        let took = start.elapsed();
        assert_eq!(status, StatusCode::OK, "{text}");
        assert!(took < timeout + Duration::from_secs(1), "took {took:?}");
        assert_eq!(sample(&text, "shaplab_queue_up"), Some(0.0), "{text}");
        assert!(!text.contains("shaplab_queue_tasks{"), "{text}");
        // The process's own metrics are still there, Redis errors included.
        assert!(text.contains("shaplab_http_requests_total{"), "{text}");
        assert!(text.contains("shaplab_redis_errors_total{"), "{text}");
    }
}
