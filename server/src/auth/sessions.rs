//! Browser sessions (`SHAPLAB_AUTH=users`): a random id in an httpOnly cookie, its digest in
//! Redis with the user's name, gone after [`SESSION_TTL`] or at sign-out.

use super::store::{AuthStore, SESSION_TTL, cmd};
use super::tokens::{digest, new_token};
use crate::queue::QueueError;
use crate::redis::pool::now_ms;

impl AuthStore {
    /// Starts a session for `user`; returns the cookie value.
    pub async fn start_session(&self, user: &str) -> Result<String, QueueError> {
        let token = new_token("");
        let d = digest(&token);
        let key = self.key("session", &d);
        let now = now_ms().to_string();
        self.query::<()>(&cmd("HSET", [&key, "user", user, "created_ms", &now]))
            .await?;
        let ttl = SESSION_TTL.as_secs().to_string();
        self.query::<()>(&cmd("EXPIRE", [&key, &ttl])).await?;
        let set = self.key("sessions", user);
        self.query::<()>(&cmd("SADD", [&set, &d])).await?;
        self.query::<()>(&cmd("EXPIRE", [&set, &ttl])).await?;
        Ok(token)
    }

    /// The user a session cookie belongs to (`None`: unknown, ended or expired).
    pub async fn session_user(&self, token: &str) -> Result<Option<String>, QueueError> {
        self.query(&cmd("HGET", [&self.key("session", &digest(token)), "user"]))
            .await
    }

    pub async fn end_session(&self, token: &str) -> Result<(), QueueError> {
        let d = digest(token);
        if let Some(user) = self.session_user(token).await? {
            self.query::<()>(&cmd("SREM", [&self.key("sessions", &user), &d]))
                .await?;
        }
        self.query::<()>(&cmd("DEL", [&self.key("session", &d)]))
            .await
    }
}
