//! The queue when things go wrong, against a real redis-server: vanished workers, poison
//! tasks, zombies, graceful shutdown, Redis paused past a lease or briefly during a task
//! (QUEUE.md scenarios 5–8, 17, 20). A "vanished" or "paused" worker is a claim with no
//! heartbeat behind it: exactly what Redis sees of a SIGKILLed or SIGSTOPped process. Every
//! test ends with the invariant check. The bodies of scenarios 6, 7, 8, 17 and 20 are
//! `support::scenarios::recovery`, shared with the cluster suite (`cluster_queue.rs`).

mod support;

use server::queue::{JobState, Outcome};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::queue::{QueueHarness, RunningWorker, Target, counting_executor, until_cancelled};
use support::scenarios::recovery;

const LIMIT: Duration = Duration::from_secs(6);

// Scenario 5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_whose_worker_vanished_is_rerun_by_another_worker_after_its_lease() {
    let h = QueueHarness::start();
    let job = h.submit(3, 3, None).await;
    let vanished = h.vanishing_claim().await;
    let claimed_at = Instant::now();

    let report = h.reap_until(LIMIT, |r| r.requeued == 1).await;
    // Not before the 1 s lease ran out.
    assert!(claimed_at.elapsed() >= Duration::from_millis(900));
    assert_eq!(report.lost, 0);
    assert_eq!(
        h.task_field(&vanished.id, "stalls").await.as_deref(),
        Some("1")
    );

    let runs = Arc::new(AtomicUsize::new(0));
    let outcomes = h.drain(&h.worker(counting_executor(runs.clone()))).await;
    assert_eq!(outcomes.len(), 1);
    assert!(matches!(
        outcomes[0],
        Outcome::Completed {
            last_chunk: true,
            ..
        }
    ));
    assert_eq!(h.job(&job).await.state, JobState::Succeeded);
    assert_eq!(
        h.task_field(&vanished.id, "attempts").await.as_deref(),
        Some("2")
    );
    assert_eq!(h.stat("reaped").await, 1);
    h.assert_invariant().await;
}

// Scenario 6.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_task_fails_its_job_as_worker_lost_while_other_jobs_keep_flowing() {
    recovery::poison_task_fails_as_worker_lost(&Target::Single).await;
}

// Scenario 7.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zombie_that_wakes_after_losing_its_lease_cannot_overwrite_the_winners_result() {
    recovery::zombie_writes_are_rejected(&Target::Single).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_complete_with_the_same_token_is_recorded_once() {
    let h = QueueHarness::start();
    let job = h.submit(6, 3, None).await;
    let task = h.vanishing_claim().await;
    use server::queue::Completion;
    assert_eq!(
        h.queue.complete(&task, "r").await.expect("complete"),
        Completion::Recorded
    );
    // The reply was lost, say, and the worker writes again.
    assert_eq!(
        h.queue.complete(&task, "r").await.expect("again"),
        Completion::AlreadyRecorded
    );
    let status = h.job(&job).await;
    assert_eq!((status.chunks_done, status.rows_done), (1, 3));
    // The last chunk's repeated write still says "last", so the summary is not missed.
    let last = h.vanishing_claim().await;
    assert_eq!(
        h.queue.complete(&last, "r").await.expect("complete"),
        Completion::Last
    );
    assert_eq!(
        h.queue.complete(&last, "r").await.expect("again"),
        Completion::Last
    );
    let status = h.job(&job).await;
    assert_eq!((status.state, status.chunks_done), (JobState::Succeeded, 2));
    h.assert_invariant().await;
}

// Scenario 8.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_down_releases_a_running_chunk_without_counting_the_attempt() {
    recovery::shutdown_releases_without_counting(&Target::Single).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_down_lets_a_chunk_that_ends_within_the_grace_period_complete() {
    let h = QueueHarness::start();
    let job = h.submit(3, 3, None).await;
    let started = Arc::new(AtomicBool::new(false));
    let flag = started.clone();
    let worker = Arc::new(h.worker(
        move |_: server::queue::TaskPayload, _: server::queue::RowRange, _| {
            flag.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(100));
            Ok("done".to_owned())
        },
    ));
    let run = RunningWorker::spawn(worker.clone());
    let start = Instant::now();
    while !started.load(Ordering::SeqCst) {
        assert!(start.elapsed() < LIMIT, "never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    run.stop().await;
    assert_eq!(h.job(&job).await.state, JobState::Succeeded);
    assert_eq!(h.stat("released").await, 0);
    h.assert_invariant().await;
}

// Scenario 17.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_paused_longer_than_a_lease_reaps_nothing_and_runs_each_chunk_once() {
    recovery::a_pause_past_the_lease_reaps_nothing(&Target::Single).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invariant_check_catches_a_task_in_two_places() {
    let h = QueueHarness::start();
    let job = h.submit(3, 3, None).await;
    h.assert_invariant().await;
    let p = server::queue::keys::Partition::new("shaplab", 0);
    let _: i64 = h
        .raw(
            redis::cmd("ZADD")
                .arg(p.scheduled())
                .arg(0)
                .arg(format!("{job}:0")),
        )
        .await;
    let problems = h.queue.audit().await.expect("audit");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("ready"), "{}", problems[0]);
}

// Scenario 17, the race made deterministic: the reaper reaches Redis right after the pause,
// before the live worker's next heartbeat. Without the grace it would reap a live lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reaper_arriving_before_the_heartbeats_after_a_pause_waits_out_the_grace() {
    let h = QueueHarness::start();
    let job = h.submit(3, 3, None).await;
    let live = h.vanishing_claim().await;
    // Reaper and worker both healthy for a while: the first-ever grace passes.
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(1300) {
        let report = h.queue.reap().await.expect("reap");
        assert_eq!((report.requeued, report.lost), (0, 0));
        h.queue.heartbeat(&live).await.expect("heartbeat");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(h.queue.reap().await.expect("reap").partitions_in_grace, 0);

    let paused = h.pause(0);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    paused.resume();
    // A reaper with fresh connections is first in; the lease deadline is long past.
    let reaper = h.another_process();
    let report = reaper.reap().await.expect("reap after the pause");
    assert_eq!(report.partitions_in_grace, 1, "{report:?}");
    assert_eq!((report.requeued, report.lost), (0, 0));
    // The worker renews within the grace and keeps its task.
    let beat = reaper.heartbeat(&live).await;
    assert!(
        matches!(beat, Ok(server::queue::Heartbeat::Renewed)),
        "{beat:?}"
    );
    let after = reaper.reap().await.expect("reap");
    assert_eq!((after.requeued, after.lost), (0, 0));
    let done = reaper.complete(&live, "r").await.expect("complete");
    assert_eq!(done, server::queue::Completion::Last);
    assert_eq!(h.job(&job).await.state, JobState::Succeeded);
    h.assert_invariant().await;
}

// Scenario 20: a chunk that finishes while Redis is briefly away keeps its result and writes
// it once Redis answers; the chunk is not run again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_computed_while_redis_is_paused_is_written_once_it_returns() {
    recovery::a_result_computed_during_a_pause_is_written_once(&Target::Single).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_fail_with_the_same_token_is_recorded_once() {
    let h = QueueHarness::start();
    let job = h.submit(3, 3, None).await;
    let task = h.vanishing_claim().await;
    let error = server::queue::TaskError::Retryable("flaky".into());
    use server::queue::FailOutcome;
    let first = h.queue.fail(&task, &error).await.expect("fail");
    assert!(
        matches!(first, FailOutcome::Retry { attempts: 1, .. }),
        "{first:?}"
    );
    let again = h.queue.fail(&task, &error).await.expect("fail again");
    assert_eq!(
        again,
        FailOutcome::Retry {
            delay: Duration::ZERO,
            attempts: 1
        }
    );
    assert_eq!(h.stat("retried").await, 1);
    assert_eq!(h.stat("stale_writes").await, 0);
    assert_eq!(h.job(&job).await.state, JobState::Running);
    h.assert_invariant().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_down_while_redis_is_unreachable_still_ends_within_the_grace_period() {
    let h = QueueHarness::start();
    h.submit(3, 3, None).await;
    let started = Arc::new(AtomicBool::new(false));
    let gate = Arc::new(AtomicBool::new(false));
    let (flag, open) = (started.clone(), gate.clone());
    let worker = Arc::new(h.worker(
        move |_: server::queue::TaskPayload, _: server::queue::RowRange, _| {
            flag.store(true, Ordering::SeqCst);
            while !open.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok("unwritten".to_owned())
        },
    ));
    let run = RunningWorker::spawn(worker.clone());
    let start = Instant::now();
    while !started.load(Ordering::SeqCst) {
        assert!(start.elapsed() < LIMIT, "never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let paused = h.pause(0);
    gate.store(true, Ordering::SeqCst);
    let asked = Instant::now();
    run.stop().await;
    let took = asked.elapsed();
    paused.resume();
    // 300 ms grace plus at most one Redis timeout (500 ms), not the 5 s write retry.
    assert!(took < Duration::from_millis(2000), "shutdown took {took:?}");
    h.assert_invariant().await;
}

// Scenario 5 with a real worker: dropping its step mid-chunk (what dying does to it) also
// stops its heartbeat task, so the lease runs out and another worker re-runs the chunk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_dropped_mid_chunk_stops_heartbeating_and_its_chunk_runs_elsewhere() {
    let h = QueueHarness::start();
    let job = h.submit(3, 3, None).await;
    let dying = Arc::new(h.worker(until_cancelled(Duration::from_secs(2))));
    let stepping = dying.clone();
    let step = tokio::spawn(async move { stepping.try_execute_task().await });
    h.wait_until_leased(1).await;
    step.abort();
    let _ = step.await;

    h.reap_until(LIMIT, |r| r.requeued == 1).await;
    let outcomes = h
        .drain(&h.worker(counting_executor(Arc::new(AtomicUsize::new(0)))))
        .await;
    assert!(matches!(
        outcomes[..],
        [Outcome::Completed {
            last_chunk: true,
            ..
        }]
    ));
    let task = server::queue::TaskId {
        job: job.clone(),
        chunk: 0,
    };
    assert_eq!(h.task_field(&task, "stalls").await.as_deref(), Some("1"));
    assert_eq!(h.job(&job).await.state, JobState::Succeeded);
    h.assert_invariant().await;
}
