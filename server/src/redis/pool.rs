//! Multiplexed connections to Redis, each call bounded in time.
//!
//! redis-rs's `ConnectionManager` is already a pool in the sense that matters: one multiplexed
//! TCP connection carries many concurrent commands and reconnects in the background. We keep
//! `REDIS_CONNECTION_POOL_SIZE` of them and hand them out round-robin so one slow reply does not
//! queue every other command behind it. They are created lazily, so the server boots while
//! Redis is down and recovers without a restart once it returns.

use crate::config::{Keepalive, RedisSettings};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::io::tcp::{TcpSettings, socket2::TcpKeepalive};
use redis::{Client, FromRedisValue, IntoConnectionInfo};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use thiserror::Error;

/// Why a Redis call failed.
#[derive(Debug, Error)]
pub enum RedisCallError {
    /// No answer within `REDIS_TIMEOUT` (Redis down, paused, or the network is dropping packets).
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    /// Redis or the connection reported an error.
    #[error("Redis error: {0}")]
    Redis(#[from] redis::RedisError),
}

impl RedisCallError {
    /// Whether the connection itself broke (as opposed to Redis rejecting the command), in which
    /// case an idempotent command may be sent once more on the reconnected manager.
    pub fn is_connection_failure(&self) -> bool {
        match self {
            RedisCallError::Timeout(_) => false,
            RedisCallError::Redis(e) => {
                e.is_connection_dropped() || e.is_io_error() || e.is_connection_refusal()
            }
        }
    }
}

/// What the pool remembers about recent calls, for `/api/health`.
#[derive(Debug, Clone, Default)]
pub struct CallHistory {
    pub last_ok_at_ms: Option<u64>,
    pub last_error: Option<String>,
}

/// `REDIS_CONNECTION_POOL_SIZE` lazily connected managers with a per-call timeout.
pub struct RedisPool {
    managers: Vec<ConnectionManager>,
    next: AtomicUsize,
    timeout: Duration,
    // A std mutex: held for a field copy only, never across an await.
    history: Mutex<CallHistory>,
}

impl RedisPool {
    /// Builds the managers without connecting (so this succeeds while Redis is down). Fails
    /// only on a malformed URL.
    pub fn new(url: &str, settings: &RedisSettings) -> Result<Self, redis::RedisError> {
        let mut info = url.into_connection_info()?;
        let mut tcp = TcpSettings::default().set_nodelay(true);
        if let Keepalive::After(idle) = settings.keepalive {
            let probes = TcpKeepalive::new()
                .with_time(idle)
                .with_interval(Duration::from_secs(idle.as_secs().clamp(1, 10)));
            // TCP_USER_TIMEOUT: give up on a connection whose sent data stays unacknowledged,
            // which keepalive alone does not cover while a command is in flight.
            tcp = tcp.set_keepalive(probes).set_user_timeout(idle);
        }
        info = info.set_tcp_settings(tcp);
        let client = Client::open(info)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.timeout))
            .set_response_timeout(Some(settings.timeout))
            // Reconnect attempts back off up to 2 s; our own timeout bounds what callers see.
            .set_max_delay(Duration::from_secs(2))
            .set_number_of_retries(3);
        let managers = (0..settings.pool_size.max(1))
            .map(|_| client.get_connection_manager_lazy(config.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RedisPool {
            managers,
            next: AtomicUsize::new(0),
            timeout: settings.timeout,
            history: Mutex::new(CallHistory::default()),
        })
    }

    /// The per-call bound.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends `cmd` on the next manager, bounded by the timeout.
    pub async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, RedisCallError> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.managers.len();
        let mut conn = self.managers[i].clone();
        let outcome = match tokio::time::timeout(self.timeout, cmd.query_async(&mut conn)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(RedisCallError::Redis(e)),
            Err(_) => Err(RedisCallError::Timeout(self.timeout)),
        };
        self.remember(&outcome);
        outcome
    }

    /// Like [`query`](Self::query), for commands that are safe to repeat: after a broken
    /// connection (Redis restarted, say) the manager has reconnected, so one more try usually
    /// succeeds instead of reporting an outage that is already over.
    pub async fn query_idempotent<T: FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
    ) -> Result<T, RedisCallError> {
        match self.query(cmd).await {
            Err(e) if e.is_connection_failure() => self.query(cmd).await,
            outcome => outcome,
        }
    }

    /// What recent calls did.
    pub fn history(&self) -> CallHistory {
        self.history.lock().map(|h| h.clone()).unwrap_or_default()
    }

    fn remember<T>(&self, outcome: &Result<T, RedisCallError>) {
        let Ok(mut history) = self.history.lock() else {
            return;
        };
        match outcome {
            Ok(_) => history.last_ok_at_ms = Some(now_ms()),
            Err(e) => history.last_error = Some(e.to_string()),
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
