//! The header's health poller (hydrate builds only): checks `/api/health` for as long as the
//! page lives and publishes what it finds.

use crate::backoff::Backoff;
use crate::net;
use crate::status::{ServiceState, StatusSignals};
use crate::wire::HealthReport;
use leptos::prelude::*;

/// One `/api/health` check, classified.
async fn probe() -> ServiceState {
    let answer = match net::request("GET", "/api/health", None, None).await {
        Ok(reply) if reply.ok() => reply.json::<HealthReport>(),
        Ok(_) => Err(net::FetchError::Status),
        Err(e) => Err(e),
    };
    if answer.is_err() && !net::online() {
        return ServiceState::Offline;
    }
    ServiceState::from_probe(answer)
}

/// Checks `/api/health` on the [`Backoff::HEALTH`] schedule, publishing what it finds and
/// counting down to the next check.
pub fn spawn_health_poller(signals: StatusSignals) {
    leptos::task::spawn_local(async move {
        let schedule = Backoff::HEALTH;
        loop {
            let state = probe().await;
            let failed = state.is_failure();
            if signals.state.try_set(state).is_some() {
                return; // the page's reactive owner is gone
            }
            signals
                .failures
                .update(|f| *f = if failed { f.saturating_add(1) } else { 0 });
            let Some(asked) = signals.check_now.try_get_untracked() else {
                return;
            };
            let failures = signals.failures.get_untracked();
            let mut remaining = schedule.delay_ms(failures, net::random());
            // Wait in short steps so the countdown stays current and "Check now" is prompt.
            while remaining > 0 {
                let seconds = remaining.div_ceil(1000);
                if signals.next_check_s.get_untracked() != seconds {
                    signals.next_check_s.set(seconds);
                }
                let step = remaining.min(250);
                net::sleep_ms(step).await;
                remaining -= step;
                if signals.check_now.try_get_untracked() != Some(asked) {
                    break;
                }
            }
            signals.next_check_s.set(0);
        }
    });
}
