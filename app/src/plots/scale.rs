//! Linear scales and "nice" axis ticks for the SVG plots.

/// Maps a data interval onto a pixel interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Linear {
    pub d0: f64,
    pub d1: f64,
    pub p0: f64,
    pub p1: f64,
}

impl Linear {
    /// A scale over `[lo, hi]`; a degenerate interval is widened so every value has a place.
    pub fn new(lo: f64, hi: f64, p0: f64, p1: f64) -> Self {
        let (lo, hi) = if lo.is_finite() && hi.is_finite() {
            (lo.min(hi), lo.max(hi))
        } else {
            (0.0, 1.0)
        };
        let (lo, hi) = if hi - lo < 1e-12 {
            let pad = if lo.abs() > 1e-12 {
                lo.abs() * 0.1
            } else {
                1.0
            };
            (lo - pad, hi + pad)
        } else {
            (lo, hi)
        };
        Linear {
            d0: lo,
            d1: hi,
            p0,
            p1,
        }
    }

    pub fn at(&self, v: f64) -> f64 {
        self.p0 + (v - self.d0) / (self.d1 - self.d0) * (self.p1 - self.p0)
    }

    /// The same scale widened to nice tick boundaries.
    pub fn nice(self) -> Self {
        let step = tick_step(self.d0, self.d1, 5);
        Linear {
            d0: snap((self.d0 / step).floor() * step, step),
            d1: snap((self.d1 / step).ceil() * step, step),
            ..self
        }
    }

    /// About five round tick values inside the domain.
    pub fn ticks(&self) -> Vec<f64> {
        let step = tick_step(self.d0, self.d1, 5);
        // The epsilon keeps 1.2 / 0.2 = 5.999… from losing the last tick.
        let first = (self.d0 / step - 1e-9).ceil() as i64;
        let last = (self.d1 / step + 1e-9).floor() as i64;
        (first..=last)
            .take(50)
            .map(|i| snap(i as f64 * step, step))
            .collect()
    }
}

/// Rounds away float noise below the step's precision, so labels read 0.6, not
/// 0.6000000000000001.
fn snap(v: f64, step: f64) -> f64 {
    let k = 10f64.powi(2 - step.log10().floor() as i32);
    (v * k).round() / k
}

/// A 1, 2 or 5 × 10^k step giving about `count` ticks over `[lo, hi]`.
pub fn tick_step(lo: f64, hi: f64, count: u32) -> f64 {
    let span = (hi - lo).abs().max(1e-12);
    let raw = span / f64::from(count.max(1));
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = if fraction < 1.5 {
        1.0
    } else if fraction < 3.5 {
        2.0
    } else if fraction < 7.5 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// The 5th and 95th percentiles of the present values: the colour range shap uses, so one
/// outlier does not wash every other dot out.
pub fn robust_range(values: &[Option<f32>]) -> Option<(f64, f64)> {
    let mut present: Vec<f64> = values
        .iter()
        .flatten()
        .map(|&v| f64::from(v))
        .filter(|v| v.is_finite())
        .collect();
    if present.is_empty() {
        return None;
    }
    present.sort_by(f64::total_cmp);
    let at = |q: f64| present[((present.len() - 1) as f64 * q).round() as usize];
    let (lo, hi) = (at(0.05), at(0.95));
    // A feature with a few distinct values may have equal percentiles: use the full range.
    if hi > lo {
        Some((lo, hi))
    } else {
        Some((present[0], present[present.len() - 1]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scale_maps_ends_to_ends_and_handles_a_single_value() {
        let s = Linear::new(-1.0, 3.0, 0.0, 400.0);
        assert_eq!(s.at(-1.0), 0.0);
        assert_eq!(s.at(3.0), 400.0);
        assert_eq!(s.at(1.0), 200.0);
        let flat = Linear::new(2.0, 2.0, 0.0, 100.0);
        assert!(flat.d0 < 2.0 && flat.d1 > 2.0);
        assert!((flat.at(2.0) - 50.0).abs() < 1e-9);
        let nan = Linear::new(f64::NAN, 1.0, 0.0, 1.0);
        assert_eq!((nan.d0, nan.d1), (0.0, 1.0));
    }

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(
            Linear::new(0.0, 1.0, 0.0, 1.0).ticks(),
            [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
        );
        assert_eq!(
            Linear::new(-3.2, 2.7, 0.0, 1.0).ticks(),
            [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0]
        );
        let nice = Linear::new(0.13, 0.87, 0.0, 1.0).nice();
        assert_eq!((nice.d0, nice.d1), (0.1, 0.9));
        let wide = Linear::new(0.0, 1.032, 0.0, 1.0).nice();
        assert_eq!(wide.ticks(), [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2]);
    }

    #[test]
    fn the_colour_range_ignores_outliers_and_missing_cells() {
        let mut v: Vec<Option<f32>> = (0..100).map(|i| Some(i as f32)).collect();
        v.push(Some(1e9));
        v.push(None);
        let (lo, hi) = robust_range(&v).expect("values present");
        assert_eq!((lo, hi), (5.0, 95.0));
        assert_eq!(robust_range(&[None, None]), None);
        assert_eq!(robust_range(&[Some(0.0), Some(1.0)]), Some((0.0, 1.0)));
    }
}
