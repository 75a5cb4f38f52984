//! The queue's ordinary life against a real redis-server: submit, idempotency, retries,
//! permanent failures, the dead set, cancellation (QUEUE.md scenarios 1–4 and 9–13).
//! Every test ends with the invariant check. The bodies of scenarios 9, 10, 11 and 13 are
//! `support::scenarios::lifecycle`, shared with the cluster suite (`cluster_queue.rs`).

mod support;

use server::queue::{Cancellation, JobState, Outcome, QueueConfig, QueueError, WorkerId};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::queue::{QueueHarness, RunningWorker, Target, counting_executor, request};
use support::scenarios::lifecycle;

fn completed(outcomes: &[Outcome]) -> usize {
    outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Completed { .. }))
        .count()
}

// Scenario 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_chunk_by_chunk_to_success_and_the_last_chunk_says_so() {
    let h = QueueHarness::start();
    let job = h.submit(10, 3, None).await;
    let queued = h.job(&job).await;
    assert_eq!(queued.state, JobState::Queued);
    assert_eq!((queued.rows_total, queued.chunks_total), (10, 4));
    assert_eq!(queued.payload.as_str(), r#"{"model":"m1","data":"d1"}"#);

    let runs = Arc::new(AtomicUsize::new(0));
    let worker = h.worker(counting_executor(runs.clone()));
    let outcomes = h.drain(&worker).await;

    assert_eq!(completed(&outcomes), 4, "{outcomes:?}");
    let lasts: Vec<bool> = outcomes
        .iter()
        .map(|o| {
            matches!(
                o,
                Outcome::Completed {
                    last_chunk: true,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(lasts, [false, false, false, true]);
    assert_eq!(runs.load(Ordering::SeqCst), 4);
    let done = h.job(&job).await;
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!((done.rows_done, done.chunks_done), (10, 4));
    assert!(done.started_ms.is_some() && done.finished_ms >= done.started_ms);
    assert_eq!(done.error, None);
    let results = h.queue.chunk_results(&job).await.expect("results");
    let expected: Vec<Option<String>> = ["rows:0-3", "rows:3-6", "rows:6-9", "rows:9-10"]
        .iter()
        .map(|s| Some((*s).to_owned()))
        .collect();
    assert_eq!(results, expected);
    h.assert_invariant().await;
}

// Scenario 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resubmitting_with_the_same_key_and_body_returns_the_same_job() {
    let h = QueueHarness::start();
    let req = request(r#"{"model":"m1"}"#, 6, 3, Some("order-1"));
    let first = h.queue.submit(&req).await.expect("first submit");
    let again = h.queue.submit(&req).await.expect("second submit");
    assert!(first.created);
    assert!(!again.created);
    assert_eq!(first.job, again.job);
    let depths = h.queue.depths().await.expect("depths");
    assert_eq!(depths.ready, 2, "one job's two chunks, not four");
    h.assert_invariant().await;
}

// Scenario 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_submits_with_one_key_make_one_job() {
    let h = QueueHarness::start();
    let mut handles = Vec::new();
    for _ in 0..50 {
        let queue = h.queue.clone();
        handles.push(tokio::spawn(async move {
            queue
                .submit(&request(r#"{"model":"m1"}"#, 9, 3, Some("same-key")))
                .await
        }));
    }
    let mut submitted = Vec::new();
    for handle in handles {
        submitted.push(handle.await.expect("task").expect("submit"));
    }
    let job = submitted[0].job.clone();
    assert!(submitted.iter().all(|s| s.job == job));
    assert_eq!(submitted.iter().filter(|s| s.created).count(), 1);
    assert_eq!(h.stat("submitted_jobs").await, 1);
    assert_eq!(h.queue.depths().await.expect("depths").ready, 3);
    h.assert_invariant().await;
}

// Scenario 4.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_with_a_different_body_is_a_conflict_naming_the_first_job() {
    let h = QueueHarness::start();
    let first = h
        .queue
        .submit(&request(r#"{"model":"m1"}"#, 6, 3, Some("k")))
        .await
        .expect("first");
    for different in [
        request(r#"{"model":"m2"}"#, 6, 3, Some("k")),
        request(r#"{"model":"m1"}"#, 7, 3, Some("k")),
        request(r#"{"model":"m1"}"#, 6, 2, Some("k")),
    ] {
        match h.queue.submit(&different).await {
            Err(QueueError::Conflict { existing }) => assert_eq!(existing, first.job),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
    assert_eq!(h.stat("submitted_jobs").await, 1);
    h.assert_invariant().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_with_no_rows_or_too_many_chunks_is_refused_before_touching_redis() {
    let h = QueueHarness::with_config(QueueConfig {
        max_chunks: 10,
        ..QueueConfig::for_tests()
    });
    for (rows, chunk) in [(0, 3), (5, 0), (11, 1)] {
        let err = h
            .queue
            .submit(&request("{}", rows, chunk, None))
            .await
            .expect_err("invalid");
        assert!(matches!(err, QueueError::Invalid(_)), "{err}");
        assert!(!err.is_retryable());
    }
    assert_eq!(h.queue.depths().await.expect("depths").ready, 0);
    h.assert_invariant().await;
}

// Scenario 9.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retryable_error_backs_off_and_then_succeeds() {
    lifecycle::retryable_error_backs_off_then_succeeds(&Target::Single).await;
}

// Scenario 10.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_error_fails_the_job_at_once_and_withdraws_its_other_chunks() {
    lifecycle::permanent_error_fails_once(&Target::Single).await;
}

// Scenario 11.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_out_of_attempts_is_dead_and_requeueing_the_job_finishes_it() {
    lifecycle::dead_task_requeued_finishes(&Target::Single).await;
}

// Scenario 12.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_queued_job_removes_its_tasks_at_once() {
    let h = QueueHarness::start();
    let job = h.submit(9, 3, None).await;
    let other = h.submit(3, 3, None).await;

    let cancelled = h.queue.cancel(&job).await.expect("cancel");
    assert_eq!(cancelled, Cancellation::Cancelled { was_running: false });
    let status = h.job(&job).await;
    assert_eq!(status.state, JobState::Cancelled);
    assert!(status.finished_ms.is_some());
    assert_eq!(h.queue.depths().await.expect("depths").ready, 1);
    h.assert_invariant().await;

    let runs = Arc::new(AtomicUsize::new(0));
    let outcomes = h.drain(&h.worker(counting_executor(runs.clone()))).await;
    assert_eq!(completed(&outcomes), 1, "only the other job runs");
    assert_eq!(h.job(&other).await.state, JobState::Succeeded);
    assert_eq!(
        h.queue.cancel(&job).await.expect("cancel again"),
        Cancellation::AlreadyFinished(JobState::Cancelled)
    );
    let unknown = server::queue::JobId::parse("p0-0123456789abcdef01234567").expect("valid");
    assert!(matches!(
        h.queue.cancel(&unknown).await,
        Err(QueueError::NotFound(_))
    ));
    assert!(matches!(
        h.queue.job(&unknown).await,
        Err(QueueError::NotFound(_))
    ));
    h.assert_invariant().await;
}

// Scenario 13.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_running_job_stops_its_chunk_within_one_heartbeat() {
    lifecycle::cancelling_a_running_job_stops_it(&Target::Single).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_large_queued_job_leaves_other_jobs_tasks_in_order() {
    let h = QueueHarness::start();
    let before = h.submit(2, 1, None).await;
    let large = h.submit(40, 1, None).await;
    let after = h.submit(2, 1, None).await;

    h.queue.cancel(&large).await.expect("cancel");

    let ready_key = server::queue::keys::Partition::new("shaplab", 0).ready();
    let ready: Vec<String> = h
        .raw(redis::cmd("LRANGE").arg(ready_key).arg(0).arg(-1))
        .await;
    let expected: Vec<String> = [&before, &before, &after, &after]
        .iter()
        .zip([0, 1, 0, 1])
        .map(|(job, chunk)| format!("{job}:{chunk}"))
        .collect();
    assert_eq!(ready, expected);
    h.assert_invariant().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_spread_over_partitions_are_all_claimed_and_a_key_always_finds_its_partition() {
    let h = QueueHarness::with_config(QueueConfig {
        partitions: 4,
        ..QueueConfig::for_tests()
    });
    let mut jobs = Vec::new();
    for _ in 0..8 {
        jobs.push(h.submit(2, 1, None).await);
    }
    let keyed = h.submit(2, 1, Some("spread-key")).await;
    assert_eq!(h.submit(2, 1, Some("spread-key")).await, keyed);
    let partitions: std::collections::BTreeSet<u16> = jobs.iter().map(|j| j.partition()).collect();
    assert_eq!(partitions.len(), 4, "{partitions:?}");

    let runs = Arc::new(AtomicUsize::new(0));
    let outcomes = h.drain(&h.worker(counting_executor(runs.clone()))).await;
    assert_eq!(completed(&outcomes), 18);
    jobs.push(keyed);
    for job in &jobs {
        assert_eq!(h.job(job).await.state, JobState::Succeeded, "{job}");
    }
    h.assert_invariant().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_running_worker_picks_up_a_new_job_and_stops_on_request() {
    let h = QueueHarness::start();
    let worker = Arc::new(h.worker(counting_executor(Arc::new(AtomicUsize::new(0)))));
    let run = RunningWorker::spawn(worker.clone());
    tokio::time::sleep(Duration::from_millis(100)).await;

    let job = h.submit(9, 3, None).await;
    let start = Instant::now();
    while h.job(&job).await.state != JobState::Succeeded {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the job never finished"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(worker.since_last_turn() < Duration::from_secs(1));
    run.stop().await;
    h.assert_invariant().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oldest_ready_age_and_each_claims_queue_wait_come_from_the_redis_clock() {
    let h = QueueHarness::start();
    assert_eq!(h.queue.oldest_ready_age().await.expect("age"), None);
    h.submit(6, 3, None).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let age = h
        .queue
        .oldest_ready_age()
        .await
        .expect("age")
        .expect("a ready task");
    assert!(
        age >= Duration::from_millis(190) && age < Duration::from_secs(5),
        "{age:?}"
    );
    let claimed = h.vanishing_claim().await;
    assert!(
        claimed.waited >= Duration::from_millis(190),
        "{:?}",
        claimed.waited
    );
    assert!(
        claimed.waited < Duration::from_secs(5),
        "{:?}",
        claimed.waited
    );
    h.assert_invariant().await;
}

// Scenario 24 (the queue's part): a depth cap, and Redis out of memory, both read as "full".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submit_past_the_depth_cap_or_into_a_redis_out_of_memory_is_refused_as_full() {
    lifecycle::a_full_queue_or_redis_refuses_submits_as_full(&Target::Single).await;
}

// Health's "workers seen": marks from any process count for three marking periods (one
// second with the test lease), then age out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_count_as_seen_while_they_mark_themselves_and_age_out_after() {
    let h = QueueHarness::start();
    let (a, b) = (WorkerId::generate(), WorkerId::generate());
    assert_eq!(h.queue.workers_seen().await.expect("count"), 0);
    assert_eq!(h.queue.mark_seen(&[a.clone(), b]).await.expect("mark"), 2);
    tokio::time::sleep(Duration::from_millis(600)).await;
    // Another process marks only `a`; `b` is still within its window.
    let other = h.another_process();
    assert_eq!(other.mark_seen(&[a]).await.expect("mark"), 2);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        h.queue.workers_seen().await.expect("count"),
        1,
        "b aged out"
    );
    h.assert_invariant().await;
}
