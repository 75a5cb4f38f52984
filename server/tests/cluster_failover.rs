//! `CLUSTER FAILOVER` of the primary serving a partition while jobs are submitted and run on
//! the 6-process loopback cluster (QUEUE.md scenarios 21/22): brief errors at most, then
//! every accepted job succeeds, every chunk ran exactly once, and the queue's invariant holds.

mod support;

use server::queue::keys::Partition;
use server::queue::{JobId, JobState, Queue, QueueConfig, QueueError, Worker};
use server::redis::RedisPool;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use support::cluster::{cluster_settings, start_cluster};
use support::queue::{RunningReaper, RunningWorker, Runs, request, slow_counting_executor};
use support::wait_until;

/// One submit of the load generator: when (since the test started) and what came back.
struct Submit {
    at: Duration,
    outcome: Result<JobId, String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_failover_under_load_loses_no_job_and_leaves_no_task_stuck() {
    let cluster = start_cluster().await;
    let url = cluster.url();
    let pool = Arc::new(RedisPool::new(&url, &cluster_settings(&url, false)).expect("pool"));
    let config = QueueConfig {
        partitions: 3,
        ..QueueConfig::for_tests()
    };
    let partition = Partition::new(&config.prefix, 0);
    let queue = Arc::new(Queue::new(pool.clone(), config));
    let runs: Runs = Arc::default();
    let worker_config = server::queue::WorkerConfig {
        heartbeat_every: Duration::from_millis(100),
        idle_poll: Duration::from_millis(50),
        shutdown_grace: Duration::from_millis(300),
        write_retry_for: Duration::from_secs(10),
    };
    let workers: Vec<RunningWorker> = (0..3)
        .map(|_| {
            RunningWorker::spawn(Arc::new(Worker::new(
                queue.clone(),
                Arc::new(slow_counting_executor(runs.clone())),
                worker_config.clone(),
            )))
        })
        .collect();
    let reaper = RunningReaper::spawn(queue.clone(), Duration::from_millis(200));

    // The primary serving partition 0 and its replica, which will take over.
    let slot = cluster.keyslot(&partition.ready());
    let (old_primary, replica) = cluster.owner_of_slot(slot);

    // Submit a 4-chunk job every 40 ms (round-robin over the partitions) until told to stop;
    // fail over 1 s in, stop 1 s after the cluster has settled.
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let submitter = {
        let (queue, stop) = (queue.clone(), stop.clone());
        tokio::spawn(async move {
            let mut log = Vec::new();
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let payload = format!(r#"{{"job":{n}}}"#);
                let outcome = match queue.submit(&request(&payload, 40, 10, None)).await {
                    Ok(s) => Ok(s.job),
                    Err(e @ QueueError::Unavailable(_)) => Err(e.to_string()),
                    Err(e) => panic!("submit {n} failed with a non-retryable error: {e}"),
                };
                log.push(Submit {
                    at: started.elapsed(),
                    outcome,
                });
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
            log
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let failover_at = started.elapsed();
    let replica_port = replica.port;
    let reply = tokio::task::block_in_place(|| cluster.cli(replica_port, &["cluster", "failover"]));
    assert!(reply.contains("OK"), "CLUSTER FAILOVER: {reply}");
    // The replica's own view first (when writes to the slot can succeed again), then every
    // node's.
    let promoted_at = tokio::task::block_in_place(|| {
        wait_until(Duration::from_secs(20), || {
            cluster.cli(replica_port, &["role"]).starts_with("master")
        })
        .then(|| started.elapsed())
    })
    .expect("the replica was promoted within 20 s");
    let agreed = tokio::task::block_in_place(|| {
        cluster.wait_primary(slot, replica_port, Duration::from_secs(20))
    });
    assert!(
        agreed,
        "the replica on {replica_port} did not take over slot {slot} from {} within 20 s",
        old_primary.port
    );
    let settled_at = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let log = submitter.await.expect("the submitter ran");
    let accepted: Vec<JobId> = log
        .iter()
        .filter_map(|s| s.outcome.as_ref().ok().cloned())
        .collect();
    let refused: Vec<&String> = log
        .iter()
        .filter_map(|s| s.outcome.as_ref().err())
        .collect();
    // Writes to the failed-over partition flow again once the replica is promoted.
    let p0_back_at = log
        .iter()
        .filter(|s| s.at > promoted_at)
        .find(|s| s.outcome.as_ref().is_ok_and(|j| j.partition() == 0))
        .map(|s| s.at)
        .expect("a submit to the failed-over partition succeeded after the promotion");
    assert!(!accepted.is_empty());

    // Every accepted job ends, and succeeds.
    let deadline = Instant::now() + Duration::from_secs(30);
    for job in &accepted {
        loop {
            match queue.job(job).await {
                Ok(status) if status.state == JobState::Succeeded => {
                    assert_eq!(status.chunks_done, status.chunks_total);
                    break;
                }
                Ok(status) => assert!(
                    !matches!(status.state, JobState::Failed | JobState::Cancelled),
                    "job {job} ended {:?}: {:?}",
                    status.state,
                    status.error
                ),
                Err(QueueError::Unavailable(_)) => {}
                Err(e) => panic!("job {job}: {e}"),
            }
            assert!(
                Instant::now() < deadline,
                "job {job} did not finish in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let all_done_at = started.elapsed();
    // A submit refused mid-failover may still have been queued (the reply was lost): give
    // such jobs time to finish too, then nothing may be left waiting, leased or dead.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let d = queue.depths().await.expect("depths");
        if d.ready + d.leased + d.scheduled == 0 {
            assert_eq!(d.dead, 0, "no task died");
            break;
        }
        assert!(Instant::now() < deadline, "tasks left behind: {d:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    for worker in workers {
        worker.stop().await;
    }
    reaper.stop().await;
    let problems = queue.audit().await.expect("audit");
    assert!(problems.is_empty(), "{problems:?}");

    let runs = runs.lock().map(|r| r.clone()).unwrap_or_default();
    let tasks_run = runs.len();
    let duplicates: u32 = runs.values().map(|n| n - 1).sum();
    let p0 = accepted.iter().filter(|j| j.partition() == 0).count();
    eprintln!(
        "failover: {} jobs accepted ({p0} on the failed-over partition), {} submits refused \
         (first: {:?}), {tasks_run} chunks run, {duplicates} duplicate runs; after CLUSTER \
         FAILOVER: replica promoted in {:?}, partition writable again in {:?}, every node \
         agreed in {:?}, all accepted jobs done in {:?}; breaker opened {} times",
        accepted.len(),
        refused.len(),
        refused.first(),
        promoted_at - failover_at,
        p0_back_at - failover_at,
        settled_at - failover_at,
        all_done_at - failover_at,
        pool.status().breaker_opened_total,
    );
    assert!(tasks_run >= accepted.len() * 4);
}
