//! The colour maps: shap's blue → red for feature values, viridis as the colour-blind-safe
//! alternative, and the fixed colours of positive and negative contributions.

use crate::view_state::Palette;

/// shap's colour for a positive contribution (pushes the prediction up).
pub const POSITIVE: &str = "#ff0051";
/// shap's colour for a negative contribution.
pub const NEGATIVE: &str = "#008bfb";
/// Missing feature values.
pub const MISSING: &str = "#9a9a9a";
/// Colour-blind-safe pair for contributions (orange / blue from Okabe–Ito).
pub const POSITIVE_CB: &str = "#d55e00";
pub const NEGATIVE_CB: &str = "#0072b2";

const RED_BLUE: [(u8, u8, u8); 3] = [(0, 139, 251), (124, 64, 200), (255, 0, 81)];
const VIRIDIS: [(u8, u8, u8); 5] = [
    (68, 1, 84),
    (59, 82, 139),
    (33, 145, 140),
    (94, 201, 98),
    (253, 231, 37),
];

/// The colour of a value at position `t` in `[0, 1]` (low → high); `None` (missing) is grey.
pub fn value_colour(palette: Palette, t: Option<f64>) -> String {
    let Some(t) = t.filter(|t| t.is_finite()) else {
        return MISSING.to_owned();
    };
    let stops: &[(u8, u8, u8)] = match palette {
        Palette::RedBlue => &RED_BLUE,
        Palette::ColourBlindSafe => &VIRIDIS,
    };
    let t = t.clamp(0.0, 1.0) * (stops.len() - 1) as f64;
    let i = (t.floor() as usize).min(stops.len() - 2);
    let f = t - i as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * f).round() as u8;
    let (a, b) = (stops[i], stops[i + 1]);
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(a.0, b.0),
        mix(a.1, b.1),
        mix(a.2, b.2)
    )
}

/// One colour per category (Okabe–Ito, colour-blind safe), cycling past eight: a category has
/// no order, so a low → high scale would suggest one that is not there.
const CATEGORY: [&str; 8] = [
    "#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7", "#000000",
];

/// The colour of category code `code`; missing or negative codes are grey.
pub fn category_colour(code: Option<f32>) -> &'static str {
    match code {
        Some(c) if c >= 0.0 && c.is_finite() => CATEGORY[(c as usize) % CATEGORY.len()],
        _ => MISSING,
    }
}

/// A categorical value in words: its name, its code when the model stores no names, or
/// "missing".
pub fn category_label(names: &[String], code: Option<f32>) -> String {
    match code {
        None => "missing".to_owned(),
        Some(c) if c >= 0.0 && c.fract() == 0.0 => names
            .get(c as usize)
            .cloned()
            .unwrap_or_else(|| crate::format::value(f64::from(c))),
        Some(c) => crate::format::value(f64::from(c)),
    }
}

/// The (positive, negative) contribution colours of a palette.
pub fn contribution_colours(palette: Palette) -> (&'static str, &'static str) {
    match palette {
        Palette::RedBlue => (POSITIVE, NEGATIVE),
        Palette::ColourBlindSafe => (POSITIVE_CB, NEGATIVE_CB),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_values_are_blue_high_values_red_missing_grey() {
        assert_eq!(value_colour(Palette::RedBlue, Some(0.0)), "#008bfb");
        assert_eq!(value_colour(Palette::RedBlue, Some(1.0)), "#ff0051");
        assert_eq!(value_colour(Palette::RedBlue, Some(7.0)), "#ff0051");
        assert_eq!(value_colour(Palette::RedBlue, None), MISSING);
        assert_eq!(value_colour(Palette::RedBlue, Some(f64::NAN)), MISSING);
    }

    #[test]
    fn the_colour_blind_palette_runs_from_purple_to_yellow() {
        assert_eq!(value_colour(Palette::ColourBlindSafe, Some(0.0)), "#440154");
        assert_eq!(value_colour(Palette::ColourBlindSafe, Some(1.0)), "#fde725");
        assert_eq!(value_colour(Palette::ColourBlindSafe, Some(0.5)), "#21918c");
    }
}
