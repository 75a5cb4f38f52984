//! Which workers are alive, across every machine: each process running workers marks its
//! worker ids as seen in Redis every [`presence_every`] (a third of the lease, at most 10 s),
//! and health counts those seen within three of those periods ("workers seen" in QUEUE.md's
//! report). A worker that died simply stops being marked and ages out of the count; entries
//! are forgotten after an hour. The clock is Redis's (see `lua/presence.lua`).

use super::QueueConfig;
use super::QueueError;
use super::client::Queue;
use super::ids::WorkerId;
use super::keys::Partition;
use super::scripts;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How often a process marks its workers as seen: a third of the lease, at most 10 s.
pub fn presence_every(config: &QueueConfig) -> Duration {
    (config.lease / 3).clamp(Duration::from_millis(10), Duration::from_secs(10))
}

/// A worker counts as seen if marked within this long (three marking periods, so one slow or
/// failed mark does not make it vanish).
pub fn seen_window(config: &QueueConfig) -> Duration {
    presence_every(config) * 3
}

/// Entries older than this are removed from Redis.
const FORGET_AFTER: Duration = Duration::from_secs(3600);

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Queue {
    /// Marks `workers` as seen now; returns how many workers (of every process) were seen
    /// within the window. With no ids, only counts.
    pub async fn mark_seen(&self, workers: &[WorkerId]) -> Result<u64, QueueError> {
        let config = self.config();
        let call = scripts::presence(
            &Partition::new(&config.prefix, 0),
            ms(seen_window(config)),
            ms(FORGET_AFTER),
            workers,
        );
        let reply = self.call(&call).await?;
        reply
            .first()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| QueueError::protocol(format!("presence: {reply:?}")))
    }

    /// How many workers (of every process) were seen within the window.
    pub async fn workers_seen(&self) -> Result<u64, QueueError> {
        self.mark_seen(&[]).await
    }
}

/// Marks `workers` as seen every [`presence_every`] until `shutdown`; failures (Redis away)
/// are skipped: the next mark will do.
pub async fn run_presence(
    queue: Arc<Queue>,
    workers: Vec<WorkerId>,
    shutdown: impl Future<Output = ()>,
) {
    let period = presence_every(queue.config());
    crate::periodic::every(period, shutdown, || async {
        if let Err(e) = queue.mark_seen(&workers).await {
            tracing::debug!("cannot mark workers as seen: {e}");
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_come_every_third_of_a_lease_at_most_every_ten_seconds() {
        let production = QueueConfig::default();
        assert_eq!(presence_every(&production), Duration::from_secs(10));
        assert_eq!(seen_window(&production), Duration::from_secs(30));
        let tests = QueueConfig::for_tests();
        assert_eq!(presence_every(&tests), Duration::from_secs(1) / 3);
    }
}
