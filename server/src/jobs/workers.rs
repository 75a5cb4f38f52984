//! Running N workers, the reaper and the result sweep on the current runtime, and stopping
//! them gracefully.
//!
//! One shutdown signal (a `watch` flag) reaches every worker: each stops claiming, lets its
//! running chunk finish within the grace period and releases it otherwise (see
//! [`crate::queue::Worker::run`]). The reaper runs in every process that runs workers: any
//! number of reapers is safe, and a lone `shaplab worker` machine must still recover tasks
//! of workers that died elsewhere.

use super::expiry::run_sweeper;
use super::warm::summary_warmer;
use crate::blobs::BlobStore;
use crate::queue::{Executor, Queue, Worker, WorkerConfig, run_presence, run_reaper};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Workers and a reaper, running until [`Workers::stop`].
pub struct Workers {
    /// In an `Arc` so the caller can fire it from a signal handler and still `stop` later.
    stop: Arc<watch::Sender<bool>>,
    handles: Vec<JoinHandle<()>>,
    /// Kept so health can ask how long since each loop last turned.
    pub workers: Vec<Arc<Worker>>,
}

impl Workers {
    /// Starts `count` workers (0: none, and no reaper) sharing `executor`.
    pub fn start(queue: Arc<Queue>, executor: Arc<dyn Executor>, count: usize) -> Self {
        let stop = Arc::new(watch::channel(false).0);
        let mut handles = Vec::new();
        let mut workers = Vec::new();
        let config = WorkerConfig::for_lease(queue.config().lease);
        for _ in 0..count {
            let worker = Arc::new(Worker::new(queue.clone(), executor.clone(), config.clone()));
            let shutdown = stopped(stop.subscribe());
            let running = worker.clone();
            handles.push(tokio::spawn(async move { running.run(shutdown).await }));
            workers.push(worker);
        }
        if count > 0 {
            // Health everywhere counts these workers while they run.
            let ids = workers.iter().map(|w| w.id().clone()).collect();
            handles.push(tokio::spawn(run_presence(
                queue.clone(),
                ids,
                stopped(stop.subscribe()),
            )));
            // Reap at a third of the lease (run_reaper caps it further by the reaper gap).
            let every = queue.config().lease / 3;
            handles.push(tokio::spawn(run_reaper(
                queue,
                every,
                stopped(stop.subscribe()),
            )));
        }
        if count > 0 {
            tracing::info!(workers = count, "workers started");
        }
        Workers {
            stop,
            handles,
            workers,
        }
    }

    /// Also runs the result sweep (see [`crate::jobs::expiry`]) until stopped, deleting the
    /// results of jobs that ended more than `ttl` ago. Like the reaper it may run in every
    /// worker process: each job's expiry is one script, so sweeps cannot trip over each other.
    pub fn sweep_results(&mut self, queue: Arc<Queue>, blobs: BlobStore, ttl: Duration) {
        self.handles.push(tokio::spawn(run_sweeper(
            queue,
            blobs,
            ttl,
            stopped(self.stop.subscribe()),
        )));
    }

    /// Also runs the upload sweep (see [`crate::uploads::expiry`]) until stopped, deleting
    /// uploads unused for `ttl`. Safe in every process sharing the blob store.
    pub fn sweep_uploads(&mut self, blobs: BlobStore, ttl: Duration) {
        self.handles
            .push(tokio::spawn(crate::uploads::expiry::run_sweeper(
                blobs,
                ttl,
                stopped(self.stop.subscribe()),
            )));
    }

    /// Makes the worker whose chunk finishes a job compute the job's summary right away (see
    /// [`crate::jobs::warm`]); `scratch` holds the data download meanwhile.
    pub fn warm_summaries(&self, queue: Arc<Queue>, blobs: BlobStore, scratch: PathBuf) {
        let hook = summary_warmer(queue, blobs, scratch);
        for worker in &self.workers {
            worker.on_job_succeeded(hook.clone());
        }
    }

    /// How many workers run.
    pub fn len(&self) -> usize {
        self.workers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// The flag that stops the workers (send `true`); for a signal handler.
    pub fn stop_signal(&self) -> Arc<watch::Sender<bool>> {
        self.stop.clone()
    }

    /// Signals shutdown and waits for every worker to finish or release its chunk.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        for handle in self.handles {
            let _ = handle.await;
        }
    }
}

/// Resolves once the flag turns true (or its sender is gone: nobody can stop us any more,
/// which means the owner was dropped, so stop too).
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}
