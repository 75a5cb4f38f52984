//! Side by side: paired importance bars (mean |SHAP| per feature in job A and job B, or in
//! two cohorts with their bootstrap intervals) and two prediction distributions on one axis.

use super::scale::Linear;
use super::svg::{Svg, clip, esc};
use crate::format;
use crate::wire::{CohortBars, CohortComparison, FeatureShift, Histogram};
use std::fmt::Write;

/// Job A's colour (shap's blue) and job B's (shap's red).
pub const COLOURS: [&str; 2] = ["#008bfb", "#ff0051"];

/// One feature's pair of bars, with optional intervals (low, high) for each.
struct Pair {
    name: String,
    values: [f64; 2],
    intervals: [Option<(f64, f64)>; 2],
}

/// Paired bars for the first `n` features (already ordered, most important first).
pub fn paired_bars(features: &[FeatureShift], n: usize) -> String {
    let pairs: Vec<Pair> = features
        .iter()
        .take(n)
        .map(|f| Pair {
            name: f.name.clone(),
            values: [f.mean_abs_a, f.mean_abs_b],
            intervals: [None, None],
        })
        .collect();
    let desc = format!(
        "Paired bars of the mean absolute SHAP value of the {} most important features in job A \
         (blue, upper bar) and job B (red, lower bar).",
        pairs.len()
    );
    pairs_svg("Importance in both jobs", &desc, ["job A", "job B"], &pairs)
}

/// Two cohorts' mean |SHAP| for output `k`, the `n` most important features (in either)
/// first, each bar with its 95 % interval as a whisker (shap's cohort bar plot).
pub fn cohort_bars(c: &CohortComparison, k: usize, n: usize) -> String {
    let at = |side: &CohortBars, j: usize| {
        let get = |v: &Vec<Vec<f64>>| v.get(k).and_then(|r| r.get(j)).copied().unwrap_or(0.0);
        (get(&side.mean_abs), (get(&side.low), get(&side.high)))
    };
    let mut order: Vec<usize> = (0..c.features.len()).collect();
    let key = |j: usize| at(&c.a, j).0.max(at(&c.b, j).0);
    order.sort_by(|&x, &y| key(y).total_cmp(&key(x)).then(x.cmp(&y)));
    let pairs: Vec<Pair> = order
        .into_iter()
        .take(n)
        .map(|j| {
            let ((va, ia), (vb, ib)) = (at(&c.a, j), at(&c.b, j));
            Pair {
                name: c.features[j].clone(),
                values: [va, vb],
                intervals: [Some(ia), Some(ib)],
            }
        })
        .collect();
    let name = |e: &str| {
        if e.is_empty() {
            "every row".to_owned()
        } else {
            e.to_owned()
        }
    };
    let desc = format!(
        "Paired bars of the mean absolute SHAP value of the {} most important features in \
         cohort A ({}, blue, upper bar) and cohort B ({}, red, lower bar), each with a 95 % \
         bootstrap interval.",
        pairs.len(),
        name(&c.a.expression),
        name(&c.b.expression)
    );
    pairs_svg(
        "Importance in two cohorts",
        &desc,
        ["cohort A", "cohort B"],
        &pairs,
    )
}

fn pairs_svg(title: &str, desc: &str, legend: [&str; 2], pairs: &[Pair]) -> String {
    let (left, right, top, row_h) = (220.0, 90.0, 30.0, 30.0);
    let width = 760.0;
    let height = top + row_h * pairs.len() as f64 + 50.0;
    let max = pairs
        .iter()
        .flat_map(|p| {
            let hi = p.intervals.iter().flatten().map(|i| i.1);
            p.values.into_iter().chain(hi)
        })
        .fold(0.0, f64::max);
    let x = Linear::new(0.0, if max > 0.0 { max } else { 1.0 }, left, width - right).nice();
    let mut s = Svg::new(width, height, title, desc);
    for (j, label) in legend.iter().enumerate() {
        let colour = format!(r#"fill="{}""#, COLOURS[j]);
        s.text(
            left + 100.0 * j as f64,
            16.0,
            "start",
            &colour,
            &format!("■ {label}"),
        );
    }
    for (i, p) in pairs.iter().enumerate() {
        let y = top + row_h * i as f64;
        let bar_h = (row_h - 6.0) / 2.0;
        let mut g = format!(
            r#"<g class="pair" tabindex="0"><title>{}: mean |SHAP| {} = {}, {} = {}</title>"#,
            esc(&p.name),
            legend[0],
            format::value(p.values[0]),
            legend[1],
            format::value(p.values[1])
        );
        for (j, (colour, (value, interval))) in COLOURS
            .iter()
            .zip(p.values.iter().zip(p.intervals))
            .enumerate()
        {
            let w = (x.at(*value) - left).max(0.0);
            let y0 = y + 3.0 + bar_h * j as f64;
            let _ = write!(
                g,
                r#"<rect x="{left}" y="{y0:.1}" width="{w:.1}" height="{bar_h:.1}" fill="{colour}"/>"#,
            );
            if let Some((lo, hi)) = interval {
                let mid = y0 + bar_h / 2.0;
                let _ = write!(
                    g,
                    r##"<line class="interval" x1="{:.1}" y1="{mid:.1}" x2="{:.1}" y2="{mid:.1}" stroke="#333"/>"##,
                    x.at(lo),
                    x.at(hi)
                );
            }
        }
        s.raw(&g);
        s.text(
            left - 8.0,
            y + row_h / 2.0 + 4.0,
            "end",
            r##"fill="#333""##,
            &clip(&p.name, 30),
        );
        s.raw("</g>");
    }
    let axis_y = top + row_h * pairs.len() as f64 + 4.0;
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
        assert!(out.contains("<title>age: mean |SHAP| job A = 0.5, job B = 0.25</title>"));
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

    #[test]
    fn cohort_bars_carry_an_interval_whisker_per_bar_most_important_first() {
        let bars = |m: [f64; 2]| CohortBars {
            expression: String::new(),
            rows: 10,
            mean_abs: vec![m.to_vec()],
            low: vec![m.iter().map(|v| v * 0.5).collect()],
            high: vec![m.iter().map(|v| v * 1.5).collect()],
        };
        let c = CohortComparison {
            features: vec!["a".into(), "b".into()],
            outputs: 1,
            rows_covered: 10,
            partial: false,
            method: String::new(),
            a: bars([0.1, 0.4]),
            b: bars([0.2, 0.1]),
        };
        let out = cohort_bars(&c, 0, 10);
        assert_eq!(out.matches("class=\"interval\"").count(), 4);
        let (b, a) = (
            out.find("<title>b:").unwrap(),
            out.find("<title>a:").unwrap(),
        );
        assert!(b < a, "b (0.4) is drawn first");
        assert!(out.contains("cohort B (every row"));
    }
}
