//! The reaper: every `every`, takes back expired leases (stalls + 1, or `worker_lost`) and
//! moves due retries to ready. Any number of processes may run it: each pass is a script per
//! partition, so concurrent reapers cannot take the same lease twice, and the post-outage
//! grace (see `lua/reap.lua`) is shared through Redis.

use super::client::Queue;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Reaps and promotes until `shutdown` resolves. Errors (Redis away) are logged and the next
/// pass simply tries again: the reaper has no state of its own to lose.
///
/// `every` is capped at a third of `reaper_gap`: a reaper slower than the gap would take its
/// own pauses for outages and stay in grace forever.
pub async fn run_reaper(queue: Arc<Queue>, every: Duration, shutdown: impl Future<Output = ()>) {
    let every = every
        .min(queue.config().reaper_gap / 3)
        .max(Duration::from_millis(10));
    crate::periodic::every(every, shutdown, || async {
        match queue.reap().await {
            Ok(report) if report.requeued + report.lost > 0 => tracing::info!(
                requeued = report.requeued,
                lost = report.lost,
                "reaped expired leases"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!("reap failed: {e}"),
        }
        match queue.promote().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(promoted = n, "retries due"),
            Err(e) => tracing::warn!("promote failed: {e}"),
        }
    })
    .await;
}
