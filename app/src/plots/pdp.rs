//! Partial dependence with ICE lines (shap's `plots.partial_dependence` with `ice=True`): one
//! thin line per sampled row — the model's output as one feature sweeps its grid, the row's
//! other values held — and their mean as a thick line.

use super::scale::Linear;
use super::svg::{Svg, clip};
use crate::format;
use crate::wire::PartialDependence;
use std::fmt::Write;

/// The plot; `scale` names the output's scale for the y axis.
pub fn svg(p: &PartialDependence, scale: &str) -> String {
    let (left, right, top, bottom) = (80.0, 30.0, 34.0, 70.0);
    let (width, height) = (760.0, 400.0);
    let n = p.grid.len();
    let categorical = p.categories.is_some();
    let (xlo, xhi) = match (p.grid.first(), p.grid.last()) {
        (Some(&a), Some(&b)) => (a, b),
        _ => (0.0, 1.0),
    };
    let x = if categorical {
        Linear::new(-0.5, n as f64 - 0.5, left, width - right)
    } else {
        Linear::new(xlo, xhi, left, width - right)
    };
    let (ylo, yhi) = p
        .ice
        .iter()
        .flatten()
        .chain(&p.average)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let y = Linear::new(ylo, yhi, height - bottom, top).nice();
    let desc = format!(
        "Partial dependence of the model output on {}: {} thin lines, one per sampled row, and \
         their mean as the thick line.",
        p.name,
        p.ice.len()
    );
    let mut s = Svg::new(
        width,
        height,
        &format!("Partial dependence: {}", p.name),
        &desc,
    );
    let points = |line: &[f64]| {
        let mut out = String::new();
        for (g, v) in p.grid.iter().zip(line) {
            let _ = write!(out, "{:.1},{:.1} ", x.at(*g), y.at(*v));
        }
        out.trim_end().to_owned()
    };
    for line in &p.ice {
        s.raw(&format!(
            r##"<polyline class="ice" points="{}" fill="none" stroke="#7fb3e0" stroke-opacity="0.5"/>"##,
            points(line)
        ));
    }
    s.raw(&format!(
        r##"<polyline class="average" points="{}" fill="none" stroke="#1f4e79" stroke-width="3"><title>mean over the rows</title></polyline>"##,
        points(&p.average)
    ));
    // The y axis: ticks on the left.
    s.line(left, y.p0, left, y.p1, "#333");
    for t in y.ticks() {
        s.text(
            left - 6.0,
            y.at(t) + 4.0,
            "end",
            r##"fill="#333""##,
            &format::value(t),
        );
    }
    s.text(left, 16.0, "start", r##"fill="#333""##, scale);
    let axis_y = height - bottom;
    match &p.categories {
        Some(names) => {
            s.line(left, axis_y, width - right, axis_y, "#333");
            for (i, name) in names.iter().enumerate().take(n) {
                s.text(
                    x.at(i as f64),
                    axis_y + 16.0,
                    "middle",
                    r##"fill="#333""##,
                    &clip(name, 12),
                );
            }
            s.text(
                (left + width - right) / 2.0,
                axis_y + 40.0,
                "middle",
                r##"fill="#333""##,
                &p.name,
            );
        }
        None => {
            s.x_axis(&x, axis_y, &p.name);
        }
    }
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_thin_line_per_row_and_one_thick_mean() {
        let p = PartialDependence {
            feature: 0,
            name: "age".into(),
            output: 0,
            grid: vec![0.0, 1.0, 2.0],
            categories: None,
            rows: vec![3, 9],
            ice: vec![vec![0.0, 1.0, 2.0], vec![2.0, 1.0, 0.0]],
            average: vec![1.0, 1.0, 1.0],
            method: String::new(),
        };
        let out = svg(&p, "raw output");
        assert_eq!(out.matches("class=\"ice\"").count(), 2);
        assert_eq!(out.matches("class=\"average\"").count(), 1);
        let cats = PartialDependence {
            categories: Some(vec!["a".into(), "b".into(), "c".into()]),
            ..p
        };
        let out = svg(&cats, "raw output");
        assert!(out.contains(">b</text>"));
    }
}
