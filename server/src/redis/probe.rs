//! One health probe of Redis, turned into the `/api/health` report.
//!
//! A single `INFO` call both measures the round trip and tells us what the server is (version,
//! role, persistence, eviction policy), so a probe costs Redis one cheap command. On a Redis
//! Cluster, `INFO` goes to one random primary (see [`super::connection`]) and
//! [`super::cluster_probe`] adds `CLUSTER INFO` and every primary's settings.

use super::breaker::Breaker;
use super::cluster_probe;
use super::pool::{RedisPool, now_ms};
use crate::config::{RedisSettings, redact_url};
use app::wire::{
    BreakerReport, EffectiveRedisConfig, HealthReport, HealthStatus, RedisHealth, RedisServerInfo,
};
use std::sync::Arc;
use std::time::Instant;

/// Whether shaplab owns the Redis it talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisMode {
    /// A `redis-server` child started by `shaplab serve` (no `REDIS_URL`).
    Private,
    /// The Redis named by `REDIS_URL` (reported as `cluster` when the pool talks to a Redis
    /// Cluster).
    External,
}

impl RedisMode {
    pub fn name(self) -> &'static str {
        match self {
            RedisMode::Private => "private",
            RedisMode::External => "external",
        }
    }
}

/// Produces health reports for one pool.
pub struct HealthProbe {
    pool: Arc<RedisPool>,
    config: EffectiveRedisConfig,
    mode: RedisMode,
}

impl HealthProbe {
    pub fn new(pool: Arc<RedisPool>, url: &str, settings: &RedisSettings, mode: RedisMode) -> Self {
        let config = EffectiveRedisConfig {
            redis_url: redact_url(url),
            redis_timeout_s: settings.timeout.as_secs_f64(),
            redis_socket_keepalive: settings.keepalive.describe(),
            redis_connection_pool_size: settings.pool_size,
        };
        HealthProbe { pool, config, mode }
    }

    /// Probes Redis now, even while the breaker is open (the probe is how recovery is noticed).
    /// Never fails: an unreachable Redis is a `degraded` report, and the answer comes within
    /// `REDIS_TIMEOUT` (plus one fast retry after a dropped connection).
    pub async fn report(&self) -> HealthReport {
        let started = Instant::now();
        let mut info = redis::cmd("INFO");
        info.arg("server")
            .arg("replication")
            .arg("persistence")
            .arg("memory");
        let outcome = self.pool.probe::<String>(&info).await;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let (connected, mut server) = match outcome {
            Ok(text) => (true, Some(parse_info(&text))),
            Err(_) => (false, None),
        };
        let warnings = match server.as_mut() {
            Some(server) if self.pool.is_cluster() => {
                cluster_probe::inspect(&self.pool, &info, server).await
            }
            Some(server) => risky_settings(server),
            None => Vec::new(),
        };
        let pool = self.pool.status();
        let cluster_ok = server
            .as_ref()
            .and_then(|s| s.cluster.as_ref())
            .is_none_or(|cluster| cluster.state == "ok");
        let mode = if self.pool.is_cluster() {
            "cluster"
        } else {
            self.mode.name()
        };
        HealthReport {
            status: if connected && cluster_ok {
                HealthStatus::Ok
            } else {
                HealthStatus::Degraded
            },
            version: crate::VERSION.to_owned(),
            redis: RedisHealth {
                connected,
                latency_ms: connected.then_some((latency_ms * 1000.0).round() / 1000.0),
                last_error: pool.last_error,
                last_ok_at_ms: pool.last_ok_at_ms.or(connected.then(now_ms)),
                mode: mode.to_owned(),
                server,
                warnings,
                breaker: BreakerReport {
                    state: Breaker::state_name(pool.breaker).to_owned(),
                    consecutive_failures: pool.consecutive_failures,
                    opened_ago_ms: pool.breaker_opened_ago_ms,
                    next_probe_in_ms: pool.breaker_next_probe_in_ms,
                    opened_total: pool.breaker_opened_total,
                    rejected_total: pool.rejected_total,
                    connection_rebuilds_total: pool.rebuilds_total,
                    open_hash_tags: pool.open_hash_tags,
                },
            },
            config: self.config.clone(),
            queue: None,
        }
    }
}

/// Reads the fields we report from `INFO` output (`key:value` lines; unknown keys ignored).
pub fn parse_info(text: &str) -> RedisServerInfo {
    let field = |key: &str| {
        text.lines()
            .filter_map(|line| line.trim_end().split_once(':'))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_owned())
    };
    RedisServerInfo {
        version: field("redis_version").unwrap_or_else(|| "unknown".into()),
        role: field("role").unwrap_or_else(|| "unknown".into()),
        aof_enabled: field("aof_enabled").as_deref() == Some("1"),
        maxmemory_policy: field("maxmemory_policy").unwrap_or_else(|| "unknown".into()),
        uptime_s: field("uptime_in_seconds")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        used_memory_bytes: field("used_memory")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        maxmemory_bytes: field("maxmemory").and_then(|v| v.parse().ok()).unwrap_or(0),
        cluster: None,
    }
}

/// Server settings that can lose queued work, each with the fix.
pub fn risky_settings(info: &RedisServerInfo) -> Vec<String> {
    let mut warnings = Vec::new();
    if info.maxmemory_policy != "noeviction" {
        warnings.push(format!(
            "maxmemory-policy is {}: Redis may delete queue keys when memory runs short; \
             set `maxmemory-policy noeviction`",
            info.maxmemory_policy
        ));
    }
    // With noeviction, a full Redis refuses writes: submits answer 503 queue_full and
    // workers cannot record results until memory is freed. Say so before it happens.
    if info.maxmemory_bytes > 0 && info.used_memory_bytes >= info.maxmemory_bytes / 10 * 9 {
        warnings.push(format!(
            "Redis uses {} of its maxmemory {} ({:.0} %): when it is full, new jobs are \
             refused and results cannot be recorded; raise `maxmemory`, or lower RESULT_TTL \
             so finished jobs are swept sooner",
            mib(info.used_memory_bytes),
            mib(info.maxmemory_bytes),
            100.0 * info.used_memory_bytes as f64 / info.maxmemory_bytes as f64
        ));
    }
    if !info.aof_enabled {
        warnings.push(
            "AOF persistence is off: a Redis restart loses queued jobs; set `appendonly yes`"
                .to_owned(),
        );
    }
    warnings
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n\
        uptime_in_seconds:42\r\n\r\n# Replication\r\nrole:master\r\n\r\n# Persistence\r\n\
        aof_enabled:1\r\n\r\n# Memory\r\nused_memory:1048576\r\nmaxmemory:0\r\n\
        maxmemory_policy:noeviction\r\n";

    #[test]
    fn info_output_is_parsed_into_the_reported_fields() {
        let info = parse_info(INFO);
        assert_eq!(info.version, "7.0.15");
        assert_eq!(info.role, "master");
        assert!(info.aof_enabled);
        assert_eq!(info.maxmemory_policy, "noeviction");
        assert_eq!(info.uptime_s, 42);
        assert_eq!(
            (info.used_memory_bytes, info.maxmemory_bytes),
            (1_048_576, 0)
        );
        assert!(risky_settings(&info).is_empty());
    }

    #[test]
    fn a_redis_nearly_at_its_maxmemory_is_warned_about_before_it_refuses_writes() {
        let at = |used: u64| {
            let text = INFO.replace("used_memory:1048576", &format!("used_memory:{used}"));
            risky_settings(&parse_info(
                &text.replace("maxmemory:0", "maxmemory:104857600"),
            ))
        };
        assert!(at(94_371_839).is_empty(), "below 90 %");
        let warnings = at(99_614_720);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("95 %") && warnings[0].contains("100.0 MiB"));
        assert!(warnings[0].contains("raise `maxmemory`"), "{warnings:?}");
    }

    #[test]
    fn eviction_and_missing_persistence_are_warned_about_with_the_fix() {
        let info = parse_info(&INFO.replace("aof_enabled:1", "aof_enabled:0").replace(
            "maxmemory_policy:noeviction",
            "maxmemory_policy:allkeys-lru",
        ));
        let warnings = risky_settings(&info);
        assert_eq!(warnings.len(), 2);
        assert!(warnings[0].contains("allkeys-lru") && warnings[0].contains("noeviction"));
        assert!(warnings[1].contains("appendonly yes"));
    }

    #[test]
    fn missing_fields_are_reported_as_unknown_rather_than_guessed() {
        let info = parse_info("");
        assert_eq!(info.version, "unknown");
        assert_eq!(info.maxmemory_policy, "unknown");
        assert!(!info.aof_enabled);
    }
}
