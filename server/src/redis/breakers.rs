//! The pool's circuit breakers: one [`Breaker`] for the whole pool on a single Redis, and on a
//! Redis Cluster one per hash tag besides it.
//!
//! Why per hash tag on a cluster: each queue partition's keys share one tag, so one slot, so
//! one primary. When one primary fails over (seconds), only the calls for its partitions fail;
//! with one breaker for everything, their failures would open it for every partition (healthy
//! shards refused too), and between openings the healthy shards' successes would close it
//! again, so the failing shard's callers would keep waiting out `REDIS_TIMEOUT`. With a
//! breaker per tag, the failing partitions fail fast and the others never notice.
//!
//! Calls without a hash tag (the health probe's `INFO`, `TIME`, `CLUSTER INFO`) use the
//! pool's breaker, on a cluster too. The summary health shows is the worst of all of them,
//! with the tags whose breakers are open.

use super::breaker::{Admission, Breaker, BreakerConfig, BreakerState};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Every breaker of a pool.
pub struct Breakers {
    by_tag: bool,
    pool: Mutex<Breaker>,
    tags: Mutex<HashMap<String, Breaker>>,
}

/// All breakers at a glance, for health.
#[derive(Debug, Clone, Default)]
pub struct BreakerSummary {
    /// The worst state of any breaker (open, then half-open, then closed).
    pub state: BreakerState,
    pub consecutive_failures: u32,
    /// When the longest-open breaker opened.
    pub opened_at: Option<Instant>,
    /// The earliest next probe of a breaker that is not closed.
    pub next_probe_at: Option<Instant>,
    pub opened_total: u64,
    pub rejected_total: u64,
    /// Hash tags whose breakers are open or half-open (cluster only), sorted.
    pub open_tags: Vec<String>,
}

impl Breakers {
    /// `by_tag`: a breaker per hash tag (a Redis Cluster).
    pub fn new(by_tag: bool) -> Self {
        Breakers {
            by_tag,
            pool: Mutex::new(Breaker::new(BreakerConfig::default())),
            tags: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `f` on the breaker guarding calls with `tag`. A poisoned lock (a panic while
    /// holding it) fails open: calls go through.
    fn with<R: Default>(&self, tag: Option<&str>, f: impl FnOnce(&mut Breaker) -> R) -> R {
        match tag.filter(|_| self.by_tag) {
            Some(tag) => self.tags.lock().map_or_else(
                |_| R::default(),
                |mut tags| {
                    let breaker = tags
                        .entry(tag.to_owned())
                        .or_insert_with(|| Breaker::new(BreakerConfig::default()));
                    f(breaker)
                },
            ),
            None => self
                .pool
                .lock()
                .map_or_else(|_| R::default(), |mut b| f(&mut b)),
        }
    }

    /// Whether a call with `tag` may go out at `now`.
    pub fn admit(&self, tag: Option<&str>, now: Instant) -> Admission {
        self.with(tag, |b| b.admit(now))
    }

    /// Records a call's outcome (`reached`: Redis answered, even with an error reply) on the
    /// breaker guarding `tag`; that breaker's state before and after.
    pub fn record(
        &self,
        tag: Option<&str>,
        reached: bool,
        now: Instant,
    ) -> (BreakerState, BreakerState) {
        self.with(tag, |b| {
            let before = b.state();
            if reached {
                b.on_success();
            } else {
                b.on_failure(now);
            }
            (before, b.state())
        })
    }

    /// The breaker guarding `tag` refuses a call at `now` (counted), or lets nothing
    /// through as its probe (see `Breaker::refuse`).
    pub fn refuse(&self, tag: Option<&str>, now: Instant) -> Option<std::time::Duration> {
        self.with(tag, |b| b.refuse(now))
    }

    /// The state of the breaker guarding calls with `tag`, and its next probe time if open.
    pub fn state_of(&self, tag: Option<&str>) -> (BreakerState, Option<Instant>) {
        self.with(tag, |b| (b.state(), b.next_probe_at()))
    }

    pub fn summary(&self) -> BreakerSummary {
        let mut summary = BreakerSummary::default();
        let mut add = |tag: Option<&str>, b: &Breaker| {
            let state = b.state();
            if rank(state) > rank(summary.state) {
                summary.state = state;
            }
            summary.consecutive_failures =
                summary.consecutive_failures.max(b.consecutive_failures());
            summary.opened_total += b.opened_total;
            summary.rejected_total += b.rejected_total;
            if state == BreakerState::Open {
                // A half-open breaker's probe is already out: no next probe to wait for.
                summary.next_probe_at = earliest(summary.next_probe_at, b.next_probe_at());
            }
            if state != BreakerState::Closed {
                summary.opened_at = earliest(summary.opened_at, b.opened_at());
                if let Some(tag) = tag {
                    summary.open_tags.push(tag.to_owned());
                }
            }
        };
        if let Ok(pool) = self.pool.lock() {
            add(None, &pool);
        }
        if let Ok(tags) = self.tags.lock() {
            for (tag, breaker) in tags.iter() {
                add(Some(tag), breaker);
            }
        }
        summary.open_tags.sort();
        summary
    }
}

fn rank(state: BreakerState) -> u8 {
    match state {
        BreakerState::Closed => 0,
        BreakerState::HalfOpen => 1,
        BreakerState::Open => 2,
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The hash tag of a key (`shaplab:p0` of `{shaplab:p0}:ready`): what a cluster routes by.
pub fn hash_tag_of(arg: &[u8]) -> Option<String> {
    let open = arg.iter().position(|&b| b == b'{')?;
    let len = arg[open + 1..].iter().position(|&b| b == b'}')?;
    (len > 0).then(|| String::from_utf8_lossy(&arg[open + 1..open + 1 + len]).into_owned())
}

/// The hash tag a command's keys share, if any of its arguments has one.
pub fn command_tag(cmd: &redis::Cmd) -> Option<String> {
    cmd.args_iter().skip(1).find_map(|arg| match arg {
        redis::Arg::Simple(bytes) => hash_tag_of(bytes),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn on_a_cluster_a_failing_partition_opens_only_its_own_breaker() {
        let breakers = Breakers::new(true);
        let now = Instant::now();
        for _ in 0..3 {
            breakers.record(Some("shaplab:p1"), false, now);
            // The healthy partition keeps answering in between.
            breakers.record(Some("shaplab:p0"), true, now);
        }
        assert!(matches!(
            breakers.admit(Some("shaplab:p1"), now),
            Admission::Rejected { .. }
        ));
        assert_eq!(breakers.admit(Some("shaplab:p0"), now), Admission::Allowed);
        assert_eq!(breakers.admit(None, now), Admission::Allowed);
        let summary = breakers.summary();
        assert_eq!(summary.state, BreakerState::Open);
        assert_eq!(summary.open_tags, ["shaplab:p1"]);
        assert_eq!(summary.opened_total, 1);
        assert_eq!(summary.rejected_total, 1);
        assert!(summary.next_probe_at > Some(now));
    }

    #[test]
    fn on_one_server_every_call_shares_the_pools_breaker() {
        let breakers = Breakers::new(false);
        let now = Instant::now();
        breakers.record(Some("shaplab:p1"), false, now);
        breakers.record(Some("shaplab:p0"), false, now);
        breakers.record(None, false, now);
        assert!(matches!(
            breakers.admit(Some("shaplab:p7"), now + Duration::from_millis(1)),
            Admission::Rejected { .. }
        ));
        assert!(breakers.summary().open_tags.is_empty());
    }

    #[test]
    fn a_commands_tag_is_read_from_its_first_tagged_argument() {
        let mut cmd = redis::cmd("LRANGE");
        cmd.arg("{shaplab:p3}:ready").arg(0).arg(9);
        assert_eq!(command_tag(&cmd).as_deref(), Some("shaplab:p3"));
        assert_eq!(command_tag(&redis::cmd("TIME")), None);
        let mut empty = redis::cmd("GET");
        empty.arg("{}x");
        assert_eq!(command_tag(&empty), None, "an empty tag is no tag");
        // The command name itself is never a key.
        assert_eq!(command_tag(&redis::cmd("{odd}")), None);
    }
}
