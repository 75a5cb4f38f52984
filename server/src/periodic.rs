//! Background loops (the reaper, the result and upload sweeps, worker presence) share one
//! shape: run a step every period until shutdown, and after a stall (Redis paused, machine
//! suspended) run once rather than a burst of missed steps.

use std::future::Future;
use std::time::Duration;

/// Runs `step` at once and then every `every` until `shutdown` resolves; a step in progress
/// when shutdown comes is finished first.
pub async fn every<F, Fut>(every: Duration, shutdown: impl Future<Output = ()>, mut step: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    tokio::pin!(shutdown);
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = ticker.tick() => {}
        }
        step().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn steps_run_at_once_then_every_period_until_shutdown() {
        let steps = Arc::new(AtomicUsize::new(0));
        let counted = steps.clone();
        every(
            Duration::from_secs(1),
            tokio::time::sleep(Duration::from_millis(3500)),
            move || {
                let counted = counted.clone();
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                }
            },
        )
        .await;
        // At 0, 1, 2 and 3 s.
        assert_eq!(steps.load(Ordering::SeqCst), 4);
    }
}
