//! shaplab's web UI (Leptos 0.8, SSR + hydration) and the wire types browser and server share.
//!
//! Built twice: with `ssr` it is linked into the server, which renders pages; with `hydrate`
//! it is compiled to wasm and takes over the rendered page in the browser. Data is fetched by
//! the browser (the server renders each page's frame), so server and first browser render
//! always agree; nothing here talks to Redis or the engine.
//!
//! # Layout
//! - [`wire`], [`wire_health`], [`wire_views`], [`wire_team`]: the JSON types of the API (the
//!   SHAP results; the health report; comparisons and partial dependence; sign-in, the job
//!   list, share links and keys),
//!   serialised by the server and read by the page.
//! - [`backoff`], [`poll`]: pure timing rules of the health checks and of job polling
//!   (jitter, backoff, Retry-After, pause while hidden) — unit-tested.
//! - [`view_state`]: the view carried in the job page's URL (deep links).
//! - [`format`]: numbers, durations, ages and dates in words.
//! - [`plots`]: the SVG plots (pure functions to markup) and the figure frame around them.
//! - [`status`]: the header's service-status indicator and the outage banner.
//! - [`me`]: who the server takes this browser for (`/api/me`), as page context, and the
//!   header's account links and Sign out.
//! - [`pages`]: the start page (uploads, options, submit, sample), the job page (status,
//!   results, row explorer, exports, share links), sign-in, "Your jobs" and API keys.
//! - [`shell`]: the HTML shell and the router; [`csp`]: the pages' Content-Security-Policy.
//! - [`net`]: HTTP (with the CSRF header), storage, clocks, clipboard and downloads (browser implementation in
//!   `net_browser.rs`, inert under `ssr`).
//! - `browser` (hydrate only): the health poller.

pub mod backoff;
#[cfg(feature = "hydrate")]
mod browser;
pub mod csp;
pub mod format;
pub mod me;
pub mod net;
pub mod pages;
pub mod plots;
pub mod poll;
pub mod shell;
pub mod status;
pub mod view_state;
pub mod wire;
pub mod wire_health;
pub mod wire_team;
pub mod wire_views;

pub use shell::{App, shell};

/// Entry point of the wasm bundle: takes over the server-rendered `<body>`.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
