//! Two jobs side by side: paired importance bars (mean |SHAP| in job A and job B per feature)
//! and both prediction distributions on one axis.

use super::scale::Linear;
use super::svg::{Svg, clip, esc};
use crate::format;
use crate::wire::{FeatureShift, Histogram};
use std::fmt::Write;

/// Job A's colour (shap's blue) and job B's (shap's red).
pub const COLOURS: [&str; 2] = ["#008bfb", "#ff0051"];

/// Paired bars for the first `n` features (already ordered, most important first).
pub fn paired_bars(features: &[FeatureShift], n: usize) -> String {
    let shown = &features[..n.min(features.len())];
    let (left, right, top, row_h) = (220.0, 90.0, 30.0, 30.0);
    let width = 760.0;
    let height = top + row_h * shown.len() as f64 + 50.0;
    let max = shown
        .iter()
        .map(|f| f.mean_abs_a.max(f.mean_abs_b))
        .fold(0.0, f64::max);
    let x = Linear::new(0.0, if max > 0.0 { max } else { 1.0 }, left, width - right).nice();
    let desc = format!(
        "Paired bars of the mean absolute SHAP value of the {} most important features in job A \
         (blue, upper bar) and job B (red, lower bar).",
        shown.len()
    );
    let mut s = Svg::new(width, height, "Importance in both jobs", &desc);
    s.text(
        left,
        16.0,
        "start",
        &format!(r#"fill="{}""#, COLOURS[0]),
        "■ job A",
    );
    s.text(
        left + 80.0,
        16.0,
        "start",
        &format!(r#"fill="{}""#, COLOURS[1]),
        "■ job B",
    );
    for (i, f) in shown.iter().enumerate() {
        let y = top + row_h * i as f64;
        let bar_h = (row_h - 6.0) / 2.0;
        let mut g = format!(
            r#"<g class="pair" tabindex="0"><title>{}: mean |SHAP| A = {}, B = {}</title>"#,
            esc(&f.name),
            format::value(f.mean_abs_a),
            format::value(f.mean_abs_b)
        );
        for (j, value) in [f.mean_abs_a, f.mean_abs_b].into_iter().enumerate() {
            let w = (x.at(value) - left).max(0.0);
            let _ = write!(
                g,
                r#"<rect x="{left}" y="{:.1}" width="{w:.1}" height="{bar_h:.1}" fill="{}"/>"#,
                y + 3.0 + bar_h * j as f64,
                COLOURS[j]
            );
        }
        s.raw(&g);
        s.text(
            left - 8.0,
            y + row_h / 2.0 + 4.0,
            "end",
            r##"fill="#333""##,
            &clip(&f.name, 30),
        );
        s.raw("</g>");
    }
    let axis_y = top + row_h * shown.len() as f64 + 4.0;
    s.line(left, top, left, axis_y, "#999");
    s.x_axis(&x, axis_y, "mean(|SHAP value|)");
    s.finish()
}

/// Both histograms as step outlines on one prediction axis, each normalised to its share of
/// rows so jobs of different sizes compare.
pub fn distributions(a: &Histogram, b: &Histogram, caption: &str) -> String {
    let (left, right, top, plot_h) = (60.0, 30.0, 30.0, 180.0);
    let width = 760.0;
    let height = top + plot_h + 50.0;
    let x = Linear::new(a.min.min(b.min), a.max.max(b.max), left, width - right).nice();
    let shares = |h: &Histogram| -> Vec<f64> {
        let total = h.counts.iter().sum::<u64>().max(1) as f64;
        h.counts.iter().map(|&c| c as f64 / total).collect()
    };
    let (sa, sb) = (shares(a), shares(b));
    let peak = sa.iter().chain(&sb).copied().fold(0.0, f64::max);
    let y = |v: f64| top + plot_h - if peak > 0.0 { v / peak * plot_h } else { 0.0 };
    let desc = format!(
        "Step outlines of the share of rows per prediction bin: job A in blue ({} to {}), job B \
         in red ({} to {}).",
        format::value(a.min),
        format::value(a.max),
        format::value(b.min),
        format::value(b.max)
    );
    let mut s = Svg::new(width, height, "Prediction distributions", &desc);
    s.text(
        left,
        16.0,
        "start",
        &format!(r#"fill="{}""#, COLOURS[0]),
        "■ job A",
    );
    s.text(
        left + 80.0,
        16.0,
        "start",
        &format!(r#"fill="{}""#, COLOURS[1]),
        "■ job B",
    );
    for (h, share, colour) in [(a, &sa, COLOURS[0]), (b, &sb, COLOURS[1])] {
        let n = share.len().max(1) as f64;
        let step = (h.max - h.min) / n;
        let mut points = format!("{:.1},{:.1}", x.at(h.min), y(0.0));
        for (i, v) in share.iter().enumerate() {
            let (x0, x1) = (h.min + step * i as f64, h.min + step * (i + 1) as f64);
            let _ = write!(
                points,
                " {:.1},{:.1} {:.1},{:.1}",
                x.at(x0),
                y(*v),
                x.at(x1),
                y(*v)
            );
        }
        let _ = write!(points, " {:.1},{:.1}", x.at(h.max), y(0.0));
        s.raw(&format!(
            r#"<polyline class="distribution" points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>"#
        ));
    }
    s.x_axis(&x, top + plot_h, caption);
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shift(name: &str, a: f64, b: f64) -> FeatureShift {
        FeatureShift {
            name: name.into(),
            mean_abs_a: a,
            mean_abs_b: b,
            mean_a: None,
            mean_b: None,
            shift: None,
        }
    }

    #[test]
    fn each_feature_gets_a_bar_per_job_with_both_values_in_its_tooltip() {
        let out = paired_bars(&[shift("age", 0.5, 0.25), shift("city", 0.1, 0.3)], 10);
        assert_eq!(out.matches("<rect x=\"220\"").count(), 4);
        assert!(out.contains("<title>age: mean |SHAP| A = 0.5, B = 0.25</title>"));
        assert_eq!(
            paired_bars(&[shift("a", 1.0, 1.0), shift("b", 1.0, 1.0)], 1)
                .matches("class=\"pair\"")
                .count(),
            1
        );
    }

    #[test]
    fn both_distributions_are_drawn_as_shares_of_their_rows() {
        let a = Histogram {
            min: 0.0,
            max: 1.0,
            counts: vec![1, 3],
        };
        let b = Histogram {
            min: 0.5,
            max: 2.0,
            counts: vec![10, 10, 20],
        };
        let out = distributions(&a, &b, "prediction");
        assert_eq!(out.matches("<polyline class=\"distribution\"").count(), 2);
        assert!(out.contains(COLOURS[0]) && out.contains(COLOURS[1]));
    }
}
