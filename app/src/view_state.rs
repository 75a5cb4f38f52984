//! The job page's view state, carried in the URL's query so a copied link reopens the same
//! view: `?section=dependence&feature=age&row=42&class=1&scale=probability&palette=cb`
//! (`&cohort=age%3E%3D60` when the views are restricted to a cohort).
//!
//! Pure parsing and formatting; unknown or malformed parameters fall back to defaults rather
//! than breaking the page (a link pasted from an email may be mangled).

/// The result sections, in page order.
pub const SECTIONS: [&str; 9] = [
    "importance",
    "beeswarm",
    "decision",
    "heatmap",
    "dependence",
    "pdp",
    "interactions",
    "row",
    "cohorts",
];

/// Scale the row explorer shows predictions on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Scale {
    /// The model's raw margin (log-odds for a binary classifier).
    #[default]
    Raw,
    /// After the model's link (a probability for a classifier).
    Probability,
}

/// Colour palette of the value-coloured plots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Palette {
    /// shap's blue → red.
    #[default]
    RedBlue,
    /// Viridis: readable with every common colour-vision deficiency.
    ColourBlindSafe,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct ViewState {
    pub section: Option<&'static str>,
    /// Feature shown in the dependence plot, by name.
    pub feature: Option<String>,
    /// Feature colouring the dependence plot, by name (default: the strongest partner).
    pub colour_by: Option<String>,
    pub row: Option<u64>,
    /// Output (class) index every plot shows.
    pub class: usize,
    pub scale: Scale,
    pub palette: Palette,
    /// The cohort every view is restricted to (conditions, see the server's `jobs::cohort`).
    pub cohort: Option<String>,
    /// Feature groups every view shows (`auto`, or `name:a,b; …`).
    pub groups: Option<String>,
}

impl ViewState {
    /// Reads the view from `(key, value)` pairs of a URL query (already percent-decoded).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut view = ViewState::default();
        for (key, value) in pairs {
            match key {
                "section" => view.section = SECTIONS.iter().copied().find(|s| *s == value),
                "feature" if !value.is_empty() => view.feature = Some(value.to_owned()),
                "colour" if !value.is_empty() => view.colour_by = Some(value.to_owned()),
                "row" => view.row = value.parse().ok(),
                "cohort" if !value.trim().is_empty() => view.cohort = Some(value.to_owned()),
                "groups" if !value.trim().is_empty() => view.groups = Some(value.to_owned()),
                "class" => view.class = value.parse().unwrap_or(0),
                "scale" => {
                    view.scale = match value {
                        "probability" => Scale::Probability,
                        _ => Scale::Raw,
                    }
                }
                "palette" => {
                    view.palette = match value {
                        "cb" => Palette::ColourBlindSafe,
                        _ => Palette::RedBlue,
                    }
                }
                _ => {}
            }
        }
        view
    }

    /// The query string (with a leading `?`, or empty for the default view).
    pub fn to_query(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(s) = self.section {
            parts.push(format!("section={s}"));
        }
        if let Some(f) = &self.feature {
            parts.push(format!("feature={}", encode(f)));
        }
        if let Some(c) = &self.colour_by {
            parts.push(format!("colour={}", encode(c)));
        }
        if let Some(r) = self.row {
            parts.push(format!("row={r}"));
        }
        if self.class != 0 {
            parts.push(format!("class={}", self.class));
        }
        if self.scale == Scale::Probability {
            parts.push("scale=probability".into());
        }
        if self.palette == Palette::ColourBlindSafe {
            parts.push("palette=cb".into());
        }
        if let Some(c) = &self.cohort {
            parts.push(format!("cohort={}", encode(c)));
        }
        if let Some(g) = &self.groups {
            parts.push(format!("groups={}", encode(g)));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        }
    }
}

/// Percent-encodes everything but unreserved characters (feature names may hold anything).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_view_survives_a_round_trip_through_the_url() {
        let view = ViewState {
            section: Some("dependence"),
            feature: Some("mean radius/2".into()),
            colour_by: Some("age".into()),
            row: Some(42),
            class: 2,
            scale: Scale::Probability,
            palette: Palette::ColourBlindSafe,
            cohort: Some("age>=60; city=paris".into()),
            groups: Some("auto".into()),
        };
        let query = view.to_query();
        assert_eq!(
            query,
            "?section=dependence&feature=mean%20radius%2F2&colour=age&row=42&class=2\
             &scale=probability&palette=cb&cohort=age%3E%3D60%3B%20city%3Dparis&groups=auto"
        );
        // The router hands the page decoded pairs.
        let pairs = [
            ("section", "dependence"),
            ("feature", "mean radius/2"),
            ("colour", "age"),
            ("row", "42"),
            ("class", "2"),
            ("scale", "probability"),
            ("palette", "cb"),
            ("cohort", "age>=60; city=paris"),
            ("groups", "auto"),
        ];
        assert_eq!(ViewState::from_pairs(pairs), view);
    }

    #[test]
    fn the_default_view_has_an_empty_query() {
        assert_eq!(ViewState::default().to_query(), "");
    }

    #[test]
    fn mangled_parameters_fall_back_to_defaults() {
        let view = ViewState::from_pairs([
            ("section", "nonsense"),
            ("row", "-3"),
            ("class", "x"),
            ("scale", "kelvin"),
            ("feature", ""),
            ("utm_source", "mail"),
        ]);
        assert_eq!(view, ViewState::default());
    }
}
