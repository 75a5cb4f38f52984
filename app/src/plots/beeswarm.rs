//! The beeswarm (shap's `plots.beeswarm`): one row per feature, one dot per sampled data row
//! at its SHAP value, coloured by the feature's value (high red, low blue; missing grey);
//! dots that would overlap are stacked vertically so the density shows.

use super::colour::{category_colour, category_label, value_colour};
use super::scale::{Linear, robust_range};
use super::svg::{Svg, clip, esc};
use crate::format;
use crate::view_state::Palette;
use crate::wire::BeeswarmSample;
use std::fmt::Write;

/// Most features drawn (the sample holds the most important first).
pub const MAX_FEATURES: usize = 12;

/// Vertical offsets, in units of one dot spacing, that stack dots sharing a pixel bin:
/// 0, +1, −1, +2, −2 … in the order the dots come.
pub fn stack_offsets(xs: &[f64], bin_px: f64) -> Vec<f64> {
    let mut counts: std::collections::HashMap<i64, u32> = std::collections::HashMap::new();
    xs.iter()
        .map(|x| {
            let c = counts.entry((x / bin_px).floor() as i64).or_insert(0);
            let k = *c;
            *c += 1;
            let step = f64::from(k.div_ceil(2));
            if k % 2 == 1 { step } else { -step }
        })
        .collect()
}

/// The SVG for output `output` of `sample`; `names` are the model's feature names and
/// `categories` (per feature, may be empty) marks categorical ones: their dots take one colour
/// per category instead of a low → high scale.
pub fn svg(
    sample: &BeeswarmSample,
    names: &[String],
    categories: &[Option<Vec<String>>],
    output: usize,
    palette: Palette,
) -> String {
    let features: Vec<usize> = sample.features.iter().copied().take(MAX_FEATURES).collect();
    let shap = sample.shap.get(output);
    let (left, right, top, row_h) = (220.0, 70.0, 12.0, 34.0);
    let width = 760.0;
    let height = top + row_h * features.len() as f64 + 50.0;
    let all = shap
        .into_iter()
        .flat_map(|o| o.iter().take(features.len()))
        .flatten()
        .map(|&v| f64::from(v));
    let (lo, hi) = all.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let x = Linear::new(lo, hi, left, width - right).nice();
    let desc = format!(
        "Beeswarm of SHAP values for {} features over {} sampled rows; each dot is a row, \
         coloured by the feature's value from low (blue) to high (red), grey when missing.",
        features.len(),
        format::count(sample.size)
    );
    let mut s = Svg::new(width, height, "SHAP values by feature (beeswarm)", &desc);
    let zero = x.at(0.0);
    s.line(zero, top, zero, top + row_h * features.len() as f64, "#bbb");
    for (i, &f) in features.iter().enumerate() {
        let name = names.get(f).map(String::as_str).unwrap_or("?");
        let cy = top + row_h * (i as f64 + 0.5);
        s.line(left, cy, width - right, cy, "#eee");
        s.text(
            left - 8.0,
            cy + 4.0,
            "end",
            r##"fill="#333""##,
            &clip(name, 30),
        );
        let (Some(values), Some(ys)) = (sample.values.get(i), shap.and_then(|o| o.get(i))) else {
            continue;
        };
        let cats = categories.get(f).and_then(Option::as_deref);
        let range = robust_range(values);
        let xs: Vec<f64> = ys.iter().map(|&v| x.at(f64::from(v))).collect();
        let offsets = stack_offsets(&xs, 2.5);
        // Squeeze a dense row so its stack stays inside the row's band.
        let widest = offsets.iter().fold(0.0f64, |m, o| m.max(o.abs()));
        let spacing = if widest > 0.0 {
            (row_h * 0.42 / widest).min(2.2)
        } else {
            2.2
        };
        let mut dots = String::with_capacity(xs.len() * 120);
        for (n, (&px, &off)) in xs.iter().zip(&offsets).enumerate() {
            let value = values.get(n).copied().flatten();
            let t = match (value, range) {
                (Some(v), Some((lo, hi))) => Some((f64::from(v) - lo) / (hi - lo).max(1e-12)),
                _ => None,
            };
            let row = sample.rows.get(n).copied().unwrap_or(0);
            let (fill, shown) = match cats {
                Some(c) => (category_colour(value).to_owned(), category_label(c, value)),
                None => (
                    value_colour(palette, t),
                    value.map_or("missing".to_owned(), |v| format::value(f64::from(v))),
                ),
            };
            let _ = write!(
                dots,
                r#"<circle cx="{px:.1}" cy="{:.1}" r="2.4" fill="{}"><title>row {row}: {} = {shown}, SHAP {}</title></circle>"#,
                cy + off * spacing,
                fill,
                esc(name),
                format::signed(f64::from(ys[n])),
            );
        }
        s.raw(&dots);
    }
    let axis_y = top + row_h * features.len() as f64 + 4.0;
    s.x_axis(&x, axis_y, "SHAP value (impact on model output)");
    colour_bar(
        &mut s,
        width - right + 24.0,
        top,
        row_h * features.len() as f64,
        palette,
        "Feature value",
    );
    if features
        .iter()
        .any(|&f| categories.get(f).is_some_and(Option::is_some))
    {
        s.text(
            left,
            axis_y + 48.0,
            "start",
            r##"fill="#666""##,
            "Categorical features: one colour per category (hover a dot for its name)",
        );
    }
    s.finish()
}

/// The "High … Low" legend at the right, titled (rotated) with what the colour shows.
pub fn colour_bar(s: &mut Svg, x: f64, top: f64, height: f64, palette: Palette, title: &str) {
    let steps = 20;
    let h = height / f64::from(steps);
    for i in 0..steps {
        let t = 1.0 - f64::from(i) / f64::from(steps - 1);
        s.raw(&format!(
            r#"<rect x="{x:.1}" y="{:.1}" width="10" height="{:.1}" fill="{}"/>"#,
            top + h * f64::from(i),
            h + 0.5,
            value_colour(palette, Some(t))
        ));
    }
    s.text(x + 14.0, top + 10.0, "start", r##"fill="#333""##, "High");
    s.text(x + 14.0, top + height, "start", r##"fill="#333""##, "Low");
    s.raw(&format!(
        r##"<text class="colour-title" transform="translate({:.1},{:.1}) rotate(-90)" text-anchor="middle" fill="#333">{}</text>"##,
        x + 24.0,
        top + height / 2.0,
        esc(&clip(title, 40))
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_in_the_same_bin_stack_alternately_up_and_down() {
        let offsets = stack_offsets(&[10.0, 10.5, 11.0, 50.0, 10.2], 2.5);
        assert_eq!(offsets, [0.0, 1.0, -1.0, 0.0, 2.0]);
    }

    #[test]
    fn every_sampled_row_becomes_one_coloured_dot_and_missing_values_are_grey() {
        let sample = BeeswarmSample {
            method: "all rows".into(),
            size: 3,
            rows: vec![0, 1, 2],
            features: vec![1, 0],
            values: vec![
                vec![Some(1.0), Some(5.0), None],
                vec![Some(0.0), Some(0.0), Some(1.0)],
            ],
            shap: vec![vec![vec![-0.5, 0.5, 0.0], vec![0.1, 0.1, -0.1]]],
            prediction: vec![],
        };
        let names = vec!["a".to_owned(), "b".to_owned()];
        let out = svg(&sample, &names, &[], 0, Palette::RedBlue);
        assert_eq!(out.matches("<circle").count(), 6);
        assert!(out.contains("<title>row 1: b = 5, SHAP +0.5</title>"));
        assert!(out.contains(r##"fill="#9a9a9a"><title>row 2: b = missing"##));
        // Row 0 of b has the lowest value: blue; row 1 the highest: red.
        assert!(out.contains(r##"fill="#008bfb"><title>row 0: b = 1"##));
        assert!(out.contains(r##"fill="#ff0051"><title>row 1: b = 5"##));
    }

    #[test]
    fn a_categorical_feature_gets_one_colour_per_category_and_its_names() {
        let sample = BeeswarmSample {
            method: "all rows".into(),
            size: 3,
            rows: vec![0, 1, 2],
            features: vec![0],
            values: vec![vec![Some(0.0), Some(1.0), None]],
            shap: vec![vec![vec![-0.5, 0.5, 0.0]]],
            prediction: vec![],
        };
        let names = vec!["city".to_owned()];
        let cats = vec![Some(vec!["Lyon".to_owned(), "Paris".to_owned()])];
        let out = svg(&sample, &names, &cats, 0, Palette::RedBlue);
        assert!(
            out.contains(r##"fill="#e69f00"><title>row 0: city = Lyon"##),
            "{out}"
        );
        assert!(out.contains(r##"fill="#56b4e9"><title>row 1: city = Paris"##));
        assert!(out.contains(r##"fill="#9a9a9a"><title>row 2: city = missing"##));
        assert!(out.contains("one colour per category"));
    }
}
