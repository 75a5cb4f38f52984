//! The row explorer: pick a row by number or from a ranking (highest / lowest prediction,
//! largest SHAP value of a feature), then see its waterfall and force plots. Rows load one
//! at a time, on demand.

use super::job::JobSignals;
use super::views::{FeatureFilter, matches_filter};
use super::whatif::WhatIf;
use crate::format;
use crate::net;
use crate::plots::{Figure, colour, waterfall};
use crate::view_state::Scale;
use crate::wire::{JobRow, RankedRows};
use leptos::prelude::*;

/// Features drawn in the waterfall before the rest are summed.
const WATERFALL_TOP: usize = 9;

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Loaded<T> {
    Idle,
    Loading,
    Ready(T),
    Failed(String),
}

async fn get<T: serde::de::DeserializeOwned>(url: String) -> Loaded<T> {
    match net::request("GET", &url, None, None).await {
        Ok(r) if r.ok() => r.json::<T>().map_or_else(
            |_| Loaded::Failed("the server's answer could not be read".into()),
            Loaded::Ready,
        ),
        Ok(r) => Loaded::Failed(r.error().message),
        Err(_) => Loaded::Failed("the server did not answer; try again in a moment".into()),
    }
}

#[component]
pub fn RowExplorer(class: Signal<usize>) -> impl IntoView {
    let s = expect_context::<JobSignals>();
    let row = RwSignal::new(Loaded::<JobRow>::Idle);
    let ranked = RwSignal::new(Loaded::<RankedRows>::Idle);
    let typed = RwSignal::new(
        s.view
            .with_untracked(|v| v.row.map(|r| r.to_string()).unwrap_or_default()),
    );
    // Set once the person types a row number: the automatic first row must not overwrite it.
    let touched = StoredValue::new(false);
    let rank_feature = RwSignal::new(String::new());
    let filter = RwSignal::new(String::new());
    let features = move || {
        s.summary
            .with(|x| x.as_ref().map_or(vec![], |x| x.features.clone()))
    };

    // Load the row named in the view (deep link, typed number or a click in a ranking).
    Effect::new(move |_| {
        let Some(i) = s.view.with(|v| v.row) else {
            return;
        };
        let id = s.id.get_untracked();
        row.set(Loaded::Loading);
        leptos::task::spawn_local(async move {
            let answer = get(format!("/api/jobs/{id}/rows/{i}")).await;
            // A slower answer for a row no longer asked for must not replace the current one.
            if s.view.with_untracked(|v| v.row) == Some(i) {
                row.set(answer);
            }
        });
    });
    // Opened without a row: show the highest prediction (of the cohort, for the class shown)
    // rather than an empty panel. Once, on mount; a deep link's row, or a number typed while
    // the answer was on its way, wins.
    if s.view.with_untracked(|v| v.row.is_none()) {
        let id = s.id.get_untracked();
        let k = class.get_untracked();
        let cohort = s
            .view
            .with_untracked(|v| v.cohort.clone())
            .map_or(String::new(), |c| {
                format!("&cohort={}", crate::view_state::encode(&c))
            });
        leptos::task::spawn_local(async move {
            let url = format!(
                "/api/jobs/{id}/ranked?by=prediction&order=desc&output={k}&limit=1{cohort}"
            );
            if let Loaded::Ready(r) = get::<RankedRows>(url).await
                && let Some(top) = r.rows.first()
                && s.view.with_untracked(|v| v.row.is_none())
                && !touched.get_value()
            {
                typed.set(top.row.to_string());
                s.view.update(|v| v.row = Some(top.row));
            }
        });
    }
    let show_typed = move || {
        let text = typed.get_untracked();
        match text.trim().parse::<u64>() {
            Ok(i) => s.view.update(|v| v.row = Some(i)),
            Err(_) => row.set(Loaded::Failed(format!(
                "{text:?} is not a row number; rows are numbered from 0"
            ))),
        }
    };
    let rank = move |by: &'static str, order: &'static str| {
        let id = s.id.get_untracked();
        let k = class.get_untracked();
        let feature = if by == "shap" {
            let name = rank_feature.get_untracked();
            match features().iter().position(|f| *f == name).or(Some(0)) {
                Some(f) => format!("&feature={f}"),
                None => String::new(),
            }
        } else {
            String::new()
        };
        let cohort = s
            .view
            .with_untracked(|v| v.cohort.clone())
            .map_or(String::new(), |c| {
                format!("&cohort={}", crate::view_state::encode(&c))
            });
        ranked.set(Loaded::Loading);
        leptos::task::spawn_local(async move {
            ranked.set(
                get(format!(
                    "/api/jobs/{id}/ranked?by={by}&order={order}&output={k}&limit=10{feature}{cohort}"
                ))
                .await,
            );
        });
    };

    view! {
        <div class="row-explorer" data-testid="row-explorer">
            <div class="controls">
                <label>
                    "Row number "
                    <input
                        type="number"
                        min="0"
                        data-testid="row-input"
                        prop:value=move || typed.get()
                        on:input=move |ev| {
                            touched.set_value(true);
                            typed.set(event_target_value(&ev));
                        }
                        on:keydown=move |ev: web_sys::KeyboardEvent| if ev.key() == "Enter" { show_typed() }
                    />
                </label>
                <button type="button" data-testid="row-show" on:click=move |_| show_typed()>"Show"</button>
                <label>
                    " Prediction shown as "
                    <select
                        data-testid="scale-select"
                        prop:value=move || if s.view.with(|v| v.scale) == Scale::Probability { "probability" } else { "raw" }
                        on:change=move |ev| {
                            let p = event_target_value(&ev) == "probability";
                            s.view.update(|v| v.scale = if p { Scale::Probability } else { Scale::Raw });
                        }
                    >
                        <option value="raw">"raw output"</option>
                        <option value="probability">"probability"</option>
                    </select>
                </label>
            </div>
            <div class="controls">
                "Find rows: "
                <button type="button" data-testid="rank-highest" on:click=move |_| rank("prediction", "desc")>"highest prediction"</button>
                <button type="button" data-testid="rank-lowest" on:click=move |_| rank("prediction", "asc")>"lowest prediction"</button>
                <button type="button" data-testid="rank-shap" on:click=move |_| rank("shap", "desc")>"largest SHAP of"</button>
                <FeatureFilter filter count=Signal::derive(move || features().len()) testid="rank-filter" />
                <select data-testid="rank-feature" on:change=move |ev| rank_feature.set(event_target_value(&ev))>
                    {move || {
                        let picked = rank_feature.get_untracked();
                        features().into_iter()
                            .filter(|f| *f == picked || matches_filter(f, &filter.get()))
                            .map(|f| view! { <option value=f.clone()>{f.clone()}</option> })
                            .collect_view()
                    }}
                </select>
            </div>
            {move || match ranked.get() {
                Loaded::Idle => ().into_any(),
                Loaded::Loading => view! { <p class="muted">"Ranking rows…"</p> }.into_any(),
                Loaded::Failed(m) => view! { <p class="error" role="alert">{m}</p> }.into_any(),
                Loaded::Ready(r) => view! {
                    <table class="ranking" data-testid="ranking">
                        <caption>{format!("Top rows{}", if r.partial { format!(" among the {} finished so far", format::count(r.rows_covered)) } else { String::new() })}</caption>
                        <thead><tr><th>"Row"</th><th>"Prediction"</th><th>"SHAP"</th></tr></thead>
                        <tbody>
                            {r.rows.into_iter().map(|x| view! {
                                <tr>
                                    <td><button type="button" class="link" on:click=move |_| { typed.set(x.row.to_string()); s.view.update(|v| v.row = Some(x.row)); }>{x.row}</button></td>
                                    <td>{format::value(x.prediction)}</td>
                                    <td>{x.shap.map(format::signed).unwrap_or_default()}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            }}
            {move || match row.get() {
                Loaded::Idle => view! { <p class="muted">"Pick a row to see why it gets its prediction."</p> }.into_any(),
                Loaded::Loading => view! { <p class="muted">"Loading the row…"</p> }.into_any(),
                Loaded::Failed(m) => view! { <p class="error" role="alert" data-testid="row-error">{m}</p> }.into_any(),
                Loaded::Ready(r) => view! {
                    <RowPlots row=r.clone() class />
                    <WhatIf row=r class />
                }.into_any(),
            }}
        </div>
    }
}

/// The waterfall and force plots of one row. `what_if` draws them for an edited variant
/// (their own figure names, so both stay on the page and download under their own names).
#[component]
pub(super) fn RowPlots(
    row: JobRow,
    class: Signal<usize>,
    #[prop(optional)] what_if: bool,
) -> impl IntoView {
    let s = expect_context::<JobSignals>();
    let row = StoredValue::new(row);
    let k = move || {
        class
            .get()
            .min(row.with_value(|r| r.base_values.len().saturating_sub(1)))
    };
    let parts = move || {
        row.with_value(|r| {
            let k = k();
            let names: Vec<String> = r.features.iter().map(|f| f.name.clone()).collect();
            // A categorical feature shows its category's name (`city = Paris`), not its code.
            let values: Vec<Option<String>> = r
                .features
                .iter()
                .map(|f| f.category.clone().or_else(|| f.value.map(format::value)))
                .collect();
            let shap: Vec<f64> = r
                .features
                .iter()
                .map(|f| f.shap.get(k).copied().unwrap_or(0.0))
                .collect();
            (
                names,
                values,
                shap,
                r.base_values.get(k).copied().unwrap_or(0.0),
                r.row,
            )
        })
    };
    let colours = move || colour::contribution_colours(s.view.with(|v| v.palette));
    let waterfall_svg = Signal::derive(move || {
        let (names, values, shap, base, i) = parts();
        waterfall::waterfall(
            &waterfall::steps(&names, &values, &shap, WATERFALL_TOP),
            base,
            colours(),
            i,
        )
    });
    let force_svg = Signal::derive(move || {
        let (names, values, shap, base, i) = parts();
        waterfall::force(&names, &values, &shap, base, colours(), i)
    });
    let prediction = move || {
        row.with_value(|r| {
            let k = k();
            let margin = r.predictions.margin.get(k).copied();
            let probability = r
                .predictions
                .probability
                .as_ref()
                .and_then(|p| p.get(k).copied());
            match (s.view.with(|v| v.scale), probability, margin) {
                (Scale::Probability, Some(p), _) => {
                    format!("Prediction: probability {}", format::value(p))
                }
                (Scale::Probability, None, Some(m)) => format!(
                    "Prediction: {} (this model has no probability scale)",
                    format::value(m)
                ),
                (_, _, Some(m)) => format!("Prediction: raw output {}", format::value(m)),
                _ => String::new(),
            }
        })
    };
    let (waterfall_name, force_name, prediction_id) = if what_if {
        ("whatif-waterfall", "whatif-force", "whatif-prediction")
    } else {
        ("waterfall", "force", "row-prediction")
    };
    let caption = Signal::derive(move || {
        format!(
            "{}Row {}: starting from the average output E[f(X)], each bar is one feature's SHAP value pushing this row's output up (red) or down (blue).",
            if what_if { "What if: " } else { "" },
            row.with_value(|r| r.row)
        )
    });
    let force_caption = Signal::derive(move || {
        "The same contributions as forces: red features push the output higher, blue ones lower; they meet at f(x).".to_owned()
    });
    let stem = s.id.get_untracked();
    let table = move || {
        parts().0.into_iter().zip(parts().1).zip(parts().2).map(|((n, v), sv)| view! {
        <tr><td>{n}</td><td>{v.unwrap_or_else(|| "missing".into())}</td><td>{format::signed(sv)}</td></tr>
    }).collect_view()
    };
    view! {
        <p class="prediction" data-testid=prediction_id>{prediction}</p>
        <Figure name=waterfall_name title="Waterfall" caption markup=waterfall_svg file_stem=stem.clone()>
            <table>
                <thead><tr><th>"Feature"</th><th>"Value"</th><th>"SHAP"</th></tr></thead>
                <tbody>{table}</tbody>
            </table>
        </Figure>
        <Figure name=force_name title="Force plot" caption=force_caption markup=force_svg file_stem=stem>
            <p>"The table under the waterfall lists the same contributions."</p>
        </Figure>
    }
}
