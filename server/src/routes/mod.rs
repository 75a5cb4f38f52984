//! HTTP handlers. Pages are served by Leptos (see [`crate::startup`]); these are the JSON API.
//!
//! - [`health`]: `/healthz` (liveness), `/readyz` (readiness), `/api/health` (the full report).

pub mod health;
