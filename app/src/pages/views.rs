//! The decision plot and heatmap sections of the results (shap's `plots.decision` and
//! `plots.heatmap`), drawn from the summary's row sample (see [`crate::plots::decision`]),
//! and partial dependence with ICE lines, computed by the server on demand.

use super::job::JobSignals;
use super::results::{class_name, sample_words};
use super::row_explorer::Loaded;
use crate::format;
use crate::net;
use crate::plots::decision::{self, DECISION_ROWS, HEATMAP_ROWS, Order};
use crate::plots::{Figure, pdp};
use crate::view_state::encode;
use crate::wire::{JobOutput, JobSummary, PartialDependence};
use leptos::prelude::*;

/// Rows the sample holds, capped at `cap` (what a plot draws).
fn drawn(x: &JobSummary, cap: usize) -> u64 {
    x.beeswarm.size.min(cap as u64)
}

#[component]
pub fn DecisionSection(summary: Memo<Option<JobSummary>>, class: Signal<usize>) -> impl IntoView {
    let s = expect_context::<JobSignals>();
    let markup = Signal::derive(move || {
        let palette = s.view.with(|v| v.palette);
        summary.with(|x| {
            x.as_ref().map_or(String::new(), |x| {
                let k = class.get();
                let base = x.base_values.get(k).copied().unwrap_or(0.0);
                decision::decision(&x.beeswarm, &x.features, k, base, palette)
            })
        })
    });
    let caption = Signal::derive(move || {
        summary.with(|x| x.as_ref().map_or(String::new(), |x| format!(
            "Each line is one row of {}: from the base value at the bottom it adds the features' SHAP values, the most important last, and ends at the row's prediction (red high, blue low); {}.",
            class_name(x, class.get()),
            sample_words(drawn(x, DECISION_ROWS), x)
        )))
    });
    view! {
        <Figure name="decision" title="Decision plot" caption markup file_stem=s.id.get_untracked()>
            <p>"The beeswarm's table lists the same rows' SHAP values."</p>
        </Figure>
    }
}

#[component]
pub fn HeatmapSection(summary: Memo<Option<JobSummary>>, class: Signal<usize>) -> impl IntoView {
    let s = expect_context::<JobSignals>();
    let order = RwSignal::new(Order::Prediction);
    let markup = Signal::derive(move || {
        let palette = s.view.with(|v| v.palette);
        summary.with(|x| {
            x.as_ref().map_or(String::new(), |x| {
                decision::heatmap(&x.beeswarm, &x.features, class.get(), order.get(), palette)
            })
        })
    });
    let caption = Signal::derive(move || {
        summary.with(|x| x.as_ref().map_or(String::new(), |x| format!(
            "Rows across, the most important features down: each cell is the feature's SHAP value for {} in that row (red pushes up, blue down), with the prediction f(x) above; {}.",
            class_name(x, class.get()),
            sample_words(drawn(x, HEATMAP_ROWS), x)
        )))
    });
    view! {
        <label>
            "Order rows by "
            <select
                data-testid="heatmap-order"
                on:change=move |ev| order.set(if event_target_value(&ev) == "similarity" { Order::Similarity } else { Order::Prediction })
            >
                <option value="prediction">"prediction"</option>
                <option value="similarity">"similar explanations"</option>
            </select>
        </label>
        <Figure name="heatmap" title="Heatmap" caption markup file_stem=s.id.get_untracked()>
            <p>"The beeswarm's table lists the same rows' SHAP values."</p>
        </Figure>
    }
}

/// Partial dependence with ICE lines for a chosen feature, fetched on demand
/// (`GET /api/jobs/{id}/pdp`): the model itself evaluated on a grid.
#[component]
pub fn PdpSection(summary: Memo<Option<JobSummary>>, class: Signal<usize>) -> impl IntoView {
    let s = expect_context::<JobSignals>();
    let features = move || summary.with(|x| x.as_ref().map_or(vec![], |x| x.features.clone()));
    let chosen = RwSignal::new(
        s.view
            .with_untracked(|v| v.feature.clone())
            .or_else(|| summary.with_untracked(|x| top_feature(x.as_ref())))
            .unwrap_or_default(),
    );
    let result = RwSignal::new(Loaded::<PartialDependence>::Idle);
    let filter = RwSignal::new(String::new());
    Effect::new(move |_| {
        let (name, k) = (chosen.get(), class.get());
        if name.is_empty() {
            return;
        }
        let id = s.id.get_untracked();
        result.set(Loaded::Loading);
        leptos::task::spawn_local(async move {
            let url = format!("/api/jobs/{id}/pdp?feature={}&output={k}", encode(&name));
            result.set(match net::request("GET", &url, None, None).await {
                Ok(r) if r.ok() => r.json::<PartialDependence>().map_or_else(
                    |_| Loaded::Failed("the server's answer could not be read".into()),
                    Loaded::Ready,
                ),
                Ok(r) => Loaded::Failed(r.error().message),
                Err(_) => Loaded::Failed("the server did not answer; try again in a moment".into()),
            });
        });
    });
    let scale = move || {
        s.job.with(
            |j| match j.as_ref().and_then(|j| j.inputs.as_ref()).map(|i| i.output) {
                Some(JobOutput::Probability) => "probability",
                _ => "raw output",
            },
        )
    };
    view! {
        <label>
            "Feature "
            <FeatureFilter filter count=Signal::derive(move || features().len()) testid="pdp-filter" />
            <select data-testid="pdp-feature" on:change=move |ev| chosen.set(event_target_value(&ev))>
                {move || features().into_iter().filter(|f| *f == chosen.get_untracked() || matches_filter(f, &filter.get())).map(|f| {
                    let selected = f == chosen.get_untracked();
                    view! { <option value=f.clone() selected=selected>{f.clone()}</option> }
                }).collect_view()}
            </select>
        </label>
        {move || match result.get() {
            Loaded::Idle => ().into_any(),
            Loaded::Loading => view! { <p class="muted">"Evaluating the model on the grid…"</p> }.into_any(),
            Loaded::Failed(m) => view! { <p class="error" role="alert" data-testid="pdp-error">{m}</p> }.into_any(),
            Loaded::Ready(p) => {
                let caption = format!("How the model's output moves with {}: {}.", p.name, p.method);
                let markup = Signal::derive({
                    let p = p.clone();
                    move || pdp::svg(&p, scale())
                });
                view! {
                    <Figure name="pdp" title="Partial dependence and ICE" caption=Signal::derive(move || caption.clone()) markup file_stem=s.id.get_untracked()>
                        <table>
                            <thead><tr><th>{p.name.clone()}</th><th>"mean output"</th></tr></thead>
                            <tbody>
                                {p.grid.iter().zip(&p.average).enumerate().map(|(i, (g, a))| {
                                    let label = p.categories.as_ref().and_then(|c| c.get(i).cloned()).unwrap_or_else(|| format::value(*g));
                                    view! { <tr><td>{label}</td><td>{format::value(*a)}</td></tr> }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </Figure>
                }.into_any()
            }
        }}
    }
}

/// The most important feature of the summary (the dependence sample's first).
fn top_feature(x: Option<&JobSummary>) -> Option<String> {
    let x = x?;
    let j = x.dependence.features.first()?.feature;
    x.features.get(j).cloned()
}

/// Features at which a picker offers a search box (fewer fit in a glance).
pub const FILTER_FROM: usize = 20;

/// Whether a feature name matches the picker's search text (case-insensitive substring).
pub fn matches_filter(name: &str, filter: &str) -> bool {
    let filter = filter.trim();
    filter.is_empty() || name.to_lowercase().contains(&filter.to_lowercase())
}

/// A search box that narrows a feature picker, shown when it has many features.
#[component]
pub fn FeatureFilter(
    filter: RwSignal<String>,
    #[prop(into)] count: Signal<usize>,
    testid: &'static str,
) -> impl IntoView {
    view! {
        <Show when=move || { count.get() >= FILTER_FROM }>
            <input
                type="search"
                class="feature-filter"
                data-testid=testid
                placeholder="search features"
                prop:value=move || filter.get()
                on:input=move |ev| filter.set(event_target_value(&ev))
            />
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feature_matches_a_search_anywhere_in_its_name_whatever_the_case() {
        assert!(matches_filter("worst_concave_points", "CONCAVE"));
        assert!(matches_filter("age", " "));
        assert!(!matches_filter("age", "income"));
    }
}
