//! Scenario 23, a seeded chaos soak (bounded): workers run their real loops and a reaper
//! runs in "another process" while the soak pauses the Redis serving a random partition (on a
//! cluster: that partition's primary), makes workers vanish mid-task, lets zombies write late,
//! and restarts workers. In the end every job must be terminal with exactly the right result
//! for every chunk, and the invariant must hold.
//!
//! The seed is printed; rerun one with `SHAPLAB_SOAK_SEED=<seed>`.

use crate::support::queue::{QueueHarness, RunningReaper, RunningWorker, Target};
use server::queue::{
    ClaimedTask, JobState, QueueConfig, QueueError, RowRange, TaskPayload, WorkerId,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// xorshift64*: small, seedable, good enough to pick chaos actions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn result_for(rows: RowRange) -> String {
    format!("rows:{}-{}", rows.start, rows.end)
}

fn start_worker(h: &QueueHarness, executions: Arc<AtomicUsize>) -> RunningWorker {
    let worker = Arc::new(h.worker(
        move |_: TaskPayload, rows: RowRange, cancel: server::queue::CancelToken| {
            executions.fetch_add(1, Ordering::SeqCst);
            // 30-100 ms of "compute", stopping early if asked.
            for _ in 0..(30 + (rows.start / 10 * 37) % 71) {
                if cancel.is_cancelled() {
                    return Err(server::queue::TaskError::Retryable("cancelled".into()));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(result_for(rows))
        },
    ));
    RunningWorker::spawn(worker)
}

/// Runs the soak on `target` with jobs spread over `partitions` partitions.
pub async fn chaos_soak(target: &Target, partitions: u16) {
    let seed = std::env::var("SHAPLAB_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("chaos soak seed: {seed} (rerun with SHAPLAB_SOAK_SEED={seed})");
    let mut rng = Rng(seed.max(1));
    // Stalls are the chaos here, not poison: no job may fail for them.
    let h = QueueHarness::on(
        target,
        QueueConfig {
            max_stalls: 1_000,
            partitions,
            ..QueueConfig::for_tests()
        },
    );
    let mut jobs = Vec::new();
    for _ in 0..8 {
        jobs.push(h.submit(200, 10, None).await);
    }
    let executions = Arc::new(AtomicUsize::new(0));
    let mut workers: Vec<RunningWorker> = (0..3)
        .map(|_| start_worker(&h, executions.clone()))
        .collect();
    let reaper = RunningReaper::spawn(h.another_process(), Duration::from_millis(100));

    let mut zombies: Vec<(ClaimedTask, Instant)> = Vec::new();
    let (mut pauses, mut vanished, mut restarts, mut zombie_completions) = (0, 0, 0, 0);
    let chaos_until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < chaos_until {
        let depths = h.queue.depths().await;
        if depths.is_ok_and(|d| d.ready + d.leased + d.scheduled == 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100 + rng.below(200))).await;
        match rng.below(4) {
            0 => {
                pauses += 1;
                let partition = u16::try_from(rng.below(u64::from(partitions))).unwrap_or(0);
                let paused = h.pause(partition);
                // At most 1.5 s: past the 1 s lease, short of a cluster's 2 s node timeout.
                tokio::time::sleep(Duration::from_millis(100 + rng.below(1400))).await;
                paused.resume();
            }
            1 => {
                // A worker that dies right after claiming (SIGKILL mid-task)...
                if let Ok(Some(task)) = h.queue.claim(&WorkerId::generate()).await {
                    vanished += 1;
                    // ...and sometimes comes back as a zombie to write its result late.
                    if rng.below(2) == 0 {
                        zombies.push((task, Instant::now()));
                    }
                }
            }
            2 => {
                restarts += 1;
                let i = usize::try_from(rng.below(workers.len() as u64)).unwrap_or(0);
                let old = workers.swap_remove(i);
                old.stop().await;
                workers.push(start_worker(&h, executions.clone()));
            }
            _ => {
                // A zombie wakes once its lease has run out (SIGSTOP past the lease).
                let due = zombies
                    .iter()
                    .position(|(_, at)| at.elapsed() > Duration::from_millis(1200));
                if let Some((zombie, _)) = due.map(|i| zombies.swap_remove(i)) {
                    match h.queue.complete(&zombie, &result_for(zombie.rows)).await {
                        // Its lease had not been taken over yet: a legitimate completion.
                        Ok(_) => zombie_completions += 1,
                        Err(QueueError::StaleToken(_) | QueueError::Unavailable(_)) => {}
                        Err(e) => panic!("seed {seed}: zombie write failed oddly: {e}"),
                    }
                }
            }
        }
    }

    let deadline = Instant::now() + Duration::from_secs(25);
    for job in &jobs {
        loop {
            let state = h.queue.job(job).await.map(|s| s.state);
            if matches!(state, Ok(JobState::Succeeded)) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "seed {seed}: job {job} stuck in {state:?}; depths {:?}",
                h.queue.depths().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Zombies still asleep wake now: every chunk is done by someone else, so all are refused.
    for (zombie, _) in &zombies {
        let late = h.queue.complete(zombie, "late").await;
        assert!(
            matches!(late, Err(QueueError::StaleToken(_))),
            "seed {seed}: a late zombie write was accepted: {late:?}"
        );
    }
    for w in workers {
        w.stop().await;
    }
    reaper.stop().await;

    for job in &jobs {
        let results = h.queue.chunk_results(job).await.expect("results");
        assert_eq!(results.len(), 20);
        for (i, result) in results.iter().enumerate() {
            let rows = RowRange {
                start: i as u64 * 10,
                end: i as u64 * 10 + 10,
            };
            assert_eq!(
                result.as_deref(),
                Some(result_for(rows).as_str()),
                "seed {seed}"
            );
        }
        let status = h.job(job).await;
        assert_eq!(
            (status.chunks_done, status.rows_done),
            (20, 200),
            "seed {seed}"
        );
    }
    let runs = executions.load(Ordering::SeqCst);
    // Every chunk ran at least once, in a worker or as a zombie's accepted write.
    assert!(
        runs + zombie_completions >= 160,
        "seed {seed}: {runs} executions, {zombie_completions} zombie completions"
    );
    println!(
        "chaos: {pauses} pauses, {vanished} vanished workers ({zombie_completions} completed \
         late within their lease), {restarts} restarts; 160 chunks, {runs} executions, {} \
         stale writes rejected",
        h.stat("stale_writes").await
    );
    h.assert_invariant().await;
}
