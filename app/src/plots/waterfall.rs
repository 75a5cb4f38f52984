//! One row's explanation: the waterfall (shap's `plots.waterfall`: from the base value, each
//! feature's SHAP value moves the output, ending at the prediction) and the force plot
//! (shap's `plots.force`: the same contributions as arrows pushing against each other).

use super::scale::Linear;
use super::svg::{Svg, clip, esc};
use crate::format;
use std::fmt::Write;

/// One step of the waterfall: a feature (or the rest, summed) and its contribution.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub label: String,
    /// The feature's value as shown (a number, or a category's name); `None` when missing.
    pub value: Option<String>,
    pub shap: f64,
}

/// The `n` largest |SHAP| features, largest first, and the rest summed into one step.
pub fn steps(names: &[String], values: &[Option<String>], shap: &[f64], n: usize) -> Vec<Step> {
    let mut order: Vec<usize> = (0..shap.len().min(names.len())).collect();
    order.sort_by(|&a, &b| shap[b].abs().total_cmp(&shap[a].abs()).then(a.cmp(&b)));
    let mut out: Vec<Step> = order
        .iter()
        .take(n)
        .map(|&i| Step {
            label: names[i].clone(),
            value: values.get(i).cloned().flatten(),
            shap: shap[i],
        })
        .collect();
    let rest = &order[n.min(order.len())..];
    if !rest.is_empty() {
        out.push(Step {
            label: format!("{} other features", rest.len()),
            value: None,
            shap: rest.iter().map(|&i| shap[i]).sum(),
        });
    }
    out
}

fn value_label(step: &Step, is_rest: bool) -> String {
    match (is_rest, &step.value) {
        (true, _) => step.label.clone(),
        (false, Some(v)) => format!("{} = {v}", step.label),
        (false, None) => format!("{} = missing", step.label),
    }
}

/// The waterfall SVG: `steps` from [`steps`], starting at `base`.
pub fn waterfall(steps: &[Step], base: f64, colours: (&str, &str), row: u64) -> String {
    let (left, right, top, row_h) = (250.0, 40.0, 30.0, 26.0);
    let width = 760.0;
    let height = top + row_h * steps.len() as f64 + 60.0;
    let total: f64 = base + steps.iter().map(|s| s.shap).sum::<f64>();
    // The running sum's extent, from the bottom (the rest) up to the top feature.
    let (mut lo, mut hi, mut acc) = (base.min(total), base.max(total), base);
    for s in steps.iter().rev() {
        acc += s.shap;
        lo = lo.min(acc);
        hi = hi.max(acc);
    }
    let x = Linear::new(lo, hi, left, width - right).nice();
    let desc = format!(
        "Waterfall for row {row}: from the base value {} each feature's SHAP value moves the \
         output to the prediction {}.",
        format::value(base),
        format::value(total)
    );
    let mut s = Svg::new(
        width,
        height,
        &format!("Why row {row} gets its prediction"),
        &desc,
    );
    let bottom = top + row_h * steps.len() as f64;
    s.text(
        x.at(total),
        16.0,
        "middle",
        r##"fill="#333" font-weight="600""##,
        &format!("f(x) = {}", format::value(total)),
    );
    s.line(x.at(total), 20.0, x.at(total), bottom, "#bbb");
    s.line(x.at(base), top, x.at(base), bottom + 6.0, "#bbb");
    // Draw from the bottom step (applied first) upwards.
    let mut acc = base;
    let last = steps.len().saturating_sub(1);
    for (i, step) in steps.iter().enumerate().rev() {
        let y = top + row_h * i as f64;
        let (a, b) = (x.at(acc), x.at(acc + step.shap));
        acc += step.shap;
        let fill = if step.shap >= 0.0 {
            colours.0
        } else {
            colours.1
        };
        let (x0, x1) = (a.min(b), a.max(b));
        // An arrow-headed bar pointing the way the contribution moves the output.
        let head = (x1 - x0).min(8.0);
        let (yt, yb, ym) = (y + 4.0, y + row_h - 4.0, y + row_h / 2.0);
        let points = if step.shap >= 0.0 {
            format!(
                "{x0:.1},{yt:.1} {:.1},{yt:.1} {x1:.1},{ym:.1} {:.1},{yb:.1} {x0:.1},{yb:.1}",
                x1 - head,
                x1 - head
            )
        } else {
            format!(
                "{x1:.1},{yt:.1} {:.1},{yt:.1} {x0:.1},{ym:.1} {:.1},{yb:.1} {x1:.1},{yb:.1}",
                x0 + head,
                x0 + head
            )
        };
        let label = value_label(step, i == last && step.label.ends_with(" other features"));
        let mut g = String::new();
        let _ = write!(
            g,
            r#"<g class="step" tabindex="0"><title>{}: SHAP {}</title><polygon points="{points}" fill="{fill}"/>"#,
            esc(&label),
            format::signed(step.shap)
        );
        s.raw(&g);
        s.text(
            left - 8.0,
            ym + 4.0,
            "end",
            r##"fill="#333""##,
            &clip(&label, 36),
        );
        let (tx, anchor) = if step.shap >= 0.0 {
            (x1 + 4.0, "start")
        } else {
            (x0 - 4.0, "end")
        };
        s.text(
            tx,
            ym + 4.0,
            anchor,
            &format!(r#"fill="{fill}""#),
            &format::signed(step.shap),
        );
        s.raw("</g>");
    }
    s.x_axis(&x, bottom + 8.0, "model output");
    s.text(
        x.at(base),
        bottom + 52.0,
        "middle",
        r##"fill="#555""##,
        &format!("E[f(X)] = {}", format::value(base)),
    );
    s.finish()
}

/// The force plot SVG: positive contributions push from the left up to f(x), negative ones
/// from the right down to it.
pub fn force(
    names: &[String],
    values: &[Option<String>],
    shap: &[f64],
    base: f64,
    colours: (&str, &str),
    row: u64,
) -> String {
    let (width, height, left, right) = (760.0, 150.0, 20.0, 20.0);
    let total = base + shap.iter().sum::<f64>();
    let pos: f64 = shap.iter().filter(|v| **v > 0.0).sum();
    let neg: f64 = shap.iter().filter(|v| **v < 0.0).sum();
    let lo = (total - pos).min(base).min(total);
    let hi = (total - neg).max(base).max(total);
    let x = Linear::new(lo, hi, left, width - right).nice();
    let desc = format!(
        "Force plot for row {row}: features in red push the output up from the base value {}, \
         features in blue push it down, meeting at the prediction {}.",
        format::value(base),
        format::value(total)
    );
    let mut s = Svg::new(
        width,
        height,
        &format!("Forces on row {row}'s prediction"),
        &desc,
    );
    let (yt, yb) = (50.0, 76.0);
    let ym = (yt + yb) / 2.0;
    let mut order: Vec<usize> = (0..shap.len().min(names.len())).collect();
    order.sort_by(|&a, &b| shap[b].abs().total_cmp(&shap[a].abs()));
    let draw = |s: &mut Svg, i: usize, from: f64, to: f64, fill: &str| {
        let (a, b) = (x.at(from), x.at(to));
        let (x0, x1) = (a.min(b), a.max(b));
        let head = (x1 - x0).min(6.0);
        // Chevron segments point toward f(x).
        let points = if to >= from {
            format!(
                "{x0:.1},{yt} {:.1},{yt} {x1:.1},{ym} {:.1},{yb} {x0:.1},{yb} {:.1},{ym}",
                x1 - head,
                x1 - head,
                x0 + head.min(x1 - x0)
            )
        } else {
            format!(
                "{x1:.1},{yt} {:.1},{yt} {x0:.1},{ym} {:.1},{yb} {x1:.1},{yb} {:.1},{ym}",
                x0 + head,
                x0 + head,
                x1 - head.min(x1 - x0)
            )
        };
        let v = values
            .get(i)
            .cloned()
            .flatten()
            .unwrap_or_else(|| "missing".to_owned());
        let label = format!("{} = {v}", names[i]);
        s.raw(&format!(
            r##"<g class="force" tabindex="0"><title>{}: SHAP {}</title><polygon points="{points}" fill="{fill}" stroke="#fff" stroke-width="0.8"/></g>"##,
            esc(&label),
            format::signed(shap[i])
        ));
        if x1 - x0 > 60.0 {
            s.text(
                (x0 + x1) / 2.0,
                yb + 16.0,
                "middle",
                &format!(r#"fill="{fill}""#),
                &clip(&label, ((x1 - x0) / 7.0) as usize),
            );
        }
    };
    // Positives end at f(x), the largest nearest to it.
    let mut at = total;
    for &i in order.iter().filter(|&&i| shap[i] > 0.0) {
        draw(&mut s, i, at - shap[i], at, colours.0);
        at -= shap[i];
    }
    let mut at = total;
    for &i in order.iter().filter(|&&i| shap[i] < 0.0) {
        draw(&mut s, i, at - shap[i], at, colours.1);
        at -= shap[i];
    }
    s.line(x.at(total), yt - 14.0, x.at(total), yb, "#333");
    s.text(
        x.at(total),
        yt - 18.0,
        "middle",
        r##"fill="#333" font-weight="600""##,
        &format!("f(x) = {}", format::value(total)),
    );
    s.line(x.at(base), yb, x.at(base), yb + 30.0, "#999");
    s.text(
        x.at(base),
        yb + 42.0,
        "middle",
        r##"fill="#555""##,
        &format!("base value {}", format::value(base)),
    );
    s.text(
        left,
        20.0,
        "start",
        &format!(r#"fill="{}""#, colours.0),
        "higher ⟶",
    );
    s.text(
        width - right,
        20.0,
        "end",
        &format!(r#"fill="{}""#, colours.1),
        "⟵ lower",
    );
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn steps_keep_the_largest_contributions_and_sum_the_rest() {
        let st = steps(
            &names(),
            &[Some("1".into()), None, Some("3".into()), Some("4".into())],
            &[0.1, -0.9, 0.5, -0.05],
            2,
        );
        let labels: Vec<&str> = st.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["b", "c", "2 other features"]);
        assert!((st[2].shap - 0.05).abs() < 1e-12);
        assert_eq!(st[0].value, None);
    }

    #[test]
    fn the_waterfall_runs_from_the_base_value_to_the_prediction() {
        let st = steps(
            &names(),
            &[Some("1".into()), None, Some("3".into()), Some("4".into())],
            &[0.1, -0.9, 0.5, -0.05],
            9,
        );
        let out = waterfall(&st, 0.25, ("#f00", "#00f"), 7);
        assert!(out.contains("f(x) = -0.1")); // 0.25 + 0.1 − 0.9 + 0.5 − 0.05
        assert!(out.contains("E[f(X)] = 0.25"));
        assert_eq!(out.matches("<polygon").count(), 4);
        assert!(out.contains("<title>b = missing: SHAP \u{2212}0.9</title>"));
    }

    #[test]
    fn the_force_plot_draws_every_nonzero_contribution_in_its_colour() {
        let out = force(
            &names(),
            &vec![Some("1".to_string()); 4],
            &[0.1, -0.9, 0.0, 0.4],
            0.0,
            ("#f00", "#00f"),
            3,
        );
        assert_eq!(out.matches("<polygon").count(), 3);
        assert_eq!(out.matches(r##"fill="#f00" stroke"##).count(), 2);
        assert!(out.contains("f(x) = -0.4"));
    }
}
