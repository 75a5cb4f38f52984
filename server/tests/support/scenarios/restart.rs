//! The queue across Redis crashes (QUEUE.md scenarios 16 and 19, and 15 at the queue level),
//! on any [`Crashable`] deployment: one redis-server, or a whole cluster killed at once.

use crate::support::queue::{counting_executor, request};
use crate::support::restart::Crashable;
use server::queue::{
    Completion, Heartbeat, JobId, JobState, Outcome, Queue, QueueError, Worker, WorkerConfig,
    WorkerId,
};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

/// Retries `op` while Redis is still loading or the breaker has not let calls through yet.
async fn once_back<T, F, Fut>(mut op: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, QueueError>>,
{
    let start = Instant::now();
    loop {
        match op().await {
            Ok(value) => return value,
            Err(e) if e.is_retryable() && start.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("Redis did not come back: {e}"),
        }
    }
}

/// Scenario 16: 20 acknowledged jobs and a live lease, then every Redis process is killed
/// (SIGKILL) for longer than a lease and restarted from its AOF. A reaper from a process that
/// never saw the outage waits out its grace; the live worker renews and completes; every job
/// and idempotency key is still there, and every chunk runs exactly once.
pub async fn a_crash_loses_no_acknowledged_job_and_live_leases_survive(redis: &mut dyn Crashable) {
    assert!(
        redis.keeps_data(),
        "scenario 16 needs a deployment with AOF"
    );
    let queue = redis.queue();
    let mut jobs = Vec::new();
    for i in 0..20 {
        let key = format!("job-{i}");
        let submitted = queue
            .submit(&request("{}", 6, 3, Some(&key)))
            .await
            .expect("submit");
        jobs.push(submitted.job);
    }
    let live = queue
        .claim(&WorkerId::generate())
        .await
        .expect("claim")
        .expect("a task");
    // Healthy for a while: the reaper's first-ever grace passes, the lease stays renewed.
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(1300) {
        let report = queue.reap().await.expect("reap");
        assert_eq!((report.requeued, report.lost), (0, 0));
        queue.heartbeat(&live).await.expect("heartbeat");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    tokio::task::block_in_place(|| redis.kill());
    // Down for longer than a lease.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let down = Instant::now();
    tokio::task::block_in_place(|| redis.restart());
    eprintln!("crash: back from the AOF in {:?}", down.elapsed());

    // A reaper from a process that never saw the outage is first in: it must wait.
    let reaper = redis.queue();
    let report = once_back(|| reaper.reap()).await;
    assert_eq!(report.partitions_in_grace, 1, "{report:?}");
    assert_eq!((report.requeued, report.lost), (0, 0));
    // The live worker renews within the grace and finishes its chunk.
    let beat = once_back(|| queue.heartbeat(&live)).await;
    assert_eq!(beat, Heartbeat::Renewed);
    assert_eq!(
        reaper.reap().await.expect("reap").requeued,
        0,
        "a renewed lease was reaped"
    );
    let done = once_back(|| queue.complete(&live, "r")).await;
    assert_eq!(done, Completion::Recorded);

    // Every acknowledged job is still there, with its idempotency key.
    for (i, job) in jobs.iter().enumerate() {
        let status = once_back(|| reaper.job(job)).await;
        assert!(!status.state.is_terminal(), "{job}: {:?}", status.state);
        let again = reaper
            .submit(&request("{}", 6, 3, Some(&format!("job-{i}"))))
            .await
            .expect("resubmit");
        assert_eq!((&again.job, again.created), (job, false));
    }
    let worker = Worker::new(
        reaper.clone(),
        Arc::new(counting_executor(Arc::new(AtomicUsize::new(0)))),
        WorkerConfig::for_lease(Duration::from_secs(1)),
    );
    let mut completed = 0;
    loop {
        match worker.try_execute_task().await.expect("step") {
            Outcome::Empty => break,
            Outcome::Completed { .. } => completed += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(completed, 39, "40 chunks, one completed before");
    for job in &jobs {
        assert_eq!(
            reaper.job(job).await.expect("job").state,
            JobState::Succeeded
        );
    }
    let problems = reaper.audit().await.expect("audit");
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Scenarios 15 and 19: two idle workers wait for work while Redis is killed and restarted
/// empty; without restarting their process they pick up a job submitted afterwards by
/// another process, within 5 s.
pub async fn idle_workers_consume_again_after_an_empty_restart(redis: &mut dyn Crashable) {
    assert!(!redis.keeps_data(), "this scenario restarts Redis empty");
    let queue = redis.queue();
    let mut runs = Vec::new();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    for _ in 0..2 {
        let worker = Worker::new(
            queue.clone(),
            Arc::new(counting_executor(Arc::new(AtomicUsize::new(0)))),
            WorkerConfig {
                idle_poll: Duration::from_millis(100),
                ..WorkerConfig::for_lease(Duration::from_secs(1))
            },
        );
        let mut stopped = stopped.clone();
        runs.push(tokio::spawn(async move {
            worker
                .run(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
        }));
    }
    let before = queue
        .submit(&request("{}", 4, 2, None))
        .await
        .expect("submit");
    wait_for_success(&queue, &before.job).await;

    tokio::task::block_in_place(|| redis.kill());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    tokio::task::block_in_place(|| redis.restart());

    // Another process submits once Redis is back; our idle workers must pick it up.
    let producer = redis.queue();
    let after_request = request("{}", 4, 2, None);
    let after = once_back(|| producer.submit(&after_request)).await;
    let back = Instant::now();
    wait_for_success(&producer, &after.job).await;
    let resumed = back.elapsed();
    eprintln!("workers resumed {resumed:?} after Redis came back");
    assert!(resumed < Duration::from_secs(5), "{resumed:?}");

    let _ = stop.send(true);
    for run in runs {
        run.await.expect("worker stopped");
    }
    let problems = producer.audit().await.expect("audit");
    assert!(problems.is_empty(), "{problems:#?}");
}

async fn wait_for_success(queue: &Queue, job: &JobId) {
    let start = Instant::now();
    loop {
        if let Ok(status) = queue.job(job).await
            && status.state == JobState::Succeeded
        {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{job} never succeeded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
