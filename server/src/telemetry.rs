//! Metrics: one process-wide Prometheus recorder, rendered at `GET /metrics`, and the HTTP
//! middleware that times every request by route.
//!
//! Histograms get explicit buckets (the exporter's default is a summary, which cannot be
//! aggregated across instances). Metric names are constants here so a dashboard and the code
//! cannot drift apart.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const HTTP_REQUESTS: &str = "shaplab_http_requests_total";
pub const HTTP_DURATION: &str = "shaplab_http_request_duration_seconds";
pub const REDIS_DURATION: &str = "shaplab_redis_command_duration_seconds";
pub const REDIS_ERRORS: &str = "shaplab_redis_errors_total";
pub const REDIS_BREAKER_STATE: &str = "shaplab_redis_breaker_state";
pub const REDIS_BREAKER_TRANSITIONS: &str = "shaplab_redis_breaker_transitions_total";
pub const REDIS_REBUILDS: &str = "shaplab_redis_connection_rebuilds_total";
pub const UPLOADS: &str = "shaplab_uploads_total";
pub const QUEUE_WAIT: &str = "shaplab_queue_wait_seconds";
pub const CHUNK_DURATION: &str = "shaplab_chunk_duration_seconds";
pub const CHUNKS_FINISHED: &str = "shaplab_chunks_finished_total";
pub const JOB_DURATION: &str = "shaplab_job_duration_seconds";

/// Request, Redis and chunk latencies: from sub-millisecond Redis calls to minute-long chunks.
const LATENCY_BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// Whole jobs: seconds to hours.
const JOB_BUCKETS: [f64; 12] = [
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder on first use (tests build several apps in one process) and returns
/// the handle that renders it; `None` if another recorder was installed first.
pub fn metrics_handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(JOB_DURATION.into()), &JOB_BUCKETS)
                .ok()?
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            // Histograms keep raw samples until upkeep folds them into buckets.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let upkeep = handle.clone();
                runtime.spawn(async move {
                    loop {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        upkeep.run_upkeep();
                    }
                });
            }
            Some(handle)
        })
        .as_ref()
}

fn describe() {
    metrics::describe_counter!(HTTP_REQUESTS, "HTTP requests by route, method and status");
    metrics::describe_histogram!(HTTP_DURATION, "HTTP request latency by route, seconds");
    metrics::describe_histogram!(REDIS_DURATION, "Redis command round trip, seconds");
    metrics::describe_counter!(REDIS_ERRORS, "Redis call failures by kind");
    metrics::describe_gauge!(REDIS_BREAKER_STATE, "0 closed, 1 open, 2 half-open");
    metrics::describe_counter!(
        REDIS_BREAKER_TRANSITIONS,
        "Breaker state changes by new state"
    );
    metrics::describe_counter!(REDIS_REBUILDS, "Redis connections replaced after timeouts");
    metrics::describe_counter!(UPLOADS, "Uploads by kind and outcome");
    metrics::describe_histogram!(QUEUE_WAIT, "Chunk wait from queued to claimed, seconds");
    metrics::describe_histogram!(CHUNK_DURATION, "Chunk compute time, seconds");
    metrics::describe_counter!(CHUNKS_FINISHED, "Claimed chunks by how they ended");
    metrics::describe_histogram!(
        JOB_DURATION,
        "Submit to last chunk of the jobs whose last chunk this process ran, seconds"
    );
}

/// Middleware: counts and times each request under its route template (`/api/uploads/{id}`,
/// not the concrete path, so ids do not explode the label set).
pub async fn track_http(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(HTTP_REQUESTS, "route" => route.clone(), "method" => method.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(HTTP_DURATION, "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    response
}
