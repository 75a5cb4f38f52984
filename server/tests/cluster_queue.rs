//! Queue scenarios of QUEUE.md on a 6-process loopback Redis Cluster (3 primaries, 3
//! replicas), with the same bodies as the single-Redis suites (`support::scenarios`), the
//! invariant checked after each:
//!
//! - 6, 7, 8: a poison task fails its job as `worker_lost`, a zombie's late writes are
//!   refused, a graceful shutdown releases its chunk without counting the attempt;
//! - 9, 10, 11, 13: retry with backoff then success, a permanent error fails once, a dead
//!   task is requeued and finishes, cancelling a running job stops it within a heartbeat;
//! - 24 (the queue's part): past the depth cap, or with the partition's primary out of
//!   memory, a submit is refused as full;
//! - 17: the primary serving the queue's partition is SIGSTOPped past the lease (short of the
//!   cluster's failover timeout), then SIGCONTed: nothing reaped, nothing run twice;
//! - 20: a chunk finishing while that primary is paused for less than a lease writes its
//!   result once the primary answers, without running again;
//! - 23: a short seeded chaos soak over 3 partitions (three slots, so its pauses may freeze
//!   different primaries), seed printed.
//!
//! Scenarios sharing a cluster each get their own queue prefix (see `Target::Cluster`), so
//! they never meet; scenarios 17/20 and the soak freeze nodes and get a cluster of their own.

mod support;

use std::sync::Arc;
use support::cluster::TestCluster;
use support::queue::Target;
use support::scenarios::{lifecycle, recovery, soak};

/// A fresh cluster as a scenario target, started off the async runtime's threads (it takes
/// a few seconds of blocking process calls).
async fn cluster_target() -> Target {
    let cluster = tokio::task::spawn_blocking(TestCluster::start)
        .await
        .expect("the cluster starts");
    Target::Cluster(Arc::new(cluster))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_tasks_zombies_and_graceful_release_behave_on_a_cluster() {
    let target = cluster_target().await;
    recovery::poison_task_fails_as_worker_lost(&target).await;
    recovery::zombie_writes_are_rejected(&target).await;
    recovery::shutdown_releases_without_counting(&target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_permanent_errors_dead_requeue_cancel_and_a_full_queue_behave_on_a_cluster() {
    let target = cluster_target().await;
    lifecycle::retryable_error_backs_off_then_succeeds(&target).await;
    lifecycle::permanent_error_fails_once(&target).await;
    lifecycle::dead_task_requeued_finishes(&target).await;
    lifecycle::cancelling_a_running_job_stops_it(&target).await;
    // Last: it takes one primary's memory away (and gives it back).
    lifecycle::a_full_queue_or_redis_refuses_submits_as_full(&target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_primary_loses_no_lease_and_no_result_and_runs_each_chunk_once() {
    let target = cluster_target().await;
    recovery::a_pause_past_the_lease_reaps_nothing(&target).await;
    // The same cluster, a fresh prefix: the earlier pause is long over.
    recovery::a_result_computed_during_a_pause_is_written_once(&target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_chaos_soak_on_a_cluster_ends_with_one_right_result_per_chunk() {
    let target = cluster_target().await;
    soak::chaos_soak(&target, 3).await;
}
