//! Builds the HTTP application and runs it until shutdown.

use crate::jobs::JobsConfig;
use crate::jobs::whatif::WhatIfCache;
use crate::queue::Queue;
use crate::queue::Worker;
use crate::redis::PrivateRedis;
use crate::redis::probe::HealthProbe;
use crate::routes::{
    admin, compare, downloads, events, health, jobs, metrics, openapi, report, session, summary,
    team, uploads, whatif,
};
use crate::uploads::UploadService;
use app::{App, shell};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use leptos::config::LeptosOptions;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// What the API handlers share.
#[derive(Clone)]
pub struct AppState {
    pub health: Arc<HealthProbe>,
    pub uploads: Arc<UploadService>,
    /// The job queue, on the same Redis pool as the health probe (one set of connections and
    /// one breaker: health shows exactly what the API experiences).
    pub queue: Arc<Queue>,
    /// Chunk sizing for submitted jobs.
    pub jobs: Arc<JobsConfig>,
    /// This process's embedded workers (empty with `--workers 0`): health and readiness watch
    /// their loops, because a consumer that silently stopped is the failure PING never shows.
    pub workers: Arc<[Arc<Worker>]>,
    /// The private Redis child, when `serve` started one (readiness watches it; `serve` takes
    /// it out to stop it at shutdown). A tokio mutex: `stop` awaits while holding it.
    pub private_redis: Option<Arc<tokio::sync::Mutex<Option<PrivateRedis>>>>,
    /// The what-if endpoint's prepared inputs (model, background, ranges) for recent jobs.
    pub whatif: Arc<WhatIfCache>,
    /// Sign-in, owners, share links, API keys and limits (see [`crate::auth`]).
    pub auth: Arc<crate::auth::Auth>,
}

/// Leptos settings: the site (wasm, JS, CSS, assets) is read from `LEPTOS_SITE_ROOT`
/// (default `target/site`, where `make` puts it), relative to the working directory.
pub fn leptos_options(addr: SocketAddr) -> LeptosOptions {
    let site_root = std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into());
    LeptosOptions::builder()
        .output_name(option_env!("LEPTOS_OUTPUT_NAME").unwrap_or("shaplab"))
        .site_root(site_root)
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build()
}

/// The whole app: JSON API routes, then Leptos pages, then static files (and the 404 page).
pub fn router(state: AppState, leptos: LeptosOptions) -> Router {
    crate::telemetry::metrics_handle();
    let api = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/api/health", get(health::api_health))
        // Uploads enforce MAX_UPLOAD_BYTES themselves while streaming (axum's 2 MB default
        // would refuse every real model).
        .route(
            "/api/uploads",
            post(uploads::create).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/uploads/{id}", get(uploads::show))
        .route("/api/jobs", post(jobs::create).get(team::list))
        .route(
            "/api/jobs/{id}",
            get(jobs::show).delete(team::delete).patch(team::rename),
        )
        .route(
            "/api/jobs/{id}/shares",
            get(team::shares).post(team::create_share),
        )
        .route(
            "/api/jobs/{id}/shares/{share}",
            axum::routing::delete(team::revoke_share),
        )
        .route("/api/keys", get(team::keys).post(team::create_key))
        .route("/api/keys/{id}", axum::routing::delete(team::revoke_key))
        .route("/api/me", get(session::me))
        .route(
            "/api/session",
            post(session::sign_in).delete(session::sign_out),
        )
        .route("/s/{token}", get(session::open_share))
        .route("/api/jobs/{id}/shap.csv", get(downloads::shap))
        .route(
            "/api/jobs/{id}/interactions.csv",
            get(downloads::interactions),
        )
        .route("/api/jobs/{id}/summary", get(summary::summary))
        .route("/api/jobs/{id}/rows/{i}", get(jobs::row))
        .route("/api/jobs/{id}/ranked", get(jobs::ranked))
        .route("/api/jobs/{id}/whatif", post(whatif::whatif))
        .route("/api/jobs/{id}/pdp", get(whatif::pdp))
        .route("/api/jobs/{id}/cohorts", get(compare::compare_cohorts))
        .route("/api/jobs/{id}/report.html", get(report::report))
        .route("/api/jobs/{id}/events", get(events::events))
        .route("/api/compare", get(compare::compare_jobs))
        .route("/api/admin/dead/requeue", post(admin::requeue_dead))
        .route("/metrics", get(metrics::metrics))
        .route("/api/openapi.json", get(openapi::openapi))
        // Last: it applies to the routes above. A wrong method gets the envelope too.
        .method_not_allowed_fallback(crate::routes::error::method_not_allowed)
        .route_layer(axum::middleware::from_fn(crate::telemetry::track_http))
        .with_state(state.clone());
    let routes = generate_route_list(App);
    let site = Router::<LeptosOptions>::new()
        .leptos_routes(&leptos, routes, {
            let leptos = leptos.clone();
            move || shell(leptos.clone())
        })
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(leptos);
    // gzip whatever the client accepts it for: the summary JSON shrinks ~5×, the wasm bundle
    // ~3×; tower-http's default predicate skips tiny bodies, images and SSE streams.
    // The guard wraps pages and files too: it sends signed-out browsers to the sign-in page
    // and stamps every response with the security headers.
    api.merge(site)
        .layer(axum::middleware::from_fn_with_state(
            state,
            crate::auth::guard::guard,
        ))
        .layer(tower_http::compression::CompressionLayer::new())
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in flight end.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer address is what proxy sign-in trusts (or not) and what the rate limit counts
    // a signed-out client by.
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
}
