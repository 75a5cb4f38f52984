//! Settings read from the environment, parsed once into typed values.
//!
//! Every variable has a default that works on one machine; a value that cannot be parsed is an
//! error naming the variable and what it accepts (never a silent fallback to the default).

use std::time::Duration;
use thiserror::Error;

/// A setting that could not be understood.
#[derive(Debug, Error, PartialEq)]
#[error("{var}={value:?} is not valid: expected {expected}")]
pub struct ConfigError {
    pub var: &'static str,
    pub value: String,
    pub expected: &'static str,
}

/// TCP keepalive on Redis sockets: lets the kernel notice a peer that vanished without a FIN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Keepalive {
    Off,
    /// Idle time before the first probe (also used for `TCP_USER_TIMEOUT`).
    After(Duration),
}

impl Keepalive {
    /// Idle time used when `REDIS_SOCKET_KEEPALIVE` is `true` (or unset).
    pub const DEFAULT_IDLE: Duration = Duration::from_secs(30);

    /// How the effective setting is shown in `/api/health`.
    pub fn describe(&self) -> String {
        match self {
            Keepalive::Off => "off".into(),
            Keepalive::After(d) => d.as_secs().to_string(),
        }
    }
}

/// How shaplab talks to Redis.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisSettings {
    /// `REDIS_URL`; `None` means "start a private redis-server" (for `serve`).
    pub url: Option<String>,
    /// `REDIS_TIMEOUT` (seconds, default 5): the bound on every Redis call, connecting included.
    pub timeout: Duration,
    /// `REDIS_SOCKET_KEEPALIVE` (`true`/`false` or seconds, default true).
    pub keepalive: Keepalive,
    /// `REDIS_CONNECTION_POOL_SIZE` (default 10): multiplexed connections for ordinary commands.
    pub pool_size: usize,
}

impl RedisSettings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|var| std::env::var(var).ok())
    }

    /// Reads the settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |var: &str| {
            lookup(var)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let timeout = match get("REDIS_TIMEOUT") {
            None => Duration::from_secs(5),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0 && *s <= 3600.0)
                .map(Duration::from_secs_f64)
                .ok_or(ConfigError {
                    var: "REDIS_TIMEOUT",
                    value: v,
                    expected: "a number of seconds between 0 and 3600, e.g. 5 or 0.5",
                })?,
        };
        let keepalive = match get("REDIS_SOCKET_KEEPALIVE").map(|v| v.to_ascii_lowercase()) {
            None => Keepalive::After(Keepalive::DEFAULT_IDLE),
            Some(v) if ["true", "yes", "on", "1"].contains(&v.as_str()) => {
                Keepalive::After(Keepalive::DEFAULT_IDLE)
            }
            Some(v) if ["false", "no", "off", "0"].contains(&v.as_str()) => Keepalive::Off,
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|s| (1..=7200).contains(s))
                .map(|s| Keepalive::After(Duration::from_secs(s)))
                .ok_or(ConfigError {
                    var: "REDIS_SOCKET_KEEPALIVE",
                    value: v,
                    expected: "true, false, or a whole number of seconds from 1 to 7200",
                })?,
        };
        let pool_size = match get("REDIS_CONNECTION_POOL_SIZE") {
            None => 10,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=256).contains(n))
                .ok_or(ConfigError {
                    var: "REDIS_CONNECTION_POOL_SIZE",
                    value: v,
                    expected: "a whole number from 1 to 256",
                })?,
        };
        Ok(RedisSettings {
            url: get("REDIS_URL"),
            timeout,
            keepalive,
            pool_size,
        })
    }
}

/// `MAX_UPLOAD_BYTES` (default 256 MiB): the largest model or data file accepted.
pub fn max_upload_bytes_from(lookup: impl Fn(&str) -> Option<String>) -> Result<u64, ConfigError> {
    match lookup("MAX_UPLOAD_BYTES").map(|v| v.trim().to_owned()) {
        None => Ok(256 * 1024 * 1024),
        Some(v) if v.is_empty() => Ok(256 * 1024 * 1024),
        Some(v) => v.parse::<u64>().ok().filter(|n| *n > 0).ok_or(ConfigError {
            var: "MAX_UPLOAD_BYTES",
            value: v,
            expected: "a whole number of bytes, e.g. 268435456 for 256 MiB",
        }),
    }
}

/// `RESULT_TTL` when unset: a day, long enough to come back to a result the next morning.
pub const DEFAULT_RESULT_TTL: Duration = Duration::from_secs(24 * 3600);

/// `RESULT_TTL` (default 24 h): how long a finished job's results are kept. Seconds, or a
/// number with a unit: `90s`, `30m`, `24h`, `7d`.
pub fn result_ttl_from(lookup: impl Fn(&str) -> Option<String>) -> Result<Duration, ConfigError> {
    let Some(v) = lookup("RESULT_TTL")
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
    else {
        return Ok(DEFAULT_RESULT_TTL);
    };
    let (number, unit) = match v.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => v.split_at(i),
        None => (v.as_str(), "s"),
    };
    let scale = match unit.trim() {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => f64::NAN,
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .map(|n| n * scale)
        // At least a second (the sweep's resolution), at most ten years.
        .filter(|secs| secs.is_finite() && *secs >= 1.0 && *secs <= 3650.0 * 86_400.0)
        .map(Duration::from_secs_f64)
        .ok_or(ConfigError {
            var: "RESULT_TTL",
            value: v,
            expected: "seconds (at least 1) or a number with a unit s, m, h or d, e.g. 24h",
        })
}

/// `redis://user:secret@host` → `redis://user:***@host`: URLs are shown, passwords never.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or("", |(user, _)| user);
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(pairs: &[(&str, &str)]) -> Result<RedisSettings, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RedisSettings::from_lookup(|k| env.get(k).cloned())
    }

    #[test]
    fn an_empty_environment_gives_the_documented_defaults() {
        let s = read(&[]).expect("defaults parse");
        assert_eq!(s.url, None);
        assert_eq!(s.timeout, Duration::from_secs(5));
        assert_eq!(s.keepalive, Keepalive::After(Duration::from_secs(30)));
        assert_eq!(s.pool_size, 10);
    }

    #[test]
    fn every_variable_is_read() {
        let s = read(&[
            ("REDIS_URL", "redis://10.0.0.5:6380/2"),
            ("REDIS_TIMEOUT", "0.25"),
            ("REDIS_SOCKET_KEEPALIVE", "12"),
            ("REDIS_CONNECTION_POOL_SIZE", "3"),
        ])
        .expect("valid settings");
        assert_eq!(s.url.as_deref(), Some("redis://10.0.0.5:6380/2"));
        assert_eq!(s.timeout, Duration::from_millis(250));
        assert_eq!(s.keepalive, Keepalive::After(Duration::from_secs(12)));
        assert_eq!(s.pool_size, 3);
        assert_eq!(
            read(&[("REDIS_SOCKET_KEEPALIVE", "False")]).map(|s| s.keepalive),
            Ok(Keepalive::Off)
        );
    }

    #[test]
    fn a_bad_value_is_an_error_naming_the_variable() {
        let err = read(&[("REDIS_TIMEOUT", "five")]).expect_err("not a number");
        assert_eq!(err.var, "REDIS_TIMEOUT");
        assert!(err.to_string().contains("REDIS_TIMEOUT=\"five\""));
        assert_eq!(
            read(&[("REDIS_CONNECTION_POOL_SIZE", "0")]).map_err(|e| e.var),
            Err("REDIS_CONNECTION_POOL_SIZE")
        );
        assert_eq!(
            read(&[("REDIS_SOCKET_KEEPALIVE", "maybe")]).map_err(|e| e.var),
            Err("REDIS_SOCKET_KEEPALIVE")
        );
        assert_eq!(
            read(&[("REDIS_TIMEOUT", "-1")]).map_err(|e| e.var),
            Err("REDIS_TIMEOUT")
        );
    }

    #[test]
    fn the_upload_cap_defaults_to_256_mib_and_rejects_nonsense() {
        assert_eq!(max_upload_bytes_from(|_| None), Ok(268_435_456));
        assert_eq!(max_upload_bytes_from(|_| Some("1024".into())), Ok(1024));
        assert!(max_upload_bytes_from(|_| Some("big".into())).is_err());
        assert!(max_upload_bytes_from(|_| Some("0".into())).is_err());
    }

    #[test]
    fn the_result_ttl_defaults_to_a_day_and_takes_units() {
        let ttl = |v: &str| result_ttl_from(|_| Some(v.to_owned()));
        assert_eq!(result_ttl_from(|_| None), Ok(Duration::from_secs(86_400)));
        assert_eq!(ttl(""), Ok(Duration::from_secs(86_400)));
        assert_eq!(ttl("90"), Ok(Duration::from_secs(90)));
        assert_eq!(ttl("30m"), Ok(Duration::from_secs(1_800)));
        assert_eq!(ttl("1.5h"), Ok(Duration::from_secs(5_400)));
        assert_eq!(ttl("7 d"), Ok(Duration::from_secs(604_800)));
        for bad in ["0", "0.5", "-3h", "soon", "3w", "h"] {
            assert_eq!(ttl(bad).map_err(|e| e.var), Err("RESULT_TTL"), "{bad}");
        }
    }

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_url("redis://:hunter2@cache:6379/0"),
            "redis://:***@cache:6379/0"
        );
        assert_eq!(
            redact_url("rediss://app:p@ss@cache/1"),
            "rediss://app:***@cache/1"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
    }
}
