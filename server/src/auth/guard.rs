//! The middleware every request passes: identify the caller, enforce the rate limit, CSRF and
//! ownership, send signed-out browsers to the sign-in page, and add the security headers.
//!
//! Ownership is checked here, once, for every `/api/jobs/{id}/…`, `/api/uploads/{id}` and
//! `/api/compare` route, so no handler can forget it. Someone else's job answers exactly like
//! a job that does not exist (404 `job_not_found`): its existence is not confirmed.

use super::{AuthMode, IdentifyError, Identity, cookies, tokens};
use crate::jobs::spec::JobSpec;
use crate::queue::{JobId, QueueError};
use crate::routes::error::ApiError;
use crate::routes::jobs::{not_found, queue_error};
use crate::startup::AppState;
use crate::uploads::UploadId;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::net::SocketAddr;

/// The policy for pages that did not set their own (pages set one with their script nonce:
/// see `app::shell`); everything else (JSON, files) gets the strictest.
const FALLBACK_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// API paths anyone may call: health for load balancers and the outage banner, sign-in, and
/// the "who am I" the sign-in page asks.
fn is_public_api(path: &str) -> bool {
    matches!(
        path,
        "/api/health" | "/api/session" | "/api/me" | "/metrics"
    )
}

/// Pages a signed-out browser may load: the sign-in page, share links, the app's files.
fn is_open_page(path: &str, identity: &Identity) -> bool {
    let last = path.rsplit('/').next().unwrap_or("");
    path == "/signin"
        || path.starts_with("/s/")
        || path.starts_with("/pkg/")
        || matches!(path, "/healthz" | "/readyz")
        || last.contains('.')
        || identity
            .share_job
            .as_deref()
            .is_some_and(|job| path == format!("/jobs/{job}"))
}

pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let secure = cookies::is_https(req.headers(), state.auth.config.secure_cookies);
    let needs_csrf_cookie = cookies::get(req.headers(), cookies::CSRF).is_none();
    // Refusals too get the headers below.
    let mut response = match admit(&state, req).await {
        Ok(req) => next.run(req).await,
        Err(refused) => refused,
    };
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let h = response.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(FALLBACK_CSP),
        );
    }
    if is_html && needs_csrf_cookie {
        // Readable by the page (not httpOnly): it echoes the value in X-CSRF-Token, which a
        // page of another site can neither read nor set.
        let token = tokens::new_token("");
        let cookie = cookies::set(
            cookies::CSRF,
            &token,
            30 * 24 * 3600,
            false,
            "Strict",
            secure,
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            h.append(header::SET_COOKIE, v);
        }
    }
    response
}

/// The request with the caller's [`Identity`] attached, or the answer that refuses it.
async fn admit(state: &AppState, mut req: Request) -> Result<Request, Response> {
    let path = req.uri().path().to_owned();
    let api = path.starts_with("/api/") || path == "/metrics";
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let auth = &state.auth;
    let identity = match auth.identify(req.headers(), peer).await {
        Ok(identity) => identity,
        Err(IdentifyError::BadKey) => {
            return Err(unauthenticated(
                "invalid_api_key",
                "this API key is not valid (revoked, or mistyped); make a new one on the API keys page",
            ));
        }
        Err(IdentifyError::Redis(e)) if api => return Err(queue_error(e).into_response()),
        // A page needs no data to render; its requests meet the outage (and the banner).
        Err(IdentifyError::Redis(_)) => Identity::anonymous(),
    };
    if api {
        let client = identity
            .user
            .clone()
            .or_else(|| peer.map(|p| p.to_string()))
            .unwrap_or_default();
        if !is_public_api(&path)
            && let Some(wait) = auth.limiter.check(&client)
        {
            return Err(ApiError {
                status: StatusCode::TOO_MANY_REQUESTS,
                code: "rate_limited",
                message: format!(
                    "too many requests: at most {} a minute per client; wait and try again",
                    auth.config.rate_per_minute
                ),
                retryable: true,
                retry_after: Some(wait),
            }
            .into_response());
        }
        let query = req.uri().query().map(str::to_owned);
        if let Err(e) = authorize(
            state,
            &identity,
            req.method(),
            &path,
            query.as_deref(),
            req.headers(),
        )
        .await
        {
            return Err(e.into_response());
        }
    } else if auth.config.mode != AuthMode::None
        && identity.user.is_none()
        && !is_open_page(&path, &identity)
    {
        let next = req.uri().path_and_query().map_or("/", |p| p.as_str());
        return Err(Redirect::to(&format!("/signin?next={}", encode(next))).into_response());
    }
    req.extensions_mut().insert(identity);
    Ok(req)
}

/// What an API request may do, given who sent it.
async fn authorize(
    state: &AppState,
    identity: &Identity,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let unsafe_method = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && identity.cookie_borne() && state.auth.config.mode != AuthMode::None {
        check_csrf(headers)?;
    }
    if is_public_api(path) {
        return Ok(());
    }
    let job_path = path.strip_prefix("/api/jobs/").map(|rest| {
        rest.split_once('/')
            .map_or((rest, ""), |(id, tail)| (id, tail))
    });
    let read_only = !unsafe_method || (job_path.is_some_and(|(_, tail)| tail == "whatif"));
    if identity.user.is_none() {
        // A share link's viewer reads that one job, nothing else.
        if let (Some(job), Some((id, tail))) = (&identity.share_job, job_path)
            && job == id
            && read_only
            && !tail.starts_with("shares")
        {
            return check_job(state, identity, id, true).await;
        }
        if let (Some(job), Some(id)) = (&identity.share_job, path.strip_prefix("/api/uploads/"))
            && !unsafe_method
            && shared_upload(state, job, id).await?
        {
            return Ok(());
        }
        return Err(unauthenticated_error(
            "unauthenticated",
            "sign in first (or send an API key as `Authorization: Bearer <key>`)",
        ));
    }
    if path.starts_with("/api/admin/") && !identity.admin {
        return Err(ApiError::invalid(
            StatusCode::FORBIDDEN,
            "admin_only",
            "only an admin may do this; ask one, or use `shaplab requeue-dead` on the server",
        ));
    }
    if let Some((id, tail)) = job_path {
        let shared_ok = read_only && !tail.starts_with("shares");
        return check_job(state, identity, id, shared_ok).await;
    }
    if let Some(id) = path.strip_prefix("/api/uploads/") {
        return check_upload(state, identity, id).await;
    }
    if path == "/api/compare" {
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            if k == "a" || k == "b" {
                check_job(state, identity, &v, true).await?;
            }
        }
    }
    Ok(())
}

/// 404 unless the caller owns the job, is an admin, or (when `shared_ok`) holds its share
/// link. A job that does not exist is left to the handler's own 404.
async fn check_job(
    state: &AppState,
    identity: &Identity,
    id: &str,
    shared_ok: bool,
) -> Result<(), ApiError> {
    let Ok(job) = JobId::parse(id) else {
        return Ok(());
    };
    // The job first: its key is on the queue partition's shard, whose breaker answers at once
    // while that shard is down. `deleted:` has no hash tag (it may live on another shard, or on
    // the failed one behind the pool's breaker), so asking it first would make every poll of
    // a job wait on that shard during an outage instead of failing fast.
    let status = match state.queue.job(&job).await {
        Ok(status) => status,
        Err(QueueError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(queue_error(e)),
    };
    if state.auth.store.is_deleted(id).await.map_err(queue_error)? {
        return Err(not_found(id));
    }
    let owner = JobSpec::parse(status.payload.as_str())
        .ok()
        .and_then(|s| s.owner);
    let shared = shared_ok && identity.share_job.as_deref() == Some(id);
    if identity.may_see(owner.as_deref()) || shared {
        Ok(())
    } else {
        Err(not_found(id))
    }
}

async fn check_upload(state: &AppState, identity: &Identity, id: &str) -> Result<(), ApiError> {
    let Some(upload) = UploadId::parse(id) else {
        return Ok(());
    };
    let shared = match &identity.share_job {
        Some(job) => shared_upload(state, job, id).await?,
        None => false,
    };
    match state.uploads.get(upload).await {
        Ok(u) if !identity.may_see(u.owner.as_deref()) && !shared => Err(ApiError::invalid(
            StatusCode::NOT_FOUND,
            "upload_not_found",
            format!("there is no upload {id:?}; upload the file again"),
        )),
        _ => Ok(()),
    }
}

/// Whether upload `id` is one of the shared job's inputs (its viewer may read what the job
/// page shows of them).
async fn shared_upload(state: &AppState, job: &str, id: &str) -> Result<bool, ApiError> {
    let Ok(job) = JobId::parse(job) else {
        return Ok(false);
    };
    let status = match state.queue.job(&job).await {
        Ok(status) => status,
        Err(QueueError::NotFound(_)) => return Ok(false),
        Err(e) => return Err(queue_error(e)),
    };
    Ok(JobSpec::parse(status.payload.as_str()).is_ok_and(|s| s.model == id || s.data == id))
}

fn check_csrf(headers: &HeaderMap) -> Result<(), ApiError> {
    let cookie = cookies::get(headers, cookies::CSRF);
    let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
    match (cookie, sent) {
        (Some(c), Some(s)) if tokens::same(c, s) => Ok(()),
        _ => Err(ApiError::invalid(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            "this request did not come from a shaplab page (missing or stale X-CSRF-Token); \
             reload the page and try again — scripts should use an API key",
        )),
    }
}

fn unauthenticated_error(code: &'static str, message: &str) -> ApiError {
    ApiError::invalid(StatusCode::UNAUTHORIZED, code, message)
}

fn unauthenticated(code: &'static str, message: &str) -> Response {
    unauthenticated_error(code, message).into_response()
}

/// Percent-encodes a path for the `next` parameter.
fn encode(path: &str) -> String {
    url::form_urlencoded::byte_serialize(path.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Via;

    #[test]
    fn only_the_sign_in_page_share_links_and_files_are_open() {
        let nobody = Identity::anonymous();
        assert!(is_open_page("/signin", &nobody));
        assert!(is_open_page("/s/abc", &nobody));
        assert!(is_open_page("/pkg/shaplab.wasm", &nobody));
        assert!(is_open_page("/favicon.svg", &nobody));
        assert!(!is_open_page("/", &nobody));
        assert!(!is_open_page("/jobs/j1", &nobody));
        let viewer = Identity {
            share_job: Some("j1".into()),
            ..Identity::anonymous()
        };
        assert!(is_open_page("/jobs/j1", &viewer));
        assert!(!is_open_page("/jobs/j2", &viewer));
        assert_eq!(viewer.via_str(), "share");
        assert!(matches!(viewer.via, Via::Anonymous));
    }
}
