//! [`Queue`]: the typed API over the queue's scripts, used by the HTTP handlers (submit,
//! status, cancel), the workers (claim, heartbeat, complete, fail, release) and the reaper
//! (reap, promote).
//!
//! Every call goes through [`RedisPool`] (timeout, breaker), so while Redis is down each
//! fails with [`QueueError::Unavailable`] within `REDIS_TIMEOUT`, then in microseconds.
//! Replies are parsed without panicking: anything unexpected is [`QueueError::Protocol`].

use super::QueueConfig;
use super::error::QueueError;
use super::ids::{
    FencingToken, IdempotencyKey, JobId, RowRange, TaskId, WorkerId, random_unit, stable_hash,
};
use super::keys::Partition;
use super::scripts::{self, FailArgs, ReapArgs, ScriptCall, SubmitArgs};
use super::types::{
    Cancellation, ClaimedTask, Completion, FailOutcome, Heartbeat, JobError, JobState, JobStatus,
    QueueDepths, ReapReport, Released, SubmitRequest, Submitted, TaskPayload,
};
use super::worker::TaskError;
use crate::redis::RedisPool;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The queue API. Cheap to share (`Arc<Queue>`); all state is in Redis.
pub struct Queue {
    pool: Arc<RedisPool>,
    config: QueueConfig,
    partitions: Vec<Partition>,
    /// Round-robin start for claims and for jobs without an idempotency key.
    next: AtomicUsize,
    /// Wakes this process's idle workers after a local submit (others poll).
    pub(crate) submitted: tokio::sync::Notify,
}

impl Queue {
    pub fn new(pool: Arc<RedisPool>, config: QueueConfig) -> Self {
        let partitions = (0..config.partitions.max(1))
            .map(|i| Partition::new(&config.prefix, i))
            .collect();
        Queue {
            pool,
            config,
            partitions,
            next: AtomicUsize::new(0),
            submitted: tokio::sync::Notify::new(),
        }
    }

    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    pub fn partitions(&self) -> &[Partition] {
        &self.partitions
    }

    pub(crate) fn pool(&self) -> &RedisPool {
        &self.pool
    }

    pub(super) fn partition_of(&self, job: &JobId) -> Partition {
        // A job id from a deployment with more partitions still names its own keys.
        Partition::new(&self.config.prefix, job.partition())
    }

    pub(super) async fn call(&self, call: &ScriptCall) -> Result<Vec<String>, QueueError> {
        let key = call.keys.first().map_or("", String::as_str);
        Ok(self.pool.invoke(&call.invocation(), key).await?)
    }

    /// The partition a submit goes to; `advance` moves the round-robin on (a real submit).
    fn submit_index(&self, key: Option<&IdempotencyKey>, advance: bool) -> usize {
        let n = self.partitions.len();
        match key {
            // The same key always lands in the same partition, so one script sees all its uses.
            Some(key) => (stable_hash(key.as_str().as_bytes()) % n as u64) as usize,
            None if advance => self.next.fetch_add(1, Ordering::Relaxed) % n,
            None => self.next.load(Ordering::Relaxed) % n,
        }
    }

    /// `Unavailable` at once when the breaker of the partition a submit would go to refuses
    /// calls: the handler then answers 503 in microseconds instead of reading uploads and
    /// writing headers first for a job that cannot be queued.
    pub fn check_submit(&self, key: Option<&IdempotencyKey>) -> Result<(), QueueError> {
        let partition = &self.partitions[self.submit_index(key, false)];
        Ok(self.pool.refuse_early(&partition.ready())?)
    }

    /// Queues a job split into chunk tasks (idempotent with a key).
    pub async fn submit(&self, req: &SubmitRequest) -> Result<Submitted, QueueError> {
        if req.rows_total == 0 {
            return Err(QueueError::Invalid(
                "the data has no rows to explain".into(),
            ));
        }
        if req.chunk_rows == 0 {
            return Err(QueueError::Invalid(
                "chunk size must be at least one row".into(),
            ));
        }
        let chunks = req.rows_total.div_ceil(req.chunk_rows);
        if chunks > self.config.max_chunks {
            return Err(QueueError::Invalid(format!(
                "{} rows in chunks of {} make {chunks} chunks; at most {} are allowed",
                req.rows_total, req.chunk_rows, self.config.max_chunks
            )));
        }
        let partition = &self.partitions[self.submit_index(req.idempotency_key.as_ref(), true)];
        let job = JobId::generate(partition.index);
        let call = scripts::submit(
            partition,
            &SubmitArgs {
                job: &job,
                payload: req.payload.as_str(),
                rows_total: req.rows_total,
                chunk_rows: req.chunk_rows,
                idempotency: req.idempotency_key.as_ref(),
                idempotency_ttl_ms: millis(self.config.idempotency_ttl).max(1),
                max_ready: self.config.max_ready_tasks,
            },
        );
        let reply = self.call(&call).await?;
        let job_of = |i: usize| {
            reply
                .get(i)
                .and_then(|s| JobId::parse(s).ok())
                .ok_or_else(|| QueueError::protocol(format!("submit: {reply:?}")))
        };
        match reply.first().map(String::as_str) {
            Some("created") => {
                self.submitted.notify_waiters();
                Ok(Submitted {
                    job: job_of(1)?,
                    created: true,
                })
            }
            Some("existing") => Ok(Submitted {
                job: job_of(1)?,
                created: false,
            }),
            Some("conflict") => Err(QueueError::Conflict {
                existing: job_of(1)?,
            }),
            Some("full") => Err(QueueError::Full {
                waiting: number(&reply, 1)?,
            }),
            // 96 random bits collided: practically impossible, but never overwrite a job.
            Some("exists") => Err(QueueError::protocol("generated job id already exists")),
            _ => Err(QueueError::protocol(format!("submit: {reply:?}"))),
        }
    }

    /// A job's state and progress.
    pub async fn job(&self, id: &JobId) -> Result<JobStatus, QueueError> {
        let key = self.partition_of(id).job(id);
        let fields: HashMap<String, String> = self
            .pool
            .query_idempotent(redis::cmd("HGETALL").arg(&key))
            .await?;
        if fields.is_empty() {
            return Err(QueueError::NotFound(id.clone()));
        }
        parse_job(id, &fields)
    }

    /// Each chunk's result reference, in chunk order (`None` for chunks not done yet).
    pub async fn chunk_results(&self, id: &JobId) -> Result<Vec<Option<String>>, QueueError> {
        let status = self.job(id).await?;
        let p = self.partition_of(id);
        // One HGET per chunk keeps this on the pool's bounded path; the summary builder
        // calls it once per job, not per request.
        let mut results = Vec::with_capacity(usize::try_from(status.chunks_total).unwrap_or(0));
        for chunk in 0..status.chunks_total {
            let chunk = u32::try_from(chunk).map_err(|_| QueueError::protocol("chunk index"))?;
            let task = TaskId {
                job: id.clone(),
                chunk,
            };
            let mut cmd = redis::cmd("HGET");
            cmd.arg(p.task(&task)).arg("result");
            results.push(self.pool.query_idempotent::<Option<String>>(&cmd).await?);
        }
        Ok(results)
    }

    /// Leases the next ready task (trying each partition once, round-robin), or `None`.
    pub async fn claim(&self, worker: &WorkerId) -> Result<Option<ClaimedTask>, QueueError> {
        let n = self.partitions.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            let partition = &self.partitions[(start + i) % n];
            let call = scripts::claim(partition, worker, millis(self.config.lease));
            let reply = self.call(&call).await?;
            if reply.is_empty() {
                continue;
            }
            return parse_claim(&reply).map(Some);
        }
        Ok(None)
    }

    /// Extends the lease; [`Heartbeat::Stop`] when the job ended. A lost lease is
    /// [`QueueError::StaleToken`].
    pub async fn heartbeat(&self, task: &ClaimedTask) -> Result<Heartbeat, QueueError> {
        let p = self.partition_of(&task.id.job);
        let call = scripts::heartbeat(&p, &task.id, task.token.0, millis(self.config.lease));
        let reply = self.call(&call).await?;
        match first(&reply) {
            "ok" => Ok(Heartbeat::Renewed),
            "stop" => Ok(Heartbeat::Stop),
            "stale" => Err(QueueError::StaleToken(task.id.clone())),
            _ => Err(QueueError::protocol(format!("heartbeat: {reply:?}"))),
        }
    }

    /// Records the chunk's result reference. Safe to repeat with the same token.
    pub async fn complete(
        &self,
        task: &ClaimedTask,
        result_ref: &str,
    ) -> Result<Completion, QueueError> {
        let p = self.partition_of(&task.id.job);
        let call = scripts::complete(&p, &task.id, task.token.0, result_ref);
        let reply = self.call(&call).await?;
        match first(&reply) {
            "ok" => Ok(Completion::Recorded),
            "last" => Ok(Completion::Last),
            "duplicate" => Ok(Completion::AlreadyRecorded),
            "discarded" => Ok(Completion::Discarded),
            "stale" => Err(QueueError::StaleToken(task.id.clone())),
            _ => Err(QueueError::protocol(format!("complete: {reply:?}"))),
        }
    }

    /// Records a failed attempt: retry later, dead, or (permanent) the job fails. Safe to
    /// repeat with the same token (a repeat reports the first write's outcome, with a zero
    /// delay when it was a retry).
    pub async fn fail(
        &self,
        task: &ClaimedTask,
        error: &TaskError,
    ) -> Result<FailOutcome, QueueError> {
        let p = self.partition_of(&task.id.job);
        let (permanent, message) = match error {
            TaskError::Retryable(m) => (false, m.as_str()),
            TaskError::Permanent(m) => (true, m.as_str()),
        };
        let call = scripts::fail(
            &p,
            &task.id,
            task.token.0,
            &FailArgs {
                permanent,
                message,
                max_attempts: self.config.max_attempts.max(1),
                backoff_base_ms: millis(self.config.backoff_base),
                backoff_max_ms: millis(self.config.backoff_max),
                jitter: random_unit(),
            },
        );
        let reply = self.call(&call).await?;
        match first(&reply) {
            "retry" => Ok(FailOutcome::Retry {
                delay: Duration::from_millis(number(&reply, 1)?),
                attempts: u32::try_from(number(&reply, 2)?).unwrap_or(u32::MAX),
            }),
            "dead" => Ok(FailOutcome::Dead),
            "failed" => Ok(FailOutcome::JobFailed),
            "discarded" => Ok(FailOutcome::Discarded),
            // A repeated write of an attempt already recorded: report what it led to.
            "duplicate" => match reply.get(1).map(String::as_str) {
                Some("scheduled" | "ready") => Ok(FailOutcome::Retry {
                    delay: Duration::ZERO,
                    attempts: u32::try_from(number(&reply, 2)?).unwrap_or(u32::MAX),
                }),
                Some("dead") => Ok(FailOutcome::Dead),
                Some("failed") => Ok(FailOutcome::JobFailed),
                _ => Ok(FailOutcome::Discarded),
            },
            "stale" => Err(QueueError::StaleToken(task.id.clone())),
            _ => Err(QueueError::protocol(format!("fail: {reply:?}"))),
        }
    }

    /// Hands the task back without counting the attempt (graceful shutdown).
    pub async fn release(&self, task: &ClaimedTask) -> Result<Released, QueueError> {
        let p = self.partition_of(&task.id.job);
        let reply = self
            .call(&scripts::release(&p, &task.id, task.token.0))
            .await?;
        match first(&reply) {
            "released" => Ok(Released::Released),
            "discarded" => Ok(Released::Discarded),
            "stale" => Err(QueueError::StaleToken(task.id.clone())),
            _ => Err(QueueError::protocol(format!("release: {reply:?}"))),
        }
    }

    /// Takes back expired leases in every partition (see `lua/reap.lua` for the grace rule).
    pub async fn reap(&self) -> Result<ReapReport, QueueError> {
        let args = ReapArgs {
            grace_ms: millis(self.config.lease),
            gap_ms: millis(self.config.reaper_gap),
            max_stalls: self.config.max_stalls.max(1),
            limit: self.config.batch.max(1),
        };
        let mut report = ReapReport::default();
        for p in &self.partitions {
            let reply = self.call(&scripts::reap(p, &args)).await?;
            match first(&reply) {
                "grace" => report.partitions_in_grace += 1,
                "reaped" => {
                    report.requeued += number(&reply, 1)?;
                    report.lost += number(&reply, 2)?;
                }
                _ => return Err(QueueError::protocol(format!("reap: {reply:?}"))),
            }
        }
        Ok(report)
    }

    /// Moves due retries to ready; returns how many.
    pub async fn promote(&self) -> Result<u64, QueueError> {
        let mut total = 0;
        for p in &self.partitions {
            let reply = self
                .call(&scripts::promote(p, self.config.batch.max(1)))
                .await?;
            total += number(&reply, 0)?;
        }
        Ok(total)
    }

    /// Cancels a job: queued tasks are withdrawn now, running ones stop at their next heartbeat.
    pub async fn cancel(&self, id: &JobId) -> Result<Cancellation, QueueError> {
        let p = self.partition_of(id);
        let reply = self.call(&scripts::cancel(&p, id)).await?;
        match first(&reply) {
            "not_found" => Err(QueueError::NotFound(id.clone())),
            "cancelled" => Ok(Cancellation::Cancelled {
                was_running: reply.get(1).is_some_and(|s| s == "running"),
            }),
            "finished" => reply
                .get(1)
                .and_then(|s| JobState::parse(s))
                .map(Cancellation::AlreadyFinished)
                .ok_or_else(|| QueueError::protocol(format!("cancel: {reply:?}"))),
            _ => Err(QueueError::protocol(format!("cancel: {reply:?}"))),
        }
    }

    /// Re-queues a failed job's unfinished chunks (dead ones included) with fresh attempt
    /// counts; returns how many tasks went back to ready.
    pub async fn requeue_dead(&self, id: &JobId) -> Result<u64, QueueError> {
        let p = self.partition_of(id);
        let reply = self.call(&scripts::requeue_dead(&p, id)).await?;
        match first(&reply) {
            "not_found" => Err(QueueError::NotFound(id.clone())),
            "wrong_state" => Err(QueueError::WrongState {
                job: id.clone(),
                state: reply.get(1).cloned().unwrap_or_default(),
                message: "only failed jobs can be requeued",
            }),
            "requeued" => number(&reply, 1),
            _ => Err(QueueError::protocol(format!("requeue_dead: {reply:?}"))),
        }
    }

    /// Dead tasks, oldest first, up to `limit` per partition.
    pub async fn dead_tasks(&self, limit: u32) -> Result<Vec<TaskId>, QueueError> {
        let mut out = Vec::new();
        for p in &self.partitions {
            let mut cmd = redis::cmd("ZRANGE");
            cmd.arg(p.dead()).arg(0).arg(i64::from(limit) - 1);
            let ids: Vec<String> = self.pool.query_idempotent(&cmd).await?;
            out.extend(ids.iter().filter_map(|s| TaskId::parse(s).ok()));
        }
        Ok(out)
    }

    /// How many tasks are ready, leased, scheduled and dead.
    pub async fn depths(&self) -> Result<QueueDepths, QueueError> {
        let mut d = QueueDepths::default();
        for p in &self.partitions {
            d.ready += self.len("LLEN", &p.ready()).await?;
            d.leased += self.len("ZCARD", &p.leased()).await?;
            d.scheduled += self.len("ZCARD", &p.scheduled()).await?;
            d.dead += self.len("ZCARD", &p.dead()).await?;
        }
        Ok(d)
    }

    /// How long the oldest ready task has waited (per the Redis clock), for health; `None`
    /// when nothing is ready. Looks at the first ten of each ready list: the head is the
    /// oldest except for tasks put back in front (released or reaped), so ten is plenty.
    pub async fn oldest_ready_age(&self) -> Result<Option<Duration>, QueueError> {
        let (secs, micros): (u64, u64) = self.pool.query_idempotent(&redis::cmd("TIME")).await?;
        let now_ms = secs * 1000 + micros / 1000;
        let mut oldest: Option<Duration> = None;
        for p in &self.partitions {
            let head: Vec<String> = self
                .pool
                .query_idempotent(redis::cmd("LRANGE").arg(p.ready()).arg(0).arg(9))
                .await?;
            for task in head.iter().filter_map(|h| TaskId::parse(h).ok()) {
                let queued: Option<u64> = self
                    .pool
                    .query_idempotent(redis::cmd("HGET").arg(p.task(&task)).arg("queued_ms"))
                    .await?;
                if let Some(queued) = queued {
                    oldest = oldest.max(Some(Duration::from_millis(now_ms.saturating_sub(queued))));
                }
            }
        }
        Ok(oldest)
    }

    async fn len(&self, command: &str, key: &str) -> Result<u64, QueueError> {
        Ok(self
            .pool
            .query_idempotent(redis::cmd(command).arg(key))
            .await?)
    }

    /// The queue's counters (`submitted_jobs`, `completed`, `retried`, `reaped`,
    /// `stale_writes`, …) summed over partitions.
    pub async fn stats(&self) -> Result<HashMap<String, u64>, QueueError> {
        let mut total: HashMap<String, u64> = HashMap::new();
        for p in &self.partitions {
            let fields: HashMap<String, i64> = self
                .pool
                .query_idempotent(redis::cmd("HGETALL").arg(p.stats()))
                .await?;
            for (name, value) in fields {
                *total.entry(name).or_default() += u64::try_from(value).unwrap_or(0);
            }
        }
        Ok(total)
    }
}

pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub(super) fn first(reply: &[String]) -> &str {
    reply.first().map_or("", String::as_str)
}

pub(super) fn number(reply: &[String], i: usize) -> Result<u64, QueueError> {
    reply
        .get(i)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| QueueError::protocol(format!("expected a number at {i} in {reply:?}")))
}

fn parse_claim(reply: &[String]) -> Result<ClaimedTask, QueueError> {
    let bad = || QueueError::protocol(format!("claim: {reply:?}"));
    let [id, token, payload, start, end, attempts, stalls, waited] = reply else {
        return Err(bad());
    };
    let num = |s: &String| s.parse::<u64>().map_err(|_| bad());
    Ok(ClaimedTask {
        id: TaskId::parse(id).map_err(|_| bad())?,
        token: FencingToken(num(token)?),
        payload: TaskPayload::new(payload.as_str()),
        rows: RowRange {
            start: num(start)?,
            end: num(end)?,
        },
        attempts: u32::try_from(num(attempts)?).map_err(|_| bad())?,
        stalls: u32::try_from(num(stalls)?).map_err(|_| bad())?,
        waited: Duration::from_millis(num(waited)?),
    })
}

fn parse_job(id: &JobId, f: &HashMap<String, String>) -> Result<JobStatus, QueueError> {
    let bad = |field: &str| {
        QueueError::protocol(format!("job {id}: field {field} is missing or invalid"))
    };
    let num = |field: &str| -> Result<u64, QueueError> {
        f.get(field)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(field))
    };
    let opt = |field: &str| f.get(field).and_then(|s| s.parse().ok());
    let state = f
        .get("state")
        .and_then(|s| JobState::parse(s))
        .ok_or_else(|| bad("state"))?;
    let error = f.get("error_code").map(|code| JobError {
        code: code.clone(),
        message: f.get("error").cloned().unwrap_or_default(),
    });
    Ok(JobStatus {
        id: id.clone(),
        state,
        rows_total: num("rows_total")?,
        rows_done: num("rows_done")?,
        chunks_total: num("chunks_total")?,
        chunks_done: num("chunks_done")?,
        created_ms: num("created_ms")?,
        started_ms: opt("started_ms"),
        finished_ms: opt("finished_ms"),
        expired_ms: opt("expired_ms"),
        error,
        payload: TaskPayload::new(f.get("payload").map_or("", String::as_str)),
    })
}
