//! `POST /api/uploads` and `GET /api/uploads/{id}`.

use super::error::ApiError;
use crate::auth::Identity;
use crate::blobs::BlobError;
use crate::startup::AppState;
use crate::uploads::{UploadId, receive::receive};
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};

pub async fn create(
    State(state): State<AppState>,
    Extension(by): Extension<Identity>,
    form: Multipart,
) -> Result<(StatusCode, Json<app::wire::Upload>), ApiError> {
    let outcome = receive(&state.uploads, form, by.user).await;
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
