//! The job page (`/jobs/{id}`): follows the job by polling with backoff (see [`crate::poll`]),
//! shows state, progress, ETA and Cancel, keeps the last known status and partial results in
//! the browser's storage so an outage or a reload never blanks the page, and hands the
//! summary to the results. A share link's viewer gets it read-only (no Cancel, no Run again,
//! no Share section).

use super::job_inputs::{InputFiles, InputNotes};
use super::results::Results;
use super::share::{SharePanel, SharedNote};
use crate::format;
use crate::me::use_me;
use crate::net;
use crate::poll::{NextPoll, PollOutcome, PollSchedule, Poller};
use crate::status::StatusSignals;
use crate::view_state::ViewState;
use crate::wire::{Job, JobRequest, JobState, JobSummary};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

/// What the browser keeps of a job between visits (localStorage).
#[derive(Serialize, Deserialize, Clone, Debug)]
struct Cached {
    job: Job,
    summary: Option<JobSummary>,
    saved_at_ms: u64,
}

fn cache_key(id: &str) -> String {
    format!("shaplab.job.{id}")
}

/// Why the page has no job to show.
#[derive(Clone, Debug, PartialEq)]
pub enum Gone {
    NotFound(String),
    Expired(String),
}

/// The page's live state, shared with the results.
#[derive(Clone, Copy)]
pub struct JobSignals {
    pub id: Signal<String>,
    pub job: RwSignal<Option<Job>>,
    pub summary: RwSignal<Option<JobSummary>>,
    /// When the last poll got an answer (ms since the epoch).
    pub last_ok_ms: RwSignal<Option<u64>>,
    /// The clock, ticking while the page waits (drives "last update 35 s ago").
    pub now_ms: RwSignal<u64>,
    /// The latest failure's message, once failures amount to an outage.
    pub trouble: RwSignal<Option<String>>,
    pub gone: RwSignal<Option<Gone>>,
    pub view: RwSignal<ViewState>,
    /// The viewer came by a share link: whatever changes the job is hidden (the server would
    /// refuse it anyway).
    pub read_only: Signal<bool>,
}

/// Stable fields only: the ETA moves with the clock, not with the job.
fn same_progress(a: &Job, b: &Job) -> bool {
    a.state == b.state && a.progress == b.progress && a.error == b.error
}

fn save(id: &str, job: &Job, summary: Option<&JobSummary>) {
    let cached = Cached {
        job: job.clone(),
        summary: summary.cloned(),
        saved_at_ms: net::now_ms(),
    };
    if let Ok(text) = serde_json::to_string(&cached) {
        net::store(&cache_key(id), &text);
    }
}

/// Fetches the summary; `true` when the page now has it.
pub(super) async fn fetch_summary(s: JobSignals, id: &str) -> bool {
    let url = s
        .view
        .with_untracked(|v| super::cohorts::summary_url(id, v.cohort.clone(), v.groups.clone()));
    match net::request("GET", &url, None, None).await {
        Ok(r) if r.ok() => match r.json::<JobSummary>() {
            Ok(summary) => {
                if let Some(job) = s.job.get_untracked() {
                    save(id, &job, Some(&summary));
                }
                s.summary.set(Some(summary));
                true
            }
            Err(_) => false,
        },
        _ => false,
    }
}

/// Follows job `id` until it ends (or the page goes away).
async fn follow(s: JobSignals, status: StatusSignals, id: String) {
    let url = format!("/api/jobs/{id}");
    let mut poller = Poller::new(PollSchedule::JOB);
    // A stored summary of another cohort than the link's is fetched again.
    let wanted = super::cohorts::normalized(s.view.with_untracked(|v| v.cohort.clone()));
    let mut summary_at: Option<u64> = s
        .summary
        .get_untracked()
        .filter(|x| !x.partial)
        .filter(|x| x.cohort.as_ref().map(|c| c.expression.clone()) == wanted)
        // Groups are stored as the server expanded them (`auto` → the members): fetch again.
        .filter(|x| x.groups.is_none() && s.view.with_untracked(|v| v.groups.is_none()))
        .map(|x| x.chunks_done);
    loop {
        let reply = net::request("GET", &url, None, None).await;
        let hint = reply.as_ref().ok().and_then(|r| r.poll_hint_s);
        let outcome = match reply {
            Ok(r) if r.ok() => match r.json::<Job>() {
                Ok(job) => {
                    let changed = s
                        .job
                        .with_untracked(|old| old.as_ref().is_none_or(|o| !same_progress(o, &job)));
                    let terminal = job.state.is_terminal();
                    let chunks = job.progress.chunks_done;
                    save(&id, &job, s.summary.get_untracked().as_ref());
                    if s.job.try_set(Some(job)).is_some() {
                        return; // the page is gone
                    }
                    s.last_ok_ms.set(Some(net::now_ms()));
                    s.trouble.set(None);
                    if chunks > 0 && summary_at != Some(chunks) && fetch_summary(s, &id).await {
                        summary_at = Some(chunks);
                    }
                    if terminal {
                        PollOutcome::Finished
                    } else if changed {
                        PollOutcome::Changed
                    } else {
                        PollOutcome::Unchanged
                    }
                }
                Err(_) => PollOutcome::Failed {
                    retry_after_ms: None,
                },
            },
            Ok(r) if r.status == 404 => {
                // Not (or no longer) this browser's to read — deleted, or a share link revoked:
                // forget the results kept here too. The job's inputs stay for "Run it again".
                s.summary.set(None);
                if let Some(job) = s.job.get_untracked() {
                    save(&id, &job, None);
                }
                s.gone.set(Some(Gone::NotFound(r.error().message)));
                PollOutcome::Finished
            }
            Ok(r) if r.status == 410 => {
                s.gone.set(Some(Gone::Expired(r.error().message)));
                PollOutcome::Finished
            }
            Ok(r) => {
                s.trouble.set(Some(r.error().message));
                PollOutcome::Failed {
                    retry_after_ms: r.retry_after_s.map(|v| v.saturating_mul(1_000)),
                }
            }
            Err(_) => {
                s.trouble.set(Some(if net::online() {
                    "the shaplab server is not answering".into()
                } else {
                    "you are offline".into()
                }));
                PollOutcome::Failed {
                    retry_after_ms: None,
                }
            }
        };
        poller.record(outcome, hint);
        if poller.failures == PollSchedule::JOB.banner_after_failures {
            // Ask the health check what is wrong now, rather than at its next turn.
            status.check_now.update(|n| *n = n.wrapping_add(1));
        }
        match poller.next(net::hidden(), net::random()) {
            NextPoll::Stop => return,
            NextPoll::WhenVisible => {
                while net::hidden() {
                    net::sleep_ms(500).await;
                }
            }
            NextPoll::After(ms) => {
                let mut left = ms;
                while left > 0 {
                    let step = left.min(1_000);
                    net::sleep_ms(step).await;
                    left -= step;
                    if s.now_ms.try_set(net::now_ms()).is_some() {
                        return;
                    }
                }
            }
        }
    }
}

#[component]
pub fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = Signal::derive(move || params.read().get("id").unwrap_or_default());
    let initial = query.with_untracked(|q| {
        let pairs: Vec<(String, String)> = q
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ViewState::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    });
    let me = use_me();
    let s = JobSignals {
        id,
        job: RwSignal::new(None),
        summary: RwSignal::new(None),
        last_ok_ms: RwSignal::new(None),
        now_ms: RwSignal::new(0),
        trouble: RwSignal::new(None),
        gone: RwSignal::new(None),
        view: RwSignal::new(initial),
        read_only: Signal::derive(move || me.read_only(&id.get())),
    };
    provide_context(s);
    let status = expect_context::<StatusSignals>();

    // Browser only (effects never run on the server): restore the cache, then follow the job.
    Effect::new(move |started: Option<bool>| {
        if started == Some(true) {
            return true;
        }
        let id = id.get_untracked();
        if let Some(cached) =
            net::stored(&cache_key(&id)).and_then(|t| serde_json::from_str::<Cached>(&t).ok())
        {
            s.job.set(Some(cached.job));
            s.summary.set(cached.summary);
            s.last_ok_ms.set(Some(cached.saved_at_ms));
        }
        s.now_ms.set(net::now_ms());
        leptos::task::spawn_local(follow(s, status, id));
        true
    });
    // Keep the address bar's query equal to the view (a copied link reopens this view).
    Effect::new(move |_| {
        let query = s.view.with(ViewState::to_query);
        net::replace_query(&query);
    });

    view! {
        <section class="job" data-testid="job-page">
            <h1>"Job " <code>{move || id.get()}</code></h1>
            <SharedNote />
            <InputFiles />
            <InputNotes />
            {move || match s.gone.get() {
                Some(gone) => view! { <GoneNotice gone /> }.into_any(),
                None => view! { <StatusPanel /> }.into_any(),
            }}
        </section>
        // Type-erased: the page's full view type is deeper than rustc's default query limit.
        <Results />
        {view! { <SharePanel /> }.into_any()}
    }
    .into_any()
}

fn state_words(state: JobState) -> &'static str {
    match state {
        JobState::Queued => "Waiting for a worker",
        JobState::Running => "Computing SHAP values",
        JobState::Succeeded => "Done",
        JobState::Failed => "Failed",
        JobState::Cancelled => "Cancelled",
    }
}

/// State, progress bar, ETA, Cancel; the last known status with its age during an outage.
#[component]
fn StatusPanel() -> impl IntoView {
    let s = expect_context::<JobSignals>();
    let cancel_error = RwSignal::new(None::<String>);
    let on_cancel = move |_| {
        let id = s.id.get_untracked();
        leptos::task::spawn_local(async move {
            match net::request("DELETE", &format!("/api/jobs/{id}"), None, None).await {
                Ok(r) if r.ok() => {
                    cancel_error.set(None);
                    if let Ok(job) = r.json::<Job>() {
                        s.job.set(Some(job));
                    }
                }
                Ok(r) => cancel_error.set(Some(r.error().message)),
                Err(_) => cancel_error.set(Some(
                    "the server did not answer; the job goes on — try again in a moment".into(),
                )),
            }
        });
    };
    let stale = move || {
        let trouble = s.trouble.get()?;
        let age = match s.last_ok_ms.get() {
            Some(at) => format!(
                "Last update {}",
                format::age(s.now_ms.get().saturating_sub(at))
            ),
            None => "No update yet".into(),
        };
        Some(format!(
            "{age} — {trouble}. Showing the last known status; we keep checking."
        ))
    };
    view! {
        {move || match s.job.get() {
            None => view! { <p class="muted" data-testid="job-state" data-state="loading">"Loading the job…"</p> }.into_any(),
            Some(job) => {
                let p = job.progress;
                let pct = if p.rows_total > 0 { p.rows_done as f64 * 100.0 / p.rows_total as f64 } else { 0.0 };
                let eta = job.eta_seconds.map(|e| format!(" · about {} left", format::duration(e))).unwrap_or_default();
                let running = !job.state.is_terminal();
                let can_cancel = move || running && !s.read_only.get();
                let failure = job.error.clone();
                view! {
                    <div class="job-status" data-testid="job-state" data-state=format!("{:?}", job.state).to_lowercase()>
                        <p class="state">{state_words(job.state)}</p>
                        <progress max="100" value=format!("{pct:.1}") data-testid="job-progress"></progress>
                        <p class="progress-words" data-testid="job-progress-words">
                            {format!(
                                "{} of {} rows ({} of {} chunks){eta}",
                                format::count(p.rows_done),
                                format::count(p.rows_total),
                                p.chunks_done,
                                p.chunks_total
                            )}
                        </p>
                        <Show when=can_cancel>
                            <button type="button" data-testid="cancel" on:click=on_cancel>"Cancel"</button>
                        </Show>
                        {failure.map(|f| {
                            let advice = match f.code.as_str() {
                                "invalid_model" | "invalid_data" | "incompatible" => " Fix the file and upload it again from the start page.",
                                "worker_lost" => " A worker kept dying on this job; try smaller chunks or fewer rows, and tell your operator.",
                                _ => "",
                            };
                            view! { <p class="error" role="alert" data-testid="job-error">{f.message} {advice}</p> }
                        })}
                    </div>
                }
                    .into_any()
            }
        }}
        {move || cancel_error.get().map(|m| view! { <p class="error" role="alert">{m}</p> })}
        {move || stale().map(|m| view! { <p class="warning" role="status" data-testid="stale-note">{m}</p> })}
    }
}

/// A job the server no longer has: say so and offer to run it again with the same files.
#[component]
fn GoneNotice(gone: Gone) -> impl IntoView {
    let s = expect_context::<JobSignals>();
    let (testid, text) = match gone {
        Gone::NotFound(m) => (
            "job-not-found",
            format!("This job does not exist here ({m})."),
        ),
        Gone::Expired(m) => (
            "job-expired",
            format!("This job's results have expired ({m})."),
        ),
    };
    let outcome = RwSignal::new(None::<String>);
    let inputs = move || s.job.with(|j| j.as_ref().and_then(|j| j.inputs.clone()));
    let resubmit = move |_| {
        let Some(inputs) = inputs() else { return };
        let request = JobRequest {
            model: inputs.model,
            data: inputs.data,
            output: inputs.output,
            interactions: inputs.interactions,
            background_rows: inputs.background_rows,
            covers: inputs.covers_from_data.then(|| "data".to_owned()),
        };
        leptos::task::spawn_local(async move {
            let body = serde_json::to_string(&request).unwrap_or_default();
            match net::request("POST", "/api/jobs", Some(body), Some(net::new_key())).await {
                Ok(r) if r.ok() => match r.json::<Job>() {
                    Ok(job) => net::go_to(&format!("/jobs/{}", job.id)),
                    Err(_) => outcome.set(Some("the server's answer could not be read".into())),
                },
                Ok(r) if r.error().code == "upload_not_found" => outcome.set(Some(
                    "the uploaded files have expired too; upload them again from the start page"
                        .into(),
                )),
                Ok(r) => outcome.set(Some(r.error().message)),
                Err(_) => outcome.set(Some("the server did not answer; try again".into())),
            }
        });
    };
    view! {
        <div class="gone" data-testid=testid role="alert">
            <p>{text}</p>
            <Show
                when=move || inputs().is_some() && !s.read_only.get()
                fallback=|| view! { <p><a href="/">"Upload the files again"</a> " to explain them."</p> }
            >
                <button type="button" data-testid="resubmit" on:click=resubmit>
                    "Run it again with the same files"
                </button>
            </Show>
            {move || outcome.get().map(|m| view! { <p class="error">{m}</p> })}
        </div>
    }
}
