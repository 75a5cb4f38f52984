//! The team service's API: the signed-in user's job list (`GET /api/jobs`), renaming
//! (`PATCH /api/jobs/{id}`) and deleting (`DELETE /api/jobs/{id}?purge=true`) a job, its share
//! links (`/api/jobs/{id}/shares`), and API keys (`/api/keys`).
//!
//! The guard ([`crate::auth::guard`]) has already refused anyone who may not touch the job.

use super::error::ApiError;
use super::jobs::{cancel, job_id, not_found, queue_error, view};
use crate::auth::Identity;
use crate::auth::index::JobMeta;
use crate::jobs::spec::JobSpec;
use crate::queue::{JobId, JobStatus, QueueError};
use crate::redis::pool::now_ms;
use crate::startup::AppState;
use app::wire_team::{ApiKey, JobList, JobListItem, JobRename, KeyRequest, Share, ShareRequest};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

const PER_PAGE: u32 = 20;

fn user(by: &Identity) -> Result<&str, ApiError> {
    by.user.as_deref().ok_or_else(|| {
        ApiError::invalid(StatusCode::UNAUTHORIZED, "unauthenticated", "sign in first")
    })
}

fn params(query: Option<&str>) -> (String, u32, u32) {
    let (mut q, mut page, mut per_page) = (String::new(), 1, PER_PAGE);
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "q" => q = v.trim().to_lowercase(),
            "page" => page = v.parse().unwrap_or(1).max(1),
            "per_page" => per_page = v.parse().unwrap_or(PER_PAGE).clamp(1, 100),
            _ => {}
        }
    }
    (q, page, per_page)
}

fn item(status: &JobStatus, meta: JobMeta) -> JobListItem {
    let started = status.started_ms;
    let end = status.finished_ms.unwrap_or_else(now_ms);
    JobListItem {
        id: status.id.to_string(),
        label: meta.label,
        model_name: meta.model_name,
        data_name: meta.data_name,
        state: view(status).state,
        rows: status.rows_total,
        created_at_ms: status.created_ms,
        duration_ms: started.map(|s| end.saturating_sub(s)),
        expired: status.expired_ms.is_some(),
    }
}

pub async fn list(
    State(state): State<AppState>,
    Extension(by): Extension<Identity>,
    RawQuery(query): RawQuery,
) -> Result<Json<JobList>, ApiError> {
    let owner = user(&by)?;
    let (q, page, per_page) = params(query.as_deref());
    let listed = state
        .auth
        .store
        .listed_jobs(owner)
        .await
        .map_err(queue_error)?;
    let matching: Vec<_> = listed
        .into_iter()
        .filter(|(id, m)| {
            q.is_empty()
                || [
                    Some(id.as_str()),
                    m.label.as_deref(),
                    m.model_name.as_deref(),
                    m.data_name.as_deref(),
                ]
                .into_iter()
                .flatten()
                .any(|text| text.to_lowercase().contains(&q))
        })
        .collect();
    let total = matching.len() as u64;
    let skip = (page as usize - 1) * per_page as usize;
    let mut jobs = Vec::new();
    for (id, meta) in matching.into_iter().skip(skip).take(per_page as usize) {
        let Ok(job) = JobId::parse(&id) else { continue };
        match state.queue.job(&job).await {
            Ok(status) => jobs.push(item(&status, meta)),
            // Long gone from the queue (past its tombstone): nothing to show or open.
            Err(QueueError::NotFound(_)) => {}
            Err(e) => return Err(queue_error(e)),
        }
    }
    Ok(Json(JobList {
        jobs,
        total,
        page,
        per_page,
    }))
}

/// The job's status and owner (the guard let the caller in, so they own it or are an admin).
async fn owned(state: &AppState, by: &Identity, id: &str) -> Result<(JobStatus, String), ApiError> {
    let job = job_id(id)?;
    let status = state.queue.job(&job).await.map_err(queue_error)?;
    let owner = JobSpec::parse(status.payload.as_str())
        .ok()
        .and_then(|s| s.owner)
        .or_else(|| by.user.clone())
        .ok_or_else(|| not_found(id))?;
    Ok((status, owner))
}

pub async fn rename(
    State(state): State<AppState>,
    Extension(by): Extension<Identity>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<JobListItem>, ApiError> {
    let request: JobRename = serde_json::from_slice(&body).map_err(|_| {
        ApiError::invalid(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "the body must be JSON like {\"label\": \"churn model, March\"}",
        )
    })?;
    let (status, owner) = owned(&state, &by, &id).await?;
    let store = &state.auth.store;
    let mut meta = store.job_meta(&owner, &id).await.map_err(queue_error)?;
    let label: String = request.label.trim().chars().take(100).collect();
    meta.label = (!label.is_empty()).then_some(label);
    store
        .set_job_meta(&owner, &id, &meta)
        .await
        .map_err(queue_error)?;
    Ok(Json(item(&status, meta)))
}

/// `DELETE /api/jobs/{id}`: cancels; with `?purge=true` also deletes the results and takes the
/// job off its owner's list (it is 404 from then on, for everyone).
pub async fn delete(
    state: State<AppState>,
    Extension(by): Extension<Identity>,
    path: Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let purge = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .any(|(k, v)| k == "purge" && (v == "true" || v == "1"));
    if !purge {
        return cancel(state, path).await.map(IntoResponse::into_response);
    }
    let (State(state), Path(id)) = (state, path);
    let (status, owner) = owned(&state, &by, &id).await?;
    if !view(&status).state.is_terminal() {
        state.queue.cancel(&status.id).await.map_err(queue_error)?;
    }
    state
        .auth
        .store
        .mark_deleted(&owner, &id)
        .await
        .map_err(queue_error)?;
    if let Ok(spec) = JobSpec::parse(status.payload.as_str()) {
        // Chunks still being written by a worker that has not seen the cancel yet are left to
        // the result sweep, which deletes the prefix again when the job expires.
        state
            .uploads
            .blobs
            .delete_prefix(&spec.results)
            .await
            .map_err(ApiError::internal)?;
    }
    Ok(Json(view(&status)).into_response())
}

pub async fn create_share(
    State(state): State<AppState>,
    Extension(by): Extension<Identity>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Share>), ApiError> {
    let request: ShareRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ShareRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|_| {
            ApiError::invalid(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                "the body must be JSON like {\"expires_in_hours\": 24} (or null: until revoked)",
            )
        })?
    };
    let (_, owner) = owned(&state, &by, &id).await?;
    let share = state
        .auth
        .store
        .create_share(&id, &owner, request.expires_in_hours);
    Ok((StatusCode::CREATED, Json(share.await.map_err(queue_error)?)))
}

pub async fn shares(
    State(state): State<AppState>,
    Extension(by): Extension<Identity>,
    Path(id): Path<String>,
) -> Result<Json<Vec<Share>>, ApiError> {
    owned(&state, &by, &id).await?;
    Ok(Json(
        state.auth.store.shares(&id).await.map_err(queue_error)?,
    ))
}

pub async fn revoke_share(
    State(state): State<AppState>,
    Extension(by): Extension<Identity>,
    Path((id, share)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    owned(&state, &by, &id).await?;
    match state
        .auth
        .store
        .revoke_share(&id, &share)
        .await
        .map_err(queue_error)?
    {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::invalid(
            StatusCode::NOT_FOUND,
            "share_not_found",
            format!("job {id} has no share link {share:?} (already revoked?)"),
        )),
    }
}

pub async fn keys(
    State(state): State<AppState>,
    Extension(by): Extension<Identity>,
) -> Result<Json<Vec<ApiKey>>, ApiError> {
    let owner = user(&by)?;
    Ok(Json(
        state.auth.store.keys(owner).await.map_err(queue_error)?,
    ))
}

pub async fn create_key(
    State(state): State<AppState>,
    Extension(by): Extension<Identity>,
    body: Bytes,
) -> Result<(StatusCode, Json<ApiKey>), ApiError> {
    let owner = user(&by)?;
    let request: KeyRequest = serde_json::from_slice(&body).map_err(|_| {
        ApiError::invalid(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "the body must be JSON like {\"label\": \"nightly script\"}",
        )
    })?;
    let key = state.auth.store.create_key(owner, &request.label);
    Ok((StatusCode::CREATED, Json(key.await.map_err(queue_error)?)))
}

pub async fn revoke_key(
    State(state): State<AppState>,
    Extension(by): Extension<Identity>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let owner = user(&by)?;
    match state
        .auth
        .store
        .revoke_key(owner, &id)
        .await
        .map_err(queue_error)?
    {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::invalid(
            StatusCode::NOT_FOUND,
            "key_not_found",
            format!("you have no API key {id:?} (already revoked?)"),
        )),
    }
}
