//! The comparison page (`/compare?a={job}&b={job}`): two jobs with the same features side by
//! side — importance in each, the shift of each feature's mean SHAP value (drift), and both
//! prediction distributions — from `GET /api/compare`.

use super::row_explorer::Loaded;
use crate::format;
use crate::net;
use crate::plots::{Figure, compare};
use crate::wire::{ComparedJob, JobComparison, JobOutput};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Features drawn as paired bars; the table lists them all.
const BARS: usize = 15;

fn side_line(label: &str, job: &ComparedJob) -> String {
    let rows = if job.partial {
        format!(
            "{} of {} rows so far",
            format::count(job.rows_covered),
            format::count(job.rows_total)
        )
    } else {
        format!("{} rows", format::count(job.rows_covered))
    };
    let output = match job.output {
        JobOutput::Raw => "raw",
        JobOutput::Probability => "probability",
    };
    format!("Job {label}: {} ({rows}, {output} output)", job.id)
}

#[component]
pub fn ComparePage() -> impl IntoView {
    let query = use_query_map();
    let ids = move || {
        query.with(|q| {
            (
                q.get("a").unwrap_or_default(),
                q.get("b").unwrap_or_default(),
            )
        })
    };
    let loaded = RwSignal::new(Loaded::<JobComparison>::Idle);
    let output = RwSignal::new(0usize);
    // Browser only (effects never run on the server).
    Effect::new(move |_| {
        let (a, b) = ids();
        if a.is_empty() || b.is_empty() {
            loaded.set(Loaded::Failed(
                "Name two jobs to compare: /compare?a=<job id>&b=<job id>".into(),
            ));
            return;
        }
        loaded.set(Loaded::Loading);
        leptos::task::spawn_local(async move {
            let url = format!("/api/compare?a={a}&b={b}");
            let answer = match net::request("GET", &url, None, None).await {
                Ok(r) if r.ok() => r.json::<JobComparison>().map_or_else(
                    |_| Loaded::Failed("the server's answer could not be read".into()),
                    Loaded::Ready,
                ),
                Ok(r) => Loaded::Failed(r.error().message),
                Err(_) => Loaded::Failed("the server did not answer; try again in a moment".into()),
            };
            loaded.set(answer);
        });
    });
    view! {
        <section class="compare" data-testid="compare">
            <h1>"Compare two jobs"</h1>
            {move || match loaded.get() {
                Loaded::Idle | Loaded::Loading => view! { <p class="muted">"Loading both jobs…"</p> }.into_any(),
                Loaded::Failed(m) => view! { <p class="error" role="alert" data-testid="compare-error">{m}</p> }.into_any(),
                Loaded::Ready(c) => view! { <Comparison c output /> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Comparison(c: JobComparison, output: RwSignal<usize>) -> impl IntoView {
    let c = StoredValue::new(c);
    let k = move || {
        output
            .get()
            .min(c.with_value(|c| c.outputs.saturating_sub(1)))
    };
    let bars =
        Signal::derive(move || c.with_value(|c| compare::paired_bars(&c.features[k()], BARS)));
    let dist = Signal::derive(move || {
        c.with_value(|c| {
            let k = k();
            match (c.a.predictions.get(k), c.b.predictions.get(k)) {
                (Some(a), Some(b)) => {
                    compare::distributions(a, b, "prediction (base value + ΣSHAP)")
                }
                _ => String::new(),
            }
        })
    });
    let stem = c.with_value(|c| format!("{}-vs-{}", c.a.id, c.b.id));
    let bars_caption = Signal::derive(|| {
        "Mean |SHAP| of each feature in job A (blue) and job B (red), most important in either first.".to_owned()
    });
    let dist_caption = Signal::derive(|| {
        "Share of rows per prediction bin in each job: a shift means the models or the data disagree.".to_owned()
    });
    let outputs = c.with_value(|c| c.outputs);
    let table = move || {
        c.with_value(|c| {
            c.features[k()]
                .iter()
                .map(|f| {
                    let opt = |v: Option<f64>| v.map(format::signed).unwrap_or_else(|| "—".into());
                    view! {
                        <tr>
                            <td>{f.name.clone()}</td>
                            <td>{format::value(f.mean_abs_a)}</td>
                            <td>{format::value(f.mean_abs_b)}</td>
                            <td>{opt(f.mean_a)}</td>
                            <td>{opt(f.mean_b)}</td>
                            <td class="shift">{opt(f.shift)}</td>
                        </tr>
                    }
                })
                .collect_view()
        })
    };
    view! {
        <p data-testid="compare-a">{c.with_value(|c| side_line("A", &c.a))}</p>
        <p data-testid="compare-b">{c.with_value(|c| side_line("B", &c.b))}</p>
        <p>
            <a href=c.with_value(|c| format!("/jobs/{}", c.a.id))>"Open job A"</a>" · "
            <a href=c.with_value(|c| format!("/jobs/{}", c.b.id))>"Open job B"</a>
        </p>
        {(outputs > 1).then(|| view! {
            <label>
                "Output "
                <select data-testid="compare-output" on:change=move |ev| output.set(event_target_value(&ev).parse().unwrap_or(0))>
                    {(0..outputs).map(|o| view! { <option value=o.to_string()>{format!("class {o}")}</option> }).collect_view()}
                </select>
            </label>
        })}
        <Figure name="compare-importance" title="Importance in both jobs" caption=bars_caption markup=bars file_stem=stem.clone()>
            <p>"The table below lists every feature."</p>
        </Figure>
        <table class="ranking" data-testid="compare-table">
            <caption>"Per feature: mean |SHAP| and mean SHAP in each job; the shift is B − A (drift of the feature's average push)."</caption>
            <thead><tr><th>"Feature"</th><th>"mean |SHAP| A"</th><th>"mean |SHAP| B"</th><th>"mean SHAP A"</th><th>"mean SHAP B"</th><th>"shift"</th></tr></thead>
            <tbody>{table}</tbody>
        </table>
        <Figure name="compare-predictions" title="Prediction distributions" caption=dist_caption markup=dist file_stem=stem>
            <p>"Each job's histogram is drawn as the share of its rows per bin."</p>
        </Figure>
    }
}
