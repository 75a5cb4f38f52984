//! API keys for scripts (`Authorization: Bearer shk_…`): made on the page or with
//! `shaplab key create`, shown once, stored as a digest, revoked by id (the digest's first 16
//! hex digits, which reveal nothing of the key).

use super::store::{AuthStore, cmd};
use super::tokens::{digest, new_token};
use crate::queue::QueueError;
use crate::redis::pool::now_ms;
use app::wire_team::ApiKey;
use std::collections::HashMap;

/// What every key starts with.
pub const KEY_PREFIX: &str = "shk_";

fn key_id(digest: &str) -> String {
    digest.chars().take(16).collect()
}

impl AuthStore {
    /// Makes a key for `user`; the answer is the only place the secret ever appears.
    pub async fn create_key(&self, user: &str, label: &str) -> Result<ApiKey, QueueError> {
        let secret = new_token(KEY_PREFIX);
        let d = digest(&secret);
        let created = now_ms();
        let label: String = label.trim().chars().take(100).collect();
        let key = self.key("key", &d);
        let created_s = created.to_string();
        self.query::<()>(&cmd(
            "HSET",
            [
                &key,
                "user",
                user,
                "label",
                &label,
                "created_ms",
                &created_s,
            ],
        ))
        .await?;
        self.query::<()>(&cmd("SADD", [&self.key("keys", user), &d]))
            .await?;
        Ok(ApiKey {
            id: key_id(&d),
            label,
            created_at_ms: created,
            key: Some(secret),
        })
    }

    /// The user's keys, oldest first, without secrets.
    pub async fn keys(&self, user: &str) -> Result<Vec<ApiKey>, QueueError> {
        let digests: Vec<String> = self
            .query(&cmd("SMEMBERS", [&self.key("keys", user)]))
            .await?;
        let mut out = Vec::new();
        for d in digests {
            let f: HashMap<String, String> =
                self.query(&cmd("HGETALL", [&self.key("key", &d)])).await?;
            if f.is_empty() {
                continue;
            }
            out.push(ApiKey {
                id: key_id(&d),
                label: f.get("label").cloned().unwrap_or_default(),
                created_at_ms: f
                    .get("created_ms")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0),
                key: None,
            });
        }
        out.sort_by_key(|k| k.created_at_ms);
        Ok(out)
    }

    /// Revokes the user's key with this id; false if they have none such.
    pub async fn revoke_key(&self, user: &str, id: &str) -> Result<bool, QueueError> {
        let set = self.key("keys", user);
        let digests: Vec<String> = self.query(&cmd("SMEMBERS", [&set])).await?;
        let Some(d) = digests.into_iter().find(|d| key_id(d) == id) else {
            return Ok(false);
        };
        self.query::<()>(&cmd("DEL", [&self.key("key", &d)]))
            .await?;
        self.query::<()>(&cmd("SREM", [&set, &d])).await?;
        Ok(true)
    }

    /// Whose key this is (`None`: not a key, or revoked).
    pub async fn key_user(&self, secret: &str) -> Result<Option<String>, QueueError> {
        if !secret.starts_with(KEY_PREFIX) {
            return Ok(None);
        }
        self.query(&cmd("HGET", [&self.key("key", &digest(secret)), "user"]))
            .await
    }
}
