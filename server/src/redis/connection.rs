//! The two kinds of multiplexed connection the pool hands out — one Redis server or a Redis
//! Cluster — behind one type, so the pool and everything above it send commands and scripts
//! the same way to both.
//!
//! - [`Connector`] is built once from `REDIS_URL`; [`Connector::connect`] makes a connection
//!   without waiting for Redis (so the server boots while Redis is down).
//! - [`Connection`] is cheap to clone (both kinds are handles to a background task owning the
//!   sockets) and implements redis-rs's async `ConnectionLike`, so `Cmd::query_async` and
//!   `ScriptInvocation::invoke_async` work on it unchanged.
//!
//! On a cluster, redis-rs's `ClusterConnection` routes each command by the slot of its first
//! key, follows MOVED/ASK, refreshes its slot map after a failover and reconnects to nodes.
//! Scripts are routed by their first key (every queue script's keys share one hash tag, so one
//! slot); on NOSCRIPT, redis-rs loads the script on every node (`SCRIPT LOAD` is routed to all
//! nodes) and sends the EVALSHA again. Three keyless commands need a route of our choosing,
//! because redis-rs's default is wrong for us (see [`cluster_route`]):
//! - `INFO` and `PING` go to *all* primaries by default, and `INFO`'s replies come back as a
//!   map per node; the health probe wants one server's answer, so they go to one random
//!   primary (a primary: its role, persistence and eviction settings are the ones that matter
//!   for writes);
//! - `SCAN` has no route at all (a random node by default, which scans that node only); every
//!   SCAN we send has a `MATCH` pattern inside one partition's hash tag, so it goes to the
//!   primary owning that slot.
//!
//! There are no blocking commands (BLPOP and the like) to route: workers wait for work by
//! polling through this pool (see `queue::worker`), which on a cluster also means no dedicated
//! connection pinned to one node that may fail over.

use crate::config::{Keepalive, RedisSettings, RedisTarget};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{
    MultipleNodeRoutingInfo, Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr,
};
use redis::io::tcp::{TcpSettings, socket2::TcpKeepalive};
use redis::{Arg, Client, Cmd, ErrorKind, IntoConnectionInfo, RedisError, RedisFuture, Value};
use std::time::Duration;

/// Makes connections of one kind.
pub enum Connector {
    Single {
        client: Client,
        config: ConnectionManagerConfig,
    },
    Cluster {
        client: ClusterClient,
        /// Applied on every connect: redis-rs replaces the builder's response timeout with
        /// this config's (none, if left unset).
        config: ClusterConfig,
    },
}

/// One multiplexed connection: a reconnecting manager for one server, or a cluster connection.
#[derive(Clone)]
pub enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Connector {
    /// Reads `url` (one server, or cluster nodes: see [`RedisTarget::parse`]) without
    /// connecting. Fails only on a malformed URL.
    pub fn new(url: &str, settings: &RedisSettings) -> Result<Self, RedisError> {
        let target = RedisTarget::parse(url, settings.cluster).map_err(|e| {
            RedisError::from((
                ErrorKind::InvalidClientConfig,
                "invalid REDIS_URL",
                e.to_string(),
            ))
        })?;
        let tcp = tcp_settings(settings.keepalive);
        match target {
            RedisTarget::Single(url) => {
                let info = url.into_connection_info()?.set_tcp_settings(tcp);
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(settings.timeout))
                    .set_response_timeout(Some(settings.timeout))
                    // Keep the manager's own reconnect cycle short (one retry, ≤ 250 ms apart):
                    // callers wait for a cycle in progress, so a long one makes the first call
                    // after Redis returns fail too. Backing off during a long outage is the
                    // breaker's job.
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(Duration::from_millis(250))
                    .set_number_of_retries(1);
                Ok(Connector::Single {
                    client: Client::open(info)?,
                    config,
                })
            }
            RedisTarget::Cluster(nodes) => {
                let client = ClusterClientBuilder::new(nodes)
                    .tcp_settings(tcp)
                    .connection_timeout(settings.timeout)
                    // The cluster client has no response timeout unless told; each attempt is
                    // bounded here, the whole call (redirects and retries included) by the
                    // pool's own timeout, so there is no overall bound of the client's.
                    .response_timeout(settings.timeout)
                    .overall_response_timeout(None)
                    // During a failover a request meets TRYAGAIN / CLUSTERDOWN / a closed
                    // socket for a second or two. redis-rs waits 1.28 s at least between such
                    // retries by default, longer than a test's whole timeout; retry sooner and
                    // let the pool's timeout decide when to give up.
                    .retries(20)
                    .min_retry_wait(25)
                    .max_retry_wait(500)
                    .build()?;
                let config = ClusterConfig::new()
                    .set_connection_timeout(settings.timeout)
                    .set_response_timeout(settings.timeout);
                Ok(Connector::Cluster { client, config })
            }
        }
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Connector::Cluster { .. })
    }

    /// A connection that connects on first use (and reconnects by itself afterwards).
    /// Needs a tokio runtime (the cluster connection spawns its task at once).
    pub fn connect(&self) -> Result<Connection, RedisError> {
        match self {
            Connector::Single { client, config } => Ok(Connection::Single(
                client.get_connection_manager_lazy(config.clone())?,
            )),
            Connector::Cluster { client, config } => Ok(Connection::Cluster(
                client.get_pending_async_connection_with_config(config.clone()),
            )),
        }
    }
}

/// Nodelay, plus TCP keepalive and TCP_USER_TIMEOUT from `REDIS_SOCKET_KEEPALIVE`.
fn tcp_settings(keepalive: Keepalive) -> TcpSettings {
    let tcp = TcpSettings::default().set_nodelay(true);
    match keepalive {
        Keepalive::Off => tcp,
        Keepalive::After(idle) => {
            let probes = TcpKeepalive::new()
                .with_time(idle)
                .with_interval(Duration::from_secs(idle.as_secs().clamp(1, 10)));
            // TCP_USER_TIMEOUT: give up on a connection whose sent data stays unacknowledged,
            // which keepalive alone does not cover while a command is in flight.
            tcp.set_keepalive(probes).set_user_timeout(idle)
        }
    }
}

/// Our route for `cmd` on a cluster, where redis-rs's default does not fit (see the module
/// doc); `Ok(None)` keeps the default (by first key, or random for keyless commands).
pub fn cluster_route(cmd: &Cmd) -> Result<Option<RoutingInfo>, RedisError> {
    let mut args = cmd.args_iter().filter_map(|arg| match arg {
        Arg::Simple(bytes) => Some(bytes),
        _ => None,
    });
    let Some(name) = args.next() else {
        return Ok(None);
    };
    if name.eq_ignore_ascii_case(b"INFO") || name.eq_ignore_ascii_case(b"PING") {
        return Ok(Some(RoutingInfo::SingleNode(
            SingleNodeRoutingInfo::RandomPrimary,
        )));
    }
    if !name.eq_ignore_ascii_case(b"SCAN") {
        return Ok(None);
    }
    let mut pattern = None;
    while let Some(arg) = args.next() {
        if arg.eq_ignore_ascii_case(b"MATCH") {
            pattern = args.next();
        }
    }
    match pattern.and_then(hash_tag) {
        // Route by the tag's slot; the tag, not the glob, is what the slot depends on.
        Some(tag) => Ok(Some(RoutingInfo::SingleNode(
            SingleNodeRoutingInfo::SpecificNode(Route::with_key(tag, SlotAddr::Master)),
        ))),
        None => Err(RedisError::from((
            ErrorKind::Client,
            "SCAN on a Redis Cluster needs a MATCH pattern inside one hash tag",
            "without one it would scan a single random node and miss the other shards".to_owned(),
        ))),
    }
}

/// The `{tag}` of a key or pattern, when it has a non-empty one (the cluster spec's rule).
fn hash_tag(key: &[u8]) -> Option<&[u8]> {
    let open = key.iter().position(|&b| b == b'{')?;
    let len = key[open + 1..].iter().position(|&b| b == b'}')?;
    (len > 0).then(|| &key[open + 1..open + 1 + len])
}

impl Connection {
    /// Sends `cmd` to every primary of a cluster and returns each one's reply by node address
    /// (a node that answered with an error is left out); on one server, that server's reply
    /// under the name `""`. Fails as a whole if a primary cannot be reached at all.
    pub async fn on_each_primary(&mut self, cmd: &Cmd) -> Result<Vec<(String, Value)>, RedisError> {
        match self {
            Connection::Single(conn) => {
                Ok(vec![(String::new(), conn.send_packed_command(cmd).await?)])
            }
            Connection::Cluster(conn) => {
                let all = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
                let Value::Map(replies) = conn.route_command(cmd.clone(), all).await? else {
                    return Err(RedisError::from((
                        ErrorKind::Client,
                        "a fan-out to every primary did not answer a map of nodes",
                    )));
                };
                Ok(replies
                    .into_iter()
                    .filter(|(_, reply)| !matches!(reply, Value::ServerError(_)))
                    .map(|(node, reply)| {
                        let node = match node {
                            Value::BulkString(bytes) => {
                                String::from_utf8_lossy(&bytes).into_owned()
                            }
                            other => format!("{other:?}"),
                        };
                        (node, reply)
                    })
                    .collect())
            }
        }
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(conn) => conn.req_packed_command(cmd),
            Connection::Cluster(conn) => match cluster_route(cmd) {
                Ok(None) => conn.req_packed_command(cmd),
                Ok(Some(route)) => Box::pin(conn.route_command(cmd.clone(), route)),
                Err(e) => Box::pin(std::future::ready(Err(e))),
            },
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(conn) => conn.get_db(),
            Connection::Cluster(conn) => conn.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(cmd: &Cmd) -> Option<RoutingInfo> {
        cluster_route(cmd).expect("a route")
    }

    #[test]
    fn a_scan_of_one_partition_goes_to_the_primary_of_that_partitions_slot() {
        let mut scan = redis::cmd("SCAN");
        scan.arg(0)
            .arg("MATCH")
            .arg("{shaplab:p3}:task:*")
            .arg("COUNT")
            .arg(500);
        assert_eq!(
            route(&scan),
            Some(RoutingInfo::SingleNode(
                SingleNodeRoutingInfo::SpecificNode(Route::with_key(
                    "{shaplab:p3}:ready",
                    SlotAddr::Master
                ))
            ))
        );
    }

    #[test]
    fn a_scan_without_a_hash_tag_is_refused_rather_than_scanning_one_random_node() {
        let mut scan = redis::cmd("SCAN");
        scan.arg(0).arg("MATCH").arg("shaplab:*");
        let err = cluster_route(&scan).expect_err("no tag");
        assert_eq!(err.kind(), ErrorKind::Client);
        assert!(cluster_route(redis::cmd("SCAN").arg(0)).is_err());
    }

    #[test]
    fn info_and_ping_go_to_one_primary_and_keyed_commands_keep_the_default_route() {
        let one_primary = Some(RoutingInfo::SingleNode(
            SingleNodeRoutingInfo::RandomPrimary,
        ));
        assert_eq!(route(redis::cmd("INFO").arg("server")), one_primary);
        assert_eq!(route(&redis::cmd("ping")), one_primary);
        assert_eq!(route(redis::cmd("HGETALL").arg("{shaplab:p0}:job:x")), None);
        assert_eq!(route(&redis::cmd("TIME")), None);
        assert_eq!(route(redis::cmd("CLUSTER").arg("INFO")), None);
    }

    #[test]
    fn hash_tags_follow_the_cluster_spec() {
        assert_eq!(hash_tag(b"{shaplab:p0}:ready"), Some(&b"shaplab:p0"[..]));
        assert_eq!(hash_tag(b"{}:ready"), None);
        assert_eq!(hash_tag(b"plain"), None);
        assert_eq!(hash_tag(b"a{b}{c}"), Some(&b"b"[..]));
    }
}
