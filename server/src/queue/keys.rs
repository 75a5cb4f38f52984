//! Where the queue lives in Redis: every key of a partition starts with the same hash tag,
//! `{<prefix>:p<n>}:`, so each Lua script touches one cluster slot.
//!
//! Per partition `P = {shaplab:p0}:`:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `P ready` | LIST | task ids waiting to be claimed (claim pops the head; submit and promote push the tail; release and reap push the head) |
//! | `P leased` | ZSET | task id → lease deadline (ms, Redis server clock) |
//! | `P scheduled` | ZSET | task id → when its retry is due (ms) |
//! | `P dead` | ZSET | task id → when it died (attempts or stalls exhausted) |
//! | `P finished` | ZSET | job id → when it reached a terminal state (the result sweep expires them after `RESULT_TTL`) |
//! | `P fence` | STRING | counter the fencing tokens are drawn from |
//! | `P reaper` | HASH | `last_ms` (last reap), `grace_until_ms`, `graces` (the post-outage grace: see `lua/reap.lua`) |
//! | `P stats` | HASH | counters: `submitted_jobs`, `submitted_tasks`, `completed`, `retried`, `dead`, `reaped`, `released`, `stale_writes`, … |
//! | `P job:<job id>` | HASH | state, payload, rows_total, chunk_rows, chunks_total, rows_done, chunks_done, created/started/finished_ms, error_code + error, idempotency_key, last_task, expired_ms (its results expired: a tombstone with a Redis TTL) |
//! | `P task:<task id>` | HASH | job, chunk, row_start, row_end, state (ready, leased, scheduled, dead, done, failed, cancelled), attempts, stalls, token, worker, queued_ms, leased_ms, failed_token, error, result, finished_ms |
//! | `P workers` | ZSET | worker id → when it was last seen (ms; partition 0 only: health's "workers seen", see `lua/presence.lua`) |
//! | `P idem:<key>` | HASH | `job`, `fingerprint` (SHA-1 of the request), expires after the idempotency TTL |
//!
//! Scripts receive the fixed keys in `KEYS` and, where they must find tasks or jobs they only
//! learn about inside Redis (claim, reap, promote, cancel, …), build those keys from the
//! partition prefix (passed as `ARGV[1]`). Such keys share the declared keys' slot, which Redis
//! Cluster allows for scripts without a `#!lua` shebang (it only refuses keys of other slots).

use super::ids::{IdempotencyKey, JobId, TaskId};

/// The key names of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub index: u16,
    prefix: String,
}

impl Partition {
    pub fn new(queue_prefix: &str, index: u16) -> Self {
        Partition {
            index,
            prefix: format!("{{{queue_prefix}:p{index}}}:"),
        }
    }

    /// `{shaplab:p0}:`: what every key of this partition starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub fn ready(&self) -> String {
        self.key("ready")
    }
    pub fn workers(&self) -> String {
        self.key("workers")
    }
    pub fn leased(&self) -> String {
        self.key("leased")
    }
    pub fn scheduled(&self) -> String {
        self.key("scheduled")
    }
    pub fn dead(&self) -> String {
        self.key("dead")
    }
    pub fn finished(&self) -> String {
        self.key("finished")
    }
    pub fn fence(&self) -> String {
        self.key("fence")
    }
    pub fn reaper(&self) -> String {
        self.key("reaper")
    }
    pub fn stats(&self) -> String {
        self.key("stats")
    }
    pub fn job(&self, job: &JobId) -> String {
        self.key(&format!("job:{job}"))
    }
    pub fn task(&self, task: &TaskId) -> String {
        self.key(&format!("task:{task}"))
    }
    pub fn idempotency(&self, key: &IdempotencyKey) -> String {
        self.key(&format!("idem:{}", key.as_str()))
    }
    /// The pattern matching every task hash of the partition (for audits).
    pub fn task_pattern(&self) -> String {
        // `{` and `}` are not glob metacharacters, but `[` in a prefix would be: prefixes are
        // plain words (see `QueueConfig::prefix`).
        self.key("task:*")
    }
}

/// The hash tag Redis Cluster hashes for `key`: the text between the first `{` and the next
/// `}` when non-empty, else the whole key (the cluster spec's rule).
pub fn hash_tag(key: &str) -> &str {
    if let Some(open) = key.find('{')
        && let Some(len) = key[open + 1..].find('}')
        && len > 0
    {
        return &key[open + 1..open + 1 + len];
    }
    key
}
