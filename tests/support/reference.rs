//! Reading the fixtures' reference matrices and comparing the engine's values with them.

use std::path::Path;

/// A headerless numeric CSV as written by numpy.savetxt.
pub fn read_matrix(path: &Path) -> Vec<Vec<f64>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| l.split(',').map(|v| v.parse::<f64>().unwrap()).collect())
        .collect()
}

/// Compare flat values against a reference matrix; returns a description of the worst miss.
pub fn compare(label: &str, ours: &[f64], reference: &[Vec<f64>], rel: f64) -> Result<(), String> {
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
    if worst > tol || ours.iter().any(|v| !v.is_finite()) {
        return Err(format!(
            "{label}: worst |diff| {worst:e} at index {at} (ours {}, reference {}), tolerance {tol:e}",
            ours[at], flat[at]
        ));
    }
    Ok(())
}
