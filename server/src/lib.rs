//! The `shaplab` binary's library: configuration, the Redis connection layer, the HTTP app
//! (Leptos pages + JSON API) and the CLI subcommands. `main.rs` only parses arguments and
//! dispatches, so integration tests drive everything here directly.
//!
//! # Layout
//! - [`auth`]: sign-in (`SHAPLAB_AUTH`), owners, share links, API keys, CSRF, rate limits
//!   and security headers: the guard every request passes.
//! - [`cli`]: the command line (`serve`, `worker`, `check-redis`, `explain`), parsed with clap.
//! - [`config`]: typed settings read from the environment (`REDIS_*`, `LEPTOS_SITE_ROOT`).
//! - [`blobs`]: the blob store (local directory or S3-compatible) for uploads and results.
//! - [`uploads`]: receiving, validating, describing and storing model and data files.
//! - [`jobs`]: SHAP jobs on the queue: submission checks, the chunk executor (engine + blob
//!   store), the per-process input cache, and running workers.
//! - [`redis`]: connections to Redis ([`redis::RedisPool`]), the private zero-config
//!   `redis-server` child ([`redis::PrivateRedis`]), and the health probe.
//! - [`queue`]: the Redis job queue (Lua scripts, typed API, steppable worker).
//! - [`routes`]: HTTP handlers: health, uploads, jobs, and the JSON error envelope.
//! - [`telemetry`]: Prometheus metrics (`/metrics`) and the HTTP timing middleware.
//! - [`periodic`]: the shape every background loop shares (reaper, sweeps, presence).
//! - [`startup`]: builds the axum router (API + Leptos SSR) and runs it until shutdown.
//! - [`commands`]: what each subcommand does, end to end.
//! - [`fuzzing`]: entry points for the libFuzzer targets of the upload and the API's inputs.

pub mod auth;
pub mod blobs;
pub mod cli;
pub mod commands;
pub mod config;
#[doc(hidden)]
pub mod fuzzing;
pub mod jobs;
pub mod periodic;
pub mod queue;
pub mod redis;
pub mod routes;
pub mod startup;
pub mod telemetry;
pub mod uploads;

/// shaplab's version, shown in `/api/health` and `--version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
