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
//! The measured figures are printed (`cargo test … -- --nocapture` shows them).

mod support;

use reqwest::StatusCode;
use server::redis::breaker::BreakerState;
use std::time::{Duration, Instant};
use support::jobs::{cli_rows, wait_for_success};
use support::outage::{
    Endpoints, FAST, SLACK, assert_invariant, assert_unavailable, client,
    first_answer_after_outage, health, hit, id_of, replicated_data, report, submit, upload_job,
    while_breaker_open,
};
use support::proxy::{Mode, Proxy};
use support::{AofRedis, TestApp, TestRedis, fixture, settings};

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
    let app = TestApp::spawn_with_jobs(&url, settings(&url, TIMEOUT), 5000, 1).await;
    let client = client();
    let body = upload_job(&app, replicated_data(60)).await;
    let created = submit(&client, &app, &body, None).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let ep = Endpoints {
        submit: body.clone(),
        job: id_of(&created),
    };
    wait_for_success(&app, &ep.job, Duration::from_secs(20)).await;

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
    let again = submit(&client, &app, &body, None).await;
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
    let mut redis = TestRedis::start();
    let url = redis.url();
    let app = TestApp::spawn_with_jobs(&url, settings(&url, TIMEOUT), 5000, 1).await;
    let client = client();
    let body = upload_job(&app, replicated_data(60)).await;
    let created = submit(&client, &app, &body, Some("before-the-restart")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let ep = Endpoints {
        submit: body.clone(),
        job: id_of(&created),
    };
    wait_for_success(&app, &ep.job, Duration::from_secs(20)).await;

    redis.kill();
    let down = hit(&client, &app, ep.call(1)).await;
    assert_unavailable(&down, TIMEOUT + SLACK);
    redis.restart();

    // The job went with the data: the page is told it does not exist (not a 500, not a 503).
    let (first, waited) = first_answer_after_outage(&client, &app, &ep, TIMEOUT + SLACK).await;
    eprintln!("restarted empty: the API answered {waited:?} after Redis was back");
    assert_eq!(first.status, StatusCode::NOT_FOUND, "{}", first.body);
    assert_eq!(first.body["code"], "job_not_found", "{}", first.body);
    let summary = hit(&client, &app, ep.call(2)).await;
    assert_eq!(summary.status, StatusCode::NOT_FOUND, "{}", summary.body);
    assert_eq!(summary.body["code"], "job_not_found");

    // The uploads live in the blob store, so the same request (even under the same key, which
    // went with the data too) makes a new job, and the idle worker runs it.
    let back = Instant::now();
    let again = submit(&client, &app, &body, Some("before-the-restart")).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_ne!(id_of(&again), ep.job);
    wait_for_success(&app, &id_of(&again), Duration::from_secs(10)).await;
    let took = back.elapsed();
    eprintln!("restarted empty: a new job succeeded {took:?} after submitting it");
    assert!(
        took < Duration::from_secs(5),
        "workers were slow to resume: {took:?}"
    );
    let health = health(&client, &app).await;
    assert_eq!(health["redis"]["connected"], true, "{health}");
    assert_eq!(health["queue"]["consumer_loop_alive"], true, "{health}");
    assert_invariant(&app).await;
}

// Scenario 18: the network path to Redis turns into a blackhole while a job runs: calls time
// out, the connections are rebuilt, and once the path is back the API answers and the job
// completes exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blackholed_connection_is_rebuilt_and_the_running_job_completes_exactly_once() {
    let redis = TestRedis::start();
    let proxy = Proxy::start(redis.port);
    let url = proxy.url();
    // 20,000 rows in chunks of 250: 80 chunks, seconds of work for one worker.
    let rows = 20_000;
    let app = TestApp::spawn_with_jobs(&url, settings(&url, TIMEOUT), 250, 1).await;
    let client = client();
    let data = replicated_data(rows);
    let data_file = support::temp_dir("blackhole").join("data.csv");
    std::fs::write(&data_file, &data).expect("data file");
    let body = upload_job(&app, data).await;
    let created = submit(&client, &app, &body, Some("the-running-job")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let ep = Endpoints {
        submit: body.clone(),
        job: id_of(&created),
    };
    let start = Instant::now();
    loop {
        let h = hit(&client, &app, ep.call(1)).await;
        if h.body["progress"]["chunks_done"].as_u64() >= Some(1) {
            assert_eq!(h.body["state"], "running", "{}", h.body);
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{}", h.body);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    proxy.set(Mode::Blackhole);
    let dark = Instant::now();
    // Nothing answers: the first calls wait out REDIS_TIMEOUT, and not much longer.
    let first = hit(&client, &app, ep.call(1)).await;
    assert_unavailable(&first, TIMEOUT + SLACK);
    eprintln!(
        "blackhole: first 503 after {:?} (REDIS_TIMEOUT {TIMEOUT:?})",
        first.took
    );
    // A timeout does not make redis-rs reconnect; the pool replaces a connection after three
    // in a row. Health probes go around the breaker, so a few concurrent ones get there.
    let mut rounds = 0;
    while app.pool.status().rebuilds_total < 2 {
        assert!(
            dark.elapsed() < Duration::from_secs(15),
            "{:?}",
            app.pool.status()
        );
        let probes = (0..4).map(|_| health(&client, &app));
        for report in futures_util::future::join_all(probes).await {
            assert_eq!(report["redis"]["connected"], false, "{report}");
        }
        rounds += 1;
    }
    let report_now = health(&client, &app).await;
    let rebuilds = report_now["redis"]["breaker"]["connection_rebuilds_total"].as_u64();
    eprintln!("blackhole: {rebuilds:?} connection rebuilds after {rounds} rounds of probes");
    assert!(rebuilds >= Some(2), "{report_now}");
    // Meanwhile the API refuses in milliseconds, including the page's retried submit.
    let open = while_breaker_open(&client, &app, &ep, 15, TIMEOUT + SLACK).await;
    let max = report("blackhole, breaker open", &open);
    assert!(max < FAST, "a 503 took {max:?} with the breaker open");
    let retried = submit(&client, &app, &body, Some("a-retried-submit")).await;
    assert_eq!(
        retried.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        retried.body
    );
    // Longer than a lease (1 s), so only the reaper's grace keeps the worker's lease.
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(dark.elapsed())).await;

    proxy.set(Mode::Pass);
    let lit = Instant::now();
    let (answer, waited) = first_answer_after_outage(&client, &app, &ep, TIMEOUT + SLACK).await;
    eprintln!(
        "blackhole: the API answered {waited:?} after the path was back ({:?} dark)",
        lit - dark
    );
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(waited < Duration::from_secs(5), "slow recovery: {waited:?}");
    // The retried submit: at most one job for its key, whether or not the first try landed.
    let resubmitted = submit(&client, &app, &body, Some("a-retried-submit")).await;
    assert!(
        matches!(resubmitted.status, StatusCode::CREATED | StatusCode::OK),
        "{}",
        resubmitted.body
    );
    wait_for_success(&app, &ep.job, Duration::from_secs(40)).await;
    eprintln!(
        "blackhole: the running job succeeded {:?} after the path was back",
        lit.elapsed()
    );
    wait_for_success(&app, &id_of(&resubmitted), Duration::from_secs(40)).await;

    // Exactly once: one recorded completion per chunk, every row once, equal to the CLI's.
    let job = hit(&client, &app, ep.call(1)).await.body;
    assert_eq!(job["progress"]["rows_done"], rows, "{job}");
    let chunks = job["progress"]["chunks_total"].as_u64().expect("chunks");
    let stats = app.queue.stats().await.expect("stats");
    let stat = |name: &str| stats.get(name).copied().unwrap_or(0);
    eprintln!(
        "blackhole: {chunks} + 80 chunks, completed {}, reaped {}, stale writes {}",
        stat("completed"),
        stat("reaped"),
        stat("stale_writes")
    );
    assert_eq!(
        stat("completed"),
        2 * chunks,
        "a chunk was recorded twice (or not at all)"
    );
    assert_eq!(
        stat("submitted_jobs"),
        2,
        "the retried submit made two jobs"
    );
    let (status, csv) = support::jobs::get(&app, &format!("/api/jobs/{}/shap.csv", ep.job)).await;
    assert_eq!(status, StatusCode::OK);
    let served: Vec<Vec<f64>> = String::from_utf8(csv)
        .expect("UTF-8")
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|c| c.parse().expect("a number")).collect())
        .collect();
    let expected = cli_rows(&fixture("xgb_binary_d6/model.json"), &data_file).await;
    assert_eq!(served.len(), rows);
    assert!(
        served == expected,
        "the served SHAP values differ from the CLI's"
    );
    let health = health(&client, &app).await;
    assert_eq!(health["redis"]["breaker"]["state"], "closed", "{health}");
    assert_invariant(&app).await;
    let _ = std::fs::remove_dir_all(data_file.parent().expect("a dir"));
}
