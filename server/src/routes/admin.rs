//! `POST /api/admin/dead/requeue`: gives failed jobs with dead-letter tasks another go, the
//! HTTP twin of `shaplab requeue-dead`. Body `{"job": "<id>"}` for one job; no body (or `{}`)
//! for every job with dead tasks. Answers how many jobs and tasks went back to the queue.
//!
//! Like the rest of the API it has no authentication of its own: shaplab is meant to sit
//! behind whatever guards the deployment (a reverse proxy, a private network).

use super::error::ApiError;
use super::jobs::queue_error;
use crate::queue::{JobId, Requeued};
use crate::startup::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

/// The body (optional): `{"job": "<id>"}` requeues that job's dead tasks only.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequeueRequest {
    pub job: Option<String>,
}

/// What was requeued.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct RequeueReport {
    /// Tasks that went back to ready.
    pub requeued: u64,
    /// Jobs they belong to (now queued or running again).
    pub jobs: u64,
}

impl From<Requeued> for RequeueReport {
    fn from(r: Requeued) -> Self {
        RequeueReport {
            requeued: r.tasks,
            jobs: r.jobs,
        }
    }
}

pub async fn requeue_dead(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<RequeueReport>, ApiError> {
    let request: RequeueRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RequeueRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::invalid(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                format!(
                    "the body must be empty (every job with dead tasks) or JSON like \
                     {{\"job\": \"<job id>\"}}: {e}"
                ),
            )
        })?
    };
    let done = match request.job {
        None => state.queue.requeue_all_dead().await.map_err(queue_error)?,
        Some(text) => {
            let id = JobId::parse(&text).map_err(|_| {
                ApiError::invalid(
                    StatusCode::NOT_FOUND,
                    "job_not_found",
                    format!("there is no job {text:?}"),
                )
            })?;
            let tasks = state.queue.requeue_dead(&id).await.map_err(queue_error)?;
            Requeued { jobs: 1, tasks }
        }
    };
    tracing::info!(jobs = done.jobs, tasks = done.tasks, "dead-letter requeue");
    Ok(Json(done.into()))
}
