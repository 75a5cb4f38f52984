//! The job page's downloads: the SHAP values CSV (byte for byte what `shaplab explain`
//! writes), the interaction values CSV when the job computed them, and a JSON bundle of the
//! summary with the job's provenance (model and data hashes, options, engine version).

use super::job::JobSignals;
use crate::net;
use leptos::prelude::*;

/// Downloads: the SHAP values CSV (the CLI's format) and the JSON bundle.
#[component]
pub fn Exports(succeeded: Signal<bool>, interactions: Signal<bool>) -> impl IntoView {
    let s = expect_context::<JobSignals>();
    let bundle = move |_| {
        let id = s.id.get_untracked();
        let (job, summary) = (s.job.get_untracked(), s.summary.get_untracked());
        leptos::task::spawn_local(async move {
            let get = |url: String| async move {
                net::request("GET", &url, None, None)
                    .await
                    .ok()
                    .filter(|r| r.ok())
                    .and_then(|r| serde_json::from_str::<serde_json::Value>(&r.body).ok())
            };
            let inputs = job.as_ref().and_then(|j| j.inputs.clone());
            let (model, data) = match &inputs {
                Some(i) => (
                    get(format!("/api/uploads/{}", i.model)).await,
                    get(format!("/api/uploads/{}", i.data)).await,
                ),
                None => (None, None),
            };
            let engine = get("/api/health".into())
                .await
                .and_then(|h| h.get("version").cloned());
            let pick = |u: &Option<serde_json::Value>| {
                u.as_ref().map(|u| serde_json::json!({
                "name": u.get("name"), "sha256": u.get("sha256"), "bytes": u.get("bytes"), "id": u.get("id"),
            }))
            };
            let bundle = serde_json::json!({
                "shaplab_bundle": 1,
                "engine_version": engine,
                "job": job,
                "model": pick(&model),
                "data": pick(&data),
                "options": inputs.map(|i| serde_json::json!({"output": i.output, "background_rows": i.background_rows, "interactions": i.interactions})),
                "summary": summary,
            });
            let text = serde_json::to_string_pretty(&bundle).unwrap_or_default();
            net::download_text(&format!("shaplab-{id}.json"), "application/json", &text);
        });
    };
    view! {
        <div class="exports" data-testid="exports">
            <h3>"Downloads"</h3>
            <Show
                when=move || succeeded.get()
                fallback=|| view! { <span class="muted">"The SHAP values CSV is available once the job has finished. "</span> }
            >
                <a class="button" data-testid="download-csv" href=move || csv_url(&s.id.get(), s.view.with(|v| v.groups.clone())) download="">
                    "SHAP values (CSV)"
                </a>
                <Show when=move || interactions.get()>
                    " "
                    <a class="button" data-testid="download-interactions" href=move || format!("/api/jobs/{}/interactions.csv", s.id.get()) download="">
                        "Interaction values (CSV)"
                    </a>
                </Show>
            </Show>
            " "
            <button type="button" data-testid="download-json" on:click=bundle>"Summary and job details (JSON)"</button>
            " "
            <a class="button" data-testid="download-report" target="_blank" href=move || report_url(&s.id.get(), s.view.with(|v| (v.class, v.cohort.clone(), v.groups.clone())))>
                "Report (HTML, prints to PDF)"
            </a>
            <span class="muted">" Each plot has SVG and PNG buttons."</span>
        </div>
    }
    // Erase the view type: nested Show/match types overflow rustc's query depth.
    .into_any()
}

/// The report's address for the view's class, cohort and groups.
fn report_url(
    id: &str,
    (class, cohort, groups): (usize, Option<String>, Option<String>),
) -> String {
    let mut url = format!("/api/jobs/{id}/report.html?class={class}");
    let view = super::cohorts::view_query(cohort.as_deref(), groups.as_deref());
    if !view.is_empty() {
        url.push('&');
        url.push_str(&view);
    }
    url
}

/// The SHAP CSV's address, with the view's feature groups summed when there are any.
fn csv_url(id: &str, groups: Option<String>) -> String {
    match super::cohorts::view_query(None, groups.as_deref()) {
        q if q.is_empty() => format!("/api/jobs/{id}/shap.csv"),
        q => format!("/api/jobs/{id}/shap.csv?{q}"),
    }
}
