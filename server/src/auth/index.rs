//! Each user's list of jobs: ids by creation time, and what the list shows that the queue
//! does not keep (the name given to the job, the files' names as uploaded).

use super::store::{AuthStore, cmd};
use crate::queue::QueueError;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

/// Most jobs a list holds (older ones drop off the list; the jobs themselves expire anyway).
pub const MAX_LISTED: usize = 5_000;

/// How long a deleted job stays 404 (longer than any result or tombstone lives).
const DELETED_TTL: Duration = Duration::from_secs(60 * 24 * 3600);

/// What the list shows beside the queue's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_name: Option<String>,
}

impl AuthStore {
    /// Lists a new job (again listing a listed one changes nothing: its name stays).
    pub async fn record_job(
        &self,
        owner: &str,
        job: &str,
        created_ms: u64,
        meta: &JobMeta,
    ) -> Result<(), QueueError> {
        let list = self.key("jobs", owner);
        self.query::<()>(&cmd("ZADD", [&list, "NX", &created_ms.to_string(), job]))
            .await?;
        let json = serde_json::to_string(meta).unwrap_or_default();
        self.query::<()>(&cmd("HSETNX", [&self.key("jobmeta", owner), job, &json]))
            .await?;
        let count: usize = self.query(&cmd("ZCARD", [&list])).await?;
        if count > MAX_LISTED {
            let cut = (count - MAX_LISTED - 1).to_string();
            self.query::<()>(&cmd("ZREMRANGEBYRANK", [&list, "0", &cut]))
                .await?;
        }
        Ok(())
    }

    /// The owner's job ids, newest first, with what the list shows of each.
    pub async fn listed_jobs(&self, owner: &str) -> Result<Vec<(String, JobMeta)>, QueueError> {
        let ids: Vec<String> = self
            .query(&cmd("ZREVRANGE", [&self.key("jobs", owner), "0", "-1"]))
            .await?;
        let metas: HashMap<String, String> = self
            .query(&cmd("HGETALL", [&self.key("jobmeta", owner)]))
            .await?;
        Ok(ids
            .into_iter()
            .map(|id| {
                let meta = metas
                    .get(&id)
                    .and_then(|m| serde_json::from_str(m).ok())
                    .unwrap_or_default();
                (id, meta)
            })
            .collect())
    }

    pub async fn job_meta(&self, owner: &str, job: &str) -> Result<JobMeta, QueueError> {
        let json: Option<String> = self
            .query(&cmd("HGET", [&self.key("jobmeta", owner), job]))
            .await?;
        Ok(json
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default())
    }

    pub async fn set_job_meta(
        &self,
        owner: &str,
        job: &str,
        meta: &JobMeta,
    ) -> Result<(), QueueError> {
        let json = serde_json::to_string(meta).unwrap_or_default();
        self.query(&cmd("HSET", [&self.key("jobmeta", owner), job, &json]))
            .await
    }

    /// Takes the job off its owner's list and makes it 404 for everyone.
    pub async fn mark_deleted(&self, owner: &str, job: &str) -> Result<(), QueueError> {
        let ttl = DELETED_TTL.as_secs().to_string();
        self.query::<()>(&cmd("SET", [&self.key("deleted", job), owner, "EX", &ttl]))
            .await?;
        self.query::<()>(&cmd("ZREM", [&self.key("jobs", owner), job]))
            .await?;
        self.query::<()>(&cmd("HDEL", [&self.key("jobmeta", owner), job]))
            .await?;
        self.drop_shares(job).await
    }

    /// Notes a job as active for the owner's active-jobs limit.
    pub async fn track_active(&self, owner: &str, job: &str) -> Result<(), QueueError> {
        self.query(&cmd("SADD", [&self.key("active", owner), job]))
            .await
    }

    /// The owner's jobs that were active when last seen.
    pub async fn active_jobs(&self, owner: &str) -> Result<Vec<String>, QueueError> {
        self.query(&cmd("SMEMBERS", [&self.key("active", owner)]))
            .await
    }

    pub async fn untrack_active(&self, owner: &str, job: &str) -> Result<(), QueueError> {
        self.query(&cmd("SREM", [&self.key("active", owner), job]))
            .await
    }

    pub async fn is_deleted(&self, job: &str) -> Result<bool, QueueError> {
        self.query(&cmd("EXISTS", [&self.key("deleted", job)]))
            .await
    }
}
