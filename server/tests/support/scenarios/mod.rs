//! Queue scenario bodies of QUEUE.md ("The reliability bar"), each a function of where Redis
//! runs (a [`Target`](super::queue::Target), a crashable deployment or a proxied path): the
//! single-Redis suites (`queue_recovery.rs`, `queue_lifecycle.rs`, `queue_soak.rs`,
//! `queue_restart.rs`, `queue_outage.rs`) and the cluster suites (`cluster_queue.rs`,
//! `cluster_restart.rs`) call the same body, so the two can never drift apart. Every body ends
//! with the invariant check.
//!
//! # Layout
//! - [`recovery`]: vanished and poisoned workers, zombies, graceful release, a Redis pause
//!   past the lease, a result written after a short pause (scenarios 6, 7, 8, 17, 20).
//! - [`lifecycle`]: retries, permanent errors, the dead set, cancelling a running job
//!   (scenarios 9, 10, 11, 13), a full queue or Redis refusing submits (24, the queue's part).
//! - [`soak`]: the seeded chaos soak (scenario 23).
//! - [`restart`]: Redis killed and restarted from its AOF or empty, under queues and idle
//!   workers (scenarios 16, 19 and 15's queue part), on a [`Crashable`] deployment.
//! - [`outage`]: the HTTP API through a restart empty and a blackholed network path
//!   (scenarios 15 and 18).
//!
//! [`Crashable`]: super::restart::Crashable

pub mod lifecycle;
pub mod outage;
pub mod recovery;
pub mod restart;
pub mod soak;

use std::time::Duration;

/// The longest any scenario waits for the reaper to reach its goal.
pub const LIMIT: Duration = Duration::from_secs(6);
