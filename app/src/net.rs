//! The page's window on the world: HTTP (fetch, uploads with progress, the CSRF header),
//! browser storage, clocks, visibility, URL, clipboard and downloads.
//!
//! Components call these from event handlers and effects, which only ever run in the
//! browser; the server-rendering build compiles the same signatures with inert bodies (no
//! request can start while the server renders a page), so components need no `cfg`.

use crate::wire::ApiErrorBody;

/// Why a request got no usable answer.
#[derive(Clone, Debug, PartialEq)]
pub enum FetchError {
    /// No response at all (server down, offline, connection reset).
    Network,
    /// A response, but not a 2xx.
    Status,
    /// A 2xx whose body was not the JSON we expected.
    Body,
}

/// An HTTP answer, whatever its status.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    /// `Retry-After`, in seconds.
    pub retry_after_s: Option<u32>,
    /// `X-Poll-Interval`, in seconds.
    pub poll_hint_s: Option<u32>,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The JSON body as `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, FetchError> {
        serde_json::from_str(&self.body).map_err(|_| FetchError::Body)
    }

    /// The API's error envelope; a body that is not one (a proxy's HTML error page) becomes
    /// an envelope that says so.
    pub fn error(&self) -> ApiErrorBody {
        serde_json::from_str(&self.body).unwrap_or_else(|_| ApiErrorBody {
            code: "server_unreachable".into(),
            message: format!(
                "the server answered {} without an explanation; it may be restarting — try again \
                 in a moment",
                self.status
            ),
            retryable: true,
            request_id: None,
        })
    }
}

/// The cookie the server sets on every page (not httpOnly, on purpose) whose value the page
/// echoes in [`CSRF_HEADER`] on every request that changes something: another site can make
/// the browser send the cookie but cannot read it, so it cannot forge the header
/// (double-submit).
pub const CSRF_COOKIE: &str = "shaplab_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Whether a request with `method` must carry the CSRF header (all but reads).
pub fn needs_csrf(method: &str) -> bool {
    !matches!(
        method.to_ascii_uppercase().as_str(),
        "GET" | "HEAD" | "OPTIONS"
    )
}

/// The value of cookie `name` in a `document.cookie` string (`a=1; b=2`).
pub fn cookie_value(cookies: &str, name: &str) -> Option<String> {
    cookies.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

pub use imp::*;

#[cfg(feature = "hydrate")]
#[path = "net_browser.rs"]
mod imp;

/// Server rendering: nothing here is ever called (handlers and effects do not run on the
/// server), but the components that call them are compiled for both.
#[cfg(not(feature = "hydrate"))]
mod imp {
    use super::{FetchError, Reply};

    pub async fn request(
        _method: &str,
        _url: &str,
        _json_body: Option<String>,
        _idempotency_key: Option<String>,
    ) -> Result<Reply, FetchError> {
        Err(FetchError::Network)
    }
    pub async fn upload_file(
        _kind: &str,
        _blob: web_sys::Blob,
        _name: String,
        _progress: impl Fn(f64) + 'static,
    ) -> Result<Reply, FetchError> {
        Err(FetchError::Network)
    }
    pub async fn fetch_blob(_url: &str) -> Result<web_sys::Blob, FetchError> {
        Err(FetchError::Network)
    }
    pub async fn sleep_ms(_ms: u32) {}
    pub fn stored(_key: &str) -> Option<String> {
        None
    }
    pub fn store(_key: &str, _value: &str) {}
    pub fn now_ms() -> u64 {
        0
    }
    pub fn random() -> f64 {
        0.5
    }
    pub fn hidden() -> bool {
        false
    }
    pub fn online() -> bool {
        true
    }
    pub fn new_key() -> String {
        String::new()
    }
    pub fn replace_query(_query: &str) {}
    pub fn current_url() -> String {
        String::new()
    }
    pub fn download_text(_name: &str, _mime: &str, _text: &str) {}
    pub fn download_svg(_element_id: &str, _name: &str) {}
    pub fn download_png(_element_id: &str, _name: &str) {}
    pub fn mark_hydrated() {}
    pub fn go_to(_path: &str) {}
    pub fn origin() -> String {
        String::new()
    }
    pub fn current_path() -> String {
        String::new()
    }
    pub async fn copy_text(_text: &str) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_cookie_is_found_among_others() {
        let jar = "theme=dark; shaplab_csrf=abc-123_x; other=1";
        assert_eq!(cookie_value(jar, CSRF_COOKIE), Some("abc-123_x".into()));
        assert_eq!(
            cookie_value("shaplab_csrf=z", CSRF_COOKIE),
            Some("z".into())
        );
        // A cookie whose name only ends with ours is another cookie.
        assert_eq!(cookie_value("x_shaplab_csrf=no", CSRF_COOKIE), None);
        assert_eq!(cookie_value("", CSRF_COOKIE), None);
    }

    #[test]
    fn only_requests_that_change_something_carry_the_csrf_header() {
        assert!(!needs_csrf("GET"));
        assert!(!needs_csrf("head"));
        assert!(needs_csrf("POST"));
        assert!(needs_csrf("PATCH"));
        assert!(needs_csrf("DELETE"));
    }
}
