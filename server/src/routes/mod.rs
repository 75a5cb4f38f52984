//! HTTP handlers. Pages are served by Leptos (see [`crate::startup`]); these are the JSON API.
//!
//! - [`error`]: the JSON error envelope every API failure is rendered as.
//! - [`health`]: `/healthz` (liveness), `/readyz` (readiness), `/api/health` (the full report).
//! - [`uploads`]: `POST /api/uploads`, `GET /api/uploads/{id}`.

pub mod error;
pub mod health;
pub mod uploads;
