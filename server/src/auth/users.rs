//! Local accounts (`SHAPLAB_AUTH=users`): argon2id password hashes, and the lockout that stops
//! password guessing (five failures lock the name for a quarter of an hour).

use super::store::{AuthStore, cmd, valid_name};
use crate::queue::QueueError;
use crate::redis::pool::now_ms;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::collections::HashMap;
use std::time::Duration;
use thiserror::Error;

/// Failed sign-ins that lock a name.
pub const MAX_FAILURES: u64 = 5;
/// How long a locked name stays locked (from its first failure).
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);

/// An account as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub admin: bool,
    pub created_ms: u64,
}

#[derive(Debug, Error)]
pub enum UserError {
    #[error("{0:?} is not a usable user name: use letters, digits and . _ @ + - (at most 128)")]
    BadName(String),
    #[error("the password is too short: use at least 8 characters")]
    ShortPassword,
    #[error("user {0:?} already exists; remove it first to set a new password")]
    Exists(String),
    #[error("the password could not be hashed: {0}")]
    Hash(String),
    #[error(transparent)]
    Redis(#[from] QueueError),
}

/// What a sign-in attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInCheck {
    Ok(Account),
    Wrong,
    /// Too many failures: try again after this long.
    Locked(Duration),
}

/// An argon2id PHC string for `password` (a fresh random salt each time).
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::encode_b64(&super::tokens::random_bytes::<16>())?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Whether `password` matches the stored PHC string (a corrupt string never matches).
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

impl AuthStore {
    pub async fn add_user(&self, name: &str, password: &str, admin: bool) -> Result<(), UserError> {
        if !valid_name(name) {
            return Err(UserError::BadName(name.into()));
        }
        if password.chars().count() < 8 {
            return Err(UserError::ShortPassword);
        }
        let owned = password.to_owned();
        let phc = tokio::task::spawn_blocking(move || hash_password(&owned))
            .await
            .map_err(|e| UserError::Hash(e.to_string()))?
            .map_err(|e| UserError::Hash(e.to_string()))?;
        let key = self.key("user", name);
        let created: bool = self.query(&cmd("HSETNX", [&key, "hash", &phc])).await?;
        if !created {
            return Err(UserError::Exists(name.into()));
        }
        let now = now_ms().to_string();
        let admin = if admin { "1" } else { "0" };
        self.query::<()>(&cmd("HSET", [&key, "admin", admin, "created_ms", &now]))
            .await?;
        self.query::<()>(&cmd("SADD", [&self.users_key(), name]))
            .await?;
        Ok(())
    }

    /// Removes an account and ends its sessions and keys; false if there was none.
    pub async fn remove_user(&self, name: &str) -> Result<bool, QueueError> {
        let removed: u64 = self.query(&cmd("DEL", [&self.key("user", name)])).await?;
        self.query::<()>(&cmd("SREM", [&self.users_key(), name]))
            .await?;
        for (set, kind) in [("sessions", "session"), ("keys", "key")] {
            let set = self.key(set, name);
            let digests: Vec<String> = self.query(&cmd("SMEMBERS", [&set])).await?;
            for d in digests {
                self.query::<()>(&cmd("DEL", [&self.key(kind, &d)])).await?;
            }
            self.query::<()>(&cmd("DEL", [&set])).await?;
        }
        Ok(removed > 0)
    }

    pub async fn account(&self, name: &str) -> Result<Option<Account>, QueueError> {
        let fields: HashMap<String, String> = self
            .query(&cmd("HGETALL", [&self.key("user", name)]))
            .await?;
        if fields.is_empty() {
            return Ok(None);
        }
        Ok(Some(Account {
            name: name.into(),
            admin: fields.get("admin").is_some_and(|a| a == "1"),
            created_ms: fields
                .get("created_ms")
                .and_then(|c| c.parse().ok())
                .unwrap_or(0),
        }))
    }

    pub async fn users(&self) -> Result<Vec<Account>, QueueError> {
        let mut names: Vec<String> = self.query(&cmd("SMEMBERS", [&self.users_key()])).await?;
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            if let Some(a) = self.account(&name).await? {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// Checks a password, counting failures per name: the sixth attempt within the window is
    /// refused without looking at the password, so guessing gains nothing from speed.
    pub async fn check_sign_in(
        &self,
        name: &str,
        password: &str,
    ) -> Result<SignInCheck, QueueError> {
        let fails_key = self.key("fails", name);
        let fails: Option<u64> = self.query(&cmd("GET", [&fails_key])).await?;
        if fails.unwrap_or(0) >= MAX_FAILURES {
            let ttl: i64 = self.query(&cmd("TTL", [&fails_key])).await?;
            return Ok(SignInCheck::Locked(Duration::from_secs(ttl.max(1) as u64)));
        }
        let phc: Option<String> = if valid_name(name) {
            self.query(&cmd("HGET", [&self.key("user", name), "hash"]))
                .await?
        } else {
            None
        };
        // An unknown name costs a hash too, so timing does not tell which names exist.
        let stored = phc.clone().unwrap_or_else(|| DUMMY_HASH.into());
        let given = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || verify_password(&given, &stored))
            .await
            .unwrap_or(false)
            && phc.is_some();
        if ok && let Some(account) = self.account(name).await? {
            self.query::<()>(&cmd("DEL", [&fails_key])).await?;
            return Ok(SignInCheck::Ok(account));
        }
        let n: u64 = self.query(&cmd("INCR", [&fails_key])).await?;
        if n == 1 {
            let secs = LOCKOUT.as_secs().to_string();
            self.query::<()>(&cmd("EXPIRE", [&fails_key, &secs]))
                .await?;
        }
        Ok(SignInCheck::Wrong)
    }
}

/// The hash of a password nobody has, checked when the name is unknown.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2hhcGxhYmR1bW15c2FsdA$2m8dPkU0X4Cq5wXxbSdmCMY8t7t9O9VPyP0P2cB1hXQ";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = hash_password("correct horse").unwrap();
        let b = hash_password("correct horse").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &a));
        assert!(!verify_password("wrong horse", &a));
        assert!(!verify_password("correct horse", "not a hash"));
        assert!(!verify_password("anything", DUMMY_HASH));
    }
}
