//! Share links: `/s/<token>` lets whoever holds it read one job (plots, rows, downloads,
//! what-if) and nothing else, until the owner revokes it or it expires.

use super::store::{AuthStore, cmd};
use super::tokens::{digest, new_token};
use crate::queue::QueueError;
use crate::redis::pool::now_ms;
use app::wire_team::Share;
use std::collections::HashMap;

/// Longest expiry a link can be given (a year); `None` means until revoked.
pub const MAX_SHARE_HOURS: u32 = 24 * 366;

fn share_id(digest: &str) -> String {
    digest.chars().take(16).collect()
}

impl AuthStore {
    pub async fn create_share(
        &self,
        job: &str,
        owner: &str,
        expires_in_hours: Option<u32>,
    ) -> Result<Share, QueueError> {
        let token = new_token("");
        let d = digest(&token);
        let created = now_ms();
        let expires =
            expires_in_hours.map(|h| created + u64::from(h.clamp(1, MAX_SHARE_HOURS)) * 3_600_000);
        let key = self.key("share", &d);
        let created_s = created.to_string();
        let expires_s = expires.map_or(String::new(), |e| e.to_string());
        self.query::<()>(&cmd(
            "HSET",
            [
                &key,
                "job",
                job,
                "owner",
                owner,
                "created_ms",
                &created_s,
                "expires_ms",
                &expires_s,
            ],
        ))
        .await?;
        if let Some(e) = expires {
            self.query::<()>(&cmd("PEXPIREAT", [&key, &e.to_string()]))
                .await?;
        }
        self.query::<()>(&cmd("SADD", [&self.key("shares", job), &d]))
            .await?;
        Ok(Share {
            id: share_id(&d),
            job: job.into(),
            url: Some(format!("/s/{token}")),
            created_at_ms: created,
            expires_at_ms: expires,
        })
    }

    /// The job's live links, oldest first (expired ones are dropped from the list here).
    pub async fn shares(&self, job: &str) -> Result<Vec<Share>, QueueError> {
        let set = self.key("shares", job);
        let digests: Vec<String> = self.query(&cmd("SMEMBERS", [&set])).await?;
        let mut out = Vec::new();
        for d in digests {
            let f: HashMap<String, String> = self
                .query(&cmd("HGETALL", [&self.key("share", &d)]))
                .await?;
            if f.is_empty() {
                self.query::<()>(&cmd("SREM", [&set, &d])).await?;
                continue;
            }
            out.push(Share {
                id: share_id(&d),
                job: job.into(),
                url: None,
                created_at_ms: f
                    .get("created_ms")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0),
                expires_at_ms: f.get("expires_ms").and_then(|c| c.parse().ok()),
            });
        }
        out.sort_by_key(|s| s.created_at_ms);
        Ok(out)
    }

    pub async fn revoke_share(&self, job: &str, id: &str) -> Result<bool, QueueError> {
        let set = self.key("shares", job);
        let digests: Vec<String> = self.query(&cmd("SMEMBERS", [&set])).await?;
        let Some(d) = digests.into_iter().find(|d| share_id(d) == id) else {
            return Ok(false);
        };
        self.query::<()>(&cmd("DEL", [&self.key("share", &d)]))
            .await?;
        self.query::<()>(&cmd("SREM", [&set, &d])).await?;
        Ok(true)
    }

    /// The job a link opens (`None`: unknown, revoked or expired).
    pub async fn share_job(&self, token: &str) -> Result<Option<String>, QueueError> {
        let f: HashMap<String, String> = self
            .query(&cmd("HGETALL", [&self.key("share", &digest(token))]))
            .await?;
        // The Redis TTL removes an expired link; the check covers the moment before it does.
        let live = f
            .get("expires_ms")
            .and_then(|e| e.parse::<u64>().ok())
            .is_none_or(|e| e > now_ms());
        Ok(f.get("job").filter(|_| live).cloned())
    }

    /// Revokes every link to a deleted job.
    pub async fn drop_shares(&self, job: &str) -> Result<(), QueueError> {
        let set = self.key("shares", job);
        let digests: Vec<String> = self.query(&cmd("SMEMBERS", [&set])).await?;
        for d in digests {
            self.query::<()>(&cmd("DEL", [&self.key("share", &d)]))
                .await?;
        }
        self.query::<()>(&cmd("DEL", [&set])).await
    }
}
