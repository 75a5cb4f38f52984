//! shaplab's web UI (Leptos 0.8, SSR + hydration) and the wire types browser and server share.
//!
//! Built twice: with `ssr` it is linked into the server, which renders pages; with `hydrate`
//! it is compiled to wasm and takes over the rendered page in the browser. Browser-only code
//! lives behind `#[cfg(feature = "hydrate")]`; nothing here talks to Redis or the engine.
//!
//! # Layout
//! - [`wire`]: JSON types of `/api/health`, serialised by the server and read by the page.
//! - [`backoff`]: the jittered exponential backoff that paces the page's health checks (pure,
//!   unit-tested).
//! - [`status`]: the header's service-status indicator and the outage banner.
//! - [`shell`]: the HTML shell, the router and the pages.
//! - `browser` (hydrate only): `fetch`, timers and randomness from the browser.

pub mod backoff;
#[cfg(feature = "hydrate")]
mod browser;
pub mod shell;
pub mod status;
pub mod wire;

pub use shell::{App, shell};

/// Entry point of the wasm bundle: takes over the server-rendered `<body>`.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
