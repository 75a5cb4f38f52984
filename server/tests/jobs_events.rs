//! `GET /api/jobs/{id}/events`: a real HTTP client reads the server-sent events while a
//! worker is stepped by hand: a snapshot on connect, state and progress as chunks finish,
//! the end of the stream at the terminal state; an `error` event while Redis is paused and a
//! fresh snapshot once it answers again. Real redis-server, real engine.

mod support;

use reqwest::StatusCode;
use serde_json::Value;
use std::time::{Duration, Instant};
use support::backend::Backend;
use support::jobs::{app, get_json, manual_worker, submit_job};
use support::{TestRedis, fixture};

/// One server-sent event: its name and its data as JSON.
#[derive(Debug)]
struct SseEvent {
    name: String,
    data: Value,
}

/// Reads events from a streaming response; `next` is `None` at the end of the stream.
struct EventReader {
    response: reqwest::Response,
    buffer: String,
}

impl EventReader {
    async fn open(url: String) -> Self {
        let response = reqwest::get(url).await.expect("the server answers");
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()["content-type"].to_str().expect("ASCII");
        assert_eq!(content_type, "text/event-stream");
        EventReader {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (comments skipped), waiting at most `limit`.
    async fn next(&mut self, limit: Duration) -> Option<SseEvent> {
        let deadline = Instant::now() + limit;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut name, mut data) = (None, String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if let Some(name) = name {
                    let data = serde_json::from_str(&data).expect("event data is JSON");
                    return Some(SseEvent { name, data });
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let chunk = tokio::time::timeout(left, self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("no event within {limit:?}; buffered {:?}", self.buffer))
                .expect("the stream reads");
            match chunk {
                Some(bytes) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                None => return None,
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_follows_a_job_chunk_by_chunk_and_ends_at_its_terminal_state() {
    let redis = Backend::start();
    // No embedded workers: the test finishes the 4 chunks one at a time.
    let app = app(&redis, 16, 0).await;
    let data = std::fs::read(fixture("xgb_binary_d6/data.csv")).expect("fixture");
    let id = submit_job(&app, "xgb_binary_d6", data).await;
    // Responses are gzipped for clients that accept it; a stream must not be (a compressor
    // holds events back until its buffer fills).
    let gzip = reqwest::Client::new()
        .get(app.url(&format!("/api/jobs/{id}/events")))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("the server answers");
    assert_eq!(gzip.status(), StatusCode::OK);
    assert!(
        gzip.headers().get("content-encoding").is_none(),
        "{:?}",
        gzip.headers()
    );
    drop(gzip);

    let mut events = EventReader::open(app.url(&format!("/api/jobs/{id}/events"))).await;
    let snapshot = events
        .next(Duration::from_secs(5))
        .await
        .expect("a snapshot");
    assert_eq!(snapshot.name, "snapshot");
    let (_, job) = get_json(&app, &format!("/api/jobs/{id}")).await;
    assert_eq!(snapshot.data, job, "the snapshot is GET /api/jobs/{{id}}");
    assert_eq!(snapshot.data["state"], "queued");

    // Each step finishes one chunk; a poll may also land between a chunk's claim (the job
    // turns running) and its completion, so read until the event shows the chunk done.
    let worker = manual_worker(&app);
    let mut seen: Vec<(String, String, u64)> = Vec::new();
    for done in 1..=4u64 {
        let outcome = worker.try_execute_task().await.expect("redis is up");
        assert_eq!(outcome.name(), "completed");
        loop {
            let event = events.next(Duration::from_secs(5)).await.expect("an event");
            assert_eq!(event.data["id"], id.as_str());
            let chunks = event.data["progress"]["chunks_done"]
                .as_u64()
                .expect("a count");
            let state = event.data["state"].as_str().expect("a state").to_owned();
            seen.push((event.name, state, chunks));
            if chunks == done {
                break;
            }
        }
    }
    // `state` exactly when the state changed, `progress` exactly when only the progress did.
    let mut previous = ("queued".to_owned(), 0u64);
    for (name, state, chunks) in &seen {
        let expected = if *state != previous.0 {
            "state"
        } else {
            assert_ne!(*chunks, previous.1, "an event without a change: {seen:?}");
            "progress"
        };
        assert_eq!(name, expected, "{seen:?}");
        previous = (state.clone(), *chunks);
    }
    assert_eq!(seen[0].1, "running", "{seen:?}");
    assert_eq!(
        seen.last(),
        Some(&("state".to_owned(), "succeeded".to_owned(), 4)),
        "{seen:?}"
    );
    assert!(
        seen[..seen.len() - 1].iter().all(|e| e.1 == "running"),
        "{seen:?}"
    );
    assert!(
        events.next(Duration::from_secs(5)).await.is_none(),
        "the stream ends at the terminal state"
    );

    // A finished job: the snapshot, then the end.
    let mut events = EventReader::open(app.url(&format!("/api/jobs/{id}/events"))).await;
    let snapshot = events
        .next(Duration::from_secs(5))
        .await
        .expect("a snapshot");
    assert_eq!(
        (snapshot.name.as_str(), &snapshot.data["state"]),
        ("snapshot", &Value::from("succeeded"))
    );
    assert!(events.next(Duration::from_secs(5)).await.is_none());

    let (status, error) = get_json(&app, "/api/jobs/p0-0123456789abcdef01234567/events").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["code"], "job_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_paused_mid_stream_sends_an_error_event_then_a_snapshot_once_it_is_back() {
    let redis = Backend::Single(TestRedis::start());
    let app = app(&redis, 16, 0).await;
    let data = std::fs::read(fixture("xgb_binary_d6/data.csv")).expect("fixture");
    let id = submit_job(&app, "xgb_binary_d6", data).await;
    let mut events = EventReader::open(app.url(&format!("/api/jobs/{id}/events"))).await;
    let snapshot = events
        .next(Duration::from_secs(5))
        .await
        .expect("a snapshot");
    assert_eq!(snapshot.name, "snapshot");

    redis.single().signal("STOP");
    // REDIS_TIMEOUT is 1 s in these tests: the first failing poll answers within it.
    let error = events.next(Duration::from_secs(5)).await;
    redis.single().signal("CONT");
    let error = error.expect("an error event");
    assert_eq!(error.name, "error", "{error:?}");
    assert_eq!(error.data["code"], "queue_unavailable");
    assert_eq!(error.data["retryable"], true);
    assert!(error.data["request_id"].is_string());

    let back = events
        .next(Duration::from_secs(10))
        .await
        .expect("an event");
    assert_eq!(back.name, "snapshot", "{back:?}");
    assert_eq!(back.data["state"], "queued");

    // And it keeps following.
    let worker = manual_worker(&app);
    let outcome = worker.try_execute_task().await.expect("redis is up");
    assert_eq!(outcome.name(), "completed");
    let event = events.next(Duration::from_secs(5)).await.expect("an event");
    assert_eq!(
        (event.name.as_str(), &event.data["state"]),
        ("state", &Value::from("running"))
    );
    if event.data["progress"]["chunks_done"] == 0 {
        // Polled between the claim and the completion: the chunk shows in the next event.
        let event = events.next(Duration::from_secs(5)).await.expect("an event");
        assert_eq!(event.name, "progress");
        assert_eq!(event.data["progress"]["chunks_done"], 1);
    }
}
