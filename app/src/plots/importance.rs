//! Global importance: mean |SHAP| per feature as horizontal bars, the top `n` and one bar
//! for the sum of the rest (shap's `plots.bar`).

use super::scale::Linear;
use super::svg::{Svg, clip, esc};
use crate::format;
use std::fmt::Write;

/// One bar: a feature (or "Sum of M other features") and its mean |SHAP|.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    /// Features folded into this bar (1 for a feature's own bar).
    pub features: usize,
}

/// The bars of the plot: the `n` most important features, largest first, then the rest
/// summed into one bar (when there is a rest).
pub fn bars(features: &[String], mean_abs: &[f64], n: usize) -> Vec<Bar> {
    let mut order: Vec<usize> = (0..mean_abs.len().min(features.len())).collect();
    order.sort_by(|&a, &b| mean_abs[b].total_cmp(&mean_abs[a]).then(a.cmp(&b)));
    let mut out: Vec<Bar> = order
        .iter()
        .take(n)
        .map(|&i| Bar {
            label: features[i].clone(),
            value: mean_abs[i],
            features: 1,
        })
        .collect();
    let rest = &order[n.min(order.len())..];
    match rest.len() {
        0 => {}
        1 => out.push(Bar {
            label: features[rest[0]].clone(),
            value: mean_abs[rest[0]],
            features: 1,
        }),
        m => out.push(Bar {
            label: format!("Sum of {m} other features"),
            value: rest.iter().map(|&i| mean_abs[i]).sum(),
            features: m,
        }),
    }
    out
}

/// The SVG of `bars` in colour `fill`.
pub fn svg(bars: &[Bar], fill: &str, rows_note: &str) -> String {
    let (left, right, top, row_h) = (220.0, 90.0, 12.0, 26.0);
    let width = 760.0;
    let height = top + row_h * bars.len() as f64 + 50.0;
    let max = bars.iter().map(|b| b.value).fold(0.0, f64::max);
    let x = Linear::new(0.0, if max > 0.0 { max } else { 1.0 }, left, width - right).nice();
    let desc = format!(
        "Bar chart of the mean absolute SHAP value of each feature, {rows_note}. Largest: {}.",
        bars.first()
            .map(|b| format!("{} ({})", b.label, format::value(b.value)))
            .unwrap_or_else(|| "none".into())
    );
    let mut s = Svg::new(
        width,
        height,
        "Feature importance (mean |SHAP value|)",
        &desc,
    );
    for (i, bar) in bars.iter().enumerate() {
        let y = top + row_h * i as f64;
        let w = (x.at(bar.value) - left).max(0.0);
        let mut g = String::new();
        let _ = write!(
            g,
            r#"<g class="bar" tabindex="0"><title>{}: mean |SHAP| = {}</title><rect x="{left}" y="{:.1}" width="{w:.1}" height="{:.1}" fill="{fill}"/>"#,
            esc(&bar.label),
            format::value(bar.value),
            y + 4.0,
            row_h - 8.0
        );
        s.raw(&g);
        s.text(
            left - 8.0,
            y + row_h / 2.0 + 4.0,
            "end",
            r##"fill="#333""##,
            &clip(&bar.label, 30),
        );
        s.text(
            left + w + 6.0,
            y + row_h / 2.0 + 4.0,
            "start",
            &format!(r#"fill="{fill}""#),
            &format!("+{}", format::value(bar.value)),
        );
        s.raw("</g>");
    }
    let axis_y = top + row_h * bars.len() as f64 + 4.0;
    s.line(left, top, left, axis_y, "#999");
    s.x_axis(&x, axis_y, "mean(|SHAP value|)");
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("f{i}")).collect()
    }

    #[test]
    fn bars_are_the_top_features_largest_first_and_the_rest_summed() {
        let b = bars(&names(5), &[0.1, 0.5, 0.3, 0.05, 0.2], 2);
        let labels: Vec<&str> = b.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["f1", "f2", "Sum of 3 other features"]);
        assert!((b[2].value - 0.35).abs() < 1e-12);
        assert_eq!(b[2].features, 3);
    }

    #[test]
    fn a_single_leftover_feature_keeps_its_own_name() {
        let b = bars(&names(3), &[0.1, 0.5, 0.3], 2);
        assert_eq!(b[2].label, "f0");
        assert_eq!(bars(&names(2), &[0.1, 0.5], 9).len(), 2);
    }

    #[test]
    fn the_svg_has_one_bar_per_entry_with_its_exact_value_in_the_tooltip() {
        let b = bars(&names(3), &[0.125, 0.5, 0.25], 10);
        let out = svg(&b, "#ff0051", "over 100 rows");
        assert_eq!(out.matches("<rect x=").count(), 3);
        assert!(out.contains("<title>f1: mean |SHAP| = 0.5</title>"));
        assert!(out.contains("mean(|SHAP value|)"));
    }
}
