//! The queue's Lua scripts and typed builders for their invocations.
//!
//! Every queue mutation is one script, so each is atomic and a crash between two Redis
//! commands cannot leave a task in two places (or none). Scripts live in `lua/*.lua`, each
//! prefixed with `lua/prelude.lua` (clock, terminal states, shared helpers). A [`ScriptCall`]
//! keeps its keys visible (redis-rs's `ScriptInvocation` hides them) so a unit test can check
//! that every script's keys share one hash tag, i.e. one Redis Cluster slot.

use super::ids::{IdempotencyKey, JobId, TaskId, WorkerId};
use super::keys::Partition;
use redis::Script;
use std::sync::LazyLock;

macro_rules! script {
    ($name:ident, $file:literal) => {
        pub(crate) static $name: LazyLock<Script> = LazyLock::new(|| {
            Script::new(concat!(
                include_str!("lua/prelude.lua"),
                include_str!(concat!("lua/", $file))
            ))
        });
    };
}

script!(SUBMIT, "submit.lua");
script!(CLAIM, "claim.lua");
script!(HEARTBEAT, "heartbeat.lua");
script!(COMPLETE, "complete.lua");
script!(FAIL, "fail.lua");
script!(RELEASE, "release.lua");
script!(REAP, "reap.lua");
script!(PROMOTE, "promote.lua");
script!(CANCEL, "cancel.lua");
script!(REQUEUE_DEAD, "requeue_dead.lua");
script!(EXPIRE_RESULTS, "expire_results.lua");
script!(FORGET_JOB, "forget_job.lua");
script!(PRESENCE, "presence.lua");

/// One script call: the script, its keys and its arguments.
pub struct ScriptCall {
    pub name: &'static str,
    script: &'static Script,
    pub keys: Vec<String>,
    pub args: Vec<String>,
}

impl ScriptCall {
    fn new(name: &'static str, script: &'static Script, keys: Vec<String>) -> Self {
        ScriptCall {
            name,
            script,
            keys,
            args: Vec::new(),
        }
    }

    fn arg(mut self, value: impl ToString) -> Self {
        self.args.push(value.to_string());
        self
    }

    /// The redis-rs invocation (EVALSHA, falling back to loading the script after a restart).
    pub fn invocation(&self) -> redis::ScriptInvocation<'static> {
        let mut inv = self.script.prepare_invoke();
        for key in &self.keys {
            inv.key(key);
        }
        for arg in &self.args {
            inv.arg(arg);
        }
        inv
    }
}

pub(crate) struct SubmitArgs<'a> {
    pub job: &'a JobId,
    pub payload: &'a str,
    pub rows_total: u64,
    pub chunk_rows: u64,
    pub idempotency: Option<&'a IdempotencyKey>,
    pub idempotency_ttl_ms: u64,
    pub max_ready: u64,
}

pub(crate) fn submit(p: &Partition, a: &SubmitArgs<'_>) -> ScriptCall {
    // Without a key the script ignores KEYS[2]; it still names a key of this partition.
    let idem_key = a
        .idempotency
        .map_or_else(|| format!("{}idem:", p.prefix()), |k| p.idempotency(k));
    ScriptCall::new(
        "submit",
        &SUBMIT,
        vec![p.job(a.job), idem_key, p.ready(), p.stats()],
    )
    .arg(p.prefix())
    .arg(a.job)
    .arg(a.payload)
    .arg(a.rows_total)
    .arg(a.chunk_rows)
    .arg(if a.idempotency.is_some() { "1" } else { "0" })
    .arg(a.idempotency_ttl_ms)
    .arg(a.idempotency.map_or("", |k| k.as_str()))
    .arg(a.max_ready)
}

pub(crate) fn claim(p: &Partition, worker: &WorkerId, lease_ms: u64) -> ScriptCall {
    ScriptCall::new(
        "claim",
        &CLAIM,
        vec![p.ready(), p.leased(), p.fence(), p.stats()],
    )
    .arg(p.prefix())
    .arg(worker)
    .arg(lease_ms)
}

pub(crate) fn heartbeat(p: &Partition, task: &TaskId, token: u64, lease_ms: u64) -> ScriptCall {
    ScriptCall::new(
        "heartbeat",
        &HEARTBEAT,
        vec![p.task(task), p.job(&task.job), p.leased(), p.stats()],
    )
    .arg(task)
    .arg(token)
    .arg(lease_ms)
}

pub(crate) fn complete(p: &Partition, task: &TaskId, token: u64, result: &str) -> ScriptCall {
    ScriptCall::new(
        "complete",
        &COMPLETE,
        vec![p.task(task), p.job(&task.job), p.leased(), p.stats()],
    )
    .arg(task)
    .arg(token)
    .arg(result)
}

pub(crate) struct FailArgs<'a> {
    pub permanent: bool,
    pub message: &'a str,
    pub max_attempts: u32,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    pub jitter: f64,
}

pub(crate) fn fail(p: &Partition, task: &TaskId, token: u64, a: &FailArgs<'_>) -> ScriptCall {
    ScriptCall::new(
        "fail",
        &FAIL,
        vec![
            p.task(task),
            p.job(&task.job),
            p.leased(),
            p.scheduled(),
            p.dead(),
            p.ready(),
            p.stats(),
        ],
    )
    .arg(p.prefix())
    .arg(task)
    .arg(token)
    .arg(if a.permanent {
        "permanent"
    } else {
        "retryable"
    })
    .arg(a.message)
    .arg(a.max_attempts)
    .arg(a.backoff_base_ms)
    .arg(a.backoff_max_ms)
    .arg(a.jitter)
}

pub(crate) fn release(p: &Partition, task: &TaskId, token: u64) -> ScriptCall {
    ScriptCall::new(
        "release",
        &RELEASE,
        vec![
            p.task(task),
            p.job(&task.job),
            p.leased(),
            p.ready(),
            p.stats(),
        ],
    )
    .arg(task)
    .arg(token)
}

pub(crate) struct ReapArgs {
    pub grace_ms: u64,
    pub gap_ms: u64,
    pub max_stalls: u32,
    pub limit: u32,
}

pub(crate) fn reap(p: &Partition, a: &ReapArgs) -> ScriptCall {
    ScriptCall::new(
        "reap",
        &REAP,
        vec![
            p.leased(),
            p.ready(),
            p.scheduled(),
            p.dead(),
            p.reaper(),
            p.stats(),
        ],
    )
    .arg(p.prefix())
    .arg(a.grace_ms)
    .arg(a.gap_ms)
    .arg(a.max_stalls)
    .arg(a.limit)
}

pub(crate) fn promote(p: &Partition, limit: u32) -> ScriptCall {
    ScriptCall::new("promote", &PROMOTE, vec![p.scheduled(), p.ready()])
        .arg(p.prefix())
        .arg(limit)
}

pub(crate) fn cancel(p: &Partition, job: &JobId) -> ScriptCall {
    ScriptCall::new(
        "cancel",
        &CANCEL,
        vec![p.job(job), p.ready(), p.scheduled()],
    )
    .arg(p.prefix())
    .arg(job)
}

pub(crate) fn requeue_dead(p: &Partition, job: &JobId) -> ScriptCall {
    ScriptCall::new(
        "requeue_dead",
        &REQUEUE_DEAD,
        vec![p.job(job), p.dead(), p.ready(), p.finished()],
    )
    .arg(p.prefix())
    .arg(job)
}

/// Task hashes one `expire_results` call may delete (see the script).
const EXPIRE_TASK_BUDGET: u64 = 10_000;

pub(crate) fn expire_results(p: &Partition, ttl_ms: u64, limit: u32) -> ScriptCall {
    ScriptCall::new(
        "expire_results",
        &EXPIRE_RESULTS,
        vec![p.finished(), p.dead()],
    )
    .arg(p.prefix())
    .arg(ttl_ms)
    .arg(limit)
    .arg(EXPIRE_TASK_BUDGET)
}

pub(crate) fn forget_job(p: &Partition, job: &JobId, tombstone_ms: u64) -> ScriptCall {
    ScriptCall::new("forget_job", &FORGET_JOB, vec![p.finished(), p.job(job)])
        .arg(p.prefix())
        .arg(job)
        .arg(tombstone_ms)
}

/// Marks `seen` as alive now and counts the workers seen within `window_ms` (entries older
/// than `forget_ms` are dropped). Use partition 0.
pub(crate) fn presence(
    p: &Partition,
    window_ms: u64,
    forget_ms: u64,
    seen: &[WorkerId],
) -> ScriptCall {
    let mut call = ScriptCall::new("presence", &PRESENCE, vec![p.workers()])
        .arg(window_ms)
        .arg(forget_ms);
    for id in seen {
        call = call.arg(id);
    }
    call
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::keys::hash_tag;

    /// One call of every script, with realistic arguments.
    fn every_call(p: &Partition) -> Vec<ScriptCall> {
        let job = JobId::generate(p.index);
        let task = TaskId {
            job: job.clone(),
            chunk: 7,
        };
        let key = IdempotencyKey::parse("order-{42}").expect("valid key");
        let submit_args = |idempotency| SubmitArgs {
            job: &job,
            payload: "{}",
            rows_total: 10,
            chunk_rows: 3,
            idempotency,
            idempotency_ttl_ms: 1000,
            max_ready: 0,
        };
        let fail_args = FailArgs {
            permanent: false,
            message: "boom",
            max_attempts: 3,
            backoff_base_ms: 10,
            backoff_max_ms: 100,
            jitter: 0.5,
        };
        let reap_args = ReapArgs {
            grace_ms: 1000,
            gap_ms: 500,
            max_stalls: 2,
            limit: 100,
        };
        vec![
            submit(p, &submit_args(Some(&key))),
            submit(p, &submit_args(None)),
            claim(p, &WorkerId::generate(), 1000),
            heartbeat(p, &task, 1, 1000),
            complete(p, &task, 1, "blob"),
            fail(p, &task, 1, &fail_args),
            release(p, &task, 1),
            reap(p, &reap_args),
            promote(p, 100),
            cancel(p, &job),
            requeue_dead(p, &job),
            expire_results(p, 1000, 100),
            forget_job(p, &job, 1000),
            presence(p, 1000, 10_000, &[WorkerId::generate()]),
        ]
    }

    #[test]
    fn every_scripts_keys_share_the_partitions_hash_tag() {
        for index in [0, 1, 15] {
            let p = Partition::new("shaplab", index);
            let tag = format!("shaplab:p{index}");
            let calls = every_call(&p);
            assert_eq!(calls.len(), 14);
            for call in calls {
                assert!(!call.keys.is_empty(), "{} has no keys", call.name);
                for key in &call.keys {
                    assert_eq!(hash_tag(key), tag, "{}: key {key}", call.name);
                }
                // Keys the script builds itself start with the prefix it is given.
                if call.args.first().is_some_and(|a| a.starts_with('{')) {
                    assert_eq!(hash_tag(&call.args[0]), tag, "{}: prefix", call.name);
                }
            }
        }
    }

    #[test]
    fn scripts_build_keys_only_from_the_partition_prefix() {
        // Any `'task:'`/`'job:'` key built in Lua must be `prefix .. 'task:' ..`.
        let sources = [
            include_str!("lua/prelude.lua"),
            include_str!("lua/submit.lua"),
            include_str!("lua/claim.lua"),
            include_str!("lua/fail.lua"),
            include_str!("lua/reap.lua"),
            include_str!("lua/promote.lua"),
            include_str!("lua/requeue_dead.lua"),
            include_str!("lua/expire_results.lua"),
        ];
        for source in sources {
            for (i, _) in source
                .match_indices("'task:'")
                .chain(source.match_indices("'job:'"))
            {
                let before = &source[..i];
                assert!(
                    before.ends_with("prefix .. "),
                    "{}",
                    &source[i.saturating_sub(40)..i + 8]
                );
            }
        }
    }

    #[test]
    fn the_hash_tag_is_the_first_braced_word() {
        assert_eq!(hash_tag("{shaplab:p0}:ready"), "shaplab:p0");
        assert_eq!(hash_tag("{shaplab:p0}:idem:{x}"), "shaplab:p0");
        assert_eq!(hash_tag("{}x{y}"), "{}x{y}");
        assert_eq!(hash_tag("plain"), "plain");
    }
}
