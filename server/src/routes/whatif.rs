//! `POST /api/jobs/{id}/whatif`: one row with some feature values changed, explained again
//! (see [`crate::jobs::whatif`]); and `GET /api/jobs/{id}/pdp?feature=F&output=K&grid=G`,
//! partial dependence with ICE lines (see [`crate::jobs::pdp`]), on the same prepared inputs.
//! The what-if's engine time is reported in a `Server-Timing` header (`prepare` on the first
//! request for a job, `explain` on every one), so the 50 ms budget can be checked from outside.

use super::error::ApiError;
use super::jobs::{job_id, not_expired, read_error};
use crate::jobs::spec::JobSpec;
use crate::jobs::whatif::{WhatIfInputs, WhatIfRequest};
use crate::startup::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Instant;

pub async fn whatif(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: WhatIfRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::invalid(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            format!(
                "the body must be JSON like {{\"row\": 0, \"values\": {{\"<feature>\": 1.5}}}}: {e}"
            ),
        )
    })?;
    let started = Instant::now();
    let inputs = prepared(&state, &id).await?;
    let prepare_time = started.elapsed();
    let answer = tokio::task::spawn_blocking(move || {
        let at = Instant::now();
        inputs.explain(&request).map(|row| (row, at.elapsed()))
    })
    .await
    .map_err(|e| ApiError::internal(format!("the what-if failed: {e}")))?;
    let (row, explained) = answer.map_err(read_error)?;
    let mut response = Json(row).into_response();
    let timing = format!(
        "prepare;dur={:.1}, explain;dur={:.1}",
        prepare_time.as_secs_f64() * 1e3,
        explained.as_secs_f64() * 1e3
    );
    if let Ok(value) = HeaderValue::from_str(&timing) {
        response.headers_mut().insert("server-timing", value);
    }
    Ok(response)
}

/// Partial dependence with ICE lines for one feature (index or exact name).
pub async fn pdp(
    State(state): State<AppState>,
    Path(id): Path<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Result<Json<app::wire::PartialDependence>, ApiError> {
    let invalid =
        |m: String| ApiError::invalid(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", m);
    let (mut feature, mut output, mut grid) = (None, 0usize, crate::jobs::pdp::GRID);
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "feature" => feature = Some(value.into_owned()),
            "output" => {
                output = value
                    .parse()
                    .map_err(|_| invalid(format!("output={value:?}: an output index")))?
            }
            "grid" => {
                grid = value.parse().map_err(|_| {
                    invalid(format!("grid={value:?}: a number of points from 2 to 100"))
                })?
            }
            other => {
                return Err(invalid(format!(
                    "unexpected parameter {other:?}; give feature=<name or index>, output, grid"
                )));
            }
        }
    }
    let feature = feature.ok_or_else(|| invalid("give feature=<name or index>".into()))?;
    let inputs = prepared(&state, &id).await?;
    tokio::task::spawn_blocking(move || {
        let names: Vec<String> = (0..inputs.num_features())
            .map(|j| inputs.feature_name(j))
            .collect();
        let index = feature
            .parse::<usize>()
            .ok()
            .or_else(|| names.iter().position(|n| *n == feature))
            .ok_or_else(|| {
                crate::jobs::read::ReadError::Invalid(format!(
                    "feature={feature:?} is not one of the model's features ({})",
                    names.join(", ")
                ))
            })?;
        crate::jobs::pdp::partial_dependence(&inputs, index, output, grid)
    })
    .await
    .map_err(|e| ApiError::internal(format!("the partial dependence failed: {e}")))?
    .map(Json)
    .map_err(read_error)
}

/// The job's what-if inputs, prepared once per job (see [`crate::jobs::whatif::WhatIfCache`]).
async fn prepared(state: &AppState, id: &str) -> Result<Arc<WhatIfInputs>, ApiError> {
    let job = job_id(id)?;
    let status = state
        .queue
        .job(&job)
        .await
        .map_err(super::jobs::queue_error)?;
    not_expired(state, &status)?;
    let spec = JobSpec::parse(status.payload.as_str()).map_err(ApiError::internal)?;
    state
        .whatif
        .inputs(
            job.as_str(),
            &state.uploads.blobs,
            &state.uploads.scratch,
            &spec,
        )
        .await
        .map_err(read_error)
}
