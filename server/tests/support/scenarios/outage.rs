//! The HTTP API through Redis outages (QUEUE.md scenarios 15 and 18), under a running app
//! with an embedded worker, on one redis-server (`queue_outage.rs`) or a loopback cluster
//! (`cluster_restart.rs`).
//!
//! What must hold: every answer during an outage is the JSON 503 `queue_unavailable` with
//! `Retry-After`, within `REDIS_TIMEOUT` (plus slack for a busy machine), then in
//! milliseconds while the breaker is open; never a 500; afterwards the same app recovers by
//! itself, a job running through the outage completes exactly once, and the queue invariant
//! holds. Measured figures are printed (`-- --nocapture`).

use crate::support::jobs::{cli_rows, wait_for_success};
use crate::support::outage::{
    Endpoints, FAST, SLACK, app_with_a_finished_job, assert_invariant, assert_unavailable, client,
    first_answer_after_outage, health, hit, id_of, replicated_data, report, submit, upload_job,
    while_breaker_open,
};
use crate::support::proxy::{Mode, Proxy};
use crate::support::restart::Crashable;
use crate::support::{TestApp, fixture};
use reqwest::StatusCode;
use server::config::RedisSettings;
use std::time::{Duration, Instant};

/// Scenario 15: Redis (every node of it) restarted empty under a running app. The finished
/// job went with the data, so it is 404 (not a 500, not a 503); the same request makes a new
/// job, which the idle worker runs within 5 s.
pub async fn after_an_empty_restart_the_app_recovers_and_a_vanished_job_is_404(
    redis: &mut dyn Crashable,
) {
    assert!(!redis.keeps_data(), "this scenario restarts Redis empty");
    let timeout = redis.timeout();
    let (app, client, ep) =
        app_with_a_finished_job(&redis.url(), redis.settings(), Some("before-the-restart")).await;

    tokio::task::block_in_place(|| redis.kill());
    let down = hit(&client, &app, ep.call(1)).await;
    assert_unavailable(&down, timeout + SLACK);
    tokio::task::block_in_place(|| redis.restart());

    // The job went with the data: the page is told it does not exist (not a 500, not a 503).
    let (first, waited) = first_answer_after_outage(&client, &app, &ep, timeout + SLACK).await;
    eprintln!("restarted empty: the API answered {waited:?} after Redis was back");
    assert_eq!(first.status, StatusCode::NOT_FOUND, "{}", first.body);
    assert_eq!(first.body["code"], "job_not_found", "{}", first.body);
    let summary = hit(&client, &app, ep.call(2)).await;
    assert_eq!(summary.status, StatusCode::NOT_FOUND, "{}", summary.body);
    assert_eq!(summary.body["code"], "job_not_found");

    // The uploads live in the blob store, so the same request (even under the same key, which
    // went with the data too) makes a new job, and the idle worker runs it.
    let back = Instant::now();
    let again = submit(&client, &app, &ep.submit, Some("before-the-restart")).await;
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

/// Scenario 18: the network path to Redis (`proxies`, every one the app's traffic crosses)
/// turns into a blackhole while a job runs: calls time out within `REDIS_TIMEOUT`, the
/// connections are rebuilt, and once the path is back the API answers and the job completes
/// exactly once. `url` and `settings` point the app at Redis through the proxies.
pub async fn a_blackholed_path_is_rebuilt_and_the_running_job_completes_once(
    url: &str,
    settings: RedisSettings,
    proxies: &[&Proxy],
) {
    let timeout = settings.timeout;
    let set = |mode| proxies.iter().for_each(|p| p.set(mode));
    // 20,000 rows in chunks of 250: 80 chunks, seconds of work for one worker.
    let rows = 20_000;
    let app = TestApp::spawn_with_jobs(url, settings, 250, 1).await;
    let client = client();
    let data = replicated_data(rows);
    let data_file = crate::support::temp_dir("blackhole").join("data.csv");
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

    set(Mode::Blackhole);
    let dark = Instant::now();
    // Nothing answers: the first calls wait out REDIS_TIMEOUT, and not much longer.
    let first = hit(&client, &app, ep.call(1)).await;
    assert_unavailable(&first, timeout + SLACK);
    eprintln!(
        "blackhole: first 503 after {:?} (REDIS_TIMEOUT {timeout:?})",
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
    let open = while_breaker_open(&client, &app, &ep, 15, timeout + SLACK).await;
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

    set(Mode::Pass);
    let lit = Instant::now();
    let (answer, waited) = first_answer_after_outage(&client, &app, &ep, timeout + SLACK).await;
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
    let (status, csv) =
        crate::support::jobs::get(&app, &format!("/api/jobs/{}/shap.csv", ep.job)).await;
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
