//! The dependence scatter (shap's `plots.scatter`): x = a feature's value, y = its SHAP
//! value, colour = another feature's value (by default the strongest interaction partner).
//! Rows where the feature is missing are drawn in their own band left of the axis, so they
//! are neither hidden nor mistaken for a value.

use super::beeswarm::colour_bar;
use super::colour::value_colour;
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
    let x = Linear::new(xlo, xhi, left, width - right).nice();
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
    s.x_axis(&x, height - bottom, p.feature);
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
                let fill = if p.colour.is_some() {
                    value_colour(palette, t)
                } else {
                    super::colour::contribution_colours(palette).1.to_owned()
                };
                (x.at(f64::from(v)), fill)
            }
            // Spread missing rows a little so their count is visible.
            None => (
                left - 60.0 + ((n * 7919) % 21) as f64 - 10.0,
                "#9a9a9a".to_owned(),
            ),
        };
        let row = p.rows.get(n).copied().unwrap_or(0);
        let shown = value.map_or("missing".to_owned(), |v| format::value(f64::from(v)));
        let partner = match p.colour {
            Some((name, _)) => format!(
                ", {} = {}",
                esc(name),
                colour_value.map_or("missing".to_owned(), |c| format::value(f64::from(c)))
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
    if let Some((name, _)) = p.colour {
        colour_bar(
            &mut s,
            width - right + 24.0,
            top,
            height - bottom - top,
            palette,
        );
        s.text(
            width - right + 30.0,
            height - bottom + 34.0,
            "middle",
            r##"fill="#333""##,
            name,
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
            },
            Palette::RedBlue,
        );
        assert_eq!(out.matches("<circle").count(), 3);
        assert!(out.contains("<title>row 5: age = missing, SHAP \u{2212}0.25, income = 1</title>"));
        assert!(out.contains(r##"fill="#9a9a9a" fill-opacity="0.85"><title>row 5"##));
        assert!(out.contains(">missing</text>"));
        assert!(out.contains("SHAP value for age"));
    }
}
