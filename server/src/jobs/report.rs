//! The report (`GET /api/jobs/{id}/report.html`): one self-contained HTML file an analyst can
//! mail or archive — the model and data (names and SHA-256), the options, the additivity
//! check, importance, beeswarm, the top dependence plots, chosen rows' waterfalls and a
//! cohort comparison. Inline SVG and CSS only: no script, no font, no image fetched (the
//! route also sends a CSP that forbids any), and a print stylesheet so the browser's "Print to
//! PDF" gives clean pages. The plots are the page's own ([`app::plots`]), drawn server-side.

use app::format;
use app::plots::svg::esc;
use app::plots::{beeswarm, colour, compare, dependence, importance, waterfall};
use app::view_state::Palette;
use app::wire::{CohortComparison, Job, JobOutput, JobRow, JobSummary, Upload, UploadSummary};
use std::fmt::Write;

/// Dependence plots in the report (the most important features).
pub const DEPENDENCE_PLOTS: usize = 3;
/// Features named in a waterfall before the rest are summed.
const WATERFALL_TOP: usize = 9;

/// What one report is made of.
pub struct ReportInputs<'a> {
    pub job: &'a Job,
    pub model: Option<&'a Upload>,
    pub data: Option<&'a Upload>,
    pub summary: &'a JobSummary,
    /// The output (class) every plot shows.
    pub output: usize,
    pub rows: &'a [JobRow],
    pub cohorts: Option<&'a CohortComparison>,
    /// When the report was made, in words (UTC).
    pub generated: String,
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;\
max-width:820px;margin:2rem auto;padding:0 1rem;color:#1a1a1a;line-height:1.45}\
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px \
solid #ddd}table.facts{border-collapse:collapse;font-size:.9rem}table.facts td{padding:.15rem \
.8rem .15rem 0;vertical-align:top}code{font-size:.85rem;word-break:break-all}.muted{color:#555}\
figure{margin:1rem 0;page-break-inside:avoid;break-inside:avoid}figcaption{font-size:.9rem;\
color:#444}svg{max-width:100%;height:auto}\
@media print{body{margin:0;max-width:none}h2{page-break-after:avoid;break-after:avoid}\
a{color:inherit;text-decoration:none}}";

/// The whole HTML document.
pub fn render(r: &ReportInputs<'_>) -> String {
    let s = r.summary;
    let k = r.output.min(s.outputs.saturating_sub(1));
    let mut out = String::with_capacity(256 * 1024);
    let title = format!("SHAP report — job {}", r.job.id);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>{STYLE}</style></head><body><h1>{}</h1><p class=\"muted\">Made by shaplab {} \
         on {}. Every plot is exact SHAP values of the rows named below.</p>",
        esc(&title),
        esc(&title),
        esc(shaplab::VERSION),
        esc(&r.generated)
    );
    facts(&mut out, r, k);
    out.push_str("<h2>Importance</h2>");
    let note = coverage(s);
    let bars = importance::bars(
        &s.features,
        s.mean_abs_shap.get(k).map_or(&[][..], |v| v),
        10,
    );
    let fill = colour::contribution_colours(Palette::RedBlue).0;
    figure(
        &mut out,
        &importance::svg(&bars, fill, &note),
        &format!("Mean |SHAP value| per feature, {note}: longer bars move the output more."),
    );
    out.push_str("<h2>Beeswarm</h2>");
    figure(
        &mut out,
        &beeswarm::svg(&s.beeswarm, &s.features, &s.categories, k, Palette::RedBlue),
        &format!(
            "Each dot is one row: its SHAP value (x) and the feature's value (colour: red high, \
             blue low); {}.",
            esc(&s.beeswarm.method)
        ),
    );
    out.push_str("<h2>Dependence</h2>");
    for d in s.dependence.features.iter().take(DEPENDENCE_PLOTS) {
        let Some(o) = d.outputs.get(k) else { continue };
        let name = &s.features[d.feature.min(s.features.len().saturating_sub(1))];
        let cats = |f: usize| s.categories.get(f).and_then(Option::as_deref);
        let partner = o.partner.filter(|&p| p < s.features.len());
        let svg = dependence::svg(
            &dependence::Scatter {
                feature: name,
                x: &d.x,
                y: &o.y,
                rows: &s.dependence.rows,
                colour: partner.map(|p| (s.features[p].as_str(), o.colour.as_slice())),
                categories: cats(d.feature),
                colour_categories: partner.and_then(cats),
            },
            Palette::RedBlue,
        );
        let colour_words = partner.map_or("no colour".to_owned(), |p| {
            format!("colour: {} (strongest interaction partner)", s.features[p])
        });
        figure(
            &mut out,
            &svg,
            &format!(
                "How {}'s value changes its SHAP value; {}.",
                esc(name),
                esc(&colour_words)
            ),
        );
    }
    if !r.rows.is_empty() {
        out.push_str("<h2>Rows</h2>");
    }
    for row in r.rows {
        row_section(&mut out, row, k);
    }
    if let Some(c) = r.cohorts {
        out.push_str("<h2>Cohorts</h2>");
        let name = |e: &str| {
            if e.is_empty() {
                "every row".to_owned()
            } else {
                e.to_owned()
            }
        };
        figure(
            &mut out,
            &compare::cohort_bars(c, k, 12),
            &format!(
                "Mean |SHAP| in cohort A ({}, {} rows, blue) and cohort B ({}, {} rows, red); \
                 whiskers: {}.",
                esc(&name(&c.a.expression)),
                format::count(c.a.rows),
                esc(&name(&c.b.expression)),
                format::count(c.b.rows),
                esc(&c.method)
            ),
        );
    }
    out.push_str("</body></html>\n");
    out
}

fn coverage(s: &JobSummary) -> String {
    let base = if s.partial {
        format!(
            "based on {} of {} rows (the job had not finished)",
            format::count(s.rows_covered),
            format::count(s.rows_total)
        )
    } else {
        format!("over all {} rows", format::count(s.rows_covered))
    };
    match &s.cohort {
        Some(c) => format!(
            "over the {} rows of the cohort {}, {base}",
            format::count(c.rows),
            c.expression
        ),
        None => base,
    }
}

/// The table of facts: inputs with their hashes, options, the additivity check.
fn facts(out: &mut String, r: &ReportInputs<'_>, k: usize) {
    out.push_str("<h2>Inputs and options</h2><table class=\"facts\">");
    let mut row = |label: &str, value: String| {
        let _ = write!(out, "<tr><td>{}</td><td>{}</td></tr>", esc(label), value);
    };
    for (label, upload) in [("Model", r.model), ("Data", r.data)] {
        let value = match upload {
            Some(u) => {
                let what = match &u.summary {
                    UploadSummary::Model(m) => format!(
                        "{} · {} · {} trees · {} features",
                        m.format, m.objective, m.trees, m.features
                    ),
                    UploadSummary::Data(d) => {
                        format!(
                            "{} · {} rows · {} columns",
                            d.format,
                            d.rows,
                            d.columns.len()
                        )
                    }
                };
                format!(
                    "{} ({}, {})<br><span class=\"muted\">SHA-256 <code>{}</code></span>",
                    esc(&u.name),
                    esc(&what),
                    esc(&size(u.bytes)),
                    esc(&u.sha256)
                )
            }
            None => "no longer stored".into(),
        };
        row(label, value);
    }
    let inputs = r.job.inputs.as_ref();
    let method = match inputs.map(|i| (i.background_rows, i.covers_from_data)) {
        Some((Some(n), _)) => {
            format!("interventional TreeSHAP against {n} sampled background rows")
        }
        Some((None, true)) => "path-dependent TreeSHAP, covers recomputed from the data".into(),
        _ => "path-dependent TreeSHAP with the model's covers".into(),
    };
    row("Method", esc(&method));
    let output = match inputs.map(|i| i.output) {
        Some(JobOutput::Probability) => "probability (after the model's link)",
        _ => "raw output (margin)",
    };
    row("Explains", esc(output));
    if r.summary.outputs > 1 {
        row("Class shown", format!("class {k} of {}", r.summary.outputs));
    }
    row("Rows", esc(&coverage(r.summary)));
    row(
        "Additivity",
        esc(&r
            .summary
            .additivity
            .as_ref()
            .map_or("not recorded for this job".to_owned(), |a| {
                format!(
                    "max |base value + ΣSHAP − f(x)| = {:.1e} over {} rows",
                    a.max_abs_error,
                    format::count(a.rows)
                )
            })),
    );
    for note in inputs.map(|i| i.notes.as_slice()).unwrap_or_default() {
        row("Note", esc(note));
    }
    row("Job", format!("<code>{}</code>", esc(&r.job.id)));
    out.push_str("</table>");
}

fn row_section(out: &mut String, row: &JobRow, k: usize) {
    let names: Vec<String> = row.features.iter().map(|f| f.name.clone()).collect();
    let values: Vec<Option<String>> = row
        .features
        .iter()
        .map(|f| f.category.clone().or_else(|| f.value.map(format::value)))
        .collect();
    let shap: Vec<f64> = row
        .features
        .iter()
        .map(|f| f.shap.get(k).copied().unwrap_or(0.0))
        .collect();
    let base = row.base_values.get(k).copied().unwrap_or(0.0);
    let colours = colour::contribution_colours(Palette::RedBlue);
    let svg = waterfall::waterfall(
        &waterfall::steps(&names, &values, &shap, WATERFALL_TOP),
        base,
        colours,
        row.row,
    );
    let prediction = row.predictions.margin.get(k).map_or(String::new(), |m| {
        let p = row
            .predictions
            .probability
            .as_ref()
            .and_then(|p| p.get(k))
            .map_or(String::new(), |p| {
                format!(", probability {}", format::value(*p))
            });
        format!("raw output {}{p}", format::value(*m))
    });
    figure(
        out,
        &svg,
        &format!(
            "Row {}: {}. From the average output E[f(X)], each bar is one feature's SHAP value \
             pushing it up (red) or down (blue).",
            row.row,
            esc(&prediction)
        ),
    );
}

/// A file size in words (1,234 bytes, 12.3 MB).
fn size(bytes: u64) -> String {
    match bytes {
        0..=9_999 => format!("{} bytes", format::count(bytes)),
        10_000..=9_999_999 => format!("{:.1} kB", bytes as f64 / 1e3),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
    }
}

fn figure(out: &mut String, svg: &str, caption: &str) {
    let _ = write!(
        out,
        "<figure>{svg}<figcaption>{caption}</figcaption></figure>"
    );
}
