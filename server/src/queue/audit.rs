//! The queue's invariant, checked against Redis: every unfinished task (ready, leased,
//! scheduled) is in exactly one of the ready list, the leased set or the scheduled set, and
//! nowhere else; a dead task is only in the dead set; a finished task (done, failed,
//! cancelled) is in none of them; and nothing is in a set without a task hash saying so.
//!
//! Tests run it after every scenario; an operator tool can run it on a live queue (it reads
//! with SCAN and is not atomic, so on a busy queue a task moving mid-audit can show up as a
//! false alarm: run it on a quiet queue).

use super::client::Queue;
use super::error::QueueError;
use std::collections::HashMap;

impl Queue {
    /// Lists every violation of the invariant (empty when all is well).
    pub async fn audit(&self) -> Result<Vec<String>, QueueError> {
        let mut problems = Vec::new();
        for p in self.partitions() {
            let ready: Vec<String> = self
                .read(redis::cmd("LRANGE").arg(p.ready()).arg(0).arg(-1))
                .await?;
            let mut places: HashMap<String, Vec<&'static str>> = HashMap::new();
            for id in ready {
                places.entry(id).or_default().push("ready");
            }
            for (name, key) in [
                ("leased", p.leased()),
                ("scheduled", p.scheduled()),
                ("dead", p.dead()),
            ] {
                let ids: Vec<String> = self
                    .read(redis::cmd("ZRANGE").arg(key).arg(0).arg(-1))
                    .await?;
                for id in ids {
                    places.entry(id).or_default().push(name);
                }
            }
            let mut states: HashMap<String, String> = HashMap::new();
            let mut cursor = 0u64;
            loop {
                let (next, keys): (u64, Vec<String>) = self
                    .read(
                        redis::cmd("SCAN")
                            .arg(cursor)
                            .arg("MATCH")
                            .arg(p.task_pattern())
                            .arg("COUNT")
                            .arg(500),
                    )
                    .await?;
                for key in keys {
                    let state: Option<String> =
                        self.read(redis::cmd("HGET").arg(&key).arg("state")).await?;
                    let id = key
                        .strip_prefix(p.prefix())
                        .and_then(|k| k.strip_prefix("task:"))
                        .unwrap_or(&key)
                        .to_owned();
                    states.insert(id, state.unwrap_or_else(|| "<none>".into()));
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
            for (id, state) in &states {
                let found = places.get(id).map_or(&[][..], Vec::as_slice);
                let expected: &[&str] = match state.as_str() {
                    "ready" => &["ready"],
                    "leased" => &["leased"],
                    "scheduled" => &["scheduled"],
                    "dead" => &["dead"],
                    "done" | "failed" | "cancelled" => &[],
                    other => {
                        problems.push(format!("task {id} has unknown state {other:?}"));
                        continue;
                    }
                };
                if found != expected {
                    problems.push(format!("task {id} is {state} but found in {found:?}"));
                }
            }
            for (id, found) in &places {
                if !states.contains_key(id) {
                    problems.push(format!("{id} is in {found:?} but has no task hash"));
                }
            }
        }
        Ok(problems)
    }

    async fn read<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, QueueError> {
        Ok(self.pool().query_idempotent(cmd).await?)
    }
}
