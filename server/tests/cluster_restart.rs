//! QUEUE.md's crash and network scenarios on the loopback Redis Cluster, each with its own
//! 6-process cluster and the same body as the single-Redis suites (`queue_restart.rs`,
//! `queue_outage.rs`):
//!
//! - 16: every node SIGKILLed (nodes fsync each write) and restarted from its AOF and
//!   `nodes.conf`: no acknowledged job lost, a live lease survives the reaper's grace;
//! - 15 and 19: every node killed and the cluster rebuilt empty on the same ports: idle
//!   workers consume again within 5 s, the app answers 404 for the vanished job and runs a
//!   new one, all without restarting the process;
//! - 18: a proxy in front of every node (the nodes announce the proxies' ports, so clients
//!   only ever reach them) turns into a blackhole while a job runs: 503s within
//!   `REDIS_TIMEOUT`, connections rebuilt, the job completes exactly once.

mod support;

use support::cluster::{NodeOptions, TestCluster, cluster_settings};
use support::proxy::Proxy;
use support::restart::CrashingCluster;
use support::scenarios::{outage, restart};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_cluster_killed_and_restarted_from_aof_loses_no_acknowledged_job() {
    let mut cluster = CrashingCluster::durable().await;
    restart::a_crash_loses_no_acknowledged_job_and_live_leases_survive(&mut cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_workers_consume_again_within_five_seconds_after_the_cluster_restarts_empty() {
    let mut cluster = CrashingCluster::forgetful().await;
    restart::idle_workers_consume_again_after_an_empty_restart(&mut cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_cluster_restarts_empty_the_app_recovers_and_a_vanished_job_is_404() {
    let mut cluster = CrashingCluster::forgetful().await;
    outage::after_an_empty_restart_the_app_recovers_and_a_vanished_job_is_404(&mut cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blackholed_path_to_the_cluster_is_rebuilt_and_the_running_job_completes_once() {
    let ports = TestCluster::free_ports();
    let proxies: Vec<Proxy> = ports.iter().map(|&(port, _)| Proxy::start(port)).collect();
    let options = NodeOptions {
        announce: Some(proxies.iter().map(|p| p.port).collect()),
        ..NodeOptions::default()
    };
    let cluster = tokio::task::spawn_blocking(move || TestCluster::start_with(ports, options))
        .await
        .expect("the cluster starts");
    // Every address the cluster gives its clients is a proxy's, and the app knows no other.
    let proxy_ports: Vec<u16> = proxies.iter().map(|p| p.port).collect();
    let announced: Vec<u16> = cluster
        .nodes(cluster.ports[0])
        .iter()
        .map(|n| n.port)
        .collect();
    assert!(
        announced.len() == proxy_ports.len() && announced.iter().all(|p| proxy_ports.contains(p)),
        "announced {announced:?}, proxies {proxy_ports:?}"
    );
    let url = proxies.iter().map(Proxy::url).collect::<Vec<_>>().join(",");
    let proxied: Vec<&Proxy> = proxies.iter().collect();
    outage::a_blackholed_path_is_rebuilt_and_the_running_job_completes_once(
        &url,
        cluster_settings(&url, false),
        &proxied,
    )
    .await;
    drop(cluster);
}
