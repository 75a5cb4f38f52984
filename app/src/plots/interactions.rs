//! The interaction heatmap: mean |SHAP interaction value| between the most important
//! features (the diagonal is each feature's main effect), from white (none) to red (strong).

use super::svg::{Svg, clip, esc};
use crate::format;
use std::fmt::Write;

/// Most features drawn (the summary holds up to 30; beyond 15 the cells get unreadable).
pub const MAX_FEATURES: usize = 15;

/// White → `colour` at `t` in `[0, 1]`.
fn shade(t: f64, colour: (u8, u8, u8)) -> String {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mix = |c: u8| (255.0 - (255.0 - f64::from(c)) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(colour.0),
        mix(colour.1),
        mix(colour.2)
    )
}

/// The SVG for one output: `names[i]` labels row/column `i` of `matrix`.
pub fn svg(names: &[&str], matrix: &[Vec<f64>]) -> String {
    let n = names.len().min(matrix.len()).min(MAX_FEATURES);
    let (left, top, cell) = (190.0, 150.0, 30.0);
    let width = left + cell * n as f64 + 20.0;
    let height = top + cell * n as f64 + 20.0;
    // Off-diagonal cells set the scale: the main effects would wash the interactions out.
    let max = (0..n)
        .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
        .map(|(i, j)| matrix[i].get(j).copied().unwrap_or(0.0))
        .fold(0.0f64, f64::max);
    let strongest = (0..n)
        .flat_map(|i| (0..i).map(move |j| (i, j)))
        .max_by(|a, b| matrix[a.0][a.1].total_cmp(&matrix[b.0][b.1]));
    let desc = match strongest {
        Some((i, j)) => format!(
            "Heatmap of mean absolute SHAP interaction values between {n} features; the \
             strongest pair is {} and {} ({}).",
            names[i],
            names[j],
            format::value(matrix[i][j])
        ),
        None => format!("Heatmap of mean absolute SHAP interaction values of {n} features."),
    };
    let mut s = Svg::new(
        width,
        height,
        "Interaction strength between features",
        &desc,
    );
    for (i, name) in names.iter().take(n).enumerate() {
        let y = top + cell * i as f64 + cell / 2.0 + 4.0;
        s.text(left - 6.0, y, "end", r##"fill="#333""##, &clip(name, 26));
        let x = left + cell * i as f64 + cell / 2.0;
        s.raw(&format!(
            r##"<text transform="translate({x:.1},{:.1}) rotate(-55)" text-anchor="start" fill="#333">{}</text>"##,
            top - 6.0,
            esc(&clip(name, 22))
        ));
    }
    let mut cells = String::new();
    for i in 0..n {
        for j in 0..n {
            let v = matrix[i].get(j).copied().unwrap_or(0.0);
            let (fill, what) = if i == j {
                (
                    "#e8e8e8".to_owned(),
                    format!("{}: main effect {}", names[i], format::value(v)),
                )
            } else {
                (
                    shade(if max > 0.0 { v / max } else { 0.0 }, (255, 0, 81)),
                    format!("{} × {}: {}", names[i], names[j], format::value(v)),
                )
            };
            let _ = write!(
                cells,
                r##"<rect x="{:.1}" y="{:.1}" width="{cell}" height="{cell}" fill="{fill}" stroke="#fff"><title>{}</title></rect>"##,
                left + cell * j as f64,
                top + cell * i as f64,
                esc(&what)
            );
        }
    }
    s.raw(&cells);
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_is_a_cell_with_its_value_and_the_strongest_is_reddest() {
        let names = ["a", "b", "c"];
        let m = vec![
            vec![1.0, 0.2, 0.05],
            vec![0.2, 2.0, 0.1],
            vec![0.05, 0.1, 0.5],
        ];
        let out = svg(&names, &m);
        assert_eq!(out.matches("<rect x=").count(), 9);
        assert!(out.contains("<title>a × b: 0.2</title>"));
        assert!(out.contains("<title>b: main effect 2</title>"));
        assert!(out.contains(r##"fill="#ff0051" stroke="#fff"><title>a × b"##));
        assert!(out.contains("the strongest pair is b and a (0.2)"));
    }
}
