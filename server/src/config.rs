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
    /// `REDIS_CLUSTER` (default false): treat a single `REDIS_URL` as the seed of a Redis
    /// Cluster. A `REDIS_URL` listing several nodes means a cluster without it; see
    /// [`RedisTarget::parse`].
    pub cluster: bool,
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
        let cluster = match get("REDIS_CLUSTER").map(|v| v.to_ascii_lowercase()) {
            None => false,
            Some(v) if ["true", "yes", "on", "1"].contains(&v.as_str()) => true,
            Some(v) if ["false", "no", "off", "0"].contains(&v.as_str()) => false,
            Some(v) => {
                return Err(ConfigError {
                    var: "REDIS_CLUSTER",
                    value: v,
                    expected: "true or false (1 or 0)",
                });
            }
        };
        let url = get("REDIS_URL");
        match &url {
            // Checked here so a bad node list stops the process at startup, naming the variable.
            Some(url) => {
                RedisTarget::parse(url, cluster)?;
            }
            // The private redis-server `serve` starts is a single node: a cluster flag with
            // nothing to point it at is a mistake, not something to ignore.
            None if cluster => {
                return Err(ConfigError {
                    var: "REDIS_CLUSTER",
                    value: "1".into(),
                    expected: "REDIS_URL naming at least one cluster node as well",
                });
            }
            None => {}
        }
        Ok(RedisSettings {
            url,
            timeout,
            keepalive,
            pool_size,
            cluster,
        })
    }
}

/// Where Redis is: one server, or the seed nodes of a Redis Cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisTarget {
    /// One server (or a proxy in front of several), by URL.
    Single(String),
    /// Seed nodes of a Redis Cluster, one URL each; the client learns the rest of the cluster
    /// (every primary and replica) from whichever seed answers first.
    Cluster(Vec<String>),
}

impl RedisTarget {
    /// Reads `REDIS_URL`: a comma-separated list (`redis://a:7000,redis://b:7001`) is a cluster;
    /// a single URL is a cluster only when `force_cluster` (`REDIS_CLUSTER=1`). A node written
    /// without a scheme (`redis://:pw@a:7000,b:7001`) takes the first node's scheme and
    /// credentials, so a password is written once. A comma inside a password must be
    /// percent-encoded (`%2C`, which redis-rs decodes), or it would split the list.
    pub fn parse(url: &str, force_cluster: bool) -> Result<Self, ConfigError> {
        let bad = |expected| ConfigError {
            var: "REDIS_URL",
            value: redact_url(url),
            expected,
        };
        let items: Vec<&str> = url.split(',').map(str::trim).collect();
        if items.iter().any(|item| item.is_empty()) {
            return Err(bad(
                "one URL, or several separated by commas with none empty",
            ));
        }
        if items.len() == 1 && !force_cluster {
            return Ok(RedisTarget::Single(items[0].to_owned()));
        }
        let Some((scheme, rest)) = items[0].split_once("://") else {
            return Err(bad("the first node as a full URL, e.g. redis://host:7000"));
        };
        // Scheme and `user:password@` of the first node, inherited by bare `host:port` items.
        let userinfo = rest
            .split('/')
            .next()
            .and_then(|authority| authority.rsplit_once('@'))
            .map_or(String::new(), |(userinfo, _)| format!("{userinfo}@"));
        let nodes = items
            .iter()
            .map(|item| {
                if item.contains("://") {
                    (*item).to_owned()
                } else {
                    format!("{scheme}://{userinfo}{item}")
                }
            })
            .collect();
        Ok(RedisTarget::Cluster(nodes))
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, RedisTarget::Cluster(_))
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

/// A whole-number setting of at least 1: `default` when unset or empty, an error naming `var`
/// and `expected` when it is anything else.
pub fn positive_number(
    lookup: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: u64,
    expected: &'static str,
) -> Result<u64, ConfigError> {
    match lookup(var).map(|v| v.trim().to_owned()) {
        None => Ok(default),
        Some(v) if v.is_empty() => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or(ConfigError {
                var,
                value: v,
                expected,
            }),
    }
}

/// `SHAPLAB_UPLOAD_DEADLINE` (default 15 min): the longest one upload may take to arrive.
/// Seconds, or `90s`, `30m`, `1h`.
pub fn upload_deadline_from(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Duration, ConfigError> {
    ttl_from(
        &lookup,
        "SHAPLAB_UPLOAD_DEADLINE",
        Duration::from_secs(15 * 60),
    )
}

/// `RESULT_TTL` when unset: a day, long enough to come back to a result the next morning.
pub const DEFAULT_RESULT_TTL: Duration = Duration::from_secs(24 * 3600);

/// `UPLOAD_TTL` when unset: a week. Longer than [`DEFAULT_RESULT_TTL`], so a job whose
/// results expired can still be run again with the same files.
pub const DEFAULT_UPLOAD_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// `RESULT_TTL` (default 24 h): how long a finished job's results are kept. Seconds, or a
/// number with a unit: `90s`, `30m`, `24h`, `7d`.
pub fn result_ttl_from(lookup: impl Fn(&str) -> Option<String>) -> Result<Duration, ConfigError> {
    ttl_from(&lookup, "RESULT_TTL", DEFAULT_RESULT_TTL)
}

/// `UPLOAD_TTL` (default 7 d): how long an upload is kept after it was stored or last used
/// by a submitted job. Same forms as `RESULT_TTL`.
pub fn upload_ttl_from(lookup: impl Fn(&str) -> Option<String>) -> Result<Duration, ConfigError> {
    ttl_from(&lookup, "UPLOAD_TTL", DEFAULT_UPLOAD_TTL)
}

fn ttl_from(
    lookup: impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let Some(v) = lookup(var)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
    else {
        return Ok(default);
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
            var,
            value: v,
            expected: "seconds (at least 1) or a number with a unit s, m, h or d, e.g. 24h",
        })
}

/// `redis://user:secret@host` → `redis://user:***@host`: URLs are shown, passwords never.
/// Each node of a comma-separated cluster list is redacted.
pub fn redact_url(url: &str) -> String {
    if url.contains(',') {
        return url.split(',').map(redact_one).collect::<Vec<_>>().join(",");
    }
    redact_one(url)
}

fn redact_one(url: &str) -> String {
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
        assert!(!s.cluster);
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
    fn a_single_url_is_one_server_unless_redis_cluster_is_set() {
        assert_eq!(
            RedisTarget::parse("redis://10.0.0.5:6379", false),
            Ok(RedisTarget::Single("redis://10.0.0.5:6379".into()))
        );
        assert_eq!(
            RedisTarget::parse("redis://10.0.0.5:7000", true),
            Ok(RedisTarget::Cluster(vec!["redis://10.0.0.5:7000".into()]))
        );
        let s = read(&[("REDIS_URL", "redis://a:7000"), ("REDIS_CLUSTER", "1")])
            .expect("cluster settings");
        assert!(s.cluster);
        assert_eq!(
            read(&[("REDIS_CLUSTER", "no")]).map(|s| s.cluster),
            Ok(false)
        );
    }

    #[test]
    fn a_comma_separated_redis_url_lists_cluster_nodes() {
        assert_eq!(
            RedisTarget::parse("redis://a:7000, redis://b:7001", false),
            Ok(RedisTarget::Cluster(vec![
                "redis://a:7000".into(),
                "redis://b:7001".into()
            ]))
        );
        // Bare host:port items inherit the first node's scheme and credentials.
        assert_eq!(
            RedisTarget::parse("rediss://app:pw@a:7000,b:7001", false),
            Ok(RedisTarget::Cluster(vec![
                "rediss://app:pw@a:7000".into(),
                "rediss://app:pw@b:7001".into()
            ]))
        );
        assert!(read(&[("REDIS_URL", "redis://a:7000,redis://b:7001")]).is_ok());
    }

    #[test]
    fn a_malformed_cluster_setting_is_an_error_naming_the_variable() {
        let err = RedisTarget::parse("redis://:pw@a:7000,,b:7001", false).expect_err("empty");
        assert_eq!(err.var, "REDIS_URL");
        assert!(!err.to_string().contains("pw"), "{err}");
        assert_eq!(
            RedisTarget::parse("a:7000,b:7001", false).map_err(|e| e.var),
            Err("REDIS_URL")
        );
        assert_eq!(
            read(&[("REDIS_URL", "redis://a:7000,")]).map_err(|e| e.var),
            Err("REDIS_URL")
        );
        assert_eq!(
            read(&[("REDIS_URL", "redis://a:7000"), ("REDIS_CLUSTER", "maybe")]).map_err(|e| e.var),
            Err("REDIS_CLUSTER")
        );
        // A private redis-server is never a cluster.
        assert_eq!(
            read(&[("REDIS_CLUSTER", "1")]).map_err(|e| e.var),
            Err("REDIS_CLUSTER")
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
    fn the_upload_ttl_defaults_to_a_week_and_is_read_from_its_own_variable() {
        assert_eq!(upload_ttl_from(|_| None), Ok(Duration::from_secs(604_800)));
        let only = |var: &str| (var == "UPLOAD_TTL").then(|| "36h".to_owned());
        assert_eq!(upload_ttl_from(only), Ok(Duration::from_secs(129_600)));
        assert_eq!(result_ttl_from(only), Ok(DEFAULT_RESULT_TTL));
        let bad = upload_ttl_from(|_| Some("forever".into())).map_err(|e| e.var);
        assert_eq!(bad, Err("UPLOAD_TTL"));
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
        assert_eq!(
            redact_url("redis://:s1@a:7000,redis://:s2@b:7001"),
            "redis://:***@a:7000,redis://:***@b:7001"
        );
    }
}
