//! Multiplexed connections to Redis, each call bounded in time and guarded by a breaker.
//!
//! redis-rs's `ConnectionManager` (one server) and `ClusterConnection` (a Redis Cluster) are
//! already pools in the sense that matters: one multiplexed handle carries many concurrent
//! commands and reconnects in the background. We keep `REDIS_CONNECTION_POOL_SIZE` of them
//! (see [`super::connection`] for the two kinds) and hand them out round-robin so one slow
//! reply does not queue every other command behind it. They are created lazily, so the server
//! boots while Redis is down and recovers without a restart once it returns.
//!
//! What the connections do not do, we add: our own timeout on every call (a manager in a
//! reconnect cycle, or a cluster connection retrying during a failover, makes callers wait), a
//! circuit breaker so callers fail in microseconds while Redis is known to be down, and
//! replacing a connection after consecutive timeouts (a half-open TCP connection keeps timing
//! out and never triggers the manager's reconnect). A cluster connection is also replaced
//! after consecutive connection failures: redis-rs recovers from a moved slot or a lost node,
//! but a handle whose initial connection failed is cheaper to rebuild than to reason about.

use super::breaker::{Admission, Breaker, BreakerState};
use super::breakers::{Breakers, command_tag, hash_tag_of};
use super::connection::{Connection, Connector};
use crate::config::RedisSettings;
use crate::telemetry;
use redis::{ErrorKind, FromRedisValue};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use thiserror::Error;

/// Consecutive timeouts on one connection (or, on a cluster, timeouts and connection failures)
/// after which it is replaced.
const REBUILD_AFTER_TIMEOUTS: u32 = 3;

/// At most one [`RedisPool::wake_all`] per this many milliseconds.
const WAKE_EVERY_MS: u64 = 1_000;

/// Why a Redis call failed.
#[derive(Debug, Error)]
pub enum RedisCallError {
    /// No answer within `REDIS_TIMEOUT` (Redis down, paused, or the network is dropping packets).
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    /// Recent calls could not reach Redis; this one was not sent.
    #[error("Redis is unreachable (circuit breaker open; next try in {retry_after:?})")]
    BreakerOpen { retry_after: Duration },
    /// Redis or the connection reported an error.
    #[error("Redis error: {0}")]
    Redis(#[from] redis::RedisError),
}

impl RedisCallError {
    /// Whether the connection itself broke (as opposed to Redis rejecting the command), in which
    /// case an idempotent command may be sent once more on the reconnected manager.
    pub fn is_connection_failure(&self) -> bool {
        match self {
            RedisCallError::Timeout(_) | RedisCallError::BreakerOpen { .. } => false,
            RedisCallError::Redis(e) => {
                e.is_connection_dropped()
                    || e.is_io_error()
                    || e.is_connection_refusal()
                    // A cluster connection that reaches none of the nodes a slot lives on.
                    || e.kind() == ErrorKind::ClusterConnectionNotFound
            }
        }
    }

    /// Whether Redis could not be reached at all (as opposed to answering with an error):
    /// the API maps these to 503 `queue_unavailable` with `Retry-After`.
    pub fn is_unavailable(&self) -> bool {
        match self {
            RedisCallError::Timeout(_) | RedisCallError::BreakerOpen { .. } => true,
            RedisCallError::Redis(_) => self.is_connection_failure(),
        }
    }

    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            RedisCallError::Timeout(_) => "timeout",
            RedisCallError::BreakerOpen { .. } => "breaker_open",
            RedisCallError::Redis(e) if e.is_connection_refusal() => "refused",
            RedisCallError::Redis(e) if e.is_connection_dropped() || e.is_io_error() => "dropped",
            RedisCallError::Redis(_) => "reply",
        }
    }
}

/// What the pool has seen, for `/api/health`.
#[derive(Debug, Clone)]
pub struct PoolStatus {
    pub last_ok_at_ms: Option<u64>,
    pub last_error: Option<String>,
    pub breaker: BreakerState,
    pub consecutive_failures: u32,
    pub breaker_opened_ago_ms: Option<u64>,
    pub breaker_next_probe_in_ms: Option<u64>,
    pub breaker_opened_total: u64,
    pub rejected_total: u64,
    pub rebuilds_total: u64,
    /// On a cluster, the hash tags (queue partitions) whose own breakers are open.
    pub open_hash_tags: Vec<String>,
}

/// One multiplexed connection and its run of timeouts.
struct Slot {
    // A std mutex: held only to clone or swap the handle, never across an await.
    manager: Mutex<Connection>,
    consecutive_timeouts: AtomicU32,
}

#[derive(Default)]
struct History {
    last_ok_at_ms: Option<u64>,
    last_error: Option<String>,
}

/// `REDIS_CONNECTION_POOL_SIZE` lazily connected managers with a per-call timeout and a breaker.
pub struct RedisPool {
    connector: Connector,
    slots: Vec<Slot>,
    next: AtomicUsize,
    timeout: Duration,
    breakers: Breakers,
    history: Mutex<History>,
    rebuilds: AtomicU64,
    /// When [`RedisPool::wake_all`] last ran (ms since the epoch).
    woken_at_ms: AtomicU64,
}

impl RedisPool {
    /// Builds the managers without connecting (so this succeeds while Redis is down). Fails
    /// only on a malformed URL.
    pub fn new(url: &str, settings: &RedisSettings) -> Result<Self, redis::RedisError> {
        let connector = Connector::new(url, settings)?;
        let by_tag = connector.is_cluster();
        let slots = (0..settings.pool_size.max(1))
            .map(|_| {
                Ok(Slot {
                    manager: Mutex::new(connector.connect()?),
                    consecutive_timeouts: AtomicU32::new(0),
                })
            })
            .collect::<Result<Vec<_>, redis::RedisError>>()?;
        Ok(RedisPool {
            connector,
            slots,
            next: AtomicUsize::new(0),
            timeout: settings.timeout,
            breakers: Breakers::new(by_tag),
            history: Mutex::new(History::default()),
            rebuilds: AtomicU64::new(0),
            woken_at_ms: AtomicU64::new(0),
        })
    }

    /// The per-call bound.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether this pool talks to a Redis Cluster (`REDIS_URL` lists several nodes, or
    /// `REDIS_CLUSTER=1`).
    pub fn is_cluster(&self) -> bool {
        self.connector.is_cluster()
    }

    /// Sends `cmd` on the next connection, bounded by the timeout; fails at once while the
    /// breaker is open.
    pub async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, RedisCallError> {
        let tag = command_tag(cmd);
        self.admit(tag.as_deref())?;
        self.send(cmd, false, tag.as_deref()).await
    }

    /// Sends `cmd` even while the breaker is open: for the health probe, whose job is to find
    /// out whether Redis is back (its success closes the breaker for everyone).
    pub async fn probe<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, RedisCallError> {
        self.send(cmd, true, None).await
    }

    /// Sends `cmd` to every primary (one server: to it) and returns the replies by node,
    /// bounded by the timeout but outside the breaker: neither admitted by it nor counted by
    /// it. For best-effort reads next to a [`probe`](Self::probe), e.g. every primary's
    /// settings: while one primary is down and its replica not yet promoted the fan-out fails
    /// although the cluster still serves the other slots, which must not open the breaker.
    pub async fn on_each_primary(
        &self,
        cmd: &redis::Cmd,
    ) -> Result<Vec<(String, redis::Value)>, RedisCallError> {
        let (_, mut conn) = self.pick()?;
        self.bounded(conn.on_each_primary(cmd), self.timeout).await
    }

    /// Sends `cmd` on the next connection; see [`RedisPool::retrying`] for when it is sent twice.
    /// `tag`: the hash tag whose breaker records the outcome (`None`: the pool's).
    async fn send<T: FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
        idempotent: bool,
        tag: Option<&str>,
    ) -> Result<T, RedisCallError> {
        let (slot, conn) = self.pick()?;
        let outcome = self
            .retrying(slot, conn, idempotent, |mut c| async move {
                cmd.query_async(&mut c).await
            })
            .await;
        self.record(slot, &outcome, tag);
        outcome
    }

    /// Runs a Lua script (EVALSHA, loading it first if Redis does not know it, e.g. after a
    /// restart) like [`query`](Self::query): bounded by the timeout, failing fast while the
    /// breaker is open, and counted by the breaker. Sent twice only when the first attempt
    /// never reached Redis: scripts that are not idempotent must not run twice, and the caller
    /// knows which ones are.
    ///
    /// `key`: one of the script's keys (they share a hash tag on a cluster), which picks the
    /// breaker (redis-rs's invocation does not show its keys).
    pub async fn invoke<T: FromRedisValue>(
        &self,
        script: &redis::ScriptInvocation<'_>,
        key: &str,
    ) -> Result<T, RedisCallError> {
        let tag = hash_tag_of(key.as_bytes());
        self.admit(tag.as_deref())?;
        let (slot, conn) = self.pick()?;
        let outcome = self
            .retrying(slot, conn, false, |mut c| async move {
                script.invoke_async(&mut c).await
            })
            .await;
        self.record(slot, &outcome, tag.as_deref());
        outcome
    }

    /// One call, and at most one more on the same connection when that is safe and useful:
    /// - the connection was refused: nothing was sent, so any command may go again. This is
    ///   what the first call after Redis returns sees (the manager's last reconnect attempt
    ///   failed, and this call starts the next one), and failing it would keep the breaker
    ///   open — and idle workers waiting — for another round;
    /// - `idempotent` and the connection broke (Redis restarted since it was last used).
    ///
    /// The same connection, because the manager is now reconnecting it: the retry waits for
    /// the fresh connection, where the next pooled one would be another broken one.
    async fn retrying<T, F, Fut>(
        &self,
        slot: &Slot,
        conn: Connection,
        idempotent: bool,
        call: F,
    ) -> Result<T, RedisCallError>
    where
        F: Fn(Connection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let started = Instant::now();
        let outcome = self.bounded(call(conn), self.timeout).await;
        // Both attempts share one REDIS_TIMEOUT, so a call fails within it whatever happens
        // (a cluster client can spend most of it before reporting a refused node).
        let left = self.timeout.saturating_sub(started.elapsed());
        let again = !left.is_zero()
            && match &outcome {
                Err(RedisCallError::Redis(e)) if e.is_connection_refusal() => true,
                Err(e) => idempotent && e.is_connection_failure(),
                Ok(_) => false,
            };
        if !again {
            return outcome;
        }
        match slot.manager.lock().ok().map(|m| m.clone()) {
            Some(fresh) => self.bounded(call(fresh), left).await,
            None => outcome,
        }
    }

    /// Asks the breaker guarding `tag`; while it is open, fails at once without touching the
    /// network.
    fn admit(&self, tag: Option<&str>) -> Result<(), RedisCallError> {
        match self.breakers.admit(tag, Instant::now()) {
            Admission::Allowed => Ok(()),
            Admission::Rejected { retry_after } => {
                metrics::counter!(telemetry::REDIS_ERRORS, "kind" => "breaker_open").increment(1);
                Err(RedisCallError::BreakerOpen { retry_after })
            }
        }
    }

    /// The next connection, round-robin.
    fn pick(&self) -> Result<(&Slot, Connection), RedisCallError> {
        let slot = &self.slots[self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len()];
        match slot.manager.lock().ok().map(|m| m.clone()) {
            Some(conn) => Ok((slot, conn)),
            None => Err(RedisCallError::Timeout(Duration::ZERO)),
        }
    }

    /// Runs `call` for at most `limit`.
    async fn bounded<T>(
        &self,
        call: impl std::future::Future<Output = redis::RedisResult<T>>,
        limit: Duration,
    ) -> Result<T, RedisCallError> {
        let started = Instant::now();
        let outcome = match tokio::time::timeout(limit, call).await {
            Ok(Ok(value)) => Ok(value),
            // The connection's own response/connect timeout (the same length as ours) often
            // fires first: it is a timeout too, not a dropped connection, so it must neither
            // be retried (a second REDIS_TIMEOUT) nor escape the rebuild count.
            Ok(Err(e)) if e.is_timeout() => Err(RedisCallError::Timeout(self.timeout)),
            Ok(Err(e)) => Err(RedisCallError::Redis(e)),
            Err(_) => Err(RedisCallError::Timeout(self.timeout)),
        };
        metrics::histogram!(telemetry::REDIS_DURATION).record(started.elapsed().as_secs_f64());
        outcome
    }

    /// Like [`query`](Self::query), for commands that are safe to repeat: after a broken
    /// connection (Redis restarted, say) the manager has reconnected, so one more try usually
    /// succeeds instead of reporting an outage that is already over.
    pub async fn query_idempotent<T: FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
    ) -> Result<T, RedisCallError> {
        let tag = command_tag(cmd);
        self.admit(tag.as_deref())?;
        self.send(cmd, true, tag.as_deref()).await
    }

    /// `BreakerOpen` when a call on `key` would be refused by its breaker now (counted as a
    /// refusal; nothing is sent, and a due probe is left to the next real call): lets a
    /// handler answer 503 before doing work it could not store.
    pub fn refuse_early(&self, key: &str) -> Result<(), RedisCallError> {
        let tag = hash_tag_of(key.as_bytes());
        match self.breakers.refuse(tag.as_deref(), Instant::now()) {
            Some(retry_after) => {
                metrics::counter!(telemetry::REDIS_ERRORS, "kind" => "breaker_open").increment(1);
                Err(RedisCallError::BreakerOpen { retry_after })
            }
            None => Ok(()),
        }
    }

    /// The breaker guarding calls whose keys carry hash tag `tag` (on one server, and for
    /// `None`, the pool's): its state, and how long until its next probe while it is open.
    pub fn breaker_for(&self, tag: Option<&str>) -> (BreakerState, Option<Duration>) {
        let (state, next) = self.breakers.state_of(tag);
        let now = Instant::now();
        (state, next.map(|at| at.saturating_duration_since(now)))
    }

    /// The same breaker's state and the instant of its next probe: two equal marks taken
    /// around a call, both refusing, mean no probe finished meanwhile (so the call was refused).
    pub fn breaker_mark(&self, tag: Option<&str>) -> (BreakerState, Option<Instant>) {
        self.breakers.state_of(tag)
    }

    /// What the pool has seen lately.
    pub fn status(&self) -> PoolStatus {
        let now = Instant::now();
        let (last_ok_at_ms, last_error) = self
            .history
            .lock()
            .map(|h| (h.last_ok_at_ms, h.last_error.clone()))
            .unwrap_or_default();
        let ms = |d: Duration| d.as_millis() as u64;
        let breakers = self.breakers.summary();
        PoolStatus {
            last_ok_at_ms,
            last_error,
            breaker: breakers.state,
            consecutive_failures: breakers.consecutive_failures,
            breaker_opened_ago_ms: breakers
                .opened_at
                .map(|at| ms(now.saturating_duration_since(at))),
            breaker_next_probe_in_ms: breakers
                .next_probe_at
                .map(|at| ms(at.saturating_duration_since(now))),
            breaker_opened_total: breakers.opened_total,
            rejected_total: breakers.rejected_total,
            rebuilds_total: self.rebuilds.load(Ordering::Relaxed),
            open_hash_tags: breakers.open_tags,
        }
    }

    fn record<T>(&self, slot: &Slot, outcome: &Result<T, RedisCallError>, tag: Option<&str>) {
        let reached_redis = match outcome {
            Ok(_) => true,
            Err(e) => !e.is_unavailable(),
        };
        let (before, after) = self.breakers.record(tag, reached_redis, Instant::now());
        if reached_redis {
            slot.consecutive_timeouts.store(0, Ordering::Relaxed);
        }
        if let Err(e) = outcome {
            metrics::counter!(telemetry::REDIS_ERRORS, "kind" => e.kind()).increment(1);
        }
        if before != after {
            let to = Breaker::state_name(after);
            metrics::counter!(telemetry::REDIS_BREAKER_TRANSITIONS, "to" => to).increment(1);
            let code = match after {
                BreakerState::Closed => 0.0,
                BreakerState::Open => 1.0,
                BreakerState::HalfOpen => 2.0,
            };
            metrics::gauge!(telemetry::REDIS_BREAKER_STATE).set(code);
        }
        let scope = tag.filter(|_| self.is_cluster()).unwrap_or("all calls");
        match (before, after) {
            (BreakerState::Closed, BreakerState::Open) => {
                tracing::warn!(
                    scope,
                    "Redis unreachable: circuit breaker opened, calls now fail fast"
                );
            }
            (BreakerState::Open | BreakerState::HalfOpen, BreakerState::Closed) => {
                tracing::info!(scope, "Redis reachable again: circuit breaker closed");
            }
            _ => {}
        }
        let counts_towards_rebuild = match outcome {
            Err(RedisCallError::Timeout(_)) => true,
            Err(e) => self.is_cluster() && e.is_connection_failure(),
            Ok(_) => false,
        };
        if counts_towards_rebuild {
            let run = slot.consecutive_timeouts.fetch_add(1, Ordering::Relaxed) + 1;
            if run >= REBUILD_AFTER_TIMEOUTS {
                self.rebuild(slot);
            }
        }
        if let Err(RedisCallError::Redis(e)) = outcome
            && (e.is_connection_dropped() || e.is_io_error())
            && !e.is_connection_refusal()
        {
            self.wake_all();
        }
        if let Ok(mut history) = self.history.lock() {
            match outcome {
                Ok(_) => history.last_ok_at_ms = Some(now_ms()),
                Err(e) => history.last_error = Some(e.to_string()),
            }
        }
    }

    /// A connection was dropped under a call: Redis restarted (or a proxy in front of it cut
    /// every connection), so the other pooled connections are very likely dead too. Left
    /// alone, each would fail the next real call sent on it, and a script is not resent, so
    /// every failure re-opened the breaker for another probe interval: recovery took about
    /// pool size × 2 s (21 s with the default 10, found by scripts/soak.sh) where QUEUE.md
    /// asks for 5 s. A PING on each makes its manager notice and reconnect now, so the
    /// breaker's next probe meets a fresh connection.
    fn wake_all(&self) {
        let now = now_ms();
        let last = self.woken_at_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) < WAKE_EVERY_MS
            || self
                .woken_at_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        for slot in &self.slots {
            let Some(mut conn) = slot.manager.lock().ok().map(|m| m.clone()) else {
                continue;
            };
            let limit = self.timeout;
            runtime.spawn(async move {
                let ping = redis::cmd("PING");
                let _ = tokio::time::timeout(limit, ping.query_async::<()>(&mut conn)).await;
            });
        }
    }

    /// Replaces a connection that keeps timing out with a fresh (lazy) one.
    fn rebuild(&self, slot: &Slot) {
        match self.connector.connect() {
            Ok(fresh) => {
                if let Ok(mut manager) = slot.manager.lock() {
                    *manager = fresh;
                }
                slot.consecutive_timeouts.store(0, Ordering::Relaxed);
                self.rebuilds.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(telemetry::REDIS_REBUILDS).increment(1);
                tracing::warn!(
                    "replaced a Redis connection after {REBUILD_AFTER_TIMEOUTS} timeouts in a row"
                );
            }
            Err(e) => tracing::warn!("cannot replace a Redis connection: {e}"),
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
