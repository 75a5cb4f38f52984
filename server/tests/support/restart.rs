//! Redis deployments that crash and come back on the same ports, so the restart scenarios
//! (QUEUE.md 15, 16 and 19) run one body on a single redis-server and on a whole loopback
//! cluster.
//!
//! - [`AofRedis`]: one server with `appendfsync always`; comes back with every acknowledged
//!   write.
//! - [`TestRedis`]: one server without persistence; comes back empty.
//! - [`CrashingCluster`]: every node of a 6-process cluster SIGKILLed at once; comes back
//!   from each node's AOF and `nodes.conf`, or wiped and joined into a new cluster.
//!
//! `kill` and `restart` block (processes, `redis-cli`); async bodies call them through
//! `tokio::task::block_in_place` so the app under test keeps its runtime threads.

use super::cluster::{NodeOptions, TestCluster};
use super::{AofRedis, TestRedis, settings};
use server::config::RedisSettings;
use server::queue::{Queue, QueueConfig};
use server::redis::RedisPool;
use std::sync::Arc;
use std::time::Duration;

/// A Redis deployment a test can crash and restart.
pub trait Crashable: Send {
    /// `REDIS_URL` for the apps and queues under test.
    fn url(&self) -> String;
    /// The `REDIS_TIMEOUT` its clients use: 1 s, 2 s on a cluster (as in the other cluster
    /// suites: a call may first have to refresh the slot map).
    fn timeout(&self) -> Duration;
    /// SIGKILLs every redis-server process of it and waits until their ports are closed.
    fn kill(&mut self);
    /// Starts it again on the same ports, with its data or empty (see the module map), and
    /// returns once it serves.
    fn restart(&mut self);
    /// Whether [`restart`](Self::restart) brings the data back.
    fn keeps_data(&self) -> bool;

    /// Settings for a pool on it.
    fn settings(&self) -> RedisSettings {
        settings(&self.url(), self.timeout())
    }

    /// A queue with test timings (1 s lease) on a pool of its own, as another process
    /// would have.
    fn queue(&self) -> Arc<Queue> {
        let url = self.url();
        let pool = RedisPool::new(&url, &self.settings()).expect("valid URL");
        Arc::new(Queue::new(Arc::new(pool), QueueConfig::for_tests()))
    }
}

impl Crashable for AofRedis {
    fn url(&self) -> String {
        AofRedis::url(self)
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn kill(&mut self) {
        AofRedis::kill(self);
    }
    fn restart(&mut self) {
        AofRedis::restart(self);
    }
    fn keeps_data(&self) -> bool {
        true
    }
}

impl Crashable for TestRedis {
    fn url(&self) -> String {
        TestRedis::url(self)
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn kill(&mut self) {
        TestRedis::kill(self);
    }
    fn restart(&mut self) {
        TestRedis::restart(self);
    }
    fn keeps_data(&self) -> bool {
        false
    }
}

/// A whole loopback cluster that crashes at once.
pub struct CrashingCluster {
    pub cluster: TestCluster,
    keep_data: bool,
}

impl CrashingCluster {
    /// A cluster whose nodes fsync every write (nothing acknowledged is lost to a SIGKILL)
    /// and come back from their AOF.
    pub async fn durable() -> Self {
        let cluster = tokio::task::spawn_blocking(|| {
            let options = NodeOptions {
                fsync_always: true,
                ..NodeOptions::default()
            };
            TestCluster::start_with(TestCluster::free_ports(), options)
        })
        .await
        .expect("the cluster starts");
        CrashingCluster {
            cluster,
            keep_data: true,
        }
    }

    /// A cluster that comes back empty: new nodes on the same ports, joined anew.
    pub async fn forgetful() -> Self {
        CrashingCluster {
            cluster: super::cluster::start_cluster().await,
            keep_data: false,
        }
    }
}

impl Crashable for CrashingCluster {
    fn url(&self) -> String {
        self.cluster.url()
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(2)
    }
    fn kill(&mut self) {
        self.cluster.kill_all();
    }
    fn restart(&mut self) {
        self.cluster.restart_all(self.keep_data);
    }
    fn keeps_data(&self) -> bool {
        self.keep_data
    }
}
