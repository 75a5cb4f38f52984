//! The strongest interaction partner of a feature, by a cheap proxy.
//!
//! Why a proxy: jobs compute SHAP values, not path-dependent interaction values (those cost
//! F times more and are refused by job submission), so the dependence plot's colouring
//! cannot read the true strongest interaction. We use python shap's
//! `approximate_interactions`, which analysts already know from `shap.dependence_plot`: sort
//! the sample by the feature's value, cut it into bins of up to 50 rows, and score each
//! candidate by how well its value correlates with the feature's SHAP value *within* a bin.
//! Inside a bin the feature's own value is nearly fixed, so what is left of its SHAP spread
//! (the residual) is what other features move; the candidate that explains it best is the
//! partner. Our score is the mean |Pearson r| over the bins that have spread, in `0..=1`.

/// Minimum rows in a bin for a correlation to count.
const MIN_BIN: usize = 3;

/// Scores every candidate `p != feature` and returns the best one with its score, or `None`
/// when no candidate scores above zero.
///
/// `values(p, n)` is feature `p`'s value on sample row `n` (NaN when missing); `shap[n]` is
/// the feature's SHAP value on row `n`.
pub fn strongest_partner(
    feature: usize,
    features: usize,
    rows: usize,
    values: impl Fn(usize, usize) -> f64,
    shap: &[f64],
) -> Option<(usize, f64)> {
    if rows < MIN_BIN {
        return None;
    }
    // Sort by the feature's value, missing values last (as shap does).
    let mut order: Vec<usize> = (0..rows).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (values(feature, a), values(feature, b));
        x.is_nan().cmp(&y.is_nan()).then(x.total_cmp(&y))
    });
    // shap's bin width: a tenth of the sample, at most 50 rows, at least 1.
    let width = (rows / 10).clamp(1, 50).max(MIN_BIN);
    let mut best: Option<(usize, f64)> = None;
    for p in (0..features).filter(|&p| p != feature) {
        let mut total = 0.0;
        let mut bins = 0usize;
        for bin in order.chunks(width) {
            let pairs: Vec<(f64, f64)> = bin
                .iter()
                .map(|&n| (values(p, n), shap[n]))
                .filter(|(x, _)| !x.is_nan())
                .collect();
            bins += 1;
            if let Some(r) = pearson(&pairs) {
                total += r.abs();
            }
        }
        let score = if bins == 0 { 0.0 } else { total / bins as f64 };
        if score > 0.0 && best.is_none_or(|(_, s)| score > s) {
            best = Some((p, score));
        }
    }
    best
}

/// Pearson's r of the pairs; `None` with fewer than [`MIN_BIN`] pairs or no spread.
fn pearson(pairs: &[(f64, f64)]) -> Option<f64> {
    if pairs.len() < MIN_BIN {
        return None;
    }
    let n = pairs.len() as f64;
    let (mx, my) = pairs
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in pairs {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    // Relative thresholds: values that only differ by rounding count as no spread.
    if sxx <= 1e-24 * (1.0 + mx * mx) * n || syy <= 1e-24 * (1.0 + my * my) * n {
        return None;
    }
    Some((sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partner_is_the_feature_that_moves_the_shap_value_at_a_fixed_value() {
        // φ₀ = x₀ · x₂: at a fixed x₀ the spread of φ₀ follows x₂, not x₁ (noise-free, so
        // x₂'s within-bin correlation is +1 wherever x₀ > 0; x₁ is an unrelated sawtooth).
        let rows = 200;
        let x = |p: usize, n: usize| -> f64 {
            match p {
                0 => (n / 20) as f64 + 1.0,
                1 => ((n * 7) % 13) as f64,
                _ => ((n * 31) % 17) as f64,
            }
        };
        let shap: Vec<f64> = (0..rows).map(|n| x(0, n) * x(2, n)).collect();
        let (partner, score) = strongest_partner(0, 3, rows, x, &shap).expect("a partner");
        assert_eq!(partner, 2);
        assert!(score > 0.99, "{score}");
    }

    #[test]
    fn no_spread_means_no_partner() {
        let shap = vec![1.0; 50];
        assert_eq!(strongest_partner(0, 2, 50, |_, n| n as f64, &shap), None);
        assert_eq!(strongest_partner(0, 1, 50, |_, n| n as f64, &shap), None);
    }
}
