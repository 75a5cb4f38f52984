//! The API through Redis outages, end to end over HTTP (QUEUE.md scenarios 14, 15 and 18):
//! Redis killed, Redis restarted empty, and a blackholed network path (the proxy in
//! `support::proxy`), each under a running app with an embedded worker.
//!
//! What must hold: every answer during an outage is the JSON 503 `queue_unavailable` with
//! `Retry-After`, within `REDIS_TIMEOUT` (plus slack for a busy machine), then in
//! milliseconds while the breaker is open; never a 500, never a dropped connection (what a
//! panicking handler would give); afterwards the same app recovers by itself, a job running
//! through the outage completes exactly once, and the queue invariant holds.
//!
//! The measured figures are printed (`cargo test … -- --nocapture` shows them). The bodies of
//! 15 and 18 are shared with the cluster suite (`support::scenarios::outage`).

mod support;

use reqwest::StatusCode;
use server::redis::breaker::BreakerState;
use std::time::{Duration, Instant};
use support::jobs::wait_for_success;
use support::outage::{
    FAST, SLACK, app_with_a_finished_job, assert_invariant, assert_unavailable,
    first_answer_after_outage, health, hit, id_of, report, submit, while_breaker_open,
};
use support::proxy::{Mode, Proxy};
use support::scenarios;
use support::{AofRedis, TestRedis, settings};

/// `REDIS_TIMEOUT` for these apps.
const TIMEOUT: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_passes_blackholes_and_resets_traffic() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let redis = TestRedis::start();
    let proxy = Proxy::start(redis.port);
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", proxy.port))
        .await
        .expect("connect");
    let mut buf = [0u8; 64];

    conn.write_all(b"PING\r\n").await.expect("write");
    let n = tokio::time::timeout(Duration::from_secs(2), conn.read(&mut buf))
        .await
        .expect("pass")
        .expect("read");
    assert_eq!(&buf[..n], b"+PONG\r\n");

    // Blackhole: the request is accepted by the socket but no answer comes...
    proxy.set(Mode::Blackhole);
    conn.write_all(b"PING\r\n")
        .await
        .expect("the socket stays open");
    let silent = tokio::time::timeout(Duration::from_millis(300), conn.read(&mut buf)).await;
    assert!(silent.is_err(), "an answer came through the blackhole");
    // ...and it is delivered late once the path is back, as TCP would.
    proxy.set(Mode::Pass);
    let n = tokio::time::timeout(Duration::from_secs(2), conn.read(&mut buf))
        .await
        .expect("late answer")
        .expect("read");
    assert_eq!(&buf[..n], b"+PONG\r\n");

    // Reset: open connections see ECONNRESET, new ones are reset on arrival.
    proxy.set(Mode::Reset);
    let reset = tokio::time::timeout(Duration::from_secs(2), conn.read(&mut buf))
        .await
        .expect("reset at once");
    assert_eq!(
        reset.expect_err("reset").kind(),
        std::io::ErrorKind::ConnectionReset
    );
    // (The reset can race the end of the handshake and fail the connect itself.)
    let late = match tokio::net::TcpStream::connect(("127.0.0.1", proxy.port)).await {
        Ok(mut late) => tokio::time::timeout(Duration::from_secs(2), late.read(&mut buf))
            .await
            .expect("reset at once")
            .map(|_| ()),
        Err(e) => Err(e),
    };
    assert_eq!(
        late.expect_err("reset").kind(),
        std::io::ErrorKind::ConnectionReset
    );

    // Back to Pass: new connections work again.
    proxy.set(Mode::Pass);
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", proxy.port))
        .await
        .expect("connect");
    conn.write_all(b"PING\r\n").await.expect("write");
    let n = tokio::time::timeout(Duration::from_secs(2), conn.read(&mut buf))
        .await
        .expect("pass")
        .expect("read");
    assert_eq!(&buf[..n], b"+PONG\r\n");
}

// Scenario 14: Redis killed under a running app, then back (from its AOF).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_killed_the_api_answers_503_then_fast_and_recovers_without_a_restart() {
    let mut redis = AofRedis::start();
    let url = redis.url();
    let (app, client, ep) = app_with_a_finished_job(&url, settings(&url, TIMEOUT), None).await;

    redis.kill();
    // Until the breaker opens every call waits for Redis (here: refused at once), bounded by
    // the timeout. The embedded worker and reaper fail too, so it opens within a few calls.
    let mut closed = Vec::new();
    let start = Instant::now();
    while app.pool.status().breaker == BreakerState::Closed {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the breaker never opened"
        );
        let h = hit(&client, &app, ep.call(closed.len())).await;
        assert_unavailable(&h, TIMEOUT + SLACK);
        closed.push(h.took);
    }
    report("killed, breaker closed", &closed);
    // While it is open, calls are refused without touching the network.
    let rejected_before = app.pool.status().rejected_total;
    let open = while_breaker_open(&client, &app, &ep, 30, TIMEOUT + SLACK).await;
    let max = report("killed, breaker open", &open);
    assert!(max < FAST, "a 503 took {max:?} with the breaker open");
    assert!(app.pool.status().rejected_total >= rejected_before + 30);

    redis.restart();
    let back = Instant::now();
    let (first, waited) = first_answer_after_outage(&client, &app, &ep, TIMEOUT + SLACK).await;
    eprintln!("killed: the API answered {waited:?} after Redis was back");
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(
        first.body["state"], "succeeded",
        "the job survived in the AOF"
    );
    let summary = hit(&client, &app, ep.call(2)).await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.body);
    // A new job runs to the end on the same process: API, worker and reaper all recovered.
    let again = submit(&client, &app, &ep.submit, None).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    wait_for_success(&app, &id_of(&again), Duration::from_secs(20)).await;
    eprintln!(
        "killed: a new job succeeded {:?} after Redis was back",
        back.elapsed()
    );
    let health = health(&client, &app).await;
    assert_eq!(health["redis"]["breaker"]["state"], "closed", "{health}");
    assert_eq!(
        health["redis"]["breaker"]["opened_total"], 1,
        "one outage, one opening"
    );
    assert_eq!(health["queue"]["consumer_loop_alive"], true, "{health}");
    assert_invariant(&app).await;
}

// Scenario 15: Redis restarted empty under a running app.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_redis_restarts_empty_the_app_recovers_and_a_vanished_job_is_404() {
    scenarios::outage::after_an_empty_restart_the_app_recovers_and_a_vanished_job_is_404(
        &mut TestRedis::start(),
    )
    .await;
}

// Scenario 18: the network path to Redis turns into a blackhole while a job runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blackholed_connection_is_rebuilt_and_the_running_job_completes_exactly_once() {
    let redis = TestRedis::start();
    let proxy = Proxy::start(redis.port);
    let url = proxy.url();
    scenarios::outage::a_blackholed_path_is_rebuilt_and_the_running_job_completes_once(
        &url,
        settings(&url, TIMEOUT),
        &[&proxy],
    )
    .await;
}
