//! Reading the fixtures' reference matrices, comparing the engine's values with them, and the
//! additivity (Σφ + base = the margin) every explanation has whatever the reference says.

use shaplab::{Ensemble, Explanation, Matrix};
use std::path::Path;

/// A headerless numeric CSV as written by numpy.savetxt.
pub fn read_matrix(path: &Path) -> Vec<Vec<f64>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| l.split(',').map(|v| v.parse::<f64>().unwrap()).collect())
        .collect()
}

/// Compare flat values against a reference matrix: within `rel` × the reference's scale (its
/// largest |value|, at least 1), or exactly with `GOLDEN_STRICT` set (to see every miss).
/// Returns the worst |difference|, or a description of it when it is too large.
pub fn compare(label: &str, ours: &[f64], reference: &[Vec<f64>], rel: f64) -> Result<f64, String> {
    let flat: Vec<f64> = reference.iter().flatten().copied().collect();
    if flat.len() != ours.len() {
        return Err(format!(
            "{label}: {} values, reference has {}",
            ours.len(),
            flat.len()
        ));
    }
    let scale = flat.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let tol = rel
        * scale
        * if std::env::var("GOLDEN_STRICT").is_ok() {
            0.0
        } else {
            1.0
        };
    let (worst, at) = ours
        .iter()
        .zip(&flat)
        .enumerate()
        .map(|(i, (a, b))| ((a - b).abs(), i))
        .fold((0.0, 0), |acc, x| if x.0 > acc.0 { x } else { acc });
    if worst > tol || worst.is_nan() || ours.iter().any(|v| !v.is_finite()) {
        return Err(format!(
            "{label}: worst |diff| {worst:e} at index {at} (ours {}, reference {}), tolerance {tol:e}",
            ours[at], flat[at]
        ));
    }
    Ok(worst)
}

/// One row and output of an explanation: Σφ + base beside the model's own raw margin.
pub struct Sum {
    pub row: usize,
    pub output: usize,
    pub sum: f64,
    pub margin: f64,
}

/// Σφ + base beside the model's margin for every row and output of `ex` (path-dependent, or
/// interventional of the raw score): additivity says they are equal, so each caller bounds
/// the gap by the rounding its computation allows.
pub fn sums_and_margins(model: &Ensemble, rows: &Matrix, ex: &Explanation) -> Vec<Sum> {
    let mut margin = vec![0.0; model.num_outputs];
    let mut out = Vec::with_capacity(rows.rows * model.num_outputs);
    for row in 0..rows.rows {
        model.predict_margin(rows.row(row), &mut margin);
        for (output, &m) in margin.iter().enumerate() {
            out.push(Sum {
                row,
                output,
                sum: ex.block(row, output).iter().sum(),
                margin: m,
            });
        }
    }
    out
}
