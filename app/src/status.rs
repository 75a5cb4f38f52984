//! The header's service-status indicator and the outage banner.
//!
//! The page learns the service's state from `/api/health` (see `browser::spawn_health_poller`,
//! which runs only in the hydrated page). Server rendering always shows "checking", so the first
//! browser render matches it and hydration never sees a mismatch.

use crate::wire::HealthReport;
use leptos::prelude::*;

/// What the page currently believes about the service.
#[derive(Clone, Debug, PartialEq)]
pub enum ServiceState {
    /// No answer yet (always the state of the server-rendered page).
    Checking,
    /// The server answered and Redis is reachable.
    Healthy { latency_ms: Option<f64> },
    /// The server answered, but it cannot reach Redis, so jobs cannot be queued or followed.
    QueueDown { detail: Option<String> },
    /// The server itself did not answer (network error, proxy error page, garbage).
    ServerUnreachable,
    /// The browser says it has no network (`navigator.onLine` is false).
    Offline,
}

impl ServiceState {
    /// Classifies the outcome of one `/api/health` request.
    pub fn from_probe<E>(probe: Result<HealthReport, E>) -> Self {
        match probe {
            Ok(report) if report.queue_reachable() => ServiceState::Healthy {
                latency_ms: report.redis.latency_ms,
            },
            Ok(report) => ServiceState::QueueDown {
                detail: report.redis.last_error,
            },
            Err(_) => ServiceState::ServerUnreachable,
        }
    }

    /// Whether this state counts as a failure for the backoff schedule.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            ServiceState::QueueDown { .. }
                | ServiceState::ServerUnreachable
                | ServiceState::Offline
        )
    }

    /// A stable machine-readable name (the `data-state` attribute tests and CSS key on).
    pub fn key(&self) -> &'static str {
        match self {
            ServiceState::Checking => "checking",
            ServiceState::Healthy { .. } => "healthy",
            ServiceState::QueueDown { .. } => "queue-down",
            ServiceState::ServerUnreachable => "server-unreachable",
            ServiceState::Offline => "offline",
        }
    }

    /// The indicator's words.
    pub fn label(&self) -> String {
        match self {
            ServiceState::Checking => "Checking service…".to_owned(),
            ServiceState::Healthy {
                latency_ms: Some(ms),
            } => format!("Service ready · queue {ms:.0} ms"),
            ServiceState::Healthy { latency_ms: None } => "Service ready".to_owned(),
            ServiceState::QueueDown { .. } => "Job queue unreachable".to_owned(),
            ServiceState::ServerUnreachable => "Server not answering".to_owned(),
            ServiceState::Offline => "You are offline".to_owned(),
        }
    }
}

/// The signals the poller writes and the indicator and banner read.
#[derive(Clone, Copy)]
pub struct StatusSignals {
    pub state: RwSignal<ServiceState>,
    /// Whole seconds until the next check (shown in the banner).
    pub next_check_s: RwSignal<u32>,
    /// Bumped by "Check now" (or by a page whose own requests fail); the poller cuts its
    /// wait short when it changes.
    pub check_now: RwSignal<u32>,
    /// Consecutive failed checks: the banner waits for two, so one blip shows no banner.
    pub failures: RwSignal<u32>,
}

/// Consecutive failed checks before the outage banner shows.
pub const BANNER_AFTER_FAILURES: u32 = 2;

impl StatusSignals {
    pub fn new() -> Self {
        StatusSignals {
            state: RwSignal::new(ServiceState::Checking),
            next_check_s: RwSignal::new(0),
            check_now: RwSignal::new(0),
            failures: RwSignal::new(0),
        }
    }
}

impl Default for StatusSignals {
    fn default() -> Self {
        Self::new()
    }
}

/// The coloured dot and words in the header.
#[component]
pub fn StatusIndicator() -> impl IntoView {
    let status = expect_context::<StatusSignals>();
    view! {
        <div
            class="service-status"
            data-testid="service-status"
            data-state=move || status.state.with(ServiceState::key)
            role="status"
            aria-live="polite"
        >
            <span class="dot" aria-hidden="true"></span>
            <span class="label">{move || status.state.with(ServiceState::label)}</span>
        </div>
    }
}

/// The friendly banner shown while the job queue or the server cannot be reached.
#[component]
pub fn OutageBanner() -> impl IntoView {
    let status = expect_context::<StatusSignals>();
    let message = move || match status.state.get() {
        _ if status.failures.get() < BANNER_AFTER_FAILURES => None,
        ServiceState::QueueDown { .. } => Some(
            "The job queue is temporarily unreachable — your work is safe; we'll keep checking",
        ),
        ServiceState::ServerUnreachable => {
            Some("The shaplab server is not answering — it may be restarting; we'll keep checking")
        }
        ServiceState::Offline => {
            Some("You are offline — shaplab will pick up where it left off once you reconnect")
        }
        _ => None,
    };
    let countdown = move || match status.next_check_s.get() {
        0 => ", checking now…".to_owned(),
        s => format!(", next check in {s} s"),
    };
    view! {
        <Show when=move || message().is_some()>
            <div
                class="outage-banner"
                data-testid="outage-banner"
                data-state=move || status.state.with(ServiceState::key)
                role="alert"
            >
                <span class="message">{message}{countdown}</span>
                <button
                    type="button"
                    class="check-now"
                    on:click=move |_| status.check_now.update(|n| *n = n.wrapping_add(1))
                >
                    "Check now"
                </button>
            </div>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{EffectiveRedisConfig, HealthStatus, RedisHealth};

    fn report(connected: bool) -> HealthReport {
        HealthReport {
            status: if connected {
                HealthStatus::Ok
            } else {
                HealthStatus::Degraded
            },
            version: "0.1.0".into(),
            redis: RedisHealth {
                connected,
                latency_ms: connected.then_some(0.4),
                last_error: (!connected).then(|| "connection refused".into()),
                last_ok_at_ms: None,
                mode: "external".into(),
                server: None,
                warnings: vec![],
                breaker: Default::default(),
            },
            config: EffectiveRedisConfig {
                redis_url: "redis://127.0.0.1:6379".into(),
                redis_timeout_s: 5.0,
                redis_socket_keepalive: "60".into(),
                redis_connection_pool_size: 10,
            },
            queue: None,
        }
    }

    #[test]
    fn a_report_with_redis_up_is_healthy() {
        let state = ServiceState::from_probe::<()>(Ok(report(true)));
        assert_eq!(state.key(), "healthy");
        assert!(!state.is_failure());
        assert_eq!(state.label(), "Service ready · queue 0 ms");
    }

    #[test]
    fn a_report_with_redis_down_means_the_queue_is_down_and_keeps_the_reason() {
        let state = ServiceState::from_probe::<()>(Ok(report(false)));
        assert_eq!(
            state,
            ServiceState::QueueDown {
                detail: Some("connection refused".into())
            }
        );
        assert!(state.is_failure());
    }

    #[test]
    fn no_answer_from_the_server_is_told_apart_from_a_queue_outage() {
        let state = ServiceState::from_probe(Err("network error"));
        assert_eq!(state.key(), "server-unreachable");
        assert!(state.is_failure());
    }
}
