//! shap's decision plot (`plots.decision`) and heatmap (`plots.heatmap`), from the summary's
//! seeded row sample: the most important features' SHAP values per sampled row, and each
//! row's prediction (so the features not drawn still add up, as one "other features" step).
//!
//! Decision plot: one line per row, from the base value at the bottom, adding the other
//! features' sum and then each drawn feature from least to most important, up to the row's
//! prediction at the top; coloured by prediction. Heatmap: rows across, features down, each
//! cell the SHAP value (red pushes up, blue down), with f(x) drawn above; rows ordered by
//! prediction or by similarity of their explanations.

use super::colour::value_colour;
use super::scale::Linear;
use super::svg::{Svg, clip, esc};
use crate::format;
use crate::view_state::Palette;
use crate::wire::BeeswarmSample;
use std::fmt::Write;

/// Most lines in a decision plot (more is a blur).
pub const DECISION_ROWS: usize = 100;
/// Most columns in a heatmap.
pub const HEATMAP_ROWS: usize = 400;

/// How the heatmap orders its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Highest prediction first.
    Prediction,
    /// Rows with similar explanations side by side (a greedy nearest-neighbour chain from the
    /// highest prediction, over the drawn features' SHAP values).
    Similarity,
}

/// One sampled row: its SHAP values of the drawn features (most important first) and its
/// prediction.
struct Line {
    row: u64,
    shap: Vec<f64>,
    prediction: f64,
}

/// The first `n` positions of `len`, evenly spaced.
fn spaced(len: usize, n: usize) -> Vec<usize> {
    if len <= n {
        (0..len).collect()
    } else {
        (0..n).map(|i| i * len / n).collect()
    }
}

fn lines(sample: &BeeswarmSample, output: usize, n: usize) -> Vec<Line> {
    let (Some(shap), Some(prediction)) = (sample.shap.get(output), sample.prediction.get(output))
    else {
        return Vec::new();
    };
    let features = sample.features.len().min(shap.len());
    spaced(sample.rows.len().min(prediction.len()), n)
        .into_iter()
        .map(|i| Line {
            row: sample.rows[i],
            shap: (0..features)
                .map(|j| shap[j].get(i).copied().map_or(0.0, f64::from))
                .collect(),
            prediction: f64::from(prediction[i]),
        })
        .collect()
}

/// The decision plot of output `output`; `base` its base value.
pub fn decision(
    sample: &BeeswarmSample,
    names: &[String],
    output: usize,
    base: f64,
    palette: Palette,
) -> String {
    let rows = lines(sample, output, DECISION_ROWS);
    let drawn: Vec<String> = sample
        .features
        .iter()
        .take(rows.first().map_or(0, |l| l.shap.len()))
        .map(|&j| names.get(j).cloned().unwrap_or_else(|| format!("f{j}")))
        .collect();
    // Levels bottom → top: base, other features, then the drawn ones least important first.
    let levels = drawn.len() + 2;
    let (left, right, top, row_h) = (220.0, 40.0, 20.0, 30.0);
    let width = 760.0;
    let height = top + row_h * (levels - 1) as f64 + 60.0;
    let paths: Vec<Vec<f64>> = rows
        .iter()
        .map(|l| {
            let other = l.prediction - base - l.shap.iter().sum::<f64>();
            let mut x = vec![base, base + other];
            for v in l.shap.iter().rev() {
                let last = x[x.len() - 1];
                x.push(last + v);
            }
            x
        })
        .collect();
    let (lo, hi) = paths
        .iter()
        .flatten()
        .fold((base, base), |(a, b), &v| (a.min(v), b.max(v)));
    let x = Linear::new(lo, hi, left, width - right).nice();
    let y = |level: usize| top + row_h * (levels - 1 - level) as f64;
    let (plo, phi) = rows
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), l| {
            (a.min(l.prediction), b.max(l.prediction))
        });
    let desc = format!(
        "Decision plot of {} rows: each line starts at the base value {} at the bottom and adds \
         the features' SHAP values upwards, the most important last, ending at the row's \
         prediction; red lines end high, blue low.",
        rows.len(),
        format::value(base)
    );
    let mut s = Svg::new(width, height, "Decision plot", &desc);
    for level in 1..levels {
        let label = match level {
            1 => "other features".to_owned(),
            l => drawn[drawn.len() - (l - 1)].clone(),
        };
        s.line(left, y(level), width - right, y(level), "#eee");
        s.text(
            left - 8.0,
            y(level) + 4.0,
            "end",
            r##"fill="#333""##,
            &clip(&label, 30),
        );
    }
    s.line(x.at(base), top, x.at(base), y(0), "#999");
    for (l, path) in rows.iter().zip(&paths) {
        let t = if phi > plo {
            (l.prediction - plo) / (phi - plo)
        } else {
            0.5
        };
        let mut points = String::new();
        for (level, v) in path.iter().enumerate() {
            let _ = write!(points, "{:.1},{:.1} ", x.at(*v), y(level));
        }
        s.raw(&format!(
            r#"<polyline class="decision" points="{}" fill="none" stroke="{}" stroke-opacity="0.7"><title>row {}: prediction {}</title></polyline>"#,
            points.trim_end(),
            value_colour(palette, Some(t)),
            l.row,
            format::value(l.prediction)
        ));
    }
    s.x_axis(&x, y(0) + 4.0, "model output");
    s.finish()
}

/// The heatmap of output `output` with its rows in `order`.
pub fn heatmap(
    sample: &BeeswarmSample,
    names: &[String],
    output: usize,
    order: Order,
    palette: Palette,
) -> String {
    let mut rows = lines(sample, output, HEATMAP_ROWS);
    rows = match order {
        Order::Prediction => {
            rows.sort_by(|a, b| b.prediction.total_cmp(&a.prediction));
            rows
        }
        Order::Similarity => chain(rows),
    };
    let features = rows.first().map_or(0, |l| l.shap.len());
    let (left, right, top, row_h) = (220.0, 30.0, 90.0, 24.0);
    let width = 760.0;
    let height = top + row_h * features as f64 + 30.0;
    let cell_w = (width - left - right) / rows.len().max(1) as f64;
    let m = rows
        .iter()
        .flat_map(|l| l.shap.iter())
        .fold(0.0f64, |a, v| a.max(v.abs()));
    let m = if m > 0.0 { m } else { 1.0 };
    let desc = format!(
        "Heatmap of {} rows (across, ordered by {}) and {} features (down): each cell is the \
         SHAP value, red pushing the output up and blue down (scale ±{}); the line above is \
         each row's prediction.",
        rows.len(),
        match order {
            Order::Prediction => "prediction",
            Order::Similarity => "similarity of their explanations",
        },
        features,
        format::value(m)
    );
    let mut s = Svg::new(width, height, "Heatmap of SHAP values", &desc);
    for j in 0..features {
        let name = sample
            .features
            .get(j)
            .and_then(|&f| names.get(f))
            .cloned()
            .unwrap_or_default();
        let y = top + row_h * j as f64;
        s.text(
            left - 8.0,
            y + row_h / 2.0 + 4.0,
            "end",
            r##"fill="#333""##,
            &clip(&name, 30),
        );
        let mut g = format!(
            r#"<g class="feature-row" shape-rendering="crispEdges"><title>{}</title>"#,
            esc(&name)
        );
        for (i, l) in rows.iter().enumerate() {
            let _ = write!(
                g,
                r#"<rect x="{:.2}" y="{y:.1}" width="{:.2}" height="{row_h:.1}" fill="{}"/>"#,
                left + cell_w * i as f64,
                cell_w + 0.05,
                diverging(palette, l.shap[j] / m)
            );
        }
        g.push_str("</g>");
        s.raw(&g);
    }
    // f(x) above the cells.
    let (plo, phi) = rows
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), l| {
            (a.min(l.prediction), b.max(l.prediction))
        });
    let py = Linear::new(plo, phi, top - 10.0, 20.0);
    let mut points = String::new();
    for (i, l) in rows.iter().enumerate() {
        let _ = write!(
            points,
            "{:.1},{:.1} ",
            left + cell_w * (i as f64 + 0.5),
            py.at(l.prediction)
        );
    }
    s.raw(&format!(
        r##"<polyline class="fx" points="{}" fill="none" stroke="#333"/>"##,
        points.trim_end()
    ));
    s.text(left - 8.0, 40.0, "end", r##"fill="#333""##, "f(x)");
    s.finish()
}

/// A SHAP value scaled to [−1, 1] as shap's heatmap colours it: blue through white (zero) to
/// red; the colour-blind-safe palette keeps its viridis ramp.
fn diverging(palette: Palette, v: f64) -> String {
    let v = if v.is_finite() {
        v.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    if palette == Palette::ColourBlindSafe {
        return value_colour(palette, Some(0.5 + v / 2.0));
    }
    let (end, f) = if v < 0.0 {
        ((0x00, 0x8b, 0xfb), -v)
    } else {
        ((0xff, 0x00, 0x51), v)
    };
    let mix = |c: u8| (255.0 + (f64::from(c) - 255.0) * f).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(end.0), mix(end.1), mix(end.2))
}

/// Rows in a greedy nearest-neighbour chain from the highest prediction.
fn chain(mut rest: Vec<Line>) -> Vec<Line> {
    let mut out = Vec::with_capacity(rest.len());
    let Some(first) =
        (0..rest.len()).max_by(|&a, &b| rest[a].prediction.total_cmp(&rest[b].prediction))
    else {
        return out;
    };
    out.push(rest.swap_remove(first));
    while !rest.is_empty() {
        let last = &out[out.len() - 1].shap;
        let dist = |l: &Line| -> f64 {
            l.shap
                .iter()
                .zip(last)
                .map(|(a, b)| (a - b) * (a - b))
                .sum()
        };
        let next = (0..rest.len())
            .min_by(|&a, &b| dist(&rest[a]).total_cmp(&dist(&rest[b])))
            .unwrap_or(0);
        out.push(rest.swap_remove(next));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two features, three rows; predictions include an "other features" part.
    fn sample() -> BeeswarmSample {
        BeeswarmSample {
            method: "all rows".into(),
            size: 3,
            rows: vec![10, 11, 12],
            features: vec![1, 0],
            values: vec![vec![None; 3], vec![None; 3]],
            shap: vec![vec![vec![1.0, -1.0, 0.5], vec![0.25, 0.0, -0.5]]],
            // base 2: row 10 = 2 + 1 + 0.25 + 0.75 (other).
            prediction: vec![vec![4.0, 1.0, 2.0]],
        }
    }

    fn names() -> Vec<String> {
        vec!["a".into(), "b".into()]
    }

    #[test]
    fn each_decision_line_climbs_from_the_base_to_its_prediction() {
        let out = decision(&sample(), &names(), 0, 2.0, Palette::RedBlue);
        assert_eq!(out.matches("<polyline class=\"decision\"").count(), 3);
        assert!(out.contains("<title>row 10: prediction 4</title>"));
        // Levels: other features, then a (less important), then b (most important) on top.
        let (other, a, b) = (
            out.find(">other features<").unwrap(),
            out.find(">a<").unwrap(),
            out.find(">b<").unwrap(),
        );
        assert!(other < a && a < b);
        // Row 10's points: base 2 → +0.75 other → +0.25 (a) → +1 (b) = 4, so 4 points.
        let line = out
            .split("<polyline class=\"decision\" points=\"")
            .nth(1)
            .unwrap();
        let points = line.split('"').next().unwrap();
        assert_eq!(points.split(' ').count(), 4);
    }

    #[test]
    fn heatmap_cells_run_from_blue_through_white_to_red() {
        assert_eq!(diverging(Palette::RedBlue, 0.0), "#ffffff");
        assert_eq!(diverging(Palette::RedBlue, 1.0), "#ff0051");
        assert_eq!(diverging(Palette::RedBlue, -2.0), "#008bfb");
    }

    #[test]
    fn the_heatmap_orders_rows_by_prediction_or_by_similarity() {
        let by_prediction = heatmap(&sample(), &names(), 0, Order::Prediction, Palette::RedBlue);
        assert_eq!(by_prediction.matches("<rect x=").count(), 6);
        let chained = chain(lines(&sample(), 0, 10));
        let rows: Vec<u64> = chained.iter().map(|l| l.row).collect();
        // From row 10 (highest), the nearest explanation is row 12's, then row 11's.
        assert_eq!(rows, [10, 12, 11]);
        let none = BeeswarmSample {
            prediction: vec![],
            ..sample()
        };
        assert_eq!(
            decision(&none, &names(), 0, 0.0, Palette::RedBlue)
                .matches("<polyline")
                .count(),
            0
        );
    }
}
