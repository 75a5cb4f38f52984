//! `GET /api/jobs/{id}/events`: the job's state and progress as server-sent events, for a
//! page that would rather be told than poll.
//!
//! - On connect: a `snapshot` event, the same JSON as `GET /api/jobs/{id}` (and an SSE
//!   `retry` hint of one second for the browser's reconnects).
//! - Then `state` when the state changes and `progress` when only the progress does; each
//!   carries the whole job again, so a client only ever needs the latest event.
//! - At a terminal state (succeeded, failed, cancelled) the last `state` event is sent and the
//!   stream ends.
//! - Redis unreachable mid-stream: one `error` event with the `queue_unavailable` envelope
//!   (`{code, message, retryable, request_id}`) per outage, and the stream stays open and keeps
//!   polling; once Redis answers again a fresh `snapshot` follows, so the client can clear its
//!   banner. A job that disappears meanwhile (Redis restarted empty) gets an `error` event with
//!   `job_not_found` and the stream ends.
//! - A comment every 15 s keeps proxies from closing a quiet stream.
//!
//! Errors before the stream starts (unknown job, expired results, Redis down) are the usual
//! JSON envelopes with their status codes. Why a poll per connection: the job hash is one
//! HGETALL every 500 ms, cheap next to a browser's own polling, and needs no pub/sub channel
//! that would have to survive Redis restarts and cluster failovers.

use super::error::ApiError;
use super::jobs::{job_id, not_expired, queue_error, view};
use crate::queue::{JobId, Queue, QueueError};
use crate::startup::AppState;
use app::wire::Job;
use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// How often each stream reads the job from Redis.
pub const POLL: Duration = Duration::from_millis(500);
/// Idle time before a keep-alive comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = job_id(&id)?;
    let status = state.queue.job(&id).await.map_err(queue_error)?;
    not_expired(&state, &status)?;
    let stream = follow(state.queue.clone(), id, view(&status), POLL);
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    // nginx buffers responses by default, which would hold the events back.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// Where a stream is.
enum Phase {
    /// The snapshot is still to be sent.
    Start(Box<Job>),
    /// Following: the last job sent, and whether Redis is failing right now.
    Following { last: Box<Job>, outage: bool },
    /// The last event is sent.
    Done,
}

/// The events of one connection (see the module docs), polling every `poll`.
pub fn follow(
    queue: Arc<Queue>,
    id: JobId,
    first: Job,
    poll: Duration,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let start = Phase::Start(Box::new(first));
    futures_util::stream::unfold(start, move |phase| {
        let queue = queue.clone();
        let id = id.clone();
        async move {
            let (event, next) = step(&queue, &id, phase, poll).await?;
            Some((Ok(event), next))
        }
    })
}

/// The next event and the phase after it; `None` once the stream is over.
async fn step(queue: &Queue, id: &JobId, phase: Phase, poll: Duration) -> Option<(Event, Phase)> {
    let (last, mut outage) = match phase {
        Phase::Done => return None,
        Phase::Start(job) => {
            let event = job_event("snapshot", &job).retry(Duration::from_secs(1));
            return Some((event, after(job)));
        }
        Phase::Following { last, outage } => (last, outage),
    };
    loop {
        tokio::time::sleep(poll).await;
        match queue.job(id).await {
            Ok(status) => {
                let job = Box::new(view(&status));
                let name = if outage {
                    "snapshot"
                } else if job.state != last.state {
                    "state"
                } else if job.progress != last.progress {
                    "progress"
                } else {
                    continue;
                };
                return Some((job_event(name, &job), after(job)));
            }
            Err(QueueError::NotFound(_)) => {
                let envelope = queue_error(QueueError::NotFound(id.clone())).envelope();
                return Some((error_event(&envelope), Phase::Done));
            }
            Err(e) if outage => {
                tracing::debug!(job = %id, "events: Redis still failing: {e}");
            }
            Err(e) => {
                outage = true;
                tracing::warn!(job = %id, "events: cannot read the job: {e}");
                let envelope = queue_error(e).envelope();
                let next = Phase::Following { last, outage };
                return Some((error_event(&envelope), next));
            }
        }
        // Still failing: keep the last job and wait for the next poll.
    }
}

/// Following `job`, or done if it has ended.
fn after(job: Box<Job>) -> Phase {
    if job.state.is_terminal() {
        Phase::Done
    } else {
        Phase::Following {
            last: job,
            outage: false,
        }
    }
}

fn job_event(name: &'static str, job: &Job) -> Event {
    Event::default()
        .event(name)
        .data(serde_json::to_string(job).unwrap_or_default())
}

fn error_event(envelope: &serde_json::Value) -> Event {
    Event::default().event("error").data(envelope.to_string())
}
