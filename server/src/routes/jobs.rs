//! `POST /api/jobs`, `GET /api/jobs/{id}`, `DELETE /api/jobs/{id}`,
//! `GET /api/jobs/{id}/summary`, `GET /api/jobs/{id}/rows/{i}` and
//! `GET /api/jobs/{id}/ranked` (the CSV downloads are in [`super::downloads`]).
//!
//! Every queue failure maps to the one error envelope: Redis unreachable (or the breaker
//! open) is 503 `queue_unavailable` with `Retry-After`, a full queue 503 `queue_full`; nothing
//! a Redis outage does can turn into a 500. A job that ended more than `RESULT_TTL` ago is
//! `410 result_expired` on all of these but `DELETE` (see [`crate::jobs::expiry`]).

use super::error::ApiError;
use crate::auth::Identity;
use crate::auth::index::JobMeta;
use crate::jobs::expiry;
use crate::jobs::rank_query::RankQuery;
use crate::jobs::read::ReadError;
use crate::jobs::spec::JobSpec;
use crate::jobs::submit::{SubmitError, submit};
use crate::queue::{Cancellation, IdempotencyKey, JobId, JobState, JobStatus, QueueError};
use crate::redis::pool::now_ms;
use crate::startup::AppState;
use app::wire::{Job, JobFailure, JobProgress, JobRequest};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use sha2::{Digest, Sha256};

/// Seconds between polls suggested to the page while a job runs (`X-Poll-Interval`); absent
/// once the job has ended, so the page knows to stop.
const POLL_INTERVAL_SECS: u64 = 1;

pub async fn create(
    State(state): State<AppState>,
    Extension(by): Extension<Identity>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: JobRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::invalid(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            format!(
                "the body must be JSON like {{\"model\": \"<upload id>\", \"data\": \"<upload id>\", \
                 \"output\": \"raw\"}}: {e}"
            ),
        )
    })?;
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => {
            let text = value.to_str().unwrap_or("\u{0}");
            Some(IdempotencyKey::parse(text).map_err(|e| {
                ApiError::invalid(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_request",
                    format!("Idempotency-Key: {e}"),
                )
            })?)
        }
    };
    if let Some(owner) = &by.user {
        active_jobs_below_limit(&state, owner).await?;
    }
    let accepted = submit(
        &state.uploads,
        &state.queue,
        &state.jobs,
        &request,
        key,
        &by,
    )
    .await
    .map_err(submit_error)?;
    let submitted = accepted.submitted;
    metrics::counter!(
        "shaplab_jobs_submitted_total",
        "outcome" => if submitted.created { "created" } else { "existing" }
    )
    .increment(1);
    let status = state.queue.job(&submitted.job).await.map_err(queue_error)?;
    // Also for a resubmit with the same key: if listing failed the first time, it lists now.
    if let Some(owner) = &by.user {
        let meta = JobMeta {
            label: None,
            model_name: Some(accepted.model_name),
            data_name: Some(accepted.data_name),
        };
        let job = submitted.job.to_string();
        let listed = state
            .auth
            .store
            .record_job(owner, &job, status.created_ms, &meta);
        listed.await.map_err(queue_error)?;
        let store = &state.auth.store;
        store.track_active(owner, &job).await.map_err(queue_error)?;
    }
    let code = if submitted.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = (code, Json(view(&status))).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/jobs/{}", status.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Refuses a submit while `owner` has `SHAPLAB_MAX_ACTIVE_JOBS` jobs queued or running (the
/// set of active jobs forgets each one the first time it is seen ended).
async fn active_jobs_below_limit(state: &AppState, owner: &str) -> Result<(), ApiError> {
    let limit = state.jobs.limits.active_jobs;
    let store = &state.auth.store;
    let mut active = 0;
    for id in store.active_jobs(owner).await.map_err(queue_error)? {
        let running = match JobId::parse(&id) {
            Ok(job) => match state.queue.job(&job).await {
                Ok(status) => !view(&status).state.is_terminal(),
                Err(QueueError::NotFound(_)) => false,
                Err(e) => return Err(queue_error(e)),
            },
            Err(_) => false,
        };
        if running {
            active += 1;
        } else {
            store
                .untrack_active(owner, &id)
                .await
                .map_err(queue_error)?;
        }
    }
    if active >= limit {
        return Err(ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "too_many_active_jobs",
            message: format!(
                "you have {active} jobs queued or running, this server's limit \
                 (SHAPLAB_MAX_ACTIVE_JOBS={limit}); wait for one to finish or cancel one"
            ),
            retryable: true,
            retry_after: Some(std::time::Duration::from_secs(10)),
        });
    }
    Ok(())
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = job_id(&id)?;
    let status = state.queue.job(&id).await.map_err(queue_error)?;
    not_expired(&state, &status)?;
    let job = view(&status);
    let etag = etag(&job);
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Json(&job).into_response()
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    // Always revalidate: the ETag makes that cheap, and a cached "running" must not linger.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if !job.state.is_terminal() {
        h.insert("x-poll-interval", HeaderValue::from(POLL_INTERVAL_SECS));
    }
    Ok(response)
}

pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiError> {
    let id = job_id(&id)?;
    match state.queue.cancel(&id).await.map_err(queue_error)? {
        Cancellation::Cancelled { .. } | Cancellation::AlreadyFinished(JobState::Cancelled) => {}
        Cancellation::AlreadyFinished(other) => {
            return Err(ApiError::invalid(
                StatusCode::CONFLICT,
                "job_finished",
                format!(
                    "job {id} has already {}; there is nothing to cancel",
                    other.as_str()
                ),
            ));
        }
    }
    let status = state.queue.job(&id).await.map_err(queue_error)?;
    Ok(Json(view(&status)))
}

/// One row (0-based, in input order): feature values, SHAP values, base values, predictions.
/// 404 `row_not_found` past the end, 409 `job_not_finished` while its chunk is not done.
pub async fn row(
    State(state): State<AppState>,
    Path((id, i)): Path<(String, String)>,
) -> Result<Json<app::wire::JobRow>, ApiError> {
    let i: u64 = i.parse().map_err(|_| {
        ApiError::invalid(
            StatusCode::NOT_FOUND,
            "row_not_found",
            format!("{i:?} is not a row number; rows are numbered from 0"),
        )
    })?;
    let (status, spec, results) = finished_chunks(&state, &id).await?;
    let row = crate::jobs::rows::job_row(
        &state.uploads.blobs,
        &state.uploads.scratch,
        &spec,
        &results,
        status.rows_total,
        i,
    )
    .await
    .map_err(read_error)?;
    Ok(Json(row))
}

/// The top (or bottom) rows by prediction or by one feature's SHAP value, over the chunks
/// finished so far. Bad parameters are 422 `invalid_request` naming what to change.
pub async fn ranked(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<app::wire::RankedRows>, ApiError> {
    // Parsed by hand (not axum's `Query`) so a bad parameter gets the JSON envelope.
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let query = RankQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(read_error)?;
    let (_, spec, results) = finished_chunks(&state, &id).await?;
    let ranked = crate::jobs::ranked::ranked(
        &state.uploads.blobs,
        &state.uploads.scratch,
        &spec,
        &results,
        &query,
    )
    .await
    .map_err(read_error)?;
    Ok(Json(ranked))
}

/// What the result readers need: the job's status, its spec, and each chunk's result
/// reference (`None` while that chunk is not done).
pub(super) async fn finished_chunks(
    state: &AppState,
    id: &str,
) -> Result<(JobStatus, JobSpec, Vec<Option<String>>), ApiError> {
    let id = job_id(id)?;
    let status = state.queue.job(&id).await.map_err(queue_error)?;
    not_expired(state, &status)?;
    let spec = JobSpec::parse(status.payload.as_str()).map_err(ApiError::internal)?;
    let results = state.queue.chunk_results(&id).await.map_err(queue_error)?;
    Ok((status, spec, results))
}

/// `410 result_expired` once the job ended more than `RESULT_TTL` ago (see
/// [`crate::jobs::expiry`]): the job existed, but its results are (being) deleted.
pub(super) fn not_expired(state: &AppState, status: &JobStatus) -> Result<(), ApiError> {
    let (ttl, now) = (state.jobs.result_ttl, now_ms());
    if expiry::is_expired(status, ttl, now) {
        return Err(ApiError::invalid(
            StatusCode::GONE,
            "result_expired",
            expiry::expired_message(status, ttl, now),
        ));
    }
    Ok(())
}

/// The `cohort` and `groups` parameters of the summary (empty when absent).
pub(super) fn view_params(query: Option<&str>) -> Result<(String, String), ApiError> {
    let (mut cohort, mut groups) = (None, None);
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "cohort" if cohort.is_none() => cohort = Some(value.into_owned()),
            "groups" if groups.is_none() => groups = Some(value.into_owned()),
            other => {
                return Err(ApiError::invalid(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_request",
                    format!(
                        "unexpected or repeated parameter {other:?}; the summary takes \
                         cohort=<conditions> and groups=<groups>"
                    ),
                ));
            }
        }
    }
    Ok((cohort.unwrap_or_default(), groups.unwrap_or_default()))
}

pub(super) fn read_error(e: ReadError) -> ApiError {
    match e {
        ReadError::NotFinished(m) => ApiError::invalid(StatusCode::CONFLICT, "job_not_finished", m),
        ReadError::RowNotFound(m) => ApiError::invalid(StatusCode::NOT_FOUND, "row_not_found", m),
        ReadError::Invalid(m) => {
            ApiError::invalid(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", m)
        }
        ReadError::Expired(m) => ApiError::invalid(StatusCode::GONE, "result_expired", m),
        ReadError::Internal(m) => ApiError::internal(m),
    }
}

pub(super) fn job_id(text: &str) -> Result<JobId, ApiError> {
    JobId::parse(text).map_err(|_| not_found(text))
}

pub(crate) fn not_found(id: &str) -> ApiError {
    ApiError::invalid(
        StatusCode::NOT_FOUND,
        "job_not_found",
        format!("there is no job {id:?}"),
    )
}

/// The job as the page sees it.
pub fn view(status: &JobStatus) -> Job {
    let state = match status.state {
        JobState::Queued => app::wire::JobState::Queued,
        JobState::Running => app::wire::JobState::Running,
        JobState::Succeeded => app::wire::JobState::Succeeded,
        JobState::Failed => app::wire::JobState::Failed,
        JobState::Cancelled => app::wire::JobState::Cancelled,
    };
    Job {
        id: status.id.to_string(),
        state,
        progress: JobProgress {
            rows_done: status.rows_done,
            rows_total: status.rows_total,
            chunks_done: status.chunks_done,
            chunks_total: status.chunks_total,
        },
        eta_seconds: eta_seconds(status, now_ms()),
        error: status.error.as_ref().map(|e| JobFailure {
            code: e.code.clone(),
            message: e.message.clone(),
        }),
        created_at_ms: status.created_ms,
        started_at_ms: status.started_ms,
        finished_at_ms: status.finished_ms,
        // A payload this version cannot read still has a status worth showing.
        inputs: JobSpec::parse(status.payload.as_str())
            .ok()
            .map(|spec| app::wire::JobInputs {
                model: spec.model,
                data: spec.data,
                output: spec.output,
                background_rows: spec.background_rows,
                interactions: spec.interactions,
                covers_from_data: spec.covers_from_data,
                notes: spec.notes,
            }),
    }
}

/// Seconds left at the rate so far (rows done since the job started); `None` before the
/// first chunk is done (no rate yet) and once the job has ended.
fn eta_seconds(status: &JobStatus, now_ms: u64) -> Option<u64> {
    if status.state.is_terminal() || status.rows_done == 0 {
        return None;
    }
    let elapsed_ms = now_ms.saturating_sub(status.started_ms?).max(1);
    let left = status.rows_total.saturating_sub(status.rows_done);
    let ms = (left as f64) * (elapsed_ms as f64) / (status.rows_done as f64);
    Some((ms / 1000.0).ceil() as u64)
}

/// A weak ETag over everything but the ETA (which moves with the clock, not with the job):
/// a poll that sees the same state and progress gets a 304.
fn etag(job: &Job) -> String {
    let mut stable = job.clone();
    stable.eta_seconds = None;
    let bytes = serde_json::to_vec(&stable).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("W/\"{hex}\"")
}

/// The envelope for a queue failure.
pub fn queue_error(e: QueueError) -> ApiError {
    match e {
        QueueError::Unavailable(_) => ApiError::queue_unavailable(
            e.retry_after().unwrap_or(std::time::Duration::from_secs(1)),
        ),
        QueueError::Full { .. } => ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "queue_full",
            message: e.to_string(),
            retryable: true,
            retry_after: e.retry_after(),
        },
        QueueError::NotFound(id) => not_found(id.as_str()),
        QueueError::Conflict { existing } => ApiError::invalid(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_conflict",
            format!(
                "this Idempotency-Key was already used for a different request (job {existing}); \
                 use a new key for a new request"
            ),
        ),
        QueueError::Invalid(message) => {
            ApiError::invalid(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
        }
        QueueError::WrongState { .. } => {
            ApiError::invalid(StatusCode::CONFLICT, "wrong_state", e.to_string())
        }
        QueueError::Rejected(_) | QueueError::StaleToken(_) | QueueError::Protocol(_) => {
            ApiError::internal(e)
        }
    }
}

fn submit_error(e: SubmitError) -> ApiError {
    let unprocessable =
        |code, message| ApiError::invalid(StatusCode::UNPROCESSABLE_ENTITY, code, message);
    match e {
        SubmitError::Invalid(m) => unprocessable("invalid_request", m),
        SubmitError::Unsupported(m) => unprocessable("unsupported", m),
        SubmitError::UploadNotFound(m) => unprocessable("upload_not_found", m),
        SubmitError::Limit(m) => unprocessable("limit_exceeded", m),
        SubmitError::WrongKind(m) => unprocessable("wrong_kind", m),
        e @ SubmitError::Incompatible { .. } => unprocessable("incompatible", e.to_string()),
        SubmitError::InvalidInput(m) => unprocessable("invalid_data", m),
        SubmitError::Queue(q) => queue_error(q),
        e @ (SubmitError::Blobs(_) | SubmitError::Internal(_)) => ApiError::internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::TaskPayload;

    fn status(state: JobState, rows_done: u64, started_ms: Option<u64>) -> JobStatus {
        JobStatus {
            id: JobId::parse("p0-0123456789abcdef01234567").expect("valid id"),
            state,
            rows_total: 10_000,
            rows_done,
            chunks_total: 2,
            chunks_done: 1,
            created_ms: 0,
            started_ms,
            finished_ms: None,
            expired_ms: None,
            error: None,
            payload: TaskPayload::new(""),
        }
    }

    #[test]
    fn the_eta_extrapolates_the_rate_so_far() {
        // 2,500 rows in 5 s → 500 rows/s; 7,500 left → 15 s.
        let s = status(JobState::Running, 2_500, Some(1_000));
        assert_eq!(eta_seconds(&s, 6_000), Some(15));
    }

    #[test]
    fn there_is_no_eta_without_progress_or_after_the_end() {
        assert_eq!(eta_seconds(&status(JobState::Running, 0, Some(0)), 9), None);
        assert_eq!(eta_seconds(&status(JobState::Queued, 0, None), 9), None);
        assert_eq!(
            eta_seconds(&status(JobState::Succeeded, 10_000, Some(0)), 9),
            None
        );
    }

    #[test]
    fn the_etag_ignores_the_eta_but_not_progress() {
        let mut a = view(&status(JobState::Running, 2_500, Some(0)));
        let mut b = a.clone();
        a.eta_seconds = Some(3);
        b.eta_seconds = Some(9);
        assert_eq!(etag(&a), etag(&b));
        b.progress.rows_done += 1;
        assert_ne!(etag(&a), etag(&b));
    }
}
