//! The queue across Redis crashes on one redis-server (QUEUE.md scenario 16: kill -9 and a
//! restart from the AOF, with the reaper's grace after it; scenarios 15 and 19: idle workers
//! after a restart empty). The bodies are shared with the cluster suite
//! (`cluster_restart.rs`); every one ends with the invariant check.

mod support;

use support::scenarios::restart;
use support::{AofRedis, TestRedis};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_crash_and_aof_restart_no_acknowledged_job_is_lost_and_live_leases_survive() {
    restart::a_crash_loses_no_acknowledged_job_and_live_leases_survive(&mut AofRedis::start())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_workers_consume_again_within_five_seconds_after_redis_restarts_empty() {
    restart::idle_workers_consume_again_after_an_empty_restart(&mut TestRedis::start()).await;
}
