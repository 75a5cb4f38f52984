//! `GET /api/jobs/{id}/shap.csv` and `GET /api/jobs/{id}/interactions.csv`: a succeeded job's
//! results, streamed blob by blob (the header blob, then each chunk's blob in row order), so
//! memory stays at one chunk whatever the job's size and the bytes equal the file
//! `shaplab explain --out` (or `--interactions`) writes on the same inputs.
//!
//! Both share one streamer; they differ only in which blobs a chunk's result reference (the
//! SHAP blob's key) leads to.

use super::error::ApiError;
use super::jobs::{job_id, not_expired, queue_error};
use crate::jobs::read::chunk_range;
use crate::jobs::spec::JobSpec;
use crate::queue::JobState;
use crate::startup::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

/// Which of a job's two CSV files.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Shap,
    Interactions,
}

impl Kind {
    fn what(self) -> &'static str {
        match self {
            Kind::Shap => "SHAP values",
            Kind::Interactions => "interaction values",
        }
    }
}

/// The SHAP values CSV.
pub async fn shap(state: State<AppState>, id: Path<String>) -> Result<Response, ApiError> {
    stream(state, id, Kind::Shap).await
}

/// The interaction values CSV; `404 no_interactions` for a job submitted without them.
pub async fn interactions(state: State<AppState>, id: Path<String>) -> Result<Response, ApiError> {
    stream(state, id, Kind::Interactions).await
}

async fn stream(
    State(state): State<AppState>,
    Path(id): Path<String>,
    kind: Kind,
) -> Result<Response, ApiError> {
    let id = job_id(&id)?;
    let status = state.queue.job(&id).await.map_err(queue_error)?;
    not_expired(&state, &status)?;
    let spec = JobSpec::parse(status.payload.as_str()).map_err(ApiError::internal)?;
    // Checked before the state: waiting would not make them appear.
    if kind == Kind::Interactions && !spec.interactions {
        return Err(ApiError::invalid(
            StatusCode::NOT_FOUND,
            "no_interactions",
            format!(
                "job {id} was submitted without interaction values; submit it again with \
                 \"interactions\": true (path-dependent, raw output) to compute them"
            ),
        ));
    }
    if status.state != JobState::Succeeded {
        return Err(ApiError::invalid(
            StatusCode::CONFLICT,
            "job_not_finished",
            format!(
                "job {id} is {}; its {} can be downloaded once it has succeeded",
                status.state.as_str(),
                kind.what()
            ),
        ));
    }
    let results = state.queue.chunk_results(&id).await.map_err(queue_error)?;
    let mut rest = Vec::with_capacity(results.len());
    for key in results {
        let key = key.ok_or_else(|| {
            ApiError::internal(format!(
                "job {id} succeeded but a chunk has no result reference"
            ))
        })?;
        rest.push(match kind {
            Kind::Shap => key,
            Kind::Interactions => {
                let (start, end) = chunk_range(&key).ok_or_else(|| {
                    ApiError::internal(format!("job {id} has an unreadable result key {key}"))
                })?;
                spec.interactions_key(start, end)
            }
        });
    }
    let header_key = match kind {
        Kind::Shap => spec.header_key(),
        Kind::Interactions => spec.interactions_header_key(),
    };
    // Fail before the 200 if the first blob is gone (an expired or deleted result), rather
    // than sending a truncated file.
    let blobs = state.uploads.blobs.clone();
    let first = blobs.get_bytes(&header_key).await.map_err(|e| match e {
        crate::blobs::BlobError::NotFound(_) => ApiError::invalid(
            StatusCode::GONE,
            "result_expired",
            format!("the results of job {id} are no longer stored; submit the job again"),
        ),
        other => ApiError::internal(other),
    })?;
    let chunks = futures_util::stream::iter(rest).then(move |key| {
        let blobs = blobs.clone();
        async move {
            blobs.get_bytes(&key).await.map_err(|e| {
                // The status line is sent; all that is left is to end the body with an error
                // (the client sees a truncated transfer) and log why.
                tracing::error!(blob = %key, "cannot stream a chunk of a result: {e}");
                std::io::Error::other(e.to_string())
            })
        }
    });
    let stream =
        futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(first) }).chain(chunks);
    let mut response = Body::from_stream(stream).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let name = match kind {
        Kind::Shap => "shap",
        Kind::Interactions => "interactions",
    };
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}-{id}.csv\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
