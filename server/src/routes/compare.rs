//! Comparisons: `GET /api/compare?a={id}&b={id}`, two jobs side by side (see
//! [`crate::jobs::compare`]; either job may still be running: its side is then `partial`),
//! and `GET /api/jobs/{id}/cohorts?a=<conditions>&b=<conditions>`, two cohorts of one job
//! (see [`crate::jobs::cohorts`]).

use super::error::ApiError;
use super::jobs::{finished_chunks, read_error};
use crate::jobs::compare::compare;
use crate::jobs::read::ReadError;
use crate::startup::AppState;
use app::wire::{CohortComparison, JobComparison, JobSummary};
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;

pub async fn compare_jobs(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<JobComparison>, ApiError> {
    let (a, b) = a_and_b(query.as_deref(), "a=<job id>&b=<job id>")?;
    let (Some(a), Some(b)) = (a, b) else {
        return Err(invalid(
            "give both jobs: /api/compare?a=<job id>&b=<job id>".into(),
        ));
    };
    let left = summary(&state, &a).await?;
    let right = summary(&state, &b).await?;
    compare((&a, &left), (&b, &right))
        .map(Json)
        .map_err(read_error)
}

/// Two cohorts of one job; a missing or empty `b` is every row.
pub async fn compare_cohorts(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<CohortComparison>, ApiError> {
    let (a, b) = a_and_b(query.as_deref(), "a=<conditions>&b=<conditions>")?;
    let (_, spec, results) = finished_chunks(&state, &id).await?;
    crate::jobs::cohorts::compare_cohorts(
        &state.uploads.blobs,
        &state.uploads.scratch,
        &spec,
        &results,
        (a.as_deref().unwrap_or(""), b.as_deref().unwrap_or("")),
    )
    .await
    .map(Json)
    .map_err(read_error)
}

/// The `a` and `b` parameters, each at most once; anything else is refused naming `usage`.
fn a_and_b(query: Option<&str>, usage: &str) -> Result<(Option<String>, Option<String>), ApiError> {
    let (mut a, mut b) = (None, None);
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "a" if a.is_none() => a = Some(value.into_owned()),
            "b" if b.is_none() => b = Some(value.into_owned()),
            other => {
                return Err(invalid(format!(
                    "unexpected or repeated parameter {other:?}; give {usage}"
                )));
            }
        }
    }
    Ok((a, b))
}

async fn summary(state: &AppState, id: &str) -> Result<JobSummary, ApiError> {
    let (status, spec, results) = finished_chunks(state, id).await?;
    let json = crate::jobs::summary_cache::summary_json(
        &state.uploads.blobs,
        &state.uploads.scratch,
        &spec,
        &results,
        status.rows_total,
        ("", ""),
    )
    .await
    .map_err(read_error)?;
    serde_json::from_slice(&json)
        .map_err(|e| read_error(ReadError::Internal(format!("the summary of {id}: {e}"))))
}

fn invalid(message: String) -> ApiError {
    ApiError::invalid(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
}
