//! The dependence scatter (shap's `plots.scatter`): x = a feature's value, y = its SHAP
//! value, colour = another feature's value (by default the strongest interaction partner).
//! Rows where the feature is missing are drawn in their own band left of the axis, so they
//! are neither hidden nor mistaken for a value.

use super::beeswarm::colour_bar;
use super::colour::{category_colour, category_label, value_colour};
use super::scale::{Linear, robust_range};
use super::svg::{Svg, esc};
use crate::format;
use crate::view_state::Palette;
use std::fmt::Write;

/// What one scatter shows.
pub struct Scatter<'a> {
    pub feature: &'a str,
    pub x: &'a [Option<f32>],
    pub y: &'a [f32],
    pub rows: &'a [u64],
    /// The colouring feature's name and values (same rows), if any.
    pub colour: Option<(&'a str, &'a [Option<f32>])>,
    /// The feature's category names when it is categorical (then one strip per category).
    pub categories: Option<&'a [String]>,
    /// The colouring feature's category names when it is categorical.
    pub colour_categories: Option<&'a [String]>,
}

/// Most category strips labelled on the axis; more are drawn but only every k-th is named.
const MAX_LABELS: usize = 24;

/// The x position of a categorical value: its strip's centre plus a deterministic jitter, so
/// the strip's density shows and reruns draw the same picture.
fn strip_x(code: f32, n: usize) -> f64 {
    f64::from(code) + (((n * 7919) % 41) as f64 / 40.0 - 0.5) * 0.56
}

pub fn svg(p: &Scatter<'_>, palette: Palette) -> String {
    let (left, right, top, bottom) = (110.0, 90.0, 14.0, 52.0);
    let (width, height) = (760.0, 420.0);
    let present = || p.x.iter().flatten().map(|&v| f64::from(v));
    let (xlo, xhi) = present().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let (ylo, yhi) =
        p.y.iter()
            .map(|&v| f64::from(v))
            .fold((0.0f64, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    // A categorical feature gets one strip per category code, in code order.
    let strips = p.categories.map(|names| {
        let top_code = if xhi.is_finite() {
            xhi.max(0.0) as usize + 1
        } else {
            0
        };
        names.len().max(top_code).max(1)
    });
    let x = match strips {
        Some(n) => Linear::new(-0.5, n as f64 - 0.5, left, width - right),
        None => Linear::new(xlo, xhi, left, width - right).nice(),
    };
    let y = Linear::new(ylo, yhi, height - bottom, top).nice();
    let missing = p.x.iter().filter(|v| v.is_none()).count();
    let desc = format!(
        "Scatter of the SHAP value of {} against its value over {} sampled rows{}{}.",
        p.feature,
        format::count(p.y.len() as u64),
        p.colour
            .map(|(name, _)| format!(", coloured by {name}"))
            .unwrap_or_default(),
        if missing > 0 {
            format!("; {missing} rows with the value missing are drawn at the left, in grey")
        } else {
            String::new()
        }
    );
    let title = format!("Dependence of the SHAP value on {}", p.feature);
    let mut s = Svg::new(width, height, &title, &desc);
    // y axis
    s.line(left, top, left, height - bottom, "#333");
    for t in y.ticks() {
        let py = y.at(t);
        s.line(left - 4.0, py, left, py, "#333");
        s.line(left, py, width - right, py, "#f0f0f0");
        s.text(
            left - 7.0,
            py + 4.0,
            "end",
            r##"fill="#333""##,
            &format::value(t),
        );
    }
    s.raw(&format!(
        r##"<text transform="translate(18,{:.1}) rotate(-90)" text-anchor="middle" fill="#333">SHAP value for {}</text>"##,
        (top + height - bottom) / 2.0,
        esc(p.feature)
    ));
    let zero = y.at(0.0);
    s.line(left, zero, width - right, zero, "#bbb");
    match (strips, p.categories) {
        (Some(n), Some(names)) => {
            s.line(x.p0, height - bottom, x.p1, height - bottom, "#333");
            let every = n.div_ceil(MAX_LABELS);
            for code in (0..n).step_by(every) {
                let px = x.at(code as f64);
                s.line(px, height - bottom, px, height - bottom + 4.0, "#333");
                let label = category_label(names, Some(code as f32));
                s.text(
                    px,
                    height - bottom + 16.0,
                    "middle",
                    r##"fill="#333""##,
                    &super::svg::clip(&label, 14),
                );
            }
            s.text(
                (x.p0 + x.p1) / 2.0,
                height - bottom + 34.0,
                "middle",
                r##"fill="#333""##,
                &format!("{} (categories)", p.feature),
            );
        }
        _ => {
            s.x_axis(&x, height - bottom, p.feature);
        }
    }
    if missing > 0 {
        s.text(
            left - 60.0,
            height - bottom + 16.0,
            "middle",
            r##"fill="#666""##,
            "missing",
        );
    }
    let range = p.colour.and_then(|(_, c)| robust_range(c));
    let mut dots = String::with_capacity(p.y.len() * 120);
    for (n, &sv) in p.y.iter().enumerate() {
        let value = p.x.get(n).copied().flatten();
        let colour_value = p.colour.and_then(|(_, c)| c.get(n).copied().flatten());
        let (px, fill) = match value {
            Some(v) => {
                let t = match (colour_value, range) {
                    (Some(c), Some((lo, hi))) => Some((f64::from(c) - lo) / (hi - lo).max(1e-12)),
                    _ => None,
                };
                let fill = match (p.colour, p.colour_categories) {
                    (Some(_), Some(_)) => category_colour(colour_value).to_owned(),
                    (Some(_), None) => value_colour(palette, t),
                    (None, _) => super::colour::contribution_colours(palette).1.to_owned(),
                };
                let at = if strips.is_some() {
                    strip_x(v, n)
                } else {
                    f64::from(v)
                };
                (x.at(at), fill)
            }
            // Spread missing rows a little so their count is visible.
            None => (
                left - 60.0 + ((n * 7919) % 21) as f64 - 10.0,
                "#9a9a9a".to_owned(),
            ),
        };
        let row = p.rows.get(n).copied().unwrap_or(0);
        let shown = match p.categories {
            Some(names) => esc(&category_label(names, value)),
            None => value.map_or("missing".to_owned(), |v| format::value(f64::from(v))),
        };
        let partner = match p.colour {
            Some((name, _)) => format!(
                ", {} = {}",
                esc(name),
                match p.colour_categories {
                    Some(names) => esc(&category_label(names, colour_value)),
                    None =>
                        colour_value.map_or("missing".to_owned(), |c| format::value(f64::from(c))),
                }
            ),
            None => String::new(),
        };
        let _ = write!(
            dots,
            r#"<circle cx="{px:.1}" cy="{:.1}" r="3" fill="{fill}" fill-opacity="0.85"><title>row {row}: {} = {shown}, SHAP {}{partner}</title></circle>"#,
            y.at(f64::from(sv)),
            esc(p.feature),
            format::signed(f64::from(sv)),
        );
    }
    s.raw(&dots);
    if let Some((name, _)) = p.colour
        && p.colour_categories.is_none()
    {
        colour_bar(
            &mut s,
            width - right + 24.0,
            top,
            height - bottom - top,
            palette,
            &format!("{name} (colour)"),
        );
    }
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_row_is_a_dot_and_missing_values_sit_apart_in_grey() {
        let x = [Some(1.0), None, Some(3.0)];
        let y = [0.5, -0.25, 0.0];
        let c = [Some(0.0), Some(1.0), Some(2.0)];
        let out = svg(
            &Scatter {
                feature: "age",
                x: &x,
                y: &y,
                rows: &[4, 5, 6],
                colour: Some(("income", &c)),
                categories: None,
                colour_categories: None,
            },
            Palette::RedBlue,
        );
        assert_eq!(out.matches("<circle").count(), 3);
        assert!(out.contains("<title>row 5: age = missing, SHAP \u{2212}0.25, income = 1</title>"));
        assert!(out.contains(r##"fill="#9a9a9a" fill-opacity="0.85"><title>row 5"##));
        assert!(out.contains(">missing</text>"));
        assert!(out.contains("SHAP value for age"));
        // The colour bar is titled with the colouring feature.
        assert!(out.contains(r#"class="colour-title""#) && out.contains(">income (colour)</text>"));
    }

    #[test]
    fn a_categorical_feature_is_drawn_as_one_strip_per_category_with_its_names() {
        let names = ["Lyon".to_owned(), "Nice".to_owned(), "Paris".to_owned()];
        let x = [Some(0.0), Some(2.0), Some(2.0), None];
        let y = [0.5, -0.25, -0.3, 0.0];
        let out = svg(
            &Scatter {
                feature: "city",
                x: &x,
                y: &y,
                rows: &[0, 1, 2, 3],
                colour: None,
                categories: Some(&names),
                colour_categories: None,
            },
            Palette::RedBlue,
        );
        assert_eq!(out.matches("<circle").count(), 4);
        for name in ["Lyon", "Nice", "Paris"] {
            assert!(
                out.contains(&format!(">{name}</text>")),
                "axis names {name}"
            );
        }
        assert!(out.contains("<title>row 1: city = Paris, SHAP"));
        assert!(out.contains("city (categories)"));
        // Rows of one category stay within their strip: Paris (code 2) dots sit right of
        // the Lyon strip's centre.
        let cx = |row: u64| -> f64 {
            let at = out.find(&format!("<title>row {row}:")).unwrap();
            let start = out[..at].rfind("cx=\"").unwrap() + 4;
            out[start..].split('"').next().unwrap().parse().unwrap()
        };
        let strip = (760.0 - 90.0 - 110.0) / 3.0;
        assert!((cx(1) - cx(2)).abs() < strip * 0.6);
        assert!(cx(1) - cx(0) > strip);
    }
}
