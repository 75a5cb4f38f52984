//! The queue's side of `RESULT_TTL`: finding jobs whose terminal state is older than the TTL
//! and turning them into tombstones (`lua/expire_results.lua`, `lua/forget_job.lua`). What
//! the results are and how they are deleted is [`crate::jobs::expiry`]'s business.

use super::client::{Queue, first, millis};
use super::error::QueueError;
use super::ids::JobId;
use super::scripts;
use super::types::TaskPayload;
use std::time::Duration;

impl Queue {
    /// Marks up to `limit` jobs per partition whose terminal state is older than `ttl` as
    /// expired (see `lua/expire_results.lua`) and returns them with their payloads, so the
    /// caller can delete their result blobs and then [`forget_job`](Self::forget_job) them.
    /// Jobs marked earlier whose blobs were not deleted yet come back again.
    pub async fn expire_results(
        &self,
        ttl: Duration,
        limit: u32,
    ) -> Result<Vec<(JobId, TaskPayload)>, QueueError> {
        let mut out = Vec::new();
        for p in self.partitions() {
            let reply = self
                .call(&scripts::expire_results(p, millis(ttl), limit.max(1)))
                .await?;
            for pair in reply.chunks(2) {
                let [id, payload] = pair else {
                    return Err(QueueError::protocol(format!("expire_results: {reply:?}")));
                };
                let id = JobId::parse(id)
                    .map_err(|_| QueueError::protocol(format!("expire_results: job {id:?}")))?;
                out.push((id, TaskPayload::new(payload.as_str())));
            }
        }
        Ok(out)
    }

    /// Ends an expired job's sweep: it leaves the finished set and its tombstone is dropped
    /// by Redis after `tombstone` (from then on the job is unknown).
    pub async fn forget_job(&self, id: &JobId, tombstone: Duration) -> Result<(), QueueError> {
        let p = self.partition_of(id);
        let reply = self
            .call(&scripts::forget_job(&p, id, millis(tombstone).max(1)))
            .await?;
        match first(&reply) {
            "forgotten" | "not_expired" => Ok(()),
            _ => Err(QueueError::protocol(format!("forget_job: {reply:?}"))),
        }
    }
}
