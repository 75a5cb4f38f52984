//! `shaplab check-redis`: is the configured Redis fit to hold the job queue?

use crate::config::{RedisSettings, redact_url};
use crate::redis::RedisPool;
use crate::redis::probe::{HealthProbe, RedisMode};
use std::process::ExitCode;
use std::sync::Arc;

/// Exit code when Redis is unreachable or its settings would lose queued work.
const UNHEALTHY: u8 = 1;
/// Exit code when our own configuration is unusable.
const MISCONFIGURED: u8 = 2;

/// Prints the `/api/health` report as JSON on stdout and a verdict on stderr.
pub async fn run() -> ExitCode {
    let settings = match RedisSettings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("check-redis: {e}");
            return ExitCode::from(MISCONFIGURED);
        }
    };
    let Some(url) = settings.url.clone() else {
        eprintln!(
            "check-redis: REDIS_URL is not set. `shaplab serve` starts a private Redis on its \
             own; to check a shared one, set REDIS_URL=redis://host:6379"
        );
        return ExitCode::from(MISCONFIGURED);
    };
    let pool = match RedisPool::new(&url, &settings) {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!(
                "check-redis: REDIS_URL={} is not a usable Redis URL: {e}",
                redact_url(&url)
            );
            return ExitCode::from(MISCONFIGURED);
        }
    };
    let probe = HealthProbe::new(Arc::new(pool), &url, &settings, RedisMode::External);
    let report = probe.report().await;
    match serde_json::to_string_pretty(&report) {
        Ok(json) => println!("{json}"),
        Err(e) => eprintln!("check-redis: cannot print the report: {e}"),
    }

    if !report.redis.connected {
        let why = report
            .redis
            .last_error
            .unwrap_or_else(|| "no answer".into());
        eprintln!(
            "check-redis: FAIL — cannot reach Redis at {}: {why}",
            report.config.redis_url
        );
        return ExitCode::from(UNHEALTHY);
    }
    let server = report.redis.server.as_ref();
    let latency = report.redis.latency_ms.unwrap_or_default();
    let version = server.map_or("unknown", |s| s.version.as_str());
    if report.redis.warnings.is_empty() {
        eprintln!("check-redis: OK — Redis {version}, {latency:.1} ms");
        return ExitCode::SUCCESS;
    }
    for warning in &report.redis.warnings {
        eprintln!("check-redis: warning — {warning}");
    }
    // Eviction silently deletes queue keys: that is a misconfiguration, not a matter of taste.
    let evicts = server.is_some_and(|s| s.maxmemory_policy != "noeviction");
    if evicts {
        eprintln!("check-redis: FAIL — Redis {version} would evict queued work");
        return ExitCode::from(UNHEALTHY);
    }
    eprintln!("check-redis: OK with warnings — Redis {version}, {latency:.1} ms");
    ExitCode::SUCCESS
}
