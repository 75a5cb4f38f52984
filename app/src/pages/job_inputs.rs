//! What the job page says about a job's inputs under its title: the model and data files by
//! name with what they hold and the options (fetched from the upload records once the job is
//! known), then how the job explains and what the submit check noticed.

use super::job::JobSignals;
use crate::format;
use crate::net;
use crate::wire::{JobOutput, Upload, UploadSummary};
use leptos::prelude::*;

async fn upload(id: String) -> Option<Upload> {
    match net::request("GET", &format!("/api/uploads/{id}"), None, None).await {
        Ok(r) if r.ok() => r.json::<Upload>().ok(),
        _ => None,
    }
}

/// One upload in words: `model.json (XGBoost JSON, binary:logistic, 100 trees)`.
fn describe(upload: Option<&Upload>, what: &str) -> String {
    let Some(u) = upload else {
        return format!("{what}: the upload is no longer stored");
    };
    let detail = match &u.summary {
        UploadSummary::Model(m) => format!("{}, {}, {} trees", m.format, m.objective, m.trees),
        UploadSummary::Data(d) => format!("{}, {} rows", d.format, format::count(d.rows)),
    };
    format!("{what}: {} ({detail})", u.name)
}

/// "Model: … · Data: … · Explains: raw output": the files by name and the options.
#[component]
pub fn InputFiles() -> impl IntoView {
    let s = expect_context::<JobSignals>();
    let files = RwSignal::new(None::<(Option<Upload>, Option<Upload>)>);
    // Browser only, once the job (with its inputs) is known.
    Effect::new(move |fetched: Option<bool>| {
        if fetched == Some(true) {
            return true;
        }
        let ids = s.job.with(|j| {
            j.as_ref()
                .and_then(|j| j.inputs.as_ref())
                .map(|i| (i.model.clone(), i.data.clone()))
        });
        let Some((model, data)) = ids else {
            return false;
        };
        leptos::task::spawn_local(async move {
            let model = upload(model).await;
            let data = upload(data).await;
            files.set(Some((model, data)));
        });
        true
    });
    let line = move || {
        let (model, data) = files.get()?;
        let options = s.job.with(|j| {
            let i = j.as_ref()?.inputs.as_ref()?;
            let mut o = vec![match i.output {
                JobOutput::Raw => "Explains: raw output".to_owned(),
                JobOutput::Probability => "Explains: probability".to_owned(),
            }];
            if i.interactions {
                o.push("with interaction values".into());
            }
            Some(o.join(", "))
        });
        Some(
            [
                describe(model.as_ref(), "Model"),
                describe(data.as_ref(), "Data"),
            ]
            .into_iter()
            .chain(options)
            .collect::<Vec<_>>()
            .join(" · "),
        )
    };
    view! { <p class="input-files" data-testid="input-files">{line}</p> }
}

/// How the job explains (the method, and covers recomputed from the data, labelled) and what
/// the submit check noticed about the inputs (categories the model never saw).
#[component]
pub fn InputNotes() -> impl IntoView {
    let s = expect_context::<JobSignals>();
    let lines = move || {
        s.job.with(|j| {
            let Some(inputs) = j.as_ref().and_then(|j| j.inputs.as_ref()) else {
                return Vec::new();
            };
            let method = match (inputs.background_rows, inputs.covers_from_data) {
                (Some(n), _) => {
                    format!("Interventional TreeSHAP against {n} sampled background rows.")
                }
                (None, true) => "Path-dependent TreeSHAP with node covers recomputed from this \
                                 job's data (the model file stores none)."
                    .to_owned(),
                (None, false) => {
                    "Path-dependent TreeSHAP with the covers stored in the model.".to_owned()
                }
            };
            std::iter::once(method)
                .chain(inputs.notes.iter().cloned())
                .collect()
        })
    };
    view! {
        <ul class="input-notes muted" data-testid="input-notes">
            {move || lines().into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
        </ul>
    }
}
