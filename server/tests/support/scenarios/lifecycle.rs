//! Scenarios 9, 10, 11, 13 and 24 (the queue's part): a retryable error backs off and
//! succeeds, a permanent error fails the job once, a task out of attempts is dead and
//! requeueing finishes its job, cancelling a running job stops its chunk within one heartbeat,
//! and a full queue or an out-of-memory Redis refuses submits as full.

use crate::support::queue::{QueueHarness, Target, request, until_cancelled};
use server::queue::{
    Cancellation, JobState, Outcome, QueueConfig, QueueError, RowRange, TaskError, TaskPayload,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Scenario 9: two retryable errors, each scheduled with jittered exponential backoff, then
/// success.
pub async fn retryable_error_backs_off_then_succeeds(target: &Target) {
    let h = QueueHarness::on(target, QueueConfig::for_tests());
    let job = h.submit(3, 3, None).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let worker = h.worker(move |_: TaskPayload, _: RowRange, _| {
        if seen.fetch_add(1, Ordering::SeqCst) < 2 {
            Err(TaskError::Retryable("blob store hiccup".into()))
        } else {
            Ok("result".to_owned())
        }
    });

    // Base 50 ms with equal jitter: the first delay is in [25, 50), the second in [50, 100).
    for (attempt, low, high) in [(1, 25, 50), (2, 50, 100)] {
        match worker.try_execute_task().await.expect("step") {
            Outcome::Retrying {
                attempts, delay, ..
            } => {
                assert_eq!(attempts, attempt);
                let ms = delay.as_millis();
                assert!((low..high).contains(&ms), "attempt {attempt}: {ms} ms");
            }
            other => panic!("expected a retry, got {other:?}"),
        }
        // Scheduled, not ready: nothing to claim until the backoff has passed.
        assert_eq!(
            worker.try_execute_task().await.expect("step"),
            Outcome::Empty
        );
        assert_eq!(h.queue.depths().await.expect("depths").scheduled, 1);
        h.assert_invariant().await;
        h.promote_until(1, Duration::from_secs(2)).await;
    }
    let last = worker.try_execute_task().await.expect("step");
    assert!(
        matches!(
            last,
            Outcome::Completed {
                last_chunk: true,
                ..
            }
        ),
        "{last:?}"
    );
    assert_eq!(h.job(&job).await.state, JobState::Succeeded);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(h.stat("retried").await, 2);
    h.assert_invariant().await;
}

/// Scenario 10: a permanent error fails the job at once (one run) and withdraws its other
/// chunks.
pub async fn permanent_error_fails_once(target: &Target) {
    let h = QueueHarness::on(target, QueueConfig::for_tests());
    let job = h.submit(9, 3, None).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let worker = h.worker(move |_: TaskPayload, _: RowRange, _| {
        seen.fetch_add(1, Ordering::SeqCst);
        Err(TaskError::Permanent("the model has a cyclic tree".into()))
    });

    let outcome = worker.try_execute_task().await.expect("step");
    assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
    assert_eq!(
        worker.try_execute_task().await.expect("step"),
        Outcome::Empty
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let failed = h.job(&job).await;
    assert_eq!(failed.state, JobState::Failed);
    let error = failed.error.expect("an error");
    assert_eq!(error.code, "task_failed");
    assert!(error.message.contains("cyclic tree"), "{}", error.message);
    let depths = h.queue.depths().await.expect("depths");
    assert_eq!((depths.ready, depths.scheduled, depths.dead), (0, 0, 0));
    h.assert_invariant().await;
}

/// Scenario 11: a task out of attempts (2 here) is dead and fails its job; requeueing the job
/// puts it back and it finishes; only failed jobs can be requeued.
pub async fn dead_task_requeued_finishes(target: &Target) {
    let h = QueueHarness::on(
        target,
        QueueConfig {
            max_attempts: 2,
            ..QueueConfig::for_tests()
        },
    );
    let job = h.submit(6, 3, None).await;
    let broken = Arc::new(AtomicBool::new(true));
    let flag = broken.clone();
    let worker = h.worker(move |_: TaskPayload, rows: RowRange, _| {
        if rows.start == 0 && flag.load(Ordering::SeqCst) {
            Err(TaskError::Retryable("disk full".into()))
        } else {
            Ok(format!("rows:{}", rows.start))
        }
    });

    let first = worker.try_execute_task().await.expect("step");
    assert!(
        matches!(first, Outcome::Retrying { attempts: 1, .. }),
        "{first:?}"
    );
    let second = worker.try_execute_task().await.expect("step");
    assert!(
        matches!(
            second,
            Outcome::Completed {
                last_chunk: false,
                ..
            }
        ),
        "{second:?}"
    );
    h.promote_until(1, Duration::from_secs(2)).await;
    let third = worker.try_execute_task().await.expect("step");
    assert!(matches!(third, Outcome::Dead { .. }), "{third:?}");

    let failed = h.job(&job).await;
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.error.expect("error").code, "attempts_exhausted");
    let dead = h.queue.dead_tasks(10).await.expect("dead tasks");
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].job.clone(), dead[0].chunk), (job.clone(), 0));
    h.assert_invariant().await;

    broken.store(false, Ordering::SeqCst);
    assert_eq!(h.queue.requeue_dead(&job).await.expect("requeue"), 1);
    let requeued = h.job(&job).await;
    assert_eq!(requeued.state, JobState::Running);
    assert_eq!(requeued.error, None);
    assert_eq!(h.queue.depths().await.expect("depths").dead, 0);
    let last = worker.try_execute_task().await.expect("step");
    assert!(
        matches!(
            last,
            Outcome::Completed {
                last_chunk: true,
                ..
            }
        ),
        "{last:?}"
    );
    let done = h.job(&job).await;
    assert_eq!((done.state, done.chunks_done), (JobState::Succeeded, 2));
    // Only failed jobs can be requeued.
    let err = h.queue.requeue_dead(&job).await.expect_err("succeeded");
    assert!(matches!(err, QueueError::WrongState { .. }), "{err}");
    h.assert_invariant().await;
}

/// Scenario 13: cancelling a running job stops its chunk within one heartbeat (100 ms in the
/// harness) and leaves nothing to claim.
pub async fn cancelling_a_running_job_stops_it(target: &Target) {
    let h = QueueHarness::on(target, QueueConfig::for_tests());
    let job = h.submit(6, 3, None).await;
    let worker = Arc::new(h.worker(until_cancelled(Duration::from_secs(10))));
    let stepping = worker.clone();
    let step = tokio::spawn(async move { stepping.try_execute_task().await });
    let start = Instant::now();
    while h.job(&job).await.state != JobState::Running {
        assert!(start.elapsed() < Duration::from_secs(5), "never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let cancelled_at = Instant::now();
    let cancelled = h.queue.cancel(&job).await.expect("cancel");
    assert_eq!(cancelled, Cancellation::Cancelled { was_running: true });
    let outcome = step.await.expect("task").expect("step");
    let took = cancelled_at.elapsed();

    assert!(matches!(outcome, Outcome::Discarded { .. }), "{outcome:?}");
    // One heartbeat is 100 ms in the harness; allow scheduling slack on a busy machine.
    assert!(took < Duration::from_millis(600), "stopped after {took:?}");
    let status = h.job(&job).await;
    assert_eq!((status.state, status.chunks_done), (JobState::Cancelled, 0));
    assert_eq!(
        worker.try_execute_task().await.expect("step"),
        Outcome::Empty
    );
    h.assert_invariant().await;
}

/// Scenario 24, the queue's part: a submit past the depth cap, or into a Redis out of memory
/// (on a cluster: the partition's primary), is refused as full and retryable.
pub async fn a_full_queue_or_redis_refuses_submits_as_full(target: &Target) {
    let h = QueueHarness::on(
        target,
        QueueConfig {
            max_ready_tasks: 5,
            ..QueueConfig::for_tests()
        },
    );
    h.submit(4, 1, None).await;
    let err = h
        .queue
        .submit(&request("{}", 2, 1, None))
        .await
        .expect_err("past the cap");
    assert!(matches!(err, QueueError::Full { waiting: 4 }), "{err}");
    assert!(err.is_retryable() && err.retry_after().is_some());
    h.submit(1, 1, None).await;
    h.assert_invariant().await;

    h.config_set(0, "maxmemory", "1").await;
    let err = h
        .queue
        .submit(&request("{}", 1, 1, None))
        .await
        .expect_err("out of memory");
    assert!(matches!(err, QueueError::Full { .. }), "{err:?}");
    h.config_set(0, "maxmemory", "0").await;
    h.assert_invariant().await;
}
