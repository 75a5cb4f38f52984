//! A circuit breaker in front of Redis.
//!
//! While Redis is down every call would otherwise wait out `REDIS_TIMEOUT` before failing, so a
//! busy page would queue up seconds of doomed requests. After `failure_threshold` consecutive
//! connection failures the breaker opens: calls fail at once (the API answers 503 in
//! milliseconds) until `open_for` has passed, when one probe call is let through (half-open).
//! Its success closes the breaker; its failure opens it again, for longer (up to `max_open_for`).
//!
//! Pure state machine over an injected clock, so its timing is unit-tested without sleeping.

use std::time::{Duration, Instant};

/// The breaker's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BreakerState {
    /// Calls flow.
    #[default]
    Closed,
    /// Calls fail fast until the next probe time.
    Open,
    /// One probe call is in flight; others fail fast until it returns.
    HalfOpen,
}

/// Tuning.
#[derive(Debug, Clone, Copy)]
pub struct BreakerConfig {
    pub failure_threshold: u32,
    pub open_for: Duration,
    pub max_open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 3,
            open_for: Duration::from_millis(500),
            // Short: while open, nobody notices Redis is back until the next probe, and idle
            // workers must be consuming again within seconds of a restart.
            max_open_for: Duration::from_secs(2),
        }
    }
}

/// What the breaker lets a caller do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Admission {
    /// Go ahead (closed, or this call is the half-open probe).
    #[default]
    Allowed,
    /// Fail fast; the next probe is due in this long.
    Rejected { retry_after: Duration },
}

/// The breaker's counters and timestamps.
#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    state: BreakerState,
    consecutive_failures: u32,
    /// How many times in a row it has re-opened without a success (grows the open time).
    reopenings: u32,
    opened_at: Option<Instant>,
    next_probe_at: Option<Instant>,
    pub opened_total: u64,
    pub rejected_total: u64,
}

impl Breaker {
    pub fn new(config: BreakerConfig) -> Self {
        Breaker {
            config,
            state: BreakerState::Closed,
            consecutive_failures: 0,
            reopenings: 0,
            opened_at: None,
            next_probe_at: None,
            opened_total: 0,
            rejected_total: 0,
        }
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// The state's name, as shown in `/api/health`.
    pub fn state_name(state: BreakerState) -> &'static str {
        match state {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    pub fn opened_at(&self) -> Option<Instant> {
        self.opened_at
    }

    pub fn next_probe_at(&self) -> Option<Instant> {
        self.next_probe_at
    }

    /// Refuses (and counts) a call at `now` while open or half-open, for how long; unlike
    /// [`admit`](Self::admit) it never lets a call through as the probe (a due probe counts
    /// as not refused, and stays due).
    pub fn refuse(&mut self, now: Instant) -> Option<Duration> {
        let retry_after = match self.state {
            BreakerState::Closed => None,
            BreakerState::Open => self.next_probe_at.filter(|&at| now < at).map(|at| at - now),
            BreakerState::HalfOpen => Some(self.config.open_for),
        };
        if retry_after.is_some() {
            self.rejected_total += 1;
        }
        retry_after
    }

    /// Asks to make a call at `now`.
    pub fn admit(&mut self, now: Instant) -> Admission {
        if let Some(retry_after) = self.refuse(now) {
            return Admission::Rejected { retry_after };
        }
        if self.state == BreakerState::Open {
            // The probe is due: this call is it.
            self.state = BreakerState::HalfOpen;
        }
        Admission::Allowed
    }

    /// Records a call that reached Redis and got an answer (even an error reply).
    pub fn on_success(&mut self) {
        self.state = BreakerState::Closed;
        self.consecutive_failures = 0;
        self.reopenings = 0;
        self.opened_at = None;
        self.next_probe_at = None;
    }

    /// Records a call that could not reach Redis (timeout, refused, dropped).
    pub fn on_failure(&mut self, now: Instant) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let trips = match self.state {
            BreakerState::HalfOpen => true,
            BreakerState::Closed => self.consecutive_failures >= self.config.failure_threshold,
            BreakerState::Open => false,
        };
        if trips {
            let open_for = self
                .config
                .open_for
                .saturating_mul(1u32 << self.reopenings.min(16))
                .min(self.config.max_open_for);
            if self.state == BreakerState::Closed {
                self.opened_at = Some(now);
                self.opened_total += 1;
            }
            self.reopenings = self.reopenings.saturating_add(1);
            self.state = BreakerState::Open;
            self.next_probe_at = Some(now + open_for);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> (Breaker, Instant) {
        (Breaker::new(BreakerConfig::default()), Instant::now())
    }

    #[test]
    fn it_opens_after_three_consecutive_failures_and_then_rejects_at_once() {
        let (mut b, t0) = breaker();
        b.on_failure(t0);
        b.on_failure(t0);
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.admit(t0), Admission::Allowed);
        b.on_failure(t0);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(
            b.admit(t0 + Duration::from_millis(100)),
            Admission::Rejected {
                retry_after: Duration::from_millis(400)
            }
        );
        assert_eq!(b.rejected_total, 1);
        assert_eq!(b.opened_total, 1);
    }

    #[test]
    fn refuse_counts_a_refusal_but_never_takes_the_probe() {
        let (mut b, t0) = breaker();
        assert_eq!(b.refuse(t0), None);
        for _ in 0..3 {
            b.on_failure(t0);
        }
        let early = t0 + Duration::from_millis(100);
        assert_eq!(b.refuse(early), Some(Duration::from_millis(400)));
        assert_eq!(b.rejected_total, 1);
        // The probe is due: `refuse` lets it be (state unchanged), `admit` hands it out.
        let due = t0 + Duration::from_millis(600);
        assert_eq!(b.refuse(due), None);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.admit(due), Admission::Allowed);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert_eq!(b.refuse(due), Some(Duration::from_millis(500)));
        assert_eq!(b.rejected_total, 2);
    }

    #[test]
    fn a_success_between_failures_resets_the_count() {
        let (mut b, t0) = breaker();
        b.on_failure(t0);
        b.on_failure(t0);
        b.on_success();
        b.on_failure(t0);
        b.on_failure(t0);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn after_the_open_time_one_probe_goes_through_and_its_success_closes_the_breaker() {
        let (mut b, t0) = breaker();
        (0..3).for_each(|_| b.on_failure(t0));
        let later = t0 + Duration::from_millis(500);
        assert_eq!(b.admit(later), Admission::Allowed);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        // Others wait for the probe's verdict.
        assert!(matches!(b.admit(later), Admission::Rejected { .. }));
        b.on_success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.admit(later), Admission::Allowed);
    }

    #[test]
    fn a_failed_probe_reopens_for_twice_as_long_up_to_the_ceiling() {
        let (mut b, t0) = breaker();
        (0..3).for_each(|_| b.on_failure(t0));
        let mut now = t0;
        let mut waits = Vec::new();
        for _ in 0..6 {
            now = b.next_probe_at().expect("open");
            waits.push(now);
            assert_eq!(b.admit(now), Admission::Allowed);
            b.on_failure(now);
        }
        let gaps: Vec<u128> = waits
            .windows(2)
            .map(|w| (w[1] - w[0]).as_millis())
            .collect();
        // 1 s, then the 2 s ceiling.
        assert_eq!(gaps, [1_000, 2_000, 2_000, 2_000, 2_000]);
        assert_eq!(b.opened_total, 1, "one outage, however many probes");
        assert_eq!(b.opened_at(), Some(t0));
        let _ = now;
    }
}
