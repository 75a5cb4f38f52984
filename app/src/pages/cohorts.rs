//! Cohorts on the job page: the filter bar every view obeys (its conditions ride in the URL
//! as `cohort=`, the summary and the rankings are fetched for it, and the row count is
//! shown), and the Cohorts section comparing two cohorts' importance with bootstrap
//! intervals (`GET /api/jobs/{id}/cohorts`).

use super::job::JobSignals;
use super::row_explorer::Loaded;
use crate::format;
use crate::net;
use crate::plots::{Figure, compare};
use crate::view_state::encode;
use crate::wire::{CohortComparison, JobSummary};
use leptos::prelude::*;

/// Features in the cohort comparison plot.
const COHORT_BARS: usize = 12;

/// What a cohort is written as, for the input's hint.
const SYNTAX: &str = "Conditions joined by ; — age>=60, city=paris|lima, age=missing, \
                      prediction>0.5, shap(age)>0.1 (add @2 for output 2)";

/// A cohort as the server writes it back (conditions trimmed, joined by `; `); `None` for
/// every row.
pub fn normalized(cohort: Option<String>) -> Option<String> {
    let parts: Vec<String> = cohort?
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// A view's cohort and feature groups as query parameters (`&`-joined, no leading `?`).
pub fn view_query(cohort: Option<&str>, groups: Option<&str>) -> String {
    [("cohort", cohort), ("groups", groups)]
        .into_iter()
        .filter_map(|(k, v)| {
            v.filter(|v| !v.trim().is_empty())
                .map(|v| format!("{k}={}", encode(v)))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The summary's address for a cohort and groups (every row, no groups when `None`).
pub fn summary_url(id: &str, cohort: Option<String>, groups: Option<String>) -> String {
    match view_query(cohort.as_deref(), groups.as_deref()) {
        q if q.is_empty() => format!("/api/jobs/{id}/summary"),
        q => format!("/api/jobs/{id}/summary?{q}"),
    }
}

async fn fetch<T: serde::de::DeserializeOwned>(url: String) -> Result<T, String> {
    match net::request("GET", &url, None, None).await {
        Ok(r) if r.ok() => r
            .json::<T>()
            .map_err(|_| "the server's answer could not be read".to_owned()),
        Ok(r) => Err(r.error().message),
        Err(_) => Err("the server did not answer; try again in a moment".into()),
    }
}

/// The filter bar: type conditions, Apply; "All rows" clears. A cohort the server refuses
/// (a misspelt feature, an unknown category) is explained and the views stay as they were.
#[component]
pub fn CohortBar() -> impl IntoView {
    let s = expect_context::<JobSignals>();
    let text = RwSignal::new(
        s.view
            .with_untracked(|v| v.cohort.clone().unwrap_or_default()),
    );
    let grouping = RwSignal::new(
        s.view
            .with_untracked(|v| v.groups.clone().unwrap_or_default()),
    );
    let error = RwSignal::new(None::<String>);
    let apply = move |cohort: Option<String>, groups: Option<String>| {
        let id = s.id.get_untracked();
        leptos::task::spawn_local(async move {
            match fetch::<JobSummary>(summary_url(&id, cohort.clone(), groups.clone())).await {
                Ok(summary) => {
                    error.set(None);
                    s.view.update(|v| {
                        v.cohort = cohort;
                        v.groups = groups;
                    });
                    s.summary.set(Some(summary));
                }
                Err(message) => error.set(Some(message)),
            }
        });
    };
    let some = |t: String| (!t.trim().is_empty()).then_some(t);
    let status = move || {
        s.summary.with(|x| {
            let x = x.as_ref()?;
            let rows = x.cohort.as_ref().map(|c| {
                format!(
                    "{} of {} rows match",
                    format::count(c.rows),
                    format::count(x.rows_covered)
                )
            });
            let groups = x.groups.as_ref().map(|g| format!("grouped: {g}"));
            let parts: Vec<String> = rows.into_iter().chain(groups).collect();
            (!parts.is_empty()).then(|| parts.join(" · "))
        })
    };
    view! {
        <form
            class="cohort-bar"
            data-testid="cohort-bar"
            on:submit=move |ev| {
                ev.prevent_default();
                apply(some(text.get_untracked()), some(grouping.get_untracked()));
            }
        >
            <label>
                "Cohort "
                <input
                    type="text"
                    data-testid="cohort-input"
                    title=SYNTAX
                    placeholder="every row — e.g. age>=60; city=paris|lima; prediction>0.5"
                    prop:value=move || text.get()
                    on:input=move |ev| text.set(event_target_value(&ev))
                />
            </label>
            <label>
                " Groups "
                <input
                    type="text"
                    data-testid="groups-input"
                    title="auto: one-hot siblings (color_red, color_blue, …) as one feature; or name:a,b; name2:c,d"
                    placeholder="none — auto, or name:a,b"
                    prop:value=move || grouping.get()
                    on:input=move |ev| grouping.set(event_target_value(&ev))
                />
            </label>
            <button type="submit" data-testid="cohort-apply">"Apply"</button>
            <button
                type="button"
                data-testid="cohort-clear"
                on:click=move |_| {
                    text.set(String::new());
                    apply(None, some(grouping.get_untracked()));
                }
            >
                "All rows"
            </button>
            " "
            <span class="muted" data-testid="cohort-status">{status}</span>
            {move || error.get().map(|m| view! { <p class="error" role="alert" data-testid="cohort-error">{m}</p> })}
        </form>
    }
}

/// Two cohorts' mean |SHAP| side by side, with 95 % bootstrap intervals.
#[component]
pub fn CohortCompare(class: Signal<usize>) -> impl IntoView {
    let s = expect_context::<JobSignals>();
    let a = RwSignal::new(
        s.view
            .with_untracked(|v| v.cohort.clone().unwrap_or_default()),
    );
    let b = RwSignal::new(String::new());
    let result = RwSignal::new(Loaded::<CohortComparison>::Idle);
    let run = move || {
        let id = s.id.get_untracked();
        let url = format!(
            "/api/jobs/{id}/cohorts?a={}&b={}",
            encode(&a.get_untracked()),
            encode(&b.get_untracked())
        );
        result.set(Loaded::Loading);
        leptos::task::spawn_local(async move {
            result.set(match fetch::<CohortComparison>(url).await {
                Ok(c) => Loaded::Ready(c),
                Err(m) => Loaded::Failed(m),
            });
        });
    };
    let input = move |signal: RwSignal<String>, testid: &'static str, hint: &'static str| {
        view! {
            <input
                type="text"
                data-testid=testid
                title=SYNTAX
                placeholder=hint
                prop:value=move || signal.get()
                on:input=move |ev| signal.set(event_target_value(&ev))
            />
        }
    };
    view! {
        <div class="cohort-compare" data-testid="cohort-compare">
            <p class="muted">
                "Compare what drives the model in two groups of rows: mean |SHAP| per feature in \
                 each, over every row of the job, with 95 % bootstrap intervals. Leave a cohort \
                 empty for every row."
            </p>
            <div class="controls">
                <label>"Cohort A " {input(a, "cohort-a", "every row")}</label>
                <label>" Cohort B " {input(b, "cohort-b", "every row")}</label>
                <button type="button" data-testid="cohort-compare-run" on:click=move |_| run()>"Compare"</button>
            </div>
            {move || match result.get() {
                Loaded::Idle => ().into_any(),
                Loaded::Loading => view! { <p class="muted">"Comparing the cohorts over every row…"</p> }.into_any(),
                Loaded::Failed(m) => view! { <p class="error" role="alert" data-testid="cohort-compare-error">{m}</p> }.into_any(),
                Loaded::Ready(c) => view! { <CohortPlot c class /> }.into_any(),
            }}
        </div>
    }
}

#[component]
fn CohortPlot(c: CohortComparison, class: Signal<usize>) -> impl IntoView {
    let s = expect_context::<JobSignals>();
    let c = StoredValue::new(c);
    let k = move || {
        class
            .get()
            .min(c.with_value(|c| c.outputs.saturating_sub(1)))
    };
    let markup =
        Signal::derive(move || c.with_value(|c| compare::cohort_bars(c, k(), COHORT_BARS)));
    let caption = Signal::derive(move || {
        c.with_value(|c| {
            format!(
                "Mean |SHAP| per feature in cohort A (blue, {} rows) and cohort B (red, {} rows); \
                 the whiskers are {}.",
                format::count(c.a.rows),
                format::count(c.b.rows),
                c.method
            )
        })
    });
    let rows = move || {
        c.with_value(|c| {
            let name = |e: &str| {
                if e.is_empty() {
                    "every row".to_owned()
                } else {
                    e.to_owned()
                }
            };
            format!(
                "A ({}): {} rows · B ({}): {} rows",
                name(&c.a.expression),
                format::count(c.a.rows),
                name(&c.b.expression),
                format::count(c.b.rows)
            )
        })
    };
    let table = move || {
        c.with_value(|c| {
            let k = k();
            let cell = |v: &Vec<Vec<f64>>, j: usize| {
                v.get(k)
                    .and_then(|r| r.get(j))
                    .copied()
                    .map(format::value)
                    .unwrap_or_default()
            };
            (0..c.features.len())
                .map(|j| {
                    view! {
                        <tr>
                            <td>{c.features[j].clone()}</td>
                            <td>{cell(&c.a.mean_abs, j)}</td>
                            <td>{format!("{} – {}", cell(&c.a.low, j), cell(&c.a.high, j))}</td>
                            <td>{cell(&c.b.mean_abs, j)}</td>
                            <td>{format!("{} – {}", cell(&c.b.low, j), cell(&c.b.high, j))}</td>
                        </tr>
                    }
                })
                .collect_view()
        })
    };
    view! {
        <p data-testid="cohort-compare-rows">{rows}</p>
        <Figure name="cohorts" title="Importance in two cohorts" caption markup file_stem=s.id.get_untracked()>
            <table>
                <thead><tr><th>"Feature"</th><th>"A"</th><th>"A 95 %"</th><th>"B"</th><th>"B 95 %"</th></tr></thead>
                <tbody>{table}</tbody>
            </table>
        </Figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cohort_is_normalised_as_the_server_writes_it() {
        assert_eq!(
            normalized(Some(" a>1 ;; b=x ".into())).as_deref(),
            Some("a>1; b=x")
        );
        assert_eq!(normalized(Some(" ; ".into())), None);
        assert_eq!(normalized(None), None);
    }

    #[test]
    fn a_cohort_and_groups_ride_percent_encoded_in_the_summary_address() {
        assert_eq!(summary_url("j1", None, None), "/api/jobs/j1/summary");
        assert_eq!(
            summary_url("j1", Some("  ".into()), None),
            "/api/jobs/j1/summary"
        );
        assert_eq!(
            summary_url("j1", Some("age>=60; city=a|b".into()), Some("auto".into())),
            "/api/jobs/j1/summary?cohort=age%3E%3D60%3B%20city%3Da%7Cb&groups=auto"
        );
        assert_eq!(
            summary_url("j1", None, Some("g:a,b".into())),
            "/api/jobs/j1/summary?groups=g%3Aa%2Cb"
        );
    }
}
