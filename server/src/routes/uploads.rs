//! `POST /api/uploads` and `GET /api/uploads/{id}`.

use super::error::ApiError;
use crate::blobs::BlobError;
use crate::startup::AppState;
use crate::uploads::{UploadId, receive::receive};
use axum::Json;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;

pub async fn create(
    State(state): State<AppState>,
    form: Multipart,
) -> Result<(StatusCode, Json<app::wire::Upload>), ApiError> {
    let outcome = receive(&state.uploads, form).await;
    let label = match &outcome {
        Ok(_) => "stored",
        Err(e) => e.code,
    };
    metrics::counter!(crate::telemetry::UPLOADS, "outcome" => label).increment(1);
    Ok((StatusCode::CREATED, Json(outcome?)))
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<app::wire::Upload>, ApiError> {
    let not_found = || {
        ApiError::invalid(
            StatusCode::NOT_FOUND,
            "upload_not_found",
            format!("there is no upload {id:?}; upload the file again"),
        )
    };
    let upload_id = UploadId::parse(&id).ok_or_else(not_found)?;
    match state.uploads.get(upload_id).await {
        Ok(upload) => Ok(Json(upload)),
        Err(BlobError::NotFound(_)) => Err(not_found()),
        Err(e) => Err(ApiError::internal(e)),
    }
}
