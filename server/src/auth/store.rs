//! Where sign-in state lives: in the jobs' Redis, beside the queue, under `{prefix}:auth:`.
//!
//! | key | type | holds |
//! |---|---|---|
//! | `users` | SET | account names |
//! | `user:<name>` | HASH | `hash` (argon2id PHC string), `admin` (0/1), `created_ms` |
//! | `fails:<name>` | STRING | failed sign-ins in the lockout window (expires with it) |
//! | `session:<sha256>` | HASH | `user`, `created_ms`; expires after [`SESSION_TTL`] |
//! | `sessions:<name>` | SET | the user's session digests (so removing a user ends them) |
//! | `key:<sha256>` | HASH | `user`, `label`, `created_ms` of an API key |
//! | `keys:<name>` | SET | the user's key digests |
//! | `share:<sha256>` | HASH | `job`, `owner`, `created_ms`, `expires_ms`; a Redis TTL when it expires |
//! | `shares:<job>` | SET | the job's share digests |
//! | `jobs:<name>` | ZSET | the user's job ids by creation time (ms) |
//! | `jobmeta:<name>` | HASH | job id → JSON `{label, model_name, data_name}` for the job list |
//! | `deleted:<job>` | STRING | the owner deleted the job: it is 404 for everyone |
//! | `active:<name>` | SET | the user's jobs last seen queued or running (`SHAPLAB_MAX_ACTIVE_JOBS`) |
//!
//! Every command names one key, so a Redis Cluster needs no hash tags here; secrets are
//! stored as SHA-256 digests only ([`super::tokens`]).

use crate::queue::QueueError;
use crate::redis::RedisPool;
use redis::FromRedisValue;
use std::sync::Arc;
use std::time::Duration;

/// How long a session lasts without signing in again.
pub const SESSION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Sign-in state in Redis.
pub struct AuthStore {
    pool: Arc<RedisPool>,
    prefix: String,
}

impl AuthStore {
    pub fn new(pool: Arc<RedisPool>, queue_prefix: &str) -> Self {
        AuthStore {
            pool,
            prefix: format!("{queue_prefix}:auth:"),
        }
    }

    pub(super) fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }

    pub(super) fn users_key(&self) -> String {
        format!("{}users", self.prefix)
    }

    pub(super) async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, QueueError> {
        // These are plain one-key commands: a refusal here is the cluster between states (a
        // killed primary not yet replaced answers errors the queue's scripts never see), so
        // it is "try again shortly" (503), never a 500.
        self.pool
            .query(cmd)
            .await
            .map_err(|e| match QueueError::from(e) {
                QueueError::Rejected(e) => QueueError::Unavailable(e),
                other => other,
            })
    }
}

/// `redis::cmd(name)` with its arguments, for one-line commands.
pub(super) fn cmd<const N: usize>(name: &str, args: [&str; N]) -> redis::Cmd {
    let mut c = redis::cmd(name);
    for a in args {
        c.arg(a);
    }
    c
}

/// A user or proxy-supplied name we accept: letters, digits and `._@+-`, 1–128 bytes (room
/// for e-mail addresses; nothing that could split a Redis key or a log line).
pub fn valid_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '+' | '-'))
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn names_are_plain() {
        assert!(valid_name("alice"));
        assert!(valid_name("a.b+c@example.org"));
        assert!(!valid_name(""));
        assert!(!valid_name("a b"));
        assert!(!valid_name("a:b"));
        assert!(!valid_name(&"x".repeat(129)));
    }
}
