//! Browser-only plumbing (hydrate builds): `fetch`, timers, randomness, and the health poller.

use crate::backoff::Backoff;
use crate::status::{ServiceState, StatusSignals};
use crate::wire::HealthReport;
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Why a request from the page got no usable answer.
#[derive(Debug)]
pub enum FetchError {
    /// No response at all (server down, offline, connection reset).
    Network,
    /// A response, but not a 2xx (a proxy's 502 page, say).
    Status,
    /// A 2xx whose body was not the JSON we expected.
    Body,
}

/// GETs `url` and parses its JSON body.
pub async fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> Result<T, FetchError> {
    let window = web_sys::window().ok_or(FetchError::Network)?;
    let response = JsFuture::from(window.fetch_with_str(url))
        .await
        .map_err(|_| FetchError::Network)?;
    let response: web_sys::Response = response.dyn_into().map_err(|_| FetchError::Network)?;
    if !response.ok() {
        return Err(FetchError::Status);
    }
    let text = JsFuture::from(response.text().map_err(|_| FetchError::Body)?)
        .await
        .map_err(|_| FetchError::Network)?;
    let text = text.as_string().ok_or(FetchError::Body)?;
    serde_json::from_str(&text).map_err(|_| FetchError::Body)
}

/// Marks `<body data-hydrated="true">` so end-to-end tests know the wasm has taken over.
pub fn mark_hydrated() {
    if let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}

/// Checks `/api/health` for as long as the page lives, on the [`Backoff::HEALTH`] schedule,
/// publishing what it finds and counting down to the next check.
pub fn spawn_health_poller(signals: StatusSignals) {
    leptos::task::spawn_local(async move {
        let schedule = Backoff::HEALTH;
        let mut failures: u32 = 0;
        loop {
            let state = ServiceState::from_probe(get_json::<HealthReport>("/api/health").await);
            failures = if state.is_failure() {
                failures.saturating_add(1)
            } else {
                0
            };
            if signals.state.try_set(state).is_some() {
                return; // the page's reactive owner is gone
            }
            let Some(asked) = signals.check_now.try_get_untracked() else {
                return;
            };
            let mut remaining = schedule.delay_ms(failures, js_sys::Math::random());
            // Wait in short steps so the countdown stays current and "Check now" is prompt.
            while remaining > 0 {
                let seconds = remaining.div_ceil(1000);
                if signals.next_check_s.get_untracked() != seconds {
                    signals.next_check_s.set(seconds);
                }
                let step = remaining.min(250);
                TimeoutFuture::new(step).await;
                remaining -= step;
                if signals.check_now.try_get_untracked() != Some(asked) {
                    break;
                }
            }
            signals.next_check_s.set(0);
        }
    });
}
