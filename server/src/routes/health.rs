//! Liveness, readiness and the health report.

use crate::startup::AppState;
use app::wire::QueueHealth;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use std::time::Duration;

/// `GET /healthz`: 200 while the process serves requests. Never touches Redis, so a Redis
/// outage cannot make an orchestrator restart healthy instances.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: 503 only when this instance is broken — its private Redis child has died,
/// or its embedded workers' loops have stopped turning.
/// A shared Redis being down is not a reason to leave the load balancer: the API answers
/// that itself, as JSON, and the page explains it.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if let Some(private) = &state.private_redis {
        let mut guard = private.lock().await;
        if !guard.as_mut().is_some_and(|redis| redis.is_running()) {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the private redis-server has exited\n",
            );
        }
    }
    if consumers_alive(&state) == Some(false) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the embedded workers have stopped consuming\n",
        );
    }
    (StatusCode::OK, "ready\n")
}

/// `GET /api/health`: the report, `degraded` (still 200) when Redis is unreachable, with the
/// queue's depths when Redis answers.
pub async fn api_health(State(state): State<AppState>) -> impl IntoResponse {
    let mut report = state.health.report().await;
    if report.redis.connected {
        report.queue = queue_health(&state).await;
    }
    ([(header::CACHE_CONTROL, "no-store")], Json(report))
}

/// Depths and the oldest wait; `None` if Redis stopped answering in between (the report
/// already says why).
async fn queue_health(state: &AppState) -> Option<QueueHealth> {
    let depths = state.queue.depths().await.ok()?;
    let oldest = state.queue.oldest_ready_age().await.ok()?;
    let workers_seen = state.queue.workers_seen().await.ok()?;
    Some(QueueHealth {
        queued: depths.ready,
        running: depths.leased,
        scheduled: depths.scheduled,
        dead: depths.dead,
        oldest_queued_age_s: oldest.map(|d| d.as_secs_f64()),
        embedded_workers: state.workers.len(),
        consumer_loop_alive: consumers_alive(state),
        partitions: state.queue.config().partitions,
        workers_seen,
    })
}

/// A worker loop turns at least every idle poll, after every chunk and after every failed
/// claim (its backoff is capped far below this), so a minute of silence means it is stuck.
const STUCK_AFTER: Duration = Duration::from_secs(60);

/// `None` without embedded workers; else whether all of their loops are turning.
fn consumers_alive(state: &AppState) -> Option<bool> {
    (!state.workers.is_empty()).then(|| {
        state
            .workers
            .iter()
            .all(|w| w.since_last_turn() < STUCK_AFTER)
    })
}
