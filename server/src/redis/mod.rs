//! Everything about reaching Redis.
//!
//! - [`pool`]: [`RedisPool`], a few multiplexed connections with every call bounded by
//!   `REDIS_TIMEOUT` and the outcome of each call remembered for health reports.
//! - [`connection`]: the two kinds of connection behind the pool, one server
//!   (`ConnectionManager`) or a Redis Cluster (`ClusterConnection`), and the cluster routes we
//!   choose for keyless commands (`INFO`, `SCAN`).
//! - [`breaker`]: the circuit breaker that makes calls fail fast while Redis is down.
//! - [`breakers`]: which breaker guards a call: the pool's, or on a cluster its hash tag's (a
//!   failing shard's partitions fail fast, the others keep flowing).
//! - [`private`]: [`PrivateRedis`], the `redis-server` child `shaplab serve` starts when
//!   `REDIS_URL` is unset.
//! - [`probe`]: one health probe (`INFO`) turned into the `/api/health` report.
//! - [`cluster_probe`]: what the probe adds on a cluster (`CLUSTER INFO`, every primary's
//!   settings).

pub mod breaker;
pub mod breakers;
pub mod cluster_probe;
pub mod connection;
pub mod pool;
pub mod private;
pub mod probe;

pub use pool::{RedisCallError, RedisPool};
pub use private::{PrivateRedis, PrivateRedisError};
