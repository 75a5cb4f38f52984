//! The start page: two drop zones, the options, Submit (with an Idempotency-Key kept across
//! retries, so a double click or a retry after an outage never makes two jobs) and "Try the
//! sample".

use super::uploads::{DropZone, UploadState, incompatibility, send, unseen_categories};
use crate::backoff::Backoff;
use crate::net;
use crate::status::{ServiceState, StatusSignals};
use crate::wire::{Job, JobOutput, JobRequest, Upload, UploadKind};
use leptos::prelude::*;

/// Where a submission stands.
#[derive(Clone, Debug, PartialEq)]
enum Submission {
    Idle,
    Sending,
    /// The queue is unreachable: we retry by ourselves with the same key.
    Waiting {
        attempt: u32,
        message: String,
    },
    Refused(String),
}

/// The Idempotency-Key for one request: the same request (same files, same options) reuses
/// its key until it succeeds, in this tab and across reloads.
fn key_for(request: &JobRequest) -> String {
    let slot = format!(
        "shaplab.submit.{}",
        serde_json::to_string(request).unwrap_or_default()
    );
    if let Some(key) = net::stored(&slot) {
        return key;
    }
    let key = net::new_key();
    net::store(&slot, &key);
    key
}

/// Submits `request`, retrying while the queue is unreachable; goes to the job page on success.
async fn submit(request: JobRequest, state: RwSignal<Submission>) {
    let key = key_for(&request);
    let body = serde_json::to_string(&request).unwrap_or_default();
    let schedule = Backoff::HEALTH;
    let mut attempt = 0u32;
    state.set(Submission::Sending);
    loop {
        let reply = net::request("POST", "/api/jobs", Some(body.clone()), Some(key.clone())).await;
        let wait = match reply {
            Ok(r) if r.ok() => match r.json::<Job>() {
                Ok(job) => {
                    net::go_to(&format!("/jobs/{}", job.id));
                    return;
                }
                Err(_) => {
                    state.set(Submission::Refused(
                        "the server's answer could not be read".into(),
                    ));
                    return;
                }
            },
            Ok(r) if r.status == 503 || r.status == 429 || r.status >= 502 => {
                let e = r.error();
                (e.message, r.retry_after_s)
            }
            Ok(r) => {
                state.set(Submission::Refused(r.error().message));
                return;
            }
            Err(_) => ("the server did not answer".to_owned(), None),
        };
        attempt += 1;
        if attempt > 20 {
            state.set(Submission::Refused(format!(
                "{} — gave up after {attempt} tries; your files are uploaded, press Submit to try \
                 again",
                wait.0
            )));
            return;
        }
        let delay = schedule
            .delay_ms(attempt, net::random())
            .max(wait.1.unwrap_or(0) * 1_000);
        state.set(Submission::Waiting {
            attempt,
            message: format!(
                "{} — your files are safe; retrying in {} s",
                wait.0,
                delay.div_ceil(1_000)
            ),
        });
        net::sleep_ms(delay).await;
    }
}

/// Keeps an accepted upload in the browser's storage and restores it on the next visit, so
/// a reload (or a return after an outage) does not make the analyst upload again.
fn remember_uploads(state: RwSignal<UploadState>, slot: &'static str) {
    Effect::new(move |restored: Option<bool>| {
        // Read on every run, so the effect follows the state.
        let current = state.get();
        if restored.is_none() {
            if current == UploadState::Empty
                && let Some(upload) =
                    net::stored(slot).and_then(|t| serde_json::from_str::<Upload>(&t).ok())
            {
                state.set(UploadState::Done(Box::new(upload.clone())));
                leptos::task::spawn_local(still_stored(state, slot, upload));
            }
            return true;
        }
        if let UploadState::Done(upload) = current
            && let Ok(text) = serde_json::to_string(&upload)
        {
            net::store(slot, &text);
        }
        true
    });
}

/// Asks the server whether a restored upload is still there: uploads unused for
/// `UPLOAD_TTL` are deleted, and finding out at Submit would be too late. Only a 404 counts;
/// an outage keeps the upload (the server has not said it is gone).
async fn still_stored(state: RwSignal<UploadState>, slot: &'static str, upload: Upload) {
    let url = format!("/api/uploads/{}", upload.id);
    if let Ok(reply) = net::request("GET", &url, None, None).await
        && reply.status == 404
        // Unless the analyst has chosen another file meanwhile.
        && state.get_untracked().upload().map(|u| &u.id) == Some(&upload.id)
    {
        net::store(slot, "");
        state.set(UploadState::Gone { name: upload.name });
    }
}

/// Background rows used when a model needs them and none were asked for (shap's default, and
/// the CLI's).
const DEFAULT_BACKGROUND_ROWS: u64 = 100;

#[component]
pub fn StartPage() -> impl IntoView {
    let status = expect_context::<StatusSignals>();
    let model = RwSignal::new(UploadState::Empty);
    let data = RwSignal::new(UploadState::Empty);
    let output = RwSignal::new(JobOutput::Raw);
    let background = RwSignal::new(String::new());
    let interactions = RwSignal::new(false);
    let submission = RwSignal::new(Submission::Idle);
    remember_uploads(model, "shaplab.start.model");
    remember_uploads(data, "shaplab.start.data");

    let problem = Memo::new(move |_| {
        let (m, d) = (model.get(), data.get());
        match (m.upload(), d.upload()) {
            (Some(m), Some(d)) => incompatibility(m, d),
            _ => None,
        }
    });
    let unseen = Memo::new(move |_| {
        let (m, d) = (model.get(), data.get());
        match (m.upload(), d.upload()) {
            (Some(m), Some(d)) => unseen_categories(m, d),
            _ => Vec::new(),
        }
    });
    // A model that stores no covers (ONNX) is explained interventionally: path-dependent
    // TreeSHAP has nothing to weigh the branches by.
    let needs_background = move || {
        model.with(|m| {
            m.upload().is_some_and(|u| {
                matches!(&u.summary, crate::wire::UploadSummary::Model(s) if s.covers == "none")
            })
        })
    };
    // For such a model, path-dependent TreeSHAP with covers recomputed from the data instead.
    let recompute = RwSignal::new(false);
    let recomputing = move || needs_background() && recompute.get();
    let background_rows = move || -> Result<Option<u64>, String> {
        let text = background.get();
        let text = text.trim();
        if text.is_empty() {
            return Ok((needs_background() && !recomputing()).then_some(DEFAULT_BACKGROUND_ROWS));
        }
        match text.parse::<u64>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err("background rows must be a whole number above 0, or empty".into()),
        }
    };
    // Interaction values are path-dependent and on the raw scale (as in python shap).
    let interactions_possible = move || {
        output.get() == JobOutput::Raw
            && background.with(|b| b.trim().is_empty())
            && !needs_background()
    };
    // Why Submit is disabled, in words (None: it is enabled).
    let blocked = move || -> Option<String> {
        if matches!(
            submission.get(),
            Submission::Sending | Submission::Waiting { .. }
        ) {
            return Some("Submitting…".into());
        }
        if model.with(|m| m.upload().is_none()) || data.with(|d| d.upload().is_none()) {
            return Some("Upload a model and a data file first.".into());
        }
        if let Some(p) = problem.get() {
            return Some(format!("Cannot explain: {p}."));
        }
        if let Err(e) = background_rows() {
            return Some(format!("Cannot explain: {e}."));
        }
        match status.state.get() {
            ServiceState::QueueDown { .. } => Some(
                "The job queue is unreachable right now; Submit comes back by itself once it \
                 recovers (your uploads are kept)."
                    .into(),
            ),
            ServiceState::Offline => Some("You are offline.".into()),
            _ => None,
        }
    };
    let request = move || -> Option<JobRequest> {
        Some(JobRequest {
            model: model.with(|m| m.upload().map(|u| u.id.clone()))?,
            data: data.with(|d| d.upload().map(|u| u.id.clone()))?,
            output: output.get(),
            interactions: interactions.get() && interactions_possible(),
            background_rows: if recomputing() {
                None
            } else {
                background_rows().ok()?
            },
            covers: recomputing().then(|| "data".to_owned()),
        })
    };
    let on_submit = move |_| {
        if blocked().is_none()
            && let Some(r) = request()
        {
            leptos::task::spawn_local(submit(r, submission));
        }
    };
    let try_sample = move |_| {
        leptos::task::spawn_local(async move {
            let files = [
                (
                    UploadKind::Model,
                    "/sample/model.json",
                    "sample-model.json",
                    model,
                ),
                (
                    UploadKind::Data,
                    "/sample/data.csv",
                    "sample-data.csv",
                    data,
                ),
            ];
            for (kind, url, name, state) in files {
                match net::fetch_blob(url).await {
                    Ok(blob) => send(kind, blob, name.into(), state).await,
                    Err(_) => {
                        state.set(UploadState::Refused {
                            name: name.into(),
                            message: "the bundled sample could not be loaded".into(),
                        });
                        return;
                    }
                }
            }
            // shap's default: the raw margin, path-dependent (exact, no background needed).
            output.set(JobOutput::Raw);
            background.set(String::new());
            if let Some(r) = request() {
                submit(r, submission).await;
            }
        });
    };

    view! {
        <section class="intro">
            <h1>"Explain your tree models"</h1>
            <p>
                "Drop in a trained XGBoost, LightGBM, CatBoost, scikit-learn (skops) or ONNX tree "
                "model and a CSV or Parquet file of the rows to explain (category columns may hold "
                "words). shaplab computes exact SHAP values on your own machines and shows why the "
                "model predicts what it does, row by row."
            </p>
            <details class="how-to-save" data-testid="how-to-save">
                <summary>"How to save your model"</summary>
                <p class="muted">"One line in Python, from the library that trained it (also in the README, \"How to save your model\"):"</p>
                <ul>
                    <li>"XGBoost: " <code>"booster.save_model(\"model.json\")"</code> " (or " <code>".ubj"</code> ")"</li>
                    <li>"LightGBM: " <code>"booster.save_model(\"model.txt\")"</code></li>
                    <li>"CatBoost: " <code>"model.save_model(\"model.json\", format=\"json\", pool=train_pool)"</code> " (pool= keeps the category names)"</li>
                    <li>"scikit-learn: " <code>"skops.io.dump(model, \"model.skops\")"</code> " (pickles are refused: loading one runs code)"</li>
                    <li>"ONNX: " <code>"onnx.save(skl2onnx.to_onnx(model, X[:1]), \"model.onnx\")"</code> " or onnxmltools; explained interventionally (ONNX stores no covers)"</li>
                </ul>
            </details>
            <button type="button" class="sample" data-testid="try-sample" on:click=try_sample>
                "Try the sample"
            </button>
            <span class="muted">" — a breast-cancer classifier (XGBoost) and 60 patients"</span>
        </section>
        <div class="drop-zones">
            <DropZone kind=UploadKind::Model state=model />
            <DropZone kind=UploadKind::Data state=data />
        </div>
        <Show when=move || problem.get().is_some()>
            <p class="error" role="alert" data-testid="incompatible">
                {move || problem.get().map(|p| format!("These files do not fit: {p}."))}
            </p>
        </Show>
        <Show when=move || !unseen.get().is_empty()>
            <ul class="warning" data-testid="unseen-categories">
                {move || unseen.get().into_iter().map(|u| view! { <li>{u}</li> }).collect_view()}
            </ul>
        </Show>
        <Show when=needs_background>
            <p class="muted" data-testid="interventional-note">
                "This model stores no node covers, so it is explained interventionally against "
                {DEFAULT_BACKGROUND_ROWS} " sampled rows unless you set another number."
            </p>
            <label>
                <input
                    type="checkbox"
                    data-testid="recompute-covers"
                    prop:checked=move || recompute.get()
                    on:change=move |ev| recompute.set(event_target_checked(&ev))
                />
                " Path-dependent instead, with covers recomputed from this data (labelled so on the job)"
            </label>
        </Show>
        <fieldset class="options">
            <legend>"Options"</legend>
            <label>
                "Explain "
                <select
                    data-testid="output"
                    on:change=move |ev| {
                        output.set(if event_target_value(&ev) == "probability" {
                            JobOutput::Probability
                        } else {
                            JobOutput::Raw
                        })
                    }
                    prop:value=move || match output.get() {
                        JobOutput::Raw => "raw",
                        JobOutput::Probability => "probability",
                    }
                >
                    <option value="raw">"the raw output (log-odds for classifiers)"</option>
                    <option value="probability">"the probability (after the link)"</option>
                </select>
            </label>
            <label>
                "Background rows "
                <input
                    type="number"
                    min="1"
                    placeholder="none: path-dependent"
                    data-testid="background-rows"
                    prop:value=move || background.get()
                    on:input=move |ev| background.set(event_target_value(&ev))
                />
                <span class="muted">
                    " interventional SHAP against this many sampled rows (probability uses 100 when empty)"
                </span>
            </label>
            <label>
                <input
                    type="checkbox"
                    data-testid="interactions"
                    prop:checked=move || interactions.get() && interactions_possible()
                    disabled=move || !interactions_possible()
                    on:change=move |ev| interactions.set(event_target_checked(&ev))
                />
                " Interaction values "
                <span class="muted">
                    {move || {
                        if interactions_possible() {
                            "(pairs of features acting together; slower, by about the number of features)"
                        } else {
                            "(only for the raw output without background rows)"
                        }
                    }}
                </span>
            </label>
        </fieldset>
        <div class="submit-row">
            <button
                type="button"
                class="primary"
                data-testid="submit"
                disabled=move || blocked().is_some()
                on:click=on_submit
            >
                "Explain"
            </button>
            <span class="muted" data-testid="submit-why">{move || blocked().unwrap_or_default()}</span>
        </div>
        {move || match submission.get() {
            Submission::Waiting { message, .. } => {
                view! { <p class="warning" role="status" data-testid="submit-status">{message}</p> }
                    .into_any()
            }
            Submission::Refused(message) => {
                view! { <p class="error" role="alert" data-testid="submit-status">{message}</p> }
                    .into_any()
            }
            _ => ().into_any(),
        }}
    }
}
