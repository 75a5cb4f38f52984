//! A 6-process Redis Cluster on loopback (3 primaries, 3 replicas) for the cluster suite.
//!
//! Each node gets two free ports: its client port and its cluster bus port, set explicitly
//! with `cluster-port` (Redis 7) because the default bus port, client port + 10000, can be
//! past 65535 or taken when the client port comes from the ephemeral range. Nodes run with AOF
//! on (as production should) in their own directory, and a short `cluster-node-timeout` so the
//! cluster agrees on changes quickly. [`TestCluster::start`] returns once `redis-cli --cluster
//! create` has assigned every slot and each node reports `cluster_state:ok`; dropping it kills
//! every node (by pid) and removes the directory.
//!
//! For the crash scenarios, [`TestCluster::kill_all`] and [`TestCluster::restart_all`] take
//! the whole cluster down and bring it back on the same ports, with its data or empty; and
//! [`NodeOptions`] can make every write durable before its reply or put a proxy in front of
//! each node (clients only ever see the ports the nodes announce).
//!
//! Blocking calls (`std::process::Command`, `std::thread::sleep`): start and stop happen
//! outside the async code under test; from async tests, call the slow ones through
//! `tokio::task::spawn_blocking` or accept a short stall of the test's own thread.

use super::{accepts, free_port, wait_until};
use server::config::RedisSettings;
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Nodes in the cluster: 3 primaries, each with one replica.
const NODES: usize = 6;

/// One node's view of another, from `CLUSTER NODES`.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    pub id: String,
    pub port: u16,
    pub primary: bool,
    /// For a replica: the id of its primary.
    pub primary_id: Option<String>,
    /// Slot ranges served (primaries only), inclusive.
    pub slots: Vec<(u16, u16)>,
}

/// How the nodes run, beyond the defaults every cluster test gets.
#[derive(Debug, Clone, Default)]
pub struct NodeOptions {
    /// `appendfsync always`: every acknowledged write is on disk before the reply, so even
    /// a SIGKILL of every node loses none (scenario 16). Off by default: it costs an fsync
    /// per write and the other tests do not crash whole clusters.
    pub fsync_always: bool,
    /// The client port each node announces (`cluster-announce-port`), one per node: a
    /// proxy in front of it (scenario 18).
    pub announce: Option<Vec<u16>>,
}

/// A running loopback cluster; killed when dropped.
pub struct TestCluster {
    pub ports: Vec<u16>,
    buses: Vec<u16>,
    options: NodeOptions,
    dir: PathBuf,
    children: Vec<Child>,
}

impl TestCluster {
    /// Starts 6 nodes, joins them into 3 primaries + 3 replicas, and waits (≤ 20 s) until
    /// every node reports `cluster_state:ok`.
    pub fn start() -> Self {
        Self::start_on(Self::free_ports())
    }

    /// Client and bus ports for 6 nodes, all distinct and free right now: for a test that
    /// points a client at the cluster before it exists.
    pub fn free_ports() -> Vec<(u16, u16)> {
        let mut taken = HashSet::new();
        let mut ports = Vec::with_capacity(NODES);
        while ports.len() < NODES {
            let (port, bus) = (free_port(), free_port());
            if port != bus && !taken.contains(&port) && !taken.contains(&bus) {
                taken.insert(port);
                taken.insert(bus);
                ports.push((port, bus));
            }
        }
        ports
    }

    /// Like [`start`](Self::start), on the given (client, bus) ports.
    pub fn start_on(ports: Vec<(u16, u16)>) -> Self {
        Self::start_with(ports, NodeOptions::default())
    }

    /// Like [`start_on`](Self::start_on), with nodes run as `options` says.
    pub fn start_with(ports: Vec<(u16, u16)>, options: NodeOptions) -> Self {
        if let Some(announce) = &options.announce {
            assert_eq!(announce.len(), NODES, "one announced port per node");
        }
        let mut cluster = TestCluster {
            ports: ports.iter().map(|&(port, _)| port).collect(),
            buses: ports.iter().map(|&(_, bus)| bus).collect(),
            options,
            dir: super::temp_dir("cluster"),
            children: Vec::new(),
        };
        cluster.spawn_nodes();
        cluster.create();
        cluster
    }

    /// Starts every node's redis-server (in its own directory, which keeps `nodes.conf` and
    /// the AOF) and waits until each accepts connections.
    fn spawn_nodes(&mut self) {
        assert!(self.children.is_empty(), "the nodes are already running");
        for (i, (&port, &bus)) in self.ports.iter().zip(&self.buses).enumerate() {
            let node_dir = self.dir.join(port.to_string());
            std::fs::create_dir_all(&node_dir).expect("node directory");
            let mut command = Command::new("redis-server");
            command
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--cluster-enabled", "yes"])
                .args(["--cluster-port", &bus.to_string()])
                .arg("--cluster-config-file")
                .arg(node_dir.join("nodes.conf"))
                .args(["--cluster-node-timeout", "2000"])
                .args(["--appendonly", "yes", "--save", ""])
                .arg("--dir")
                .arg(&node_dir);
            if self.options.fsync_always {
                command.args(["--appendfsync", "always"]);
            }
            if let Some(announce) = &self.options.announce {
                // Clients learn node addresses from the cluster (CLUSTER SLOTS), so this is
                // how a proxy gets into their path; the bus between nodes stays direct.
                command
                    .args(["--cluster-announce-ip", "127.0.0.1"])
                    .args(["--cluster-announce-port", &announce[i].to_string()])
                    .args(["--cluster-announce-bus-port", &bus.to_string()]);
            }
            let child = command
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server must be installed (make test installs it)");
            self.children.push(child);
        }
        for &port in &self.ports {
            assert!(
                wait_until(Duration::from_secs(10), || accepts(port)),
                "cluster node on port {port} did not start"
            );
        }
    }

    /// Joins fresh nodes into 3 primaries with a replica each and waits (≤ 20 s) until every
    /// node reports `cluster_state:ok`.
    fn create(&self) {
        let nodes: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli must be installed");
        assert!(
            created.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        assert!(
            self.wait_ok(Duration::from_secs(20)),
            "the cluster did not reach cluster_state:ok"
        );
    }

    /// SIGKILLs every node at once, as a power cut or an OOM killer sweeping the host would,
    /// and waits until their ports are closed.
    pub fn kill_all(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.children.clear();
        for &port in &self.ports {
            wait_until(Duration::from_secs(5), || !accepts(port));
        }
    }

    /// Starts every node again on the same ports after [`kill_all`](Self::kill_all). With
    /// `keep_data`, each node reloads its `nodes.conf` (same identity, same slots) and its AOF;
    /// without, the directories are wiped and the nodes are joined into a new cluster, as an
    /// operator rebuilding a lost cluster would. Returns once the cluster is `ok` again.
    pub fn restart_all(&mut self, keep_data: bool) {
        if !self.children.is_empty() {
            self.kill_all();
        }
        if !keep_data {
            for &port in &self.ports {
                let _ = std::fs::remove_dir_all(self.dir.join(port.to_string()));
            }
        }
        self.spawn_nodes();
        if keep_data {
            assert!(
                self.wait_ok(Duration::from_secs(20)),
                "the restarted cluster did not reach cluster_state:ok"
            );
        } else {
            self.create();
        }
    }

    /// All nodes as `REDIS_URL` would list them.
    pub fn url(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// One node's URL (with `REDIS_CLUSTER=1`, a seed is enough).
    pub fn seed_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.ports[0])
    }

    /// SIGKILLs the node on `port` (no goodbye to its clients or to the other nodes) and waits
    /// until its port is closed. A killed primary's replica (if it has synced once) takes over
    /// when the others have missed it for `cluster-node-timeout` (2 s here) and held an
    /// election.
    pub fn kill(&mut self, port: u16) {
        let i = self
            .ports
            .iter()
            .position(|&p| p == port)
            .expect("a node of this cluster");
        let _ = self.children[i].kill();
        let _ = self.children[i].wait();
        wait_until(Duration::from_secs(5), || !accepts(port));
    }

    /// The process id of the node on `port` (stale once [`kill`](Self::kill)ed), for
    /// SIGSTOP/SIGCONT.
    pub fn pid(&self, port: u16) -> Option<u32> {
        let i = self.ports.iter().position(|&p| p == port)?;
        Some(self.children[i].id())
    }

    /// Runs `redis-cli -p port args…` and returns its stdout ("" when it could not run).
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Waits until every node says `cluster_state:ok` and agrees on which nodes are primaries
    /// (after a failover, a node that has not heard yet still names the old primary).
    pub fn wait_ok(&self, limit: Duration) -> bool {
        wait_until(limit, || {
            let all_ok = self.ports.iter().all(|&p| {
                self.cli(p, &["cluster", "info"])
                    .contains("cluster_state:ok")
            });
            if !all_ok {
                return false;
            }
            let views: Vec<Vec<(u16, bool)>> = self
                .ports
                .iter()
                .map(|&p| {
                    let mut view: Vec<(u16, bool)> =
                        self.nodes(p).iter().map(|n| (n.port, n.primary)).collect();
                    view.sort_unstable();
                    view
                })
                .collect();
            views[0].len() == NODES && views.iter().all(|v| *v == views[0])
        })
    }

    /// Waits until every node names `port` as the primary serving `slot` (a `CLUSTER
    /// FAILOVER` answers OK at once and completes in the background), then until the cluster
    /// is `ok` again.
    pub fn wait_primary(&self, slot: u16, port: u16, limit: Duration) -> bool {
        let moved = wait_until(limit, || {
            self.ports.iter().all(|&p| {
                self.nodes(p).iter().any(|n| {
                    n.port == port
                        && n.primary
                        && n.slots.iter().any(|&(a, b)| (a..=b).contains(&slot))
                })
            })
        });
        moved && self.wait_ok(limit)
    }

    /// `CLUSTER NODES` as seen from `port`.
    pub fn nodes(&self, port: u16) -> Vec<NodeInfo> {
        self.cli(port, &["cluster", "nodes"])
            .lines()
            .filter_map(parse_node_line)
            .collect()
    }

    /// The slot Redis Cluster hashes `key` to.
    pub fn keyslot(&self, key: &str) -> u16 {
        self.cli(self.ports[0], &["cluster", "keyslot", key])
            .trim()
            .parse()
            .expect("CLUSTER KEYSLOT answers a number")
    }

    /// The primary serving `slot` and one of its replicas, as the first node sees them.
    pub fn owner_of_slot(&self, slot: u16) -> (NodeInfo, NodeInfo) {
        let nodes = self.nodes(self.ports[0]);
        let primary = nodes
            .iter()
            .find(|n| n.primary && n.slots.iter().any(|&(a, b)| (a..=b).contains(&slot)))
            .cloned()
            .expect("every slot has a primary");
        let replica = nodes
            .iter()
            .find(|n| n.primary_id.as_deref() == Some(primary.id.as_str()))
            .cloned()
            .expect("every primary has a replica");
        (primary, replica)
    }
}

/// `<id> <ip:port@bus> <flags> <primary id|-> <ping> <pong> <epoch> <link> <slots…>`.
fn parse_node_line(line: &str) -> Option<NodeInfo> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() < 8 {
        return None;
    }
    let port = fields[1]
        .split('@')
        .next()?
        .rsplit_once(':')?
        .1
        .parse()
        .ok()?;
    let flags: Vec<&str> = fields[2].split(',').collect();
    let primary = flags.contains(&"master");
    let slots = fields[8..]
        .iter()
        // `[slot->-node]` entries are migrations in progress, not served ranges.
        .filter(|s| !s.starts_with('['))
        .filter_map(|s| match s.split_once('-') {
            Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
            None => s.parse().ok().map(|n| (n, n)),
        })
        .collect();
    Some(NodeInfo {
        id: fields[0].to_owned(),
        port,
        primary,
        primary_id: (fields[3] != "-").then(|| fields[3].to_owned()),
        slots,
    })
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Settings for a cluster: a longer timeout than the single-server suites (a call that lands
/// on a slot mid-failover waits for the cluster to agree), `cluster` for a seed-only URL.
pub fn cluster_settings(url: &str, cluster: bool) -> RedisSettings {
    RedisSettings {
        cluster,
        ..super::settings(url, Duration::from_secs(2))
    }
}

/// Starts a cluster off the async runtime's threads (it takes a few seconds of blocking
/// process calls).
pub async fn start_cluster() -> TestCluster {
    tokio::task::spawn_blocking(TestCluster::start)
        .await
        .expect("the cluster starts")
}

/// Starts a cluster on ports chosen beforehand (see [`TestCluster::free_ports`]).
pub async fn start_cluster_on(ports: Vec<(u16, u16)>) -> TestCluster {
    tokio::task::spawn_blocking(move || TestCluster::start_on(ports))
        .await
        .expect("the cluster starts")
}
