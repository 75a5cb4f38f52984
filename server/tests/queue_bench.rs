//! Queue benchmarks (measurements, not checks of this machine's speed), on one redis-server
//! and on the loopback cluster. Run them with
//! `cargo test --release -p server --test queue_bench -- --ignored --nocapture --test-threads 1`.

mod support;

use server::queue::{JobState, Outcome, QueueConfig, RowRange, TaskPayload};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::cluster::start_cluster;
use support::queue::{QueueHarness, RunningWorker, Target, counting_executor};

/// No-op chunks through two workers: tasks per second.
async fn throughput(target: &Target) {
    let h = QueueHarness::on(target, QueueConfig::for_tests());
    let chunks = 2000;
    let job = h.submit(chunks, 1, None).await;
    let runs = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..2 {
        let worker = h.worker(counting_executor(runs.clone()));
        handles.push(tokio::spawn(async move {
            while worker.try_execute_task().await.expect("step") != Outcome::Empty {}
        }));
    }
    for handle in handles {
        handle.await.expect("worker");
    }
    let took = start.elapsed();
    assert_eq!(runs.load(Ordering::SeqCst), chunks as usize);
    assert_eq!(h.job(&job).await.state, JobState::Succeeded);
    println!(
        "{chunks} no-op chunks in {took:?}: {:.0} tasks/s",
        chunks as f64 / took.as_secs_f64()
    );
    h.assert_invariant().await;
}

/// Submit → claim latency with an idle worker in the same process (woken by the local
/// submit; a worker in another process finds the job within `idle_poll`).
async fn latency(target: &Target) {
    let h = QueueHarness::on(target, QueueConfig::for_tests());
    let claimed = Arc::new(std::sync::Mutex::new(Vec::<Instant>::new()));
    let seen = claimed.clone();
    let worker = Arc::new(h.worker(move |_: TaskPayload, _: RowRange, _| {
        if let Ok(mut at) = seen.lock() {
            at.push(Instant::now());
        }
        Ok("r".to_owned())
    }));
    let run = RunningWorker::spawn(worker.clone());
    let mut latencies = Vec::new();
    for i in 0..300 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let submitted_at = Instant::now();
        let job = h.submit(1, 1, None).await;
        let start = Instant::now();
        while h.job(&job).await.state != JobState::Succeeded {
            assert!(start.elapsed() < Duration::from_secs(5), "job {i} stuck");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let at = claimed.lock().expect("lock")[i];
        latencies.push(at.duration_since(submitted_at));
    }
    run.stop().await;
    latencies.sort();
    let pct = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    println!(
        "submit→claim over 300 jobs: p50 {:?}, p99 {:?}",
        pct(50),
        pct(99)
    );
    assert!(pct(50) < Duration::from_secs(1));
    h.assert_invariant().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn no_op_chunks_per_second_on_one_redis() {
    throughput(&Target::Single).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn no_op_chunks_per_second_on_a_cluster() {
    throughput(&Target::Cluster(Arc::new(start_cluster().await))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn submit_to_claim_latency_on_one_redis() {
    latency(&Target::Single).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn submit_to_claim_latency_on_a_cluster() {
    latency(&Target::Cluster(Arc::new(start_cluster().await))).await;
}
