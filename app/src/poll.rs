//! How the job page paces its polls of `GET /api/jobs/{id}`.
//!
//! Pure, so the timing rules are unit-tested rather than observed: after progress the page
//! polls at the server's hint (`X-Poll-Interval`); while nothing changes it slows down
//! gently; after failures it backs off exponentially, never sooner than the server's
//! `Retry-After`; every delay is jittered so many open tabs do not poll in lockstep; a hidden
//! tab does not poll at all; a terminal state ends polling.

/// What one poll found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PollOutcome {
    /// The job moved (state or progress changed): poll again at the server's pace.
    Changed,
    /// Same answer as last time.
    Unchanged,
    /// No usable answer (Redis down, server down, offline). `retry_after_ms` is the server's
    /// `Retry-After`, when it sent one.
    Failed { retry_after_ms: Option<u32> },
    /// The job reached a terminal state (or does not exist): stop.
    Finished,
}

/// What the page should do next.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NextPoll {
    /// Wait this long, then poll.
    After(u32),
    /// The tab is hidden: poll as soon as it is visible again.
    WhenVisible,
    /// Stop polling.
    Stop,
}

/// The schedule's constants.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PollSchedule {
    /// Pace when the server sends no hint.
    pub default_hint_ms: u32,
    /// Never poll faster than this, whatever the hint says.
    pub min_ms: u32,
    /// Each unchanged answer stretches the delay by this factor, up to `idle_max_ms`.
    pub idle_growth: f64,
    pub idle_max_ms: u32,
    /// Delay after the first failure; doubled after each further failure, up to the ceiling.
    pub failure_first_ms: u32,
    pub failure_max_ms: u32,
    /// ± fraction applied to every delay.
    pub jitter: f64,
    /// Consecutive failures before the page shows an outage banner (one blip is not an outage).
    pub banner_after_failures: u32,
}

impl PollSchedule {
    pub const JOB: PollSchedule = PollSchedule {
        default_hint_ms: 1_000,
        min_ms: 250,
        idle_growth: 1.5,
        idle_max_ms: 10_000,
        failure_first_ms: 1_000,
        failure_max_ms: 30_000,
        jitter: 0.2,
        banner_after_failures: 2,
    };
}

/// The poller's memory between polls.
#[derive(Clone, Debug, PartialEq)]
pub struct Poller {
    pub schedule: PollSchedule,
    /// Consecutive failed polls.
    pub failures: u32,
    /// Consecutive unchanged answers since the last change.
    pub unchanged: u32,
    /// The server's latest `X-Poll-Interval`, in ms.
    pub hint_ms: Option<u32>,
    retry_after_ms: Option<u32>,
    finished: bool,
}

impl Poller {
    pub fn new(schedule: PollSchedule) -> Self {
        Poller {
            schedule,
            failures: 0,
            unchanged: 0,
            hint_ms: None,
            retry_after_ms: None,
            finished: false,
        }
    }

    /// Records a poll's outcome and the server's poll hint (seconds), if it sent one.
    pub fn record(&mut self, outcome: PollOutcome, hint_s: Option<u32>) {
        if let Some(s) = hint_s {
            self.hint_ms = Some(s.saturating_mul(1_000));
        }
        self.retry_after_ms = None;
        match outcome {
            PollOutcome::Changed => {
                self.failures = 0;
                self.unchanged = 0;
            }
            PollOutcome::Unchanged => {
                self.failures = 0;
                self.unchanged = self.unchanged.saturating_add(1);
            }
            PollOutcome::Failed { retry_after_ms } => {
                self.failures = self.failures.saturating_add(1);
                self.retry_after_ms = retry_after_ms;
            }
            PollOutcome::Finished => self.finished = true,
        }
    }

    /// Whether the failures so far amount to an outage worth a banner.
    pub fn outage(&self) -> bool {
        self.failures >= self.schedule.banner_after_failures
    }

    /// The delay before the next poll, before jitter.
    pub fn nominal_ms(&self) -> u32 {
        let s = &self.schedule;
        if self.failures > 0 {
            let factor = 1u64 << (self.failures - 1).min(31);
            let backoff = (u64::from(s.failure_first_ms) * factor).min(u64::from(s.failure_max_ms));
            // Retry-After is the server's floor, even above our own ceiling.
            return (backoff as u32).max(self.retry_after_ms.unwrap_or(0));
        }
        let hint = self.hint_ms.unwrap_or(s.default_hint_ms).max(s.min_ms);
        let stretched = f64::from(hint) * s.idle_growth.powi(self.unchanged.min(64) as i32);
        (stretched.min(f64::from(s.idle_max_ms.max(hint)))) as u32
    }

    /// What to do next. `hidden`: the tab is in the background. `unit`: uniform in `[0, 1)`.
    pub fn next(&self, hidden: bool, unit: f64) -> NextPoll {
        if self.finished {
            return NextPoll::Stop;
        }
        if hidden {
            return NextPoll::WhenVisible;
        }
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.5
        };
        let nominal = f64::from(self.nominal_ms());
        let floor = f64::from(self.retry_after_ms.unwrap_or(0));
        let jittered = nominal * (1.0 - self.schedule.jitter + 2.0 * self.schedule.jitter * unit);
        // Jitter may lengthen a Retry-After but never shorten it.
        NextPoll::After(jittered.max(floor).floor() as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poller() -> Poller {
        Poller::new(PollSchedule::JOB)
    }

    fn delay(p: &Poller, unit: f64) -> u32 {
        match p.next(false, unit) {
            NextPoll::After(ms) => ms,
            other => panic!("expected a delay, got {other:?}"),
        }
    }

    #[test]
    fn progress_polls_at_the_servers_hint() {
        let mut p = poller();
        p.record(PollOutcome::Changed, Some(2));
        assert_eq!(p.nominal_ms(), 2_000);
        assert_eq!(delay(&p, 0.5), 2_000);
    }

    #[test]
    fn without_a_hint_the_default_pace_applies_and_a_tiny_hint_is_floored() {
        let mut p = poller();
        p.record(PollOutcome::Changed, None);
        assert_eq!(p.nominal_ms(), 1_000);
        p.record(PollOutcome::Changed, Some(0));
        assert_eq!(p.nominal_ms(), 250);
    }

    #[test]
    fn unchanged_answers_slow_down_gently_and_progress_resets_the_pace() {
        let mut p = poller();
        let seen: Vec<u32> = (0..8)
            .map(|_| {
                p.record(PollOutcome::Unchanged, Some(1));
                p.nominal_ms()
            })
            .collect();
        assert_eq!(
            seen,
            [1_500, 2_250, 3_375, 5_062, 7_593, 10_000, 10_000, 10_000]
        );
        p.record(PollOutcome::Changed, Some(1));
        assert_eq!(p.nominal_ms(), 1_000);
    }

    #[test]
    fn failures_back_off_exponentially_to_a_ceiling() {
        let mut p = poller();
        let seen: Vec<u32> = (0..7)
            .map(|_| {
                p.record(
                    PollOutcome::Failed {
                        retry_after_ms: None,
                    },
                    None,
                );
                p.nominal_ms()
            })
            .collect();
        assert_eq!(seen, [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
        p.record(PollOutcome::Changed, None);
        assert_eq!((p.failures, p.nominal_ms()), (0, 1_000));
    }

    #[test]
    fn retry_after_is_a_floor_that_jitter_never_undercuts() {
        let mut p = poller();
        p.record(
            PollOutcome::Failed {
                retry_after_ms: Some(5_000),
            },
            None,
        );
        assert_eq!(p.nominal_ms(), 5_000);
        assert_eq!(delay(&p, 0.0), 5_000);
        assert!(delay(&p, 0.999) >= 5_000 && delay(&p, 0.999) < 6_000);
        // A Retry-After above our own ceiling still wins.
        p.record(
            PollOutcome::Failed {
                retry_after_ms: Some(45_000),
            },
            None,
        );
        assert_eq!(delay(&p, 0.0), 45_000);
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let mut p = poller();
        p.record(
            PollOutcome::Failed {
                retry_after_ms: None,
            },
            None,
        );
        p.record(
            PollOutcome::Failed {
                retry_after_ms: None,
            },
            None,
        );
        for i in 0..100 {
            let d = delay(&p, f64::from(i) / 100.0);
            assert!((1_600..2_400).contains(&d), "{d}");
        }
        assert_eq!(delay(&p, f64::NAN), 2_000);
    }

    #[test]
    fn a_hidden_tab_waits_for_visibility_and_a_finished_job_stops() {
        let mut p = poller();
        p.record(PollOutcome::Changed, None);
        assert_eq!(p.next(true, 0.5), NextPoll::WhenVisible);
        p.record(PollOutcome::Finished, None);
        assert_eq!(p.next(false, 0.5), NextPoll::Stop);
        assert_eq!(p.next(true, 0.5), NextPoll::Stop);
    }

    #[test]
    fn one_blip_is_not_an_outage_two_failures_are() {
        let mut p = poller();
        p.record(
            PollOutcome::Failed {
                retry_after_ms: None,
            },
            None,
        );
        assert!(!p.outage());
        p.record(
            PollOutcome::Failed {
                retry_after_ms: None,
            },
            None,
        );
        assert!(p.outage());
        p.record(PollOutcome::Unchanged, None);
        assert!(!p.outage());
    }
}
