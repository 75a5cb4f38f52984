//! A seeded chaos soak on one redis-server (QUEUE.md scenario 23, bounded; the body is
//! `support::scenarios::soak`, shared with the cluster suite): pauses, vanished workers, late
//! zombies and worker restarts, then every job done with one right result per chunk.
//!
//! The seed is printed; rerun one with `SHAPLAB_SOAK_SEED=<seed>`.

mod support;

use support::queue::Target;
use support::scenarios::soak;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_chaos_soak_ends_with_every_job_done_and_one_right_result_per_chunk() {
    soak::chaos_soak(&Target::Single, 1).await;
}
