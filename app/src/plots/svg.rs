//! A tiny SVG writer: the plots are built as markup strings by pure functions (testable,
//! identical on the server and in the browser, fast to insert for thousands of dots, and
//! exportable as a standalone file because every style is an attribute, not CSS).

use std::fmt::Write;

/// Escapes text for XML content and attribute values (feature names may hold anything).
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Shortens a long label for an axis (the full name stays in the tooltip).
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let head: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{head}…")
    }
}

/// An SVG document being written.
pub struct Svg {
    out: String,
}

pub const FONT: &str = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

impl Svg {
    /// Starts a document with the accessible `<title>` and `<desc>` every plot carries.
    pub fn new(width: f64, height: f64, title: &str, desc: &str) -> Self {
        let mut out = String::with_capacity(4096);
        let _ = write!(
            out,
            r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" font-family="{FONT}" font-size="12"><title>{}</title><desc>{}</desc><rect width="{width}" height="{height}" fill="#ffffff"/>"##,
            esc(title),
            esc(desc)
        );
        Svg { out }
    }

    /// Appends raw markup (callers escape text with [`esc`]).
    pub fn raw(&mut self, markup: &str) -> &mut Self {
        self.out.push_str(markup);
        self
    }

    /// A text label.
    pub fn text(&mut self, x: f64, y: f64, anchor: &str, extra: &str, text: &str) -> &mut Self {
        let _ = write!(
            self.out,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" {extra}>{}</text>"#,
            esc(text)
        );
        self
    }

    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str) -> &mut Self {
        let _ = write!(
            self.out,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{stroke}"/>"#
        );
        self
    }

    /// A horizontal value axis at `y` with ticks and a caption.
    pub fn x_axis(&mut self, scale: &super::scale::Linear, y: f64, caption: &str) -> &mut Self {
        self.line(scale.p0, y, scale.p1, y, "#333");
        for t in scale.ticks() {
            let x = scale.at(t);
            self.line(x, y, x, y + 4.0, "#333");
            self.text(
                x,
                y + 16.0,
                "middle",
                r##"fill="#333""##,
                &crate::format::value(t),
            );
        }
        let mid = (scale.p0 + scale.p1) / 2.0;
        self.text(mid, y + 34.0, "middle", r##"fill="#333""##, caption)
    }

    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_so_a_feature_name_cannot_break_the_markup() {
        assert_eq!(esc(r#"<a & "b">'"#), "&lt;a &amp; &quot;b&quot;&gt;&#39;");
        let mut svg = Svg::new(10.0, 10.0, "t<", "d&");
        svg.text(1.0, 2.0, "start", "", "x<y");
        let out = svg.finish();
        assert!(out.contains("<title>t&lt;</title><desc>d&amp;</desc>"));
        assert!(out.contains(">x&lt;y</text>"));
        assert!(out.ends_with("</svg>"));
    }

    #[test]
    fn long_labels_are_clipped_with_an_ellipsis() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("a_very_long_feature_name", 10), "a_very_lo…");
    }
}
