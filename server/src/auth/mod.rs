//! Who is asking, and what they may see: sign-in (`SHAPLAB_AUTH`), owners, share links, API
//! keys, CSRF, rate limits and the security headers.
//!
//! Every request passes [`guard::guard`], which identifies the caller ([`Auth::identify`]),
//! refuses what they may not do (someone else's job is 404, as if it did not exist), and
//! stamps the response with the security headers. Handlers read the [`Identity`] from the
//! request's extensions to stamp owners on what they create.
//!
//! - [`config`]: `SHAPLAB_AUTH` (`none` | `users` | `proxy`) and its settings.
//! - [`store`]: the Redis keys (users, sessions, keys, shares, job lists) and their layout.
//! - [`users`], [`sessions`], [`keys`], [`shares`], [`index`]: one kind of record each.
//! - [`tokens`]: random secrets and their digests. [`cookies`]: reading and setting cookies.
//! - [`rate`]: the per-client API rate limit. [`guard`]: the middleware.

pub mod config;
pub mod cookies;
pub mod guard;
pub mod index;
pub mod keys;
pub mod rate;
pub mod sessions;
pub mod shares;
pub mod store;
pub mod tokens;
pub mod users;

pub use config::{AuthConfig, AuthMode};
pub use store::AuthStore;

use crate::queue::QueueError;
use crate::redis::RedisPool;
use axum::http::{HeaderMap, header};
use rate::RateLimiter;
use std::net::IpAddr;
use std::sync::Arc;

/// The owner name every job and upload gets when sign-in is off.
pub const LOCAL_USER: &str = "local";

/// How a request was identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `SHAPLAB_AUTH=none`: everyone is the local admin.
    None,
    Session,
    Key,
    Proxy,
    /// Nobody signed in (a share link's viewer, or someone to send to the sign-in page).
    Anonymous,
}

/// The caller, as the guard established it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: Option<String>,
    pub admin: bool,
    pub via: Via,
    /// The job a share-link cookie opens, if the browser holds a live one.
    pub share_job: Option<String>,
}

impl Identity {
    pub fn anonymous() -> Self {
        Identity {
            user: None,
            admin: false,
            via: Via::Anonymous,
            share_job: None,
        }
    }

    /// Whether this caller owns (or, as admin, may see) a thing owned by `owner`. Things
    /// from before owners existed (`None`) are the admin's.
    pub fn may_see(&self, owner: Option<&str>) -> bool {
        self.admin || (self.user.is_some() && self.user.as_deref() == owner)
    }

    /// Whether the request rides on a cookie the browser sends by itself (and so needs the
    /// CSRF check when it changes something).
    pub fn cookie_borne(&self) -> bool {
        matches!(self.via, Via::Session | Via::Proxy | Via::Anonymous)
    }

    pub fn via_str(&self) -> &'static str {
        match self.via {
            Via::None => "none",
            Via::Session => "session",
            Via::Key => "key",
            Via::Proxy => "proxy",
            Via::Anonymous if self.share_job.is_some() => "share",
            Via::Anonymous => "anonymous",
        }
    }
}

/// Why a request could not be identified.
#[derive(Debug)]
pub enum IdentifyError {
    /// An `Authorization: Bearer` key that is not (or no longer) valid.
    BadKey,
    Redis(QueueError),
}

impl From<QueueError> for IdentifyError {
    fn from(e: QueueError) -> Self {
        IdentifyError::Redis(e)
    }
}

/// Sign-in settings, records and limits, shared by the guard and the handlers.
pub struct Auth {
    pub config: AuthConfig,
    pub store: AuthStore,
    pub limiter: RateLimiter,
}

impl Auth {
    pub fn new(config: AuthConfig, pool: Arc<RedisPool>, queue_prefix: &str) -> Self {
        Auth {
            limiter: RateLimiter::new(config.rate_per_minute),
            store: AuthStore::new(pool, queue_prefix),
            config,
        }
    }

    fn is_admin_name(&self, user: &str) -> bool {
        self.config.admins.iter().any(|a| a == user)
    }

    /// Identifies the caller: an API key first (scripts), then the mode's own way.
    pub async fn identify(
        &self,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
    ) -> Result<Identity, IdentifyError> {
        let share_job = match cookies::get(headers, cookies::SHARE) {
            Some(token) => self.store.share_job(token).await?,
            None => None,
        };
        let with = |user: String, admin: bool, via: Via| Identity {
            user: Some(user),
            admin,
            via,
            share_job: share_job.clone(),
        };
        if let Some(secret) = bearer(headers) {
            let Some(user) = self.store.key_user(secret).await? else {
                return Err(IdentifyError::BadKey);
            };
            let admin = self.is_admin_name(&user)
                || self.store.account(&user).await?.is_some_and(|a| a.admin);
            return Ok(with(user, admin, Via::Key));
        }
        match self.config.mode {
            AuthMode::None => Ok(with(LOCAL_USER.into(), true, Via::None)),
            AuthMode::Users => {
                if let Some(token) = cookies::get(headers, cookies::SESSION)
                    && let Some(user) = self.store.session_user(token).await?
                    && let Some(account) = self.store.account(&user).await?
                {
                    let admin = account.admin || self.is_admin_name(&user);
                    return Ok(with(user, admin, Via::Session));
                }
                Ok(Identity {
                    share_job,
                    ..Identity::anonymous()
                })
            }
            AuthMode::Proxy => {
                let trusted = peer
                    .is_some_and(|ip| self.config.trusted_proxies.iter().any(|n| n.contains(ip)));
                let named = [
                    &self.config.proxy_user_header,
                    &self.config.proxy_email_header,
                ]
                .into_iter()
                .find_map(|h| headers.get(h.as_str()).and_then(|v| v.to_str().ok()))
                .map(str::trim)
                .filter(|n| store::valid_name(n));
                match named.filter(|_| trusted) {
                    Some(user) => Ok(with(user.into(), self.is_admin_name(user), Via::Proxy)),
                    None => Ok(Identity {
                        share_job,
                        ..Identity::anonymous()
                    }),
                }
            }
        }
    }
}

/// The token of an `Authorization: Bearer …` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}
