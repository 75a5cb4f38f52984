//! A worker process's cache of prepared job inputs: the parsed model, the data rows already
//! in model feature order, and (for interventional jobs) the background.
//!
//! Why a cache: a job of 200 chunks would otherwise download and parse the same model and
//! CSV 200 times. Why in memory: the engine needs the parsed forms, and reading a chunk's
//! rows from parsed rows is a slice, where re-reading the CSV would cost a scan from the top
//! for every chunk (quadratic in the file). The downloaded files are only needed while
//! parsing and are removed right after.
//!
//! Bounded: entries are evicted least-recently-used first once their estimated size passes
//! the byte budget (the entry being used is never evicted by its own load). Concurrent
//! workers asking for the same inputs wait for one load instead of each doing it.

use super::executor::Prepared;
use crate::queue::TaskError;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// What identifies a prepared input: the uploads (immutable once stored) and the background.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InputKey {
    pub model: String,
    pub data: String,
    pub background_rows: Option<u64>,
    /// Covers recomputed from the data change the parsed model, so they are part of the key.
    pub covers_from_data: bool,
}

/// One cache entry. The inner mutex is held while loading, so a second worker asking for
/// the same key waits for the first load (a std mutex: only blocking threads touch it).
struct Slot {
    key: InputKey,
    cell: Arc<Mutex<Option<Arc<Prepared>>>>,
    /// Logical clock of the last use (larger = more recent).
    used: u64,
}

pub struct InputCache {
    /// Scratch directory for downloads while loading.
    dir: PathBuf,
    /// Most bytes the prepared entries may take together (estimated).
    budget: usize,
    slots: Mutex<Slots>,
}

#[derive(Default)]
struct Slots {
    list: Vec<Slot>,
    clock: u64,
}

impl InputCache {
    pub fn new(dir: PathBuf, budget: usize) -> Self {
        InputCache {
            dir,
            budget,
            slots: Mutex::new(Slots::default()),
        }
    }

    fn slots(&self) -> MutexGuard<'_, Slots> {
        // A panic while holding the lock leaves plain data behind: keep using it.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The prepared input for `key`, loading it with `load(scratch_dir)` if it is not cached.
    /// Errors are not cached: a retry loads again.
    pub fn get_or_load(
        &self,
        key: &InputKey,
        load: impl FnOnce(&Path) -> Result<Prepared, TaskError>,
    ) -> Result<Arc<Prepared>, TaskError> {
        let cell = {
            let mut slots = self.slots();
            slots.clock += 1;
            let now = slots.clock;
            match slots.list.iter_mut().find(|s| &s.key == key) {
                Some(slot) => {
                    slot.used = now;
                    slot.cell.clone()
                }
                None => {
                    let cell = Arc::new(Mutex::new(None));
                    slots.list.push(Slot {
                        key: key.clone(),
                        cell: cell.clone(),
                        used: now,
                    });
                    cell
                }
            }
        };
        let mut guard = cell.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(ready) = guard.as_ref() {
            return Ok(ready.clone());
        }
        let scratch = self.dir.join(uuid::Uuid::new_v4().simple().to_string());
        std::fs::create_dir_all(&scratch).map_err(|e| {
            TaskError::Retryable(format!(
                "cannot create the worker's cache directory {}: {e}",
                scratch.display()
            ))
        })?;
        let loaded = load(&scratch);
        let _ = std::fs::remove_dir_all(&scratch);
        let prepared = match loaded {
            Ok(prepared) => Arc::new(prepared),
            Err(e) => {
                drop(guard);
                self.forget_failed(key);
                return Err(e);
            }
        };
        *guard = Some(prepared.clone());
        drop(guard);
        self.evict(key);
        Ok(prepared)
    }

    /// Removes the slot of a failed load (unless another worker is loading it right now), so
    /// inputs that never load do not pile up as empty slots.
    fn forget_failed(&self, key: &InputKey) {
        let mut slots = self.slots();
        slots
            .list
            .retain(|s| &s.key != key || s.cell.try_lock().map_or(true, |cell| cell.is_some()));
    }

    /// Drops least-recently-used entries (never `keep`) until the loaded ones fit the budget.
    fn evict(&self, keep: &InputKey) {
        let mut slots = self.slots();
        loop {
            let size = |s: &Slot| {
                s.cell
                    .try_lock()
                    .ok()
                    .and_then(|g| g.as_ref().map(|p| p.bytes))
                    .unwrap_or(0)
            };
            let total: usize = slots.list.iter().map(size).sum();
            if total <= self.budget {
                return;
            }
            let victim = slots
                .list
                .iter()
                .enumerate()
                .filter(|(_, s)| &s.key != keep && size(s) > 0)
                .min_by_key(|(_, s)| s.used)
                .map(|(i, _)| i);
            match victim {
                Some(i) => {
                    let gone = slots.list.swap_remove(i);
                    tracing::debug!(model = %gone.key.model, data = %gone.key.data, "evicted prepared job input");
                }
                None => return,
            }
        }
    }

    /// How many inputs are held (loaded or loading).
    pub fn len(&self) -> usize {
        self.slots().list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: &str) -> InputKey {
        InputKey {
            model: n.into(),
            data: n.into(),
            background_rows: None,
            covers_from_data: false,
        }
    }

    fn dir() -> PathBuf {
        std::env::temp_dir().join(format!("shaplab-cache-test-{}", std::process::id()))
    }

    #[test]
    fn an_input_is_loaded_once_and_then_reused() {
        let cache = InputCache::new(dir(), 1 << 30);
        let mut loads = 0;
        for _ in 0..3 {
            cache
                .get_or_load(&key("a"), |_| {
                    loads += 1;
                    Ok(Prepared::for_tests(100))
                })
                .expect("loads");
        }
        assert_eq!(loads, 1);
    }

    #[test]
    fn the_least_recently_used_input_is_evicted_past_the_budget() {
        // Budget 250 bytes, entries of 100: the third load evicts the least recently used.
        let cache = InputCache::new(dir(), 250);
        for k in ["a", "b"] {
            cache
                .get_or_load(&key(k), |_| Ok(Prepared::for_tests(100)))
                .expect("loads");
        }
        // Touch "a" so "b" is the oldest.
        cache
            .get_or_load(&key("a"), |_| Ok(Prepared::for_tests(100)))
            .expect("cached");
        cache
            .get_or_load(&key("c"), |_| Ok(Prepared::for_tests(100)))
            .expect("loads");
        assert_eq!(cache.len(), 2);
        let mut reloaded = false;
        cache
            .get_or_load(&key("b"), |_| {
                reloaded = true;
                Ok(Prepared::for_tests(100))
            })
            .expect("loads");
        assert!(reloaded, "b was evicted and had to be loaded again");
    }

    #[test]
    fn a_failed_load_is_not_cached() {
        let cache = InputCache::new(dir(), 1 << 30);
        let failed = cache.get_or_load(&key("a"), |_| Err(TaskError::Retryable("blip".into())));
        assert!(failed.is_err());
        assert!(cache.is_empty(), "a failed load leaves no slot behind");
        let ok = cache.get_or_load(&key("a"), |_| Ok(Prepared::for_tests(1)));
        assert!(ok.is_ok());
    }
}
