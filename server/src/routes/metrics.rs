//! `GET /metrics`: this process's own metrics (HTTP, Redis calls, breaker, chunks it ran; see
//! [`crate::telemetry`]) followed by the queue as a whole, read from Redis at scrape time:
//! tasks by state, the oldest queued task's age, the workers seen on any machine, and the
//! event counters every process's scripts keep in Redis (jobs and tasks submitted, chunks
//! completed, retried, reaped, stale writes refused, …). Those are totals for the whole
//! queue: take them from any one instance (summing instances would count them again).
//!
//! Redis down: the queue part is replaced by `shaplab_queue_up 0` (within `REDIS_TIMEOUT`, in
//! milliseconds while the breaker is open), and the process metrics are still served.

use crate::queue::{QueueDepths, QueueError};
use crate::startup::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use std::collections::HashMap;
use std::fmt::Write;
use std::time::Duration;

/// The queue's Redis counters and what each one counts (`HINCRBY` in the Lua scripts).
const EVENTS: [(&str, &str); 10] = [
    ("submitted_jobs", "jobs accepted"),
    ("submitted_tasks", "chunk tasks queued"),
    ("completed", "chunk results recorded"),
    (
        "retried",
        "chunk attempts that failed and were scheduled again",
    ),
    (
        "failed_permanent",
        "chunk attempts that failed their job at once",
    ),
    ("dead", "chunk tasks out of attempts, moved to the dead set"),
    ("reaped", "leases that expired and were taken back"),
    ("released", "chunks handed back by a worker shutting down"),
    (
        "stale_writes",
        "writes refused because another worker owns the task now",
    ),
    ("skipped", "claimed tasks of jobs already ended, dropped"),
];

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    // The queue first, so the Redis calls (and errors) of this scrape are in its own numbers.
    let queue = queue_text(read_queue(&state).await.ok());
    let mut body = crate::telemetry::metrics_handle()
        .map(|h| h.render())
        .unwrap_or_default();
    body.push_str(&queue);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

struct QueueReading {
    depths: QueueDepths,
    oldest: Option<Duration>,
    events: HashMap<String, u64>,
    workers_seen: u64,
}

async fn read_queue(state: &AppState) -> Result<QueueReading, QueueError> {
    Ok(QueueReading {
        depths: state.queue.depths().await?,
        oldest: state.queue.oldest_ready_age().await?,
        events: state.queue.stats().await?,
        workers_seen: state.queue.workers_seen().await?,
    })
}

/// The queue part of the scrape, in the Prometheus text format.
fn queue_text(reading: Option<QueueReading>) -> String {
    let mut out = String::new();
    let up = u8::from(reading.is_some());
    family(
        &mut out,
        "shaplab_queue_up",
        "gauge",
        "1 if the queue's Redis answered this scrape",
    );
    let _ = writeln!(out, "shaplab_queue_up {up}");
    let Some(r) = reading else {
        return out;
    };
    family(
        &mut out,
        "shaplab_queue_tasks",
        "gauge",
        "Chunk tasks by state, over every partition",
    );
    for (state, n) in [
        ("queued", r.depths.ready),
        ("running", r.depths.leased),
        ("scheduled", r.depths.scheduled),
        ("dead", r.depths.dead),
    ] {
        let _ = writeln!(out, "shaplab_queue_tasks{{state=\"{state}\"}} {n}");
    }
    family(
        &mut out,
        "shaplab_queue_oldest_queued_age_seconds",
        "gauge",
        "How long the oldest queued task has waited (0 when none waits)",
    );
    let age = r.oldest.map_or(0.0, |d| d.as_secs_f64());
    let _ = writeln!(out, "shaplab_queue_oldest_queued_age_seconds {age}");
    family(
        &mut out,
        "shaplab_queue_workers_seen",
        "gauge",
        "Workers on any machine that marked themselves alive lately",
    );
    let _ = writeln!(out, "shaplab_queue_workers_seen {}", r.workers_seen);
    family(
        &mut out,
        "shaplab_queue_events_total",
        "counter",
        &events_help(),
    );
    for (event, _) in EVENTS {
        let n = r.events.get(event).copied().unwrap_or(0);
        let _ = writeln!(out, "shaplab_queue_events_total{{event=\"{event}\"}} {n}");
    }
    out
}

/// The counter's help line: what each `event` label value counts.
fn events_help() -> String {
    let each: Vec<String> = EVENTS
        .iter()
        .map(|(e, what)| format!("{e} = {what}"))
        .collect();
    format!(
        "Queue events counted in Redis by every process (totals for the whole queue): {}",
        each.join("; ")
    )
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_down_gives_only_the_up_gauge_at_zero() {
        let text = queue_text(None);
        assert!(text.lines().any(|l| l == "shaplab_queue_up 0"), "{text}");
        assert!(!text.contains("shaplab_queue_tasks"), "{text}");
    }

    #[test]
    fn a_reading_gives_depths_age_and_every_event_counter() {
        let events = HashMap::from([("completed".to_owned(), 7), ("reaped".to_owned(), 2)]);
        let text = queue_text(Some(QueueReading {
            depths: QueueDepths {
                ready: 3,
                leased: 2,
                scheduled: 1,
                dead: 0,
            },
            oldest: Some(Duration::from_millis(1500)),
            events,
            workers_seen: 4,
        }));
        for line in [
            "shaplab_queue_up 1",
            "shaplab_queue_tasks{state=\"queued\"} 3",
            "shaplab_queue_tasks{state=\"running\"} 2",
            "shaplab_queue_oldest_queued_age_seconds 1.5",
            "shaplab_queue_workers_seen 4",
            "shaplab_queue_events_total{event=\"completed\"} 7",
            "shaplab_queue_events_total{event=\"stale_writes\"} 0",
            "# TYPE shaplab_queue_events_total counter",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in {text}");
        }
    }
}
