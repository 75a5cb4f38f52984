//! The Redis a job suite runs on: one redis-server by default, or a 6-process loopback
//! cluster when `SHAPLAB_TEST_REDIS=cluster`. `make test` runs the suites that only need "a
//! Redis" both ways, so the whole integration suite, not only the queue scenarios, is known
//! to pass on a cluster. (Tests that kill or pause the one server keep `TestRedis`; their
//! cluster counterparts are the `cluster_*.rs` suites.)

use super::cluster::TestCluster;
use super::{TestRedis, settings};
use server::config::RedisSettings;
use std::time::Duration;

/// The environment variable that selects the backend.
pub const SWITCH: &str = "SHAPLAB_TEST_REDIS";

pub enum Backend {
    Single(TestRedis),
    Cluster(TestCluster),
}

impl Backend {
    /// One redis-server, or a cluster if `SHAPLAB_TEST_REDIS=cluster` (anything else set
    /// there is a mistake, and says so rather than silently testing the single server).
    /// Starting a cluster blocks the calling thread for a few seconds, before the app runs.
    pub fn start() -> Self {
        match std::env::var(SWITCH).as_deref() {
            Err(_) | Ok("" | "single") => Backend::Single(TestRedis::start()),
            Ok("cluster") => Backend::Cluster(TestCluster::start()),
            Ok(other) => panic!("{SWITCH}={other:?}: expected \"single\" or \"cluster\""),
        }
    }

    /// `REDIS_URL` for it (every node, for a cluster).
    pub fn url(&self) -> String {
        match self {
            Backend::Single(redis) => redis.url(),
            Backend::Cluster(cluster) => cluster.url(),
        }
    }

    /// Pool settings: a 1 s `REDIS_TIMEOUT`, 2 s on a cluster (a call may first refresh the
    /// slot map, as in the other cluster suites).
    pub fn settings(&self) -> RedisSettings {
        let timeout = match self {
            Backend::Single(_) => Duration::from_secs(1),
            Backend::Cluster(_) => Duration::from_secs(2),
        };
        settings(&self.url(), timeout)
    }

    /// The one server, for a test that pauses or kills it (built as `Backend::Single`).
    pub fn single(&self) -> &TestRedis {
        match self {
            Backend::Single(redis) => redis,
            Backend::Cluster(_) => panic!("this test needs the single-server backend"),
        }
    }
}
