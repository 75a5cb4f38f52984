//! The results on the job page: the class selector, the palette, the section tabs (their
//! choice is part of the deep link), the plots with their captions and tables, and exports.
//! Everything here reads the bounded summary, so the page's payload does not grow with the
//! dataset; single rows load on demand in the row explorer.

use super::cohorts::{CohortBar, CohortCompare};
use super::exports::Exports;
use super::job::JobSignals;
use super::row_explorer::RowExplorer;
use super::views::{DecisionSection, FeatureFilter, HeatmapSection, PdpSection, matches_filter};
use crate::format;
use crate::plots::{Figure, beeswarm, colour, dependence, importance, interactions};
use crate::view_state::{Palette, SECTIONS, ViewState};
use crate::wire::{JobState, JobSummary};
use leptos::prelude::*;

/// Features in the importance plot before the rest are summed.
const TOP_N: usize = 10;

fn section_label(s: &str) -> &'static str {
    match s {
        "importance" => "Importance",
        "beeswarm" => "Beeswarm",
        "dependence" => "Dependence",
        "interactions" => "Interactions",
        "cohorts" => "Cohorts",
        "decision" => "Decision",
        "heatmap" => "Heatmap",
        "pdp" => "Partial dependence",
        _ => "Row explorer",
    }
}

/// "based on 4,000 of 10,000 rows" while partial, "over 10,000 rows" when complete; with a
/// cohort, its rows first ("over the 812 rows of the cohort age>=60, of all 10,000 rows").
pub fn coverage(summary: &JobSummary) -> String {
    if let Some(c) = &summary.cohort {
        let of = if summary.partial {
            format!(
                "of {} finished rows of {}",
                format::count(summary.rows_covered),
                format::count(summary.rows_total)
            )
        } else {
            format!("of all {} rows", format::count(summary.rows_covered))
        };
        return format!(
            "over the {} rows of the cohort {}, {of}",
            format::count(c.rows),
            c.expression
        );
    }
    if summary.partial {
        format!(
            "based on {} of {} rows so far",
            format::count(summary.rows_covered),
            format::count(summary.rows_total)
        )
    } else {
        format!("over all {} rows", format::count(summary.rows_covered))
    }
}

/// The additivity check in words: the values add up to the model's own prediction.
pub fn additivity_words(a: &crate::wire::Additivity) -> String {
    format!(
        "Additivity check: base value + ΣSHAP differs from the model's own prediction by at \
         most {:.1e} over {} rows",
        a.max_abs_error,
        format::count(a.rows)
    )
}

/// "every row shown, over all 60 rows" or "2,000 sampled rows shown, based on …".
pub(super) fn sample_words(size: u64, summary: &JobSummary) -> String {
    let rows = summary
        .cohort
        .as_ref()
        .map_or(summary.rows_covered, |c| c.rows);
    if size >= rows {
        format!("every row shown, {}", coverage(summary))
    } else {
        format!(
            "{} sampled rows shown, {}",
            format::count(size),
            coverage(summary)
        )
    }
}

pub(super) fn class_name(summary: &JobSummary, k: usize) -> String {
    if summary.outputs == 1 {
        "the model output".into()
    } else {
        format!("class {k}")
    }
}

#[component]
pub fn Results() -> impl IntoView {
    let s = expect_context::<JobSignals>();
    let ready = move || {
        s.summary
            .with(|x| x.as_ref().is_some_and(|x| x.rows_covered > 0))
    };
    view! {
        <Show when=ready>
            <ResultsBody />
        </Show>
    }
}

#[component]
fn ResultsBody() -> impl IntoView {
    let s = expect_context::<JobSignals>();
    let summary = Memo::new(move |_| s.summary.get());
    let outputs = move || summary.with(|x| x.as_ref().map_or(1, |x| x.outputs));
    let class = move || s.view.with(|v| v.class).min(outputs().saturating_sub(1));
    let section = move || s.view.with(|v| v.section.unwrap_or("importance"));
    let set_view = move |f: &dyn Fn(&mut ViewState)| s.view.update(|v| f(v));
    let succeeded = move || {
        s.job
            .with(|j| j.as_ref().is_some_and(|j| j.state == JobState::Succeeded))
    };
    let has_interactions =
        move || summary.with(|x| x.as_ref().is_some_and(|x| x.interactions.is_some()));
    view! {
        <section class="results" data-testid="results">
            <div class="results-bar">
                <p class="coverage" data-testid="coverage">
                    {move || summary.with(|x| x.as_ref().map(|x| {
                        let mut t = format!("Results {}", coverage(x));
                        if x.partial { t.push_str(" (partial: they fill in as chunks finish)"); }
                        t
                    }))}
                </p>
                <p class="muted additivity" data-testid="additivity">
                    {move || summary.with(|x| x.as_ref().and_then(|x| x.additivity.as_ref()).map(additivity_words))}
                </p>
                <Show when=move || { outputs() > 1 }>
                    <label>
                        "Class "
                        <select
                            data-testid="class-select"
                            prop:value=move || class().to_string()
                            on:change=move |ev| {
                                let k = event_target_value(&ev).parse().unwrap_or(0);
                                set_view(&|v| v.class = k);
                            }
                        >
                            {move || (0..outputs()).map(|k| view! { <option value=k.to_string()>{format!("class {k}")}</option> }).collect_view()}
                        </select>
                    </label>
                </Show>
                <label>
                    <input
                        type="checkbox"
                        data-testid="palette-cb"
                        prop:checked=move || s.view.with(|v| v.palette == Palette::ColourBlindSafe)
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            set_view(&|v| v.palette = if on { Palette::ColourBlindSafe } else { Palette::RedBlue });
                        }
                    />
                    " Colour-blind-safe colours"
                </label>
            </div>
            <CohortBar />
            <nav class="tabs" role="tablist">
                {move || SECTIONS.iter().filter(|&&name| name != "interactions" || has_interactions()).map(|&name| view! {
                    <button
                        type="button"
                        role="tab"
                        data-testid=format!("tab-{name}")
                        aria-selected=move || (section() == name).to_string()
                        class:active=move || section() == name
                        on:click=move |_| set_view(&|v| v.section = Some(name))
                    >
                        {section_label(name)}
                    </button>
                }).collect_view()}
            </nav>
            {move || match section() {
                "beeswarm" => view! { <BeeswarmSection summary class=Signal::derive(class) /> }.into_any(),
                "dependence" => view! { <DependenceSection summary class=Signal::derive(class) /> }.into_any(),
                "row" => view! { <RowExplorer class=Signal::derive(class) /> }.into_any(),
                "cohorts" => view! { <CohortCompare class=Signal::derive(class) /> }.into_any(),
                "decision" => view! { <DecisionSection summary class=Signal::derive(class) /> }.into_any(),
                "heatmap" => view! { <HeatmapSection summary class=Signal::derive(class) /> }.into_any(),
                "pdp" => view! { <PdpSection summary class=Signal::derive(class) /> }.into_any(),
                "interactions" if has_interactions() => view! { <InteractionsSection summary class=Signal::derive(class) /> }.into_any(),
                _ => view! { <ImportanceSection summary class=Signal::derive(class) /> }.into_any(),
            }}
            <Exports succeeded=Signal::derive(succeeded) interactions=Signal::derive(has_interactions) />
        </section>
    }
    // Erase the view type: nested Show/match types overflow rustc's query depth.
    .into_any()
}

#[component]
fn ImportanceSection(summary: Memo<Option<JobSummary>>, class: Signal<usize>) -> impl IntoView {
    let s = expect_context::<JobSignals>();
    let bars = Memo::new(move |_| {
        summary.with(|x| {
            x.as_ref().map_or(vec![], |x| {
                let k = class.get();
                importance::bars(
                    &x.features,
                    x.mean_abs_shap.get(k).map_or(&[][..], |v| v),
                    TOP_N,
                )
            })
        })
    });
    let markup = Signal::derive(move || {
        let palette = s.view.with(|v| v.palette);
        let note = summary.with(|x| x.as_ref().map(coverage).unwrap_or_default());
        importance::svg(&bars.get(), colour::contribution_colours(palette).0, &note)
    });
    let caption = Signal::derive(move || {
        summary.with(|x| x.as_ref().map_or(String::new(), |x| format!(
            "How much each feature moves {} on average (mean |SHAP value|), {}: longer bars matter more.",
            class_name(x, class.get()), coverage(x)
        )))
    });
    view! {
        <Figure name="importance" title="Feature importance" caption markup file_stem=s.id.get_untracked()>
            <table>
                <thead><tr><th>"Feature"</th><th>"mean |SHAP|"</th></tr></thead>
                <tbody>
                    {move || bars.get().into_iter().map(|b| view! { <tr><td>{b.label}</td><td>{format::value(b.value)}</td></tr> }).collect_view()}
                </tbody>
            </table>
        </Figure>
    }
}

#[component]
fn BeeswarmSection(summary: Memo<Option<JobSummary>>, class: Signal<usize>) -> impl IntoView {
    let s = expect_context::<JobSignals>();
    let markup = Signal::derive(move || {
        let palette = s.view.with(|v| v.palette);
        summary.with(|x| {
            x.as_ref().map_or(String::new(), |x| {
                beeswarm::svg(
                    &x.beeswarm,
                    &x.features,
                    &x.categories,
                    class.get(),
                    palette,
                )
            })
        })
    });
    let caption = Signal::derive(move || {
        summary.with(|x| x.as_ref().map_or(String::new(), |x| format!(
            "Each dot is one row: its position is the feature's SHAP value for {}, its colour the feature's value (red high, blue low, grey missing); {}.",
            class_name(x, class.get()),
            sample_words(x.beeswarm.size, x)
        )))
    });
    let table = move || {
        summary.with(|x| x.as_ref().map(|x| {
            let k = class.get();
            x.beeswarm.features.iter().take(beeswarm::MAX_FEATURES).enumerate().map(|(i, &f)| {
                let ys = x.beeswarm.shap.get(k).and_then(|o| o.get(i)).cloned().unwrap_or_default();
                let (lo, hi) = ys.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
                let name = x.features.get(f).cloned().unwrap_or_default();
                view! { <tr><td>{name}</td><td>{format::value(f64::from(lo))}</td><td>{format::value(f64::from(hi))}</td></tr> }
            }).collect_view()
        }))
    };
    view! {
        <Figure name="beeswarm" title="SHAP values by feature" caption markup file_stem=s.id.get_untracked()>
            <table>
                <thead><tr><th>"Feature"</th><th>"lowest SHAP"</th><th>"highest SHAP"</th></tr></thead>
                <tbody>{table}</tbody>
            </table>
        </Figure>
    }
}

#[component]
fn DependenceSection(summary: Memo<Option<JobSummary>>, class: Signal<usize>) -> impl IntoView {
    let s = expect_context::<JobSignals>();
    // Features the sample covers, most important first (the select's options).
    let choices = Memo::new(move |_| {
        summary.with(|x| {
            x.as_ref().map_or(vec![], |x| {
                x.dependence
                    .features
                    .iter()
                    .filter_map(|d| x.features.get(d.feature).cloned())
                    .collect::<Vec<_>>()
            })
        })
    });
    let chosen = move || {
        s.view
            .with(|v| v.feature.clone())
            .filter(|f| choices.with(|c| c.contains(f)))
            .or_else(|| choices.with(|c| c.first().cloned()))
    };
    let colour_by = move || s.view.with(|v| v.colour_by.clone());
    let markup = Signal::derive(move || {
        let palette = s.view.with(|v| v.palette);
        let (Some(name), k) = (chosen(), class.get()) else {
            return String::new();
        };
        summary.with(|x| {
            let Some(x) = x.as_ref() else {
                return String::new();
            };
            let index = |n: &str| x.features.iter().position(|f| f == n);
            let dep = |f: usize| x.dependence.features.iter().find(|d| d.feature == f);
            let Some(d) = index(&name).and_then(dep) else {
                return String::new();
            };
            let Some(out) = d.outputs.get(k) else {
                return String::new();
            };
            let colour = match colour_by() {
                Some(c) if c == "none" => None,
                Some(c) => index(&c)
                    .and_then(dep)
                    .map(|cd| (cd.feature, cd.x.as_slice())),
                None => out
                    .partner
                    .filter(|&p| p < x.features.len())
                    .map(|p| (p, out.colour.as_slice())),
            };
            let cats = |f: usize| x.categories.get(f).and_then(Option::as_deref);
            dependence::svg(
                &dependence::Scatter {
                    feature: &name,
                    x: &d.x,
                    y: &out.y,
                    rows: &x.dependence.rows,
                    colour: colour.map(|(f, v)| (x.features[f].as_str(), v)),
                    categories: cats(d.feature),
                    colour_categories: colour.and_then(|(f, _)| cats(f)),
                },
                palette,
            )
        })
    });
    let caption = Signal::derive(move || {
        summary.with(|x| {
            x.as_ref().map_or(String::new(), |x| {
                format!(
                    "How {}'s value changes its SHAP value; colour shows {}; {}.",
                    chosen().unwrap_or_default(),
                    colour_by()
                        .filter(|c| c != "none")
                        .map(|c| format!("{c}'s value"))
                        .unwrap_or_else(|| "the value of its strongest interaction partner".into()),
                    sample_words(x.dependence.size, x)
                )
            })
        })
    });
    let table = move || {
        let name = chosen()?;
        summary.with(|x| x.as_ref().and_then(|x| {
            let f = x.features.iter().position(|n| *n == name)?;
            let d = x.dependence.features.iter().find(|d| d.feature == f)?;
            let out = d.outputs.get(class.get())?;
            Some(x.dependence.rows.iter().zip(&d.x).zip(&out.y).take(200).map(|((r, v), y)| view! {
                <tr><td>{*r}</td><td>{v.map_or("missing".into(), |v| format::value(f64::from(v)))}</td><td>{format::value(f64::from(*y))}</td></tr>
            }).collect_view())
        }))
    };
    let filter = RwSignal::new(String::new());
    view! {
        <div class="controls">
            <label>
                "Feature "
                <FeatureFilter filter count=Signal::derive(move || choices.with(Vec::len)) testid="dependence-filter" />
                <select
                    data-testid="dependence-feature"
                    prop:value=move || chosen().unwrap_or_default()
                    on:change=move |ev| { let f = event_target_value(&ev); s.view.update(|v| v.feature = Some(f)); }
                >
                    {move || {
                        let shown = chosen().unwrap_or_default();
                        choices.get().into_iter()
                            .filter(|c| *c == shown || matches_filter(c, &filter.get()))
                            .map(|c| view! { <option value=c.clone()>{c.clone()}</option> })
                            .collect_view()
                    }}
                </select>
            </label>
            <label>
                " coloured by "
                <select
                    data-testid="dependence-colour"
                    prop:value=move || colour_by().unwrap_or_default()
                    on:change=move |ev| {
                        let c = event_target_value(&ev);
                        s.view.update(|v| v.colour_by = if c.is_empty() { None } else { Some(c) });
                    }
                >
                    <option value="">"strongest partner"</option>
                    <option value="none">"nothing"</option>
                    {move || choices.get().into_iter().map(|c| view! { <option value=c.clone()>{c.clone()}</option> }).collect_view()}
                </select>
            </label>
        </div>
        <Figure name="dependence" title="Dependence" caption markup file_stem=s.id.get_untracked()>
            <table>
                <thead><tr><th>"Row"</th><th>"Value"</th><th>"SHAP"</th></tr></thead>
                <tbody>{table}</tbody>
            </table>
        </Figure>
    }
}

#[component]
fn InteractionsSection(summary: Memo<Option<JobSummary>>, class: Signal<usize>) -> impl IntoView {
    let s = expect_context::<JobSignals>();
    let markup = Signal::derive(move || {
        summary.with(|x| {
            let Some((x, i)) = x.as_ref().and_then(|x| Some((x, x.interactions.as_ref()?))) else {
                return String::new();
            };
            let names: Vec<&str> = i
                .features
                .iter()
                .map(|&f| x.features.get(f).map_or("?", String::as_str))
                .collect();
            i.mean_abs
                .get(class.get())
                .map_or(String::new(), |m| interactions::svg(&names, m))
        })
    });
    let caption = Signal::derive(move || {
        summary.with(|x| x.as_ref().map_or(String::new(), |x| format!(
            "How strongly pairs of features act together on {} (mean |SHAP interaction value|, {}): redder cells are stronger interactions; the grey diagonal is each feature's own effect.",
            class_name(x, class.get()),
            coverage(x)
        )))
    });
    let table = move || {
        summary.with(|x| x.as_ref().and_then(|x| {
            let i = x.interactions.as_ref()?;
            let m = i.mean_abs.get(class.get())?;
            let name = |f: usize| x.features.get(f).cloned().unwrap_or_default();
            let mut pairs: Vec<(usize, usize, f64)> = (0..i.features.len())
                .flat_map(|a| (0..a).map(move |b| (a, b)))
                .filter_map(|(a, b)| Some((a, b, *m.get(a)?.get(b)?)))
                .collect();
            pairs.sort_by(|p, q| q.2.total_cmp(&p.2));
            Some(pairs.into_iter().take(20).map(|(a, b, v)| view! {
                <tr><td>{name(i.features[a])}</td><td>{name(i.features[b])}</td><td>{format::value(v)}</td></tr>
            }).collect_view())
        }))
    };
    view! {
        <Figure name="interactions" title="Interactions" caption markup file_stem=s.id.get_untracked()>
            <table>
                <thead><tr><th>"Feature"</th><th>"with"</th><th>"mean |interaction|"</th></tr></thead>
                <tbody>{table}</tbody>
            </table>
        </Figure>
    }
}
