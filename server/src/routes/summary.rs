//! `GET /api/jobs/{id}/summary`: the bounded aggregates the plots draw, served from the
//! cache of [`crate::jobs::summary_cache`] (gzip as stored when the client takes it).

use super::error::ApiError;
use super::jobs::{finished_chunks, read_error, view_params};
use crate::startup::AppState;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The bounded aggregates for the plots, from the chunks finished so far (`partial` while
/// some are not). Answers for a job in any state; cached per number of finished chunks, as
/// JSON and as gzip: a client that accepts gzip gets the stored bytes, never re-compressed.
/// `?cohort=<conditions>` restricts it to a cohort's rows ([`crate::jobs::cohort`]).
pub async fn summary(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (cohort, groups) = view_params(query.as_deref())?;
    let (status, spec, results) = finished_chunks(&state, &id).await?;
    let (blobs, scratch) = (&state.uploads.blobs, &state.uploads.scratch);
    let view = (cohort.as_str(), groups.as_str());
    let gzip = accepts_gzip(&headers);
    let body = crate::jobs::summary_cache::summary_encoded(
        blobs,
        scratch,
        &spec,
        &results,
        status.rows_total,
        view,
        gzip,
    )
    .await
    .map_err(read_error)?;
    let mut response = Body::from(body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    Ok(response)
}

/// Whether `Accept-Encoding` lists gzip without refusing it (`gzip;q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(value: &str) -> bool {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap(),
        );
        accepts_gzip(&h)
    }

    #[test]
    fn gzip_is_sent_only_to_clients_that_take_it() {
        assert!(accepts("gzip, deflate, br"));
        assert!(accepts("br;q=1.0, GZIP;q=0.5"));
        assert!(accepts("*"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("br, zstd"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
