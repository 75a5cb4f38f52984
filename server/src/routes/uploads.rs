//! `POST /api/uploads` and `GET /api/uploads/{id}`.

use super::error::ApiError;
use crate::auth::Identity;
use crate::blobs::BlobError;
use crate::startup::AppState;
use crate::uploads::{UploadId, receive::receive};
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};

pub async fn create(
    State(state): State<AppState>,
    Extension(by): Extension<Identity>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<app::wire::Upload>), ApiError> {
    // axum's own refusal is plain text; every API error is the JSON envelope.
    let form = form.map_err(|e| {
        ApiError::invalid(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!(
                "send the file as multipart/form-data with the fields `kind` (model or data)                  and `file` ({e})"
            ),
        )
    })?;
    let deadline = state.uploads.deadline;
    let outcome = match tokio::time::timeout(deadline, receive(&state.uploads, form, by.user)).await
    {
        Ok(outcome) => outcome,
        Err(_) => Err(ApiError::invalid(
            StatusCode::REQUEST_TIMEOUT,
            "upload_too_slow",
            format!(
                "the upload was still arriving after {} s, this server's limit \
                 (SHAPLAB_UPLOAD_DEADLINE); try a faster connection, a smaller file (Parquet \
                 instead of CSV), or ask the operator to raise the limit",
                deadline.as_secs()
            ),
        )),
    };
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
