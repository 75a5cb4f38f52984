//! HTTP handlers. Pages are served by Leptos (see [`crate::startup`]); these are the JSON API.
//!
//! - [`error`]: the JSON error envelope every API failure is rendered as.
//! - [`health`]: `/healthz` (liveness), `/readyz` (readiness), `/api/health` (the full report).
//! - [`jobs`]: `POST /api/jobs`, `GET`/`DELETE /api/jobs/{id}`, `GET /api/jobs/{id}/shap.csv`.
//! - [`uploads`]: `POST /api/uploads`, `GET /api/uploads/{id}`.

pub mod error;
pub mod health;
pub mod jobs;
pub mod uploads;
