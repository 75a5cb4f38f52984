//! The queue across a Redis crash: kill -9 and a restart from the AOF (QUEUE.md scenario 16,
//! and the reaper's grace after a restart). Every test ends with the invariant check.

mod support;

use server::queue::{
    Completion, Heartbeat, JobState, Outcome, Queue, QueueConfig, QueueError, WorkerId,
};
use server::redis::RedisPool;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};
use support::queue::{counting_executor, request};
use support::{AofRedis, settings};

fn queue_on(url: &str) -> Arc<Queue> {
    let pool = RedisPool::new(url, &settings(url, Duration::from_millis(500))).expect("URL");
    Arc::new(Queue::new(Arc::new(pool), QueueConfig::for_tests()))
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_crash_and_aof_restart_no_acknowledged_job_is_lost_and_live_leases_survive() {
    let mut redis = AofRedis::start();
    let queue = queue_on(&redis.url());
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

    redis.kill();
    // Down for longer than a lease.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    redis.restart();

    // A reaper from a process that never saw the outage is first in: it must wait.
    let reaper = queue_on(&redis.url());
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
    let worker = server::queue::Worker::new(
        reaper.clone(),
        Arc::new(counting_executor(Arc::new(AtomicUsize::new(0)))),
        server::queue::WorkerConfig::for_lease(Duration::from_secs(1)),
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

// Scenarios 15 and 19: idle workers keep consuming after Redis restarts (empty), without
// restarting the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_workers_consume_again_within_five_seconds_after_redis_restarts_empty() {
    let mut redis = support::TestRedis::start();
    let queue = queue_on(&redis.url());
    let mut runs = Vec::new();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    for _ in 0..2 {
        let worker = server::queue::Worker::new(
            queue.clone(),
            Arc::new(counting_executor(Arc::new(AtomicUsize::new(0)))),
            server::queue::WorkerConfig {
                idle_poll: Duration::from_millis(100),
                ..server::queue::WorkerConfig::for_lease(Duration::from_secs(1))
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

    redis.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    redis.restart();

    // Another process submits once Redis is back; our idle workers must pick it up.
    let producer = queue_on(&redis.url());
    let after = producer
        .submit(&request("{}", 4, 2, None))
        .await
        .expect("submit after the restart");
    let back = Instant::now();
    wait_for_success(&producer, &after.job).await;
    let resumed = back.elapsed();
    println!("workers resumed {resumed:?} after Redis came back");
    assert!(resumed < Duration::from_secs(5), "{resumed:?}");

    let _ = stop.send(true);
    for run in runs {
        run.await.expect("worker stopped");
    }
    let problems = producer.audit().await.expect("audit");
    assert!(problems.is_empty(), "{problems:#?}");
}

async fn wait_for_success(queue: &Queue, job: &server::queue::JobId) {
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
