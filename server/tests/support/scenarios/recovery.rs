//! Scenarios 6, 7, 8, 17 and 20: a poison task, a zombie's late writes, a graceful release,
//! Redis paused past a lease, and a result computed while Redis was briefly away. A
//! "vanished" or "paused" worker is a claim with no heartbeat behind it: exactly what Redis
//! sees of a SIGKILLed or SIGSTOPped process.

use super::LIMIT;
use crate::support::queue::{
    QueueHarness, RunningReaper, RunningWorker, Target, counting_executor, until_cancelled,
};
use server::queue::keys::Partition;
use server::queue::{
    JobState, Outcome, QueueConfig, QueueError, ReapReport, RowRange, TaskError, TaskId,
    TaskPayload,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Scenario 6: a chunk that kills every worker taking it fails its job as `worker_lost` after
/// `max_stalls` (2) lease expiries, while another job keeps flowing.
pub async fn poison_task_fails_as_worker_lost(target: &Target) {
    let h = QueueHarness::on(target, QueueConfig::for_tests());
    let poison = h.submit(3, 3, None).await;
    let healthy = h.submit(9, 3, None).await;
    let runs = Arc::new(AtomicUsize::new(0));
    let worker = h.worker(counting_executor(runs.clone()));

    for (stall, goal) in [
        (
            1,
            ReapReport {
                requeued: 1,
                ..Default::default()
            },
        ),
        (
            2,
            ReapReport {
                lost: 1,
                ..Default::default()
            },
        ),
    ] {
        // The poison chunk is at the head of ready: it kills whoever takes it.
        let victim = h.vanishing_claim().await;
        assert_eq!(victim.id.job, poison);
        assert_eq!(victim.stalls, stall - 1);
        // Meanwhile the healthy job makes progress.
        let step = worker.try_execute_task().await.expect("step");
        assert!(matches!(step, Outcome::Completed { .. }), "{step:?}");
        h.reap_until(LIMIT, |r| {
            r.requeued >= goal.requeued && r.lost >= goal.lost
        })
        .await;
    }

    let failed = h.job(&poison).await;
    assert_eq!(failed.state, JobState::Failed);
    let error = failed.error.expect("an error");
    assert_eq!(error.code, "worker_lost");
    assert!(error.message.contains("2 times"), "{}", error.message);
    let dead = h.queue.dead_tasks(10).await.expect("dead");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].job, poison);

    let rest = h.drain(&worker).await;
    assert_eq!(rest.len(), 1);
    assert!(matches!(
        rest[0],
        Outcome::Completed {
            last_chunk: true,
            ..
        }
    ));
    assert_eq!(h.job(&healthy).await.state, JobState::Succeeded);
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    h.assert_invariant().await;
}

/// Scenario 7: a worker frozen past its lease wakes after another worker finished its chunk;
/// every write it tries is refused by the fencing token and the winner's result stays.
pub async fn zombie_writes_are_rejected(target: &Target) {
    let h = QueueHarness::on(target, QueueConfig::for_tests());
    let job = h.submit(3, 3, None).await;
    let zombie = h.vanishing_claim().await;
    h.reap_until(LIMIT, |r| r.requeued == 1).await;

    let winner = h.worker(counting_executor(Arc::new(AtomicUsize::new(0))));
    let outcome = winner.try_execute_task().await.expect("step");
    assert!(
        matches!(
            outcome,
            Outcome::Completed {
                last_chunk: true,
                ..
            }
        ),
        "{outcome:?}"
    );

    // The zombie wakes up and tries every write it could make.
    let late = h.queue.complete(&zombie, "zombie-result").await;
    assert!(matches!(late, Err(QueueError::StaleToken(_))), "{late:?}");
    let beat = h.queue.heartbeat(&zombie).await;
    assert!(matches!(beat, Err(QueueError::StaleToken(_))), "{beat:?}");
    let fail = h
        .queue
        .fail(&zombie, &TaskError::Permanent("late".into()))
        .await;
    assert!(matches!(fail, Err(QueueError::StaleToken(_))), "{fail:?}");
    let release = h.queue.release(&zombie).await;
    assert!(
        matches!(release, Err(QueueError::StaleToken(_))),
        "{release:?}"
    );

    assert_eq!(
        h.queue.chunk_results(&job).await.expect("results"),
        vec![Some("rows:0-3".to_owned())]
    );
    let done = h.job(&job).await;
    assert_eq!(
        (done.state, done.chunks_done, done.rows_done),
        (JobState::Succeeded, 1, 3)
    );
    assert_eq!(h.stat("stale_writes").await, 4);
    h.assert_invariant().await;
}

/// Scenario 8: a worker asked to stop (SIGTERM) releases its running chunk after the grace
/// period without counting the attempt; another worker runs it at once.
pub async fn shutdown_releases_without_counting(target: &Target) {
    let h = QueueHarness::on(target, QueueConfig::for_tests());
    let job = h.submit(3, 3, None).await;
    let worker = Arc::new(h.worker(until_cancelled(Duration::from_secs(10))));
    let run = RunningWorker::spawn(worker.clone());
    h.wait_until_leased(1).await;

    let asked = Instant::now();
    run.stop().await;
    // The 300 ms grace, then the release.
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
    let depths = h.queue.depths().await.expect("depths");
    assert_eq!((depths.ready, depths.leased), (1, 0));
    let task = TaskId {
        job: job.clone(),
        chunk: 0,
    };
    assert_eq!(h.task_field(&task, "attempts").await.as_deref(), Some("0"));
    assert_eq!(h.task_field(&task, "stalls").await.as_deref(), Some("0"));
    assert_eq!(h.stat("released").await, 1);
    h.assert_invariant().await;

    // Another worker picks it up at once; this is its first counted attempt.
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
    assert_eq!(h.task_field(&task, "attempts").await.as_deref(), Some("1"));
    h.assert_invariant().await;
}

/// Scenario 17: the Redis process serving the queue (on a cluster: the primary of partition
/// 0) is SIGSTOPped longer than a lease while two chunks run and a reaper in another process
/// keeps reaping. Nothing is reaped, each chunk runs once, and the reaper records the gap.
pub async fn a_pause_past_the_lease_reaps_nothing(target: &Target) {
    let h = QueueHarness::on(target, QueueConfig::for_tests());
    // Longer than the 1 s lease either way; on a cluster shorter than its 2 s
    // `cluster-node-timeout`, or the paused primary's replica would take over and this
    // would be a failover test (scenario 21).
    let pause_for = if h.is_cluster() {
        Duration::from_millis(1400)
    } else {
        Duration::from_millis(1800)
    };
    let job = h.submit(6, 3, None).await;
    let runs = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(AtomicBool::new(false));
    let mut steps = Vec::new();
    for _ in 0..2 {
        let (runs, gate) = (runs.clone(), gate.clone());
        let worker = Arc::new(h.worker(move |_: TaskPayload, rows: RowRange, _| {
            runs.fetch_add(1, Ordering::SeqCst);
            let start = Instant::now();
            while !gate.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(15) {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(format!("rows:{}", rows.start))
        }));
        steps.push(tokio::spawn(async move { worker.try_execute_task().await }));
    }
    // A reaper in another process, reaping every 100 ms throughout.
    let reaper = RunningReaper::spawn(h.another_process(), Duration::from_millis(100));
    h.wait_until_leased(2).await;
    // Let the reaper's first-ever grace pass, so only the pause can protect the leases.
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let paused = h.pause(0);
    tokio::time::sleep(pause_for).await;
    paused.resume();
    // Past the post-outage grace and another lease: any wrongful reap would have happened.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    gate.store(true, Ordering::SeqCst);
    let mut outcomes = Vec::new();
    for step in steps {
        outcomes.push(step.await.expect("task").expect("step"));
    }
    reaper.stop().await;

    assert_eq!(runs.load(Ordering::SeqCst), 2, "a chunk ran twice");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Outcome::Completed { .. })),
        "{outcomes:?}"
    );
    let done = h.job(&job).await;
    assert_eq!((done.state, done.chunks_done), (JobState::Succeeded, 2));
    assert_eq!(h.stat("reaped").await, 0, "a live lease was reaped");
    // The reaper noticed the gap: one grace at first sight, one after the pause.
    let reaper_key = Partition::new(&h.queue.config().prefix, 0).reaper();
    let graces: Option<u64> = h
        .raw(redis::cmd("HGET").arg(reaper_key).arg("graces"))
        .await;
    assert!(graces.is_some_and(|g| g >= 2), "{graces:?}");
    h.assert_invariant().await;
}

/// Scenario 20: a chunk that finishes while the Redis serving it (on a cluster: the
/// partition's primary) is paused for less than a lease keeps its result and writes it once
/// Redis answers; the chunk is not run again.
pub async fn a_result_computed_during_a_pause_is_written_once(target: &Target) {
    let h = QueueHarness::on(target, QueueConfig::for_tests());
    let job = h.submit(3, 3, None).await;
    let runs = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(AtomicBool::new(false));
    let (counter, open) = (runs.clone(), gate.clone());
    let worker = Arc::new(h.worker(move |_: TaskPayload, _: RowRange, _| {
        counter.fetch_add(1, Ordering::SeqCst);
        while !open.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok("kept".to_owned())
    }));
    let stepping = worker.clone();
    let step = tokio::spawn(async move { stepping.try_execute_task().await });
    h.wait_until_leased(1).await;

    let paused = h.pause(0);
    gate.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(700)).await;
    paused.resume();
    let outcome = step.await.expect("task").expect("step");

    // The first write may have landed when Redis resumed and its retry found it recorded.
    assert!(matches!(outcome, Outcome::Completed { .. }), "{outcome:?}");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let done = h.job(&job).await;
    assert_eq!((done.state, done.chunks_done), (JobState::Succeeded, 1));
    assert_eq!(
        h.queue.chunk_results(&job).await.expect("results"),
        vec![Some("kept".to_owned())]
    );
    assert_eq!(h.stat("completed").await, 1);
    h.assert_invariant().await;
}
