//! Signing in and out, "who am I", and opening a share link:
//! `POST /api/session`, `DELETE /api/session`, `GET /api/me`, `GET /s/{token}`.

use super::error::ApiError;
use super::jobs::queue_error;
use crate::auth::store::SESSION_TTL;
use crate::auth::users::SignInCheck;
use crate::auth::{AuthMode, Identity, cookies};
use crate::startup::AppState;
use app::wire_team::{Me, SignIn};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Json};

pub async fn me(
    Extension(by): Extension<Identity>,
    State(state): State<AppState>,
) -> Result<Json<Me>, ApiError> {
    if by.user.is_none() && by.share_job.is_none() {
        return Err(ApiError::invalid(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "nobody is signed in",
        ));
    }
    Ok(Json(Me {
        admin: by.admin,
        mode: state.auth.config.mode.as_str().into(),
        via: by.via_str().into(),
        share_job: by.share_job.clone(),
        can_sign_out: state.auth.config.mode == AuthMode::Users && by.user.is_some(),
        user: by.user,
    }))
}

pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if state.auth.config.mode != AuthMode::Users {
        return Err(ApiError::invalid(
            StatusCode::NOT_FOUND,
            "no_local_sign_in",
            format!(
                "this server does not use local accounts (SHAPLAB_AUTH={})",
                state.auth.config.mode.as_str()
            ),
        ));
    }
    let request: SignIn = serde_json::from_slice(&body).map_err(|_| {
        ApiError::invalid(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "the body must be JSON like {\"user\": \"alice\", \"password\": \"…\"}",
        )
    })?;
    let check = state
        .auth
        .store
        .check_sign_in(request.user.trim(), &request.password);
    let account = match check.await.map_err(queue_error)? {
        SignInCheck::Ok(account) => account,
        SignInCheck::Wrong => {
            return Err(ApiError::invalid(
                StatusCode::UNAUTHORIZED,
                "bad_credentials",
                "that user name and password do not match; check both and try again",
            ));
        }
        SignInCheck::Locked(wait) => {
            return Err(ApiError {
                status: StatusCode::TOO_MANY_REQUESTS,
                code: "signin_locked",
                message: format!(
                    "too many failed sign-ins for this user: try again in {} minutes, or ask an \
                     admin to reset the password",
                    wait.as_secs().div_ceil(60)
                ),
                retryable: true,
                retry_after: Some(wait),
            });
        }
    };
    let token = state
        .auth
        .store
        .start_session(&account.name)
        .await
        .map_err(queue_error)?;
    let secure = cookies::is_https(&headers, state.auth.config.secure_cookies);
    let cookie = cookies::set(
        cookies::SESSION,
        &token,
        SESSION_TTL.as_secs(),
        true,
        "Lax",
        secure,
    );
    Ok(with_cookie(StatusCode::NO_CONTENT.into_response(), &cookie))
}

pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = cookies::get(&headers, cookies::SESSION) {
        state
            .auth
            .store
            .end_session(token)
            .await
            .map_err(queue_error)?;
    }
    let secure = cookies::is_https(&headers, state.auth.config.secure_cookies);
    let cookie = cookies::set(cookies::SESSION, "", 0, true, "Lax", secure);
    Ok(with_cookie(StatusCode::NO_CONTENT.into_response(), &cookie))
}

/// `/s/{token}`: remembers the link in an httpOnly cookie and opens the job's page (so the
/// token never sits in the address bar, the history or a Referer).
pub async fn open_share(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    match state.auth.store.share_job(&token).await {
        Ok(Some(job)) => {
            let secure = cookies::is_https(&headers, state.auth.config.secure_cookies);
            let cookie = cookies::set(cookies::SHARE, &token, 366 * 24 * 3600, true, "Lax", secure);
            with_cookie(
                Redirect::to(&format!("/jobs/{job}")).into_response(),
                &cookie,
            )
        }
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Html(
                "<!DOCTYPE html><title>Link not valid</title><h1>This share link does not work</h1>\
                 <p>It was revoked, it expired, or it was copied incompletely. Ask whoever sent it \
                 for a new one.</p>",
            ),
        )
            .into_response(),
        Err(e) => queue_error(e).into_response(),
    }
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}
