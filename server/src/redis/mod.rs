//! Everything about reaching Redis.
//!
//! - [`pool`]: [`RedisPool`], a few multiplexed `ConnectionManager`s with every call bounded
//!   by `REDIS_TIMEOUT` and the outcome of each call remembered for health reports.
//! - [`breaker`]: the circuit breaker that makes calls fail fast while Redis is down.
//! - [`private`]: [`PrivateRedis`], the `redis-server` child `shaplab serve` starts when
//!   `REDIS_URL` is unset.
//! - [`probe`]: one health probe (`INFO`) turned into the `/api/health` report.

pub mod breaker;
pub mod pool;
pub mod private;
pub mod probe;

pub use pool::{RedisCallError, RedisPool};
pub use private::{PrivateRedis, PrivateRedisError};
