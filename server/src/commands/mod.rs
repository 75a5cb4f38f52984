//! The subcommands, end to end.
//!
//! - [`serve`]: web app + API (and the private Redis when `REDIS_URL` is unset).
//! - [`worker`]: workers only, for more compute on this or other machines.
//! - [`check_redis`]: the deployment check of the configured Redis.
//! - [`requeue_dead`]: dead-letter tasks back to the queue.
//! - [`accounts`]: `user add|remove|list` and `key create|list|revoke`.

pub mod accounts;
pub mod check_redis;
pub mod requeue_dead;
pub mod serve;
pub mod worker;
