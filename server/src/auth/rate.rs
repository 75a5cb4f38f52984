//! Per-client API rate limit: a fixed one-minute window per client (the signed-in user, else
//! the peer address), in this process's memory. Several `serve` processes each enforce it, so
//! a client behind a load balancer may get up to that many times the limit; that is a
//! safety net against a runaway script, not an accounting system.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// Clients remembered before old windows are swept out.
const SWEEP_AT: usize = 10_000;

pub struct RateLimiter {
    per_window: u32,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    /// `per_minute == 0`: no limit.
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_window: per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request; `Some(wait)` when the client is over the limit.
    pub fn check(&self, client: &str) -> Option<Duration> {
        self.check_at(client, Instant::now())
    }

    fn check_at(&self, client: &str, now: Instant) -> Option<Duration> {
        if self.per_window == 0 {
            return None;
        }
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() >= SWEEP_AT {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = windows.entry(client.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        (entry.1 > self.per_window).then(|| WINDOW.saturating_sub(now.duration_since(entry.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_applies_per_client_and_window() {
        let limiter = RateLimiter::new(3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check_at("a", t0), None);
        }
        let wait = limiter.check_at("a", t0 + Duration::from_secs(20)).unwrap();
        assert_eq!(wait, Duration::from_secs(40));
        assert_eq!(
            limiter.check_at("b", t0),
            None,
            "another client has its own window"
        );
        assert_eq!(
            limiter.check_at("a", t0 + WINDOW),
            None,
            "a new window starts afresh"
        );
        assert_eq!(RateLimiter::new(0).check_at("a", t0), None);
    }
}
