//! The `/api/health` report: one type, serialised by the server, parsed by the page and
//! printed by `shaplab check-redis`, so the three can never disagree about a field.

use serde::{Deserialize, Serialize};

/// Overall verdict. `Degraded` means the process is fine but Redis (the job queue) is not.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Ok,
    Degraded,
}

/// Everything `/api/health` answers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct HealthReport {
    pub status: HealthStatus,
    /// shaplab's version (the server binary and the engine are released together).
    pub version: String,
    pub redis: RedisHealth,
    pub config: EffectiveRedisConfig,
    /// The job queue's depths; absent while Redis cannot be read.
    #[serde(default)]
    pub queue: Option<QueueHealth>,
}

/// How much work is waiting, running, retrying or dead, across all partitions.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct QueueHealth {
    /// Chunk tasks waiting for a worker.
    pub queued: u64,
    /// Chunk tasks leased by a worker.
    pub running: u64,
    /// Chunk tasks waiting out a retry backoff.
    pub scheduled: u64,
    /// Chunk tasks that ran out of attempts (requeue them once the cause is fixed).
    pub dead: u64,
    /// How long the oldest queued task has waited, in seconds.
    pub oldest_queued_age_s: Option<f64>,
    /// Workers embedded in this server process (0 when it runs none).
    #[serde(default)]
    pub embedded_workers: usize,
    /// Whether every embedded worker's loop has turned recently; absent without workers.
    #[serde(default)]
    pub consumer_loop_alive: Option<bool>,
    /// Workers on any machine that marked themselves alive lately (every third of a lease,
    /// counted over three of those periods).
    #[serde(default)]
    pub workers_seen: u64,
    /// `QUEUE_PARTITIONS`: how many partitions (hash tags, so cluster slots) the queue uses.
    #[serde(default)]
    pub partitions: u16,
}

/// What the last probe of Redis found.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct RedisHealth {
    pub connected: bool,
    /// Round trip of the probe, when it succeeded.
    pub latency_ms: Option<f64>,
    /// The most recent failure, kept after recovery so an operator can see what happened.
    pub last_error: Option<String>,
    /// Milliseconds since the Unix epoch of the last successful probe.
    pub last_ok_at_ms: Option<u64>,
    /// `private` (a redis-server child started by `shaplab serve`), `external` (`REDIS_URL`)
    /// or `cluster` (a Redis Cluster).
    pub mode: String,
    /// What the server says of itself (absent while unreachable).
    pub server: Option<RedisServerInfo>,
    /// Settings of the Redis server that put queued work at risk.
    pub warnings: Vec<String>,
    /// The circuit breaker in front of Redis.
    #[serde(default)]
    pub breaker: BreakerReport,
}

/// The circuit breaker's state and counters (see the server's `redis::breaker`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct BreakerReport {
    /// `closed` (calls flow), `open` (calls fail fast), `half_open` (one probe in flight).
    pub state: String,
    pub consecutive_failures: u32,
    pub opened_ago_ms: Option<u64>,
    pub next_probe_in_ms: Option<u64>,
    pub opened_total: u64,
    pub rejected_total: u64,
    /// Connections replaced after repeated timeouts.
    pub connection_rebuilds_total: u64,
    /// On a Redis Cluster, the hash tags (queue partitions) whose own breakers are open:
    /// their shard is unreachable while the others serve.
    #[serde(default)]
    pub open_hash_tags: Vec<String>,
}

/// Facts read from `INFO` on the Redis server.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct RedisServerInfo {
    pub version: String,
    pub role: String,
    pub aof_enabled: bool,
    pub maxmemory_policy: String,
    pub uptime_s: u64,
    /// `used_memory`, bytes.
    #[serde(default)]
    pub used_memory_bytes: u64,
    /// `maxmemory`, bytes; 0 means no limit (the machine's memory is the limit).
    #[serde(default)]
    pub maxmemory_bytes: u64,
    /// The cluster as the answering node sees it (`CLUSTER INFO`); absent for a single server
    /// and in reports from servers that predate cluster support.
    #[serde(default)]
    pub cluster: Option<RedisClusterInfo>,
}

/// `CLUSTER INFO` of the node that answered the health probe.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct RedisClusterInfo {
    /// `ok` while every slot is served; `fail` otherwise (writes to unserved slots fail).
    pub state: String,
    pub slots_assigned: u32,
    pub slots_ok: u32,
    pub slots_fail: u32,
    pub known_nodes: u32,
    /// Primaries serving at least one slot.
    pub size: u32,
}

/// The Redis settings in effect, as read from the environment (the password is never shown).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct EffectiveRedisConfig {
    pub redis_url: String,
    pub redis_timeout_s: f64,
    /// `off`, or the keepalive idle time in seconds.
    pub redis_socket_keepalive: String,
    pub redis_connection_pool_size: usize,
}

impl HealthReport {
    /// Whether the job queue can take work right now.
    pub fn queue_reachable(&self) -> bool {
        self.redis.connected
    }
}
