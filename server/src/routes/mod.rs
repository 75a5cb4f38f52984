//! HTTP handlers. Pages are served by Leptos (see [`crate::startup`]); these are the JSON API.
//!
//! - [`admin`]: `POST /api/admin/dead/requeue` (the dead-letter requeue).
//! - [`compare`]: `GET /api/compare?a=..&b=..`, two jobs side by side.
//! - [`events`]: `GET /api/jobs/{id}/events`, the job as server-sent events.
//! - [`downloads`]: `GET /api/jobs/{id}/shap.csv` and `/interactions.csv`, streamed.
//! - [`error`]: the JSON error envelope every API failure is rendered as.
//! - [`health`]: `/healthz` (liveness), `/readyz` (readiness), `/api/health` (the full report).
//! - [`openapi`]: `GET /api/openapi.json`, the API as OpenAPI 3.0 (schemas from the wire types).
//! - [`metrics`]: `GET /metrics`, this process's metrics and the queue's, for Prometheus.
//! - [`jobs`]: `POST /api/jobs`, `GET`/`DELETE /api/jobs/{id}` and the results read by the
//!   page (`rows/{i}`, `ranked`).
//! - [`summary`]: `GET /api/jobs/{id}/summary`, the plots' aggregates (stored gzip served as is).
//! - [`whatif`]: `POST /api/jobs/{id}/whatif`, one row with edited values explained again.
//! - [`report`]: `GET /api/jobs/{id}/report.html`, the self-contained HTML report.
//! - [`session`]: `POST`/`DELETE /api/session` (sign in/out), `GET /api/me`, `GET /s/{token}`.
//! - [`team`]: the job list (`GET /api/jobs`), rename and delete, share links, API keys.
//! - [`uploads`]: `POST /api/uploads`, `GET /api/uploads/{id}`.

pub mod admin;
pub mod compare;
pub mod downloads;
pub mod error;
pub mod events;
pub mod health;
pub mod jobs;
pub mod metrics;
pub mod openapi;
pub mod report;
pub mod session;
pub mod summary;
pub mod team;
pub mod uploads;
pub mod whatif;
