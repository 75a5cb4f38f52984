//! How long the page waits between health checks.
//!
//! While things are healthy the page checks at a steady, slow pace. After failures it backs
//! off exponentially so that a fleet of open tabs does not hammer a server that is already in
//! trouble, and every delay is jittered so those tabs do not retry in lockstep.

/// A jittered exponential backoff schedule. Pure: the caller supplies the random number, so the
/// schedule is testable and the same code runs on the server and in the browser.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// Delay between checks while everything is healthy.
    pub healthy_ms: u32,
    /// Delay after the first failure; doubled after each further failure.
    pub first_failure_ms: u32,
    /// Ceiling for the doubled delay.
    pub max_ms: u32,
    /// Fraction of the nominal delay by which a delay may move either way (0.2 = ±20 %).
    pub jitter: f64,
}

impl Backoff {
    /// The schedule of the header's health indicator.
    pub const HEALTH: Backoff = Backoff {
        healthy_ms: 5_000,
        first_failure_ms: 1_000,
        max_ms: 30_000,
        jitter: 0.2,
    };

    /// The delay before the next check, before jitter, after `failures` consecutive failures.
    pub fn nominal_ms(&self, failures: u32) -> u32 {
        if failures == 0 {
            return self.healthy_ms;
        }
        // 2^(failures-1) without overflow: past 2^31 the ceiling has long been reached.
        let factor = 1u64 << (failures - 1).min(31);
        (u64::from(self.first_failure_ms) * factor).min(u64::from(self.max_ms)) as u32
    }

    /// The delay before the next check. `unit` is a uniform random number in `[0, 1)`; the
    /// result lies in `nominal × [1 − jitter, 1 + jitter)`.
    pub fn delay_ms(&self, failures: u32, unit: f64) -> u32 {
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.5
        };
        let spread = 1.0 - self.jitter + 2.0 * self.jitter * unit;
        // floor keeps the result strictly below the upper bound.
        (f64::from(self.nominal_ms(failures)) * spread).floor() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_healthy_service_is_checked_at_the_steady_pace() {
        assert_eq!(Backoff::HEALTH.nominal_ms(0), 5_000);
    }

    #[test]
    fn each_failure_doubles_the_delay_up_to_the_ceiling() {
        let b = Backoff::HEALTH;
        let seen: Vec<u32> = (1..=7).map(|f| b.nominal_ms(f)).collect();
        // 1 s, 2 s, 4 s, 8 s, 16 s, then capped at 30 s.
        assert_eq!(seen, [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    }

    #[test]
    fn a_very_long_outage_neither_overflows_nor_passes_the_ceiling() {
        assert_eq!(Backoff::HEALTH.nominal_ms(u32::MAX), 30_000);
        assert_eq!(Backoff::HEALTH.delay_ms(u32::MAX, 0.999_999), 35_999);
    }

    #[test]
    fn jitter_spreads_the_delay_by_twenty_percent_either_way() {
        let b = Backoff::HEALTH;
        // nominal 4 s after three failures: [3.2 s, 4.8 s).
        assert_eq!(b.delay_ms(3, 0.0), 3_200);
        assert_eq!(b.delay_ms(3, 0.5), 4_000);
        assert!(b.delay_ms(3, 0.999_999) < 4_800);
        assert!(b.delay_ms(3, 0.999_999) > 4_790);
    }

    #[test]
    fn an_invalid_random_number_falls_back_to_the_nominal_delay() {
        assert_eq!(Backoff::HEALTH.delay_ms(2, f64::NAN), 2_000);
        assert_eq!(Backoff::HEALTH.delay_ms(2, 7.0), 2_400);
    }
}
