//! `shaplab user add|remove|list` and `shaplab key create|list|revoke`: accounts and API keys
//! straight in Redis (the one named by REDIS_URL; without it, the private Redis of the `serve`
//! using the same data directory, started for the command if that server is not running).

use crate::auth::AuthStore;
use crate::auth::users::UserError;
use crate::cli::{KeyAction, KeyArgs, UserAction, UserArgs};
use crate::config::{ConfigError, RedisSettings, redact_url};
use crate::queue::{QueueConfig, QueueError};
use crate::redis::{PrivateRedis, PrivateRedisError, RedisPool};
use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum AccountsError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    PrivateRedis(#[from] PrivateRedisError),
    #[error("REDIS_URL={url} is not a usable Redis URL ({source})")]
    RedisUrl {
        url: String,
        source: redis::RedisError,
    },
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    Redis(#[from] QueueError),
    #[error(
        "no password on standard input: pipe it in, e.g. `echo 'a long password' | shaplab user add NAME`"
    )]
    NoPassword,
    #[error("there is no user {0:?}")]
    NoSuchUser(String),
    #[error("user {0} has no key {1:?}")]
    NoSuchKey(String, String),
}

pub async fn user(args: UserArgs) -> Result<ExitCode, AccountsError> {
    // Read before connecting: a missing password must not start a private Redis.
    let password = match &args.action {
        UserAction::Add { .. } => Some(read_password()?),
        _ => None,
    };
    with_store(&args.data_dir, |store| async move {
        match args.action {
            UserAction::Add { name, admin } => {
                store
                    .add_user(&name, &password.unwrap_or_default(), admin)
                    .await?;
                println!("added {}{name}", if admin { "admin " } else { "" });
            }
            UserAction::Remove { name } => {
                if !store.remove_user(&name).await? {
                    return Err(AccountsError::NoSuchUser(name));
                }
                println!("removed {name} (and ended their sessions and API keys)");
            }
            UserAction::List => {
                for a in store.users().await? {
                    println!("{}\t{}", a.name, if a.admin { "admin" } else { "user" });
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
    .await
}

pub async fn key(args: KeyArgs) -> Result<ExitCode, AccountsError> {
    with_store(&args.data_dir, |store| async move {
        match args.action {
            KeyAction::Create { user, label } => {
                if store.account(&user).await?.is_none() && !is_proxy_mode() {
                    return Err(AccountsError::NoSuchUser(user));
                }
                let key = store.create_key(&user, &label).await?;
                eprintln!(
                    "key {} for {user}; copy it now, it is not shown again:",
                    key.id
                );
                println!("{}", key.key.unwrap_or_default());
            }
            KeyAction::List { user } => {
                for k in store.keys(&user).await? {
                    println!("{}\t{}\t{}", k.id, k.created_at_ms, k.label);
                }
            }
            KeyAction::Revoke { user, id } => {
                if !store.revoke_key(&user, &id).await? {
                    return Err(AccountsError::NoSuchKey(user, id));
                }
                println!("revoked {id}");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
    .await
}

/// Proxy sign-in has no local accounts: keys are made for the names the proxy sends.
fn is_proxy_mode() -> bool {
    std::env::var("SHAPLAB_AUTH").is_ok_and(|m| m.trim().eq_ignore_ascii_case("proxy"))
}

fn read_password() -> Result<String, AccountsError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|_| AccountsError::NoPassword)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err(AccountsError::NoPassword);
    }
    Ok(password)
}

/// Runs `work` against the store of the Redis the server uses.
async fn with_store<F, Fut>(data_dir: &Path, work: F) -> Result<ExitCode, AccountsError>
where
    F: FnOnce(AuthStore) -> Fut,
    Fut: std::future::Future<Output = Result<ExitCode, AccountsError>>,
{
    let settings = RedisSettings::from_env()?;
    let (url, started) = match (&settings.url, PrivateRedis::running(data_dir).await) {
        (Some(url), _) => (url.clone(), None),
        (None, Some(url)) => (url, None),
        (None, None) => {
            let redis = PrivateRedis::start(data_dir).await?;
            (redis.url(), Some(redis))
        }
    };
    let pool = RedisPool::new(&url, &settings).map_err(|source| AccountsError::RedisUrl {
        url: redact_url(&url),
        source,
    })?;
    let store = AuthStore::new(Arc::new(pool), &QueueConfig::from_env()?.prefix);
    let outcome = work(store).await;
    if let Some(redis) = started {
        redis.stop().await;
    }
    outcome
}
