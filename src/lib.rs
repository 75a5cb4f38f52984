//! shaplab — exact TreeSHAP for XGBoost and LightGBM models.
//!
//! Pure functions over plain data: no web, no Redis, no tokio. Parallel over rows with rayon.
//!
//! # Layout
//! (filled in as the engine lands; see ../shared/docs/ARCHITECTURE.md)

/// The engine's version, reported by `/api/health` and stamped on exports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
