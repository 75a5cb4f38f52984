//! `GET /api/jobs/{id}/shap.csv` and `GET /api/jobs/{id}/interactions.csv`: a succeeded job's
//! results, streamed blob by blob (the header blob, then each chunk's blob in row order), so
//! memory stays at one chunk whatever the job's size and the bytes equal the file
//! `shaplab explain --out` (or `--interactions`) writes on the same inputs.
//!
//! Both share one streamer; they differ only in which blobs a chunk's result reference (the
//! SHAP blob's key) leads to. `shap.csv?groups=…` re-writes each chunk with feature groups'
//! SHAP values summed (one chunk in memory; the header names the groups).

use super::error::ApiError;
use super::jobs::read_error;
use super::jobs::{job_id, not_expired, queue_error};
use crate::jobs::groups::Grouping;
use crate::jobs::read::{self, DataFile, chunk_range};
use crate::jobs::spec::JobSpec;
use crate::queue::JobState;
use crate::startup::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
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

/// The SHAP values CSV; `?groups=` gives it with feature groups summed (see
/// [`crate::jobs::groups`]).
pub async fn shap(
    state: State<AppState>,
    id: Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut groups = String::new();
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "groups" => groups = value.into_owned(),
            other => {
                return Err(ApiError::invalid(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_request",
                    format!("unexpected parameter {other:?}; the download takes groups=<groups>"),
                ));
            }
        }
    }
    stream(state, id, Kind::Shap, groups).await
}

/// The interaction values CSV; `404 no_interactions` for a job submitted without them.
pub async fn interactions(state: State<AppState>, id: Path<String>) -> Result<Response, ApiError> {
    stream(state, id, Kind::Interactions, String::new()).await
}

/// The grouping `text` asks for, with the model's feature and output counts; `None` when it
/// finds no group (the plain file is then sent).
async fn grouping(
    state: &AppState,
    spec: &JobSpec,
    text: &str,
) -> Result<Option<(Grouping, usize, usize)>, ApiError> {
    let (blobs, scratch) = (&state.uploads.blobs, &state.uploads.scratch);
    let model = read::model(blobs, spec).await.map_err(read_error)?;
    let data = if text.split(';').any(|p| p.trim() == "auto") {
        Some(
            DataFile::fetch(blobs, spec, scratch)
                .await
                .map_err(read_error)?,
        )
    } else {
        None
    };
    let grouping = Grouping::parse(text, &model, data.as_ref()).map_err(read_error)?;
    Ok(grouping.map(|g| (g, model.num_features, model.num_outputs)))
}

/// A chunk blob's lines with the groups' SHAP values summed.
fn regroup(
    bytes: &[u8],
    key: &str,
    g: &Grouping,
    features: usize,
    outputs: usize,
) -> Result<Bytes, std::io::Error> {
    let rows = chunk_range(key).map_or(0, |(start, end)| (end - start) as usize);
    let width = outputs * (features + 1);
    let values = read::parse_lines(bytes, width, rows).map_err(|e| {
        tracing::error!(blob = %key, "cannot regroup a chunk of a result: {e}");
        std::io::Error::other(e.to_string())
    })?;
    let mut out = String::with_capacity(bytes.len());
    for line in values.chunks_exact(width.max(1)) {
        let cells: Vec<String> = g
            .line(line, features, outputs)
            .iter()
            .map(|v| v.to_string())
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    Ok(Bytes::from(out))
}

async fn stream(
    State(state): State<AppState>,
    Path(id): Path<String>,
    kind: Kind,
    groups: String,
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
    let grouping = match groups.trim() {
        "" => None,
        text => grouping(&state, &spec, text).await?,
    };
    let header_key = match kind {
        Kind::Shap => spec.header_key(),
        Kind::Interactions => spec.interactions_header_key(),
    };
    // Fail before the 200 if the first blob is gone (an expired or deleted result), rather
    // than sending a truncated file.
    let blobs = state.uploads.blobs.clone();
    let mut first = blobs.get_bytes(&header_key).await.map_err(|e| match e {
        crate::blobs::BlobError::NotFound(_) => ApiError::invalid(
            StatusCode::GONE,
            "result_expired",
            format!("the results of job {id} are no longer stored; submit the job again"),
        ),
        other => ApiError::internal(other),
    })?;
    if let Some((g, _, outputs)) = &grouping {
        first = Bytes::from(shaplab::output::shap_header(&g.names(), *outputs) + "\n");
    }
    let grouping = std::sync::Arc::new(grouping);
    let chunks = futures_util::stream::iter(rest).then(move |key| {
        let (blobs, grouping) = (blobs.clone(), grouping.clone());
        async move {
            let bytes = blobs.get_bytes(&key).await.map_err(|e| {
                // The status line is sent; all that is left is to end the body with an error
                // (the client sees a truncated transfer) and log why.
                tracing::error!(blob = %key, "cannot stream a chunk of a result: {e}");
                std::io::Error::other(e.to_string())
            })?;
            match grouping.as_ref() {
                None => Ok(bytes),
                Some((g, features, outputs)) => regroup(&bytes, &key, g, *features, *outputs),
            }
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
