//! What a health probe adds on a Redis Cluster, after one random primary has answered `INFO`:
//!
//! - `CLUSTER INFO`: whether every slot is served. A cluster whose state is `fail` refuses
//!   writes to some partitions, so the report is `degraded` even though a node answered.
//! - every primary's settings: each primary holds some partitions, and one with eviction on
//!   can delete those partitions' keys while the others look fine. The report's `server` is
//!   then the primary most at risk (the first with a risky setting), so `check-redis` fails
//!   on it whichever primary answered first, and each warning names the primaries it is about.
//!
//! Both reads are best effort: the first `INFO` already decided `connected`. The fan-out to
//! every primary goes around the breaker (see [`RedisPool::on_each_primary`]).

use super::pool::RedisPool;
use super::probe::{parse_info, risky_settings};
use app::wire::{RedisClusterInfo, RedisServerInfo};

/// Fills `server.cluster`, may replace `server` by the primary most at risk, and returns the
/// warnings (risky settings of any primary, a failing cluster state).
pub async fn inspect(
    pool: &RedisPool,
    info: &redis::Cmd,
    server: &mut RedisServerInfo,
) -> Vec<String> {
    let cluster = pool
        .probe::<String>(redis::cmd("CLUSTER").arg("INFO"))
        .await
        .ok()
        .map(|text| parse_cluster_info(&text));
    let mut warnings = Vec::new();
    match pool.on_each_primary(info).await {
        Ok(replies) => {
            let mut primaries: Vec<(String, RedisServerInfo)> = replies
                .into_iter()
                .filter_map(|(node, reply)| text(reply).map(|t| (node, parse_info(&t))))
                .collect();
            primaries.sort_by(|a, b| a.0.cmp(&b.0));
            if let Some((_, worst)) = primaries
                .iter()
                .find(|(_, p)| !risky_settings(p).is_empty())
            {
                *server = worst.clone();
            }
            warnings.extend(by_primary(&primaries));
        }
        Err(e) => {
            warnings.extend(risky_settings(server));
            warnings.push(format!(
                "could not read every primary's settings ({e}); the warnings above are one \
                 primary's"
            ));
        }
    }
    if let Some(cluster) = &cluster
        && cluster.state != "ok"
    {
        warnings.push(format!(
            "cluster_state is {} ({} of 16384 slots served): writes to the other slots fail \
             until the cluster recovers",
            cluster.state, cluster.slots_ok
        ));
    }
    server.cluster = cluster;
    warnings
}

/// Each distinct warning once, naming the primaries it applies to.
fn by_primary(primaries: &[(String, RedisServerInfo)]) -> Vec<String> {
    let mut grouped: Vec<(String, Vec<&str>)> = Vec::new();
    for (node, info) in primaries {
        for warning in risky_settings(info) {
            match grouped.iter_mut().find(|(w, _)| *w == warning) {
                Some((_, nodes)) => nodes.push(node),
                None => grouped.push((warning, vec![node])),
            }
        }
    }
    grouped
        .into_iter()
        .map(|(warning, nodes)| format!("{warning} (primaries: {})", nodes.join(", ")))
        .collect()
}

/// The text of an `INFO` reply (a bulk string in RESP2, verbatim in RESP3).
fn text(reply: redis::Value) -> Option<String> {
    match reply {
        redis::Value::BulkString(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        redis::Value::VerbatimString { text, .. } => Some(text),
        redis::Value::SimpleString(text) => Some(text),
        _ => None,
    }
}

/// Reads `CLUSTER INFO` output (`key:value` lines, like `INFO`).
pub fn parse_cluster_info(text: &str) -> RedisClusterInfo {
    let field = |key: &str| {
        text.lines()
            .filter_map(|line| line.trim_end().split_once(':'))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_owned())
    };
    let number = |key: &str| field(key).and_then(|v| v.parse().ok()).unwrap_or(0);
    RedisClusterInfo {
        state: field("cluster_state").unwrap_or_else(|| "unknown".into()),
        slots_assigned: number("cluster_slots_assigned"),
        slots_ok: number("cluster_slots_ok"),
        slots_fail: number("cluster_slots_fail"),
        known_nodes: number("cluster_known_nodes"),
        size: number("cluster_size"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_info_output_is_parsed_into_the_reported_fields() {
        let text = "cluster_enabled:1\r\ncluster_state:ok\r\ncluster_slots_assigned:16384\r\n\
            cluster_slots_ok:16384\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:0\r\n\
            cluster_known_nodes:6\r\ncluster_size:3\r\n";
        let cluster = parse_cluster_info(text);
        assert_eq!(cluster.state, "ok");
        assert_eq!(cluster.slots_assigned, 16384);
        assert_eq!(cluster.slots_ok, 16384);
        assert_eq!(cluster.slots_fail, 0);
        assert_eq!(cluster.known_nodes, 6);
        assert_eq!(cluster.size, 3);
        assert_eq!(parse_cluster_info("").state, "unknown");
    }

    #[test]
    fn a_risky_setting_is_warned_about_once_naming_every_primary_it_applies_to() {
        let info = |policy: &str| {
            parse_info(&format!(
                "redis_version:7.0.15\r\nrole:master\r\naof_enabled:1\r\n\
                 maxmemory_policy:{policy}\r\n"
            ))
        };
        let primaries = vec![
            ("a:7000".to_owned(), info("allkeys-lru")),
            ("b:7001".to_owned(), info("noeviction")),
            ("c:7002".to_owned(), info("allkeys-lru")),
        ];
        let warnings = by_primary(&primaries);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("allkeys-lru"));
        assert!(warnings[0].ends_with("(primaries: a:7000, c:7002)"));
    }
}
