//! The cookies shaplab sets: the session (httpOnly), the CSRF token (readable by the page,
//! which echoes it in `X-CSRF-Token`) and a share link's token (httpOnly).

use axum::http::HeaderMap;

pub const SESSION: &str = "shaplab_session";
pub const CSRF: &str = "shaplab_csrf";
pub const SHARE: &str = "shaplab_share";

/// A cookie's value from the request's `Cookie` headers.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// Whether the browser reached us over https (directly or through a proxy that says so).
pub fn is_https(headers: &HeaderMap, always: bool) -> bool {
    always
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value. `max_age_s == 0` deletes the cookie.
pub fn set(
    name: &str,
    value: &str,
    max_age_s: u64,
    http_only: bool,
    same_site: &str,
    secure: bool,
) -> String {
    let mut c = format!("{name}={value}; Path=/; Max-Age={max_age_s}; SameSite={same_site}");
    if http_only {
        c.push_str("; HttpOnly");
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            "cookie",
            HeaderValue::from_static("a=1; shaplab_csrf=xyz; shaplab_csrf_old=no"),
        );
        assert_eq!(get(&h, CSRF), Some("xyz"));
        assert_eq!(get(&h, SESSION), None);
        assert_eq!(
            set(SESSION, "t", 60, true, "Lax", true),
            "shaplab_session=t; Path=/; Max-Age=60; SameSite=Lax; HttpOnly; Secure"
        );
    }
}
