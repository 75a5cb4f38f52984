//! "Your jobs" (`/jobs`): the signed-in user's jobs from `GET /api/jobs`, newest first, 20 a
//! page, with a search box; each job can be opened, renamed (`PATCH`) or deleted for good
//! (`DELETE ?purge=true`, after a confirmation).

use super::row_explorer::Loaded;
use crate::format;
use crate::me::explain_failure;
use crate::net;
use crate::view_state::encode;
use crate::wire::JobState;
use crate::wire_team::{JobList, JobListItem, JobRename};
use leptos::prelude::*;
use leptos_meta::Title;

const PER_PAGE: u32 = 20;

/// How long typing must pause before the search runs (a request per keystroke is wasted).
const SEARCH_PAUSE_MS: u32 = 300;

/// Pages needed for `total` jobs (at least one, so an empty list is "page 1 of 1").
fn pages(total: u64, per_page: u32) -> u32 {
    u32::try_from(total.div_ceil(u64::from(per_page.max(1))))
        .unwrap_or(u32::MAX)
        .max(1)
}

/// `1 job`, `1,204 jobs`.
fn jobs_words(n: u64) -> String {
    match n {
        1 => "1 job".into(),
        _ => format!("{} jobs", format::count(n)),
    }
}

/// What the list calls a job: its name, else its model file's, else its id.
fn display_name(job: &JobListItem) -> String {
    job.label
        .clone()
        .filter(|l| !l.trim().is_empty())
        .or_else(|| job.model_name.clone())
        .unwrap_or_else(|| job.id.clone())
}

fn state_word(job: &JobListItem) -> &'static str {
    if job.expired {
        return "expired";
    }
    match job.state {
        JobState::Queued => "queued",
        JobState::Running => "running",
        JobState::Succeeded => "done",
        JobState::Failed => "failed",
        JobState::Cancelled => "cancelled",
    }
}

fn list_url(q: &str, page: u32) -> String {
    format!(
        "/api/jobs?q={}&page={page}&per_page={PER_PAGE}",
        encode(q.trim())
    )
}

#[component]
pub fn MyJobsPage() -> impl IntoView {
    let typed = RwSignal::new(String::new());
    let query = RwSignal::new(String::new());
    let page = RwSignal::new(1u32);
    // Bumped to fetch the same page again (after a delete).
    let reload = RwSignal::new(0u32);
    let list = RwSignal::new(Loaded::<JobList>::Idle);
    // Answers may arrive out of order (fast typing): only the latest request's is shown.
    let latest = StoredValue::new(0u64);

    // Browser only (effects never run on the server).
    Effect::new(move |_| {
        let url = list_url(&query.get(), page.get());
        reload.track();
        let ticket = latest.get_value() + 1;
        latest.set_value(ticket);
        if list.with_untracked(|l| !matches!(l, Loaded::Ready(_))) {
            list.set(Loaded::Loading);
        }
        leptos::task::spawn_local(async move {
            let reply = net::request("GET", &url, None, None).await;
            let answer = match reply {
                Ok(r) if r.ok() => r.json::<JobList>().map_or_else(
                    |_| Loaded::Failed("the server's answer could not be read".into()),
                    Loaded::Ready,
                ),
                other => Loaded::Failed(explain_failure(other)),
            };
            if latest.try_get_value() != Some(ticket) {
                return;
            }
            // A page that emptied (its last job deleted): show the new last page instead.
            if let Loaded::Ready(l) = &answer
                && l.jobs.is_empty()
                && pages(l.total, l.per_page) < l.page
            {
                page.set(pages(l.total, l.per_page));
                return;
            }
            list.set(answer);
        });
    });

    let search_now = move || {
        page.set(1);
        query.set(typed.get_untracked());
    };
    let typing = StoredValue::new(0u64);
    let on_input = move |ev| {
        typed.set(event_target_value(&ev));
        let mine = typing.get_value() + 1;
        typing.set_value(mine);
        leptos::task::spawn_local(async move {
            net::sleep_ms(SEARCH_PAUSE_MS).await;
            if typing.try_get_value() == Some(mine)
                && query.get_untracked() != typed.get_untracked()
            {
                search_now();
            }
        });
    };
    let removed = Callback::new(move |()| reload.update(|n| *n = n.wrapping_add(1)));

    view! {
        <Title text="Your jobs — shaplab" />
        <section class="intro my-jobs" data-testid="my-jobs">
            <h1>"Your jobs"</h1>
            <form class="jobs-search" role="search" on:submit=move |ev| { ev.prevent_default(); search_now(); }>
                <label for="jobs-search">"Search "</label>
                <input
                    id="jobs-search"
                    type="search"
                    data-testid="jobs-search"
                    placeholder="name, model or data file"
                    prop:value=move || typed.get()
                    on:input=on_input
                />
                <button type="submit">"Search"</button>
            </form>
            {move || match list.get() {
                Loaded::Idle | Loaded::Loading => view! { <p class="muted">"Loading your jobs…"</p> }.into_any(),
                Loaded::Failed(m) => view! { <p class="error" role="alert" data-testid="jobs-error">{m}</p> }.into_any(),
                Loaded::Ready(l) if l.jobs.is_empty() && query.with_untracked(|q| q.trim().is_empty()) => view! {
                    <p data-testid="jobs-empty">"No jobs yet — " <a href="/">"start one"</a></p>
                }.into_any(),
                Loaded::Ready(l) if l.jobs.is_empty() => view! {
                    <p data-testid="jobs-empty">{format!("No job matches “{}”.", query.get_untracked().trim())}</p>
                }.into_any(),
                Loaded::Ready(l) => view! { <JobTable list=l page removed /> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn JobTable(list: JobList, page: RwSignal<u32>, removed: Callback<()>) -> impl IntoView {
    let last = pages(list.total, list.per_page);
    let at = list.page.clamp(1, last);
    let (first, final_page) = (at <= 1, at >= last);
    let now = net::now_ms();
    let rows = list
        .jobs
        .into_iter()
        .map(|job| view! { <JobRow job now removed /> })
        .collect_view();
    view! {
        <table class="job-list" data-testid="jobs-table">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Model"</th>
                    <th scope="col">"Data"</th>
                    <th scope="col">"State"</th>
                    <th scope="col">"Rows"</th>
                    <th scope="col">"Created"</th>
                    <th scope="col">"Took"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        <nav class="pager" aria-label="Pages">
            <button type="button" data-testid="jobs-prev" disabled=first on:click=move |_| page.set(at - 1)>
                "‹ Newer"
            </button>
            <span data-testid="jobs-page">{format!("page {at} of {last} · {}", jobs_words(list.total))}</span>
            <button type="button" data-testid="jobs-next" disabled=final_page on:click=move |_| page.set(at + 1)>
                "Older ›"
            </button>
        </nav>
    }
}

/// Where a row's controls stand.
#[derive(Clone, Debug, PartialEq)]
enum RowMode {
    Idle,
    Renaming,
    ConfirmingDelete,
    Busy,
}

#[component]
fn JobRow(job: JobListItem, now: u64, removed: Callback<()>) -> impl IntoView {
    let id = job.id.clone();
    let job = RwSignal::new(job);
    let mode = RwSignal::new(RowMode::Idle);
    let draft = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let href = format!("/jobs/{id}");
    let id = StoredValue::new(id);

    let rename = move || {
        let body = serde_json::to_string(&JobRename {
            label: draft.get_untracked().trim().to_owned(),
        })
        .unwrap_or_default();
        mode.set(RowMode::Busy);
        leptos::task::spawn_local(async move {
            let url = format!("/api/jobs/{}", id.get_value());
            match net::request("PATCH", &url, Some(body), None).await {
                Ok(r) if r.ok() => {
                    if let Ok(updated) = r.json::<JobListItem>() {
                        job.set(updated);
                    }
                    error.set(None);
                    mode.set(RowMode::Idle);
                }
                other => {
                    error.set(Some(explain_failure(other)));
                    mode.set(RowMode::Renaming);
                }
            }
        });
    };
    let delete = move |_| {
        mode.set(RowMode::Busy);
        leptos::task::spawn_local(async move {
            let url = format!("/api/jobs/{}?purge=true", id.get_value());
            match net::request("DELETE", &url, None, None).await {
                Ok(r) if r.ok() || r.status == 404 => removed.run(()),
                other => {
                    error.set(Some(explain_failure(other)));
                    mode.set(RowMode::Idle);
                }
            }
        });
    };

    let name_cell = move || match mode.get() {
        RowMode::Renaming => view! {
            <form class="rename" on:submit=move |ev| { ev.prevent_default(); rename(); }>
                <input
                    type="text"
                    aria-label="New name"
                    data-testid="job-rename-input"
                    prop:value=move || draft.get()
                    on:input=move |ev| draft.set(event_target_value(&ev))
                />
                <button type="submit" data-testid="job-rename-save">"Save"</button>
                <button type="button" on:click=move |_| mode.set(RowMode::Idle)>"Cancel"</button>
            </form>
        }
        .into_any(),
        _ => view! {
            <a href=href.clone() data-testid="job-link">{move || job.with(display_name)}</a>
        }
        .into_any(),
    };
    let actions = move || {
        match mode.get() {
        RowMode::ConfirmingDelete => view! {
            <span class="confirm" role="group" aria-label="Delete this job?">
                "Delete it and its results? "
                <button type="button" class="danger" data-testid="job-delete-confirm" on:click=delete>"Delete"</button>
                <button type="button" on:click=move |_| mode.set(RowMode::Idle)>"Keep"</button>
            </span>
        }
        .into_any(),
        RowMode::Busy => view! { <span class="muted">"…"</span> }.into_any(),
        _ => view! {
            <button
                type="button"
                data-testid="job-rename"
                on:click=move |_| {
                    draft.set(job.with_untracked(|j| j.label.clone().unwrap_or_default()));
                    error.set(None);
                    mode.set(RowMode::Renaming);
                }
            >
                "Rename"
            </button>
            <button type="button" data-testid="job-delete" on:click=move |_| mode.set(RowMode::ConfirmingDelete)>
                "Delete"
            </button>
        }
        .into_any(),
    }
    };
    let file = |name: Option<String>| name.unwrap_or_else(|| "—".into());
    view! {
        <tr data-testid="job-item" data-job=move || id.get_value()>
            <td class="name">
                {name_cell}
                {move || error.get().map(|m| view! { <p class="error" role="alert">{m}</p> })}
            </td>
            <td>{move || job.with(|j| file(j.model_name.clone()))}</td>
            <td>{move || job.with(|j| file(j.data_name.clone()))}</td>
            <td class="state" data-state=move || job.with(state_word)>{move || job.with(state_word)}</td>
            <td class="num">{move || job.with(|j| format::count(j.rows))}</td>
            <td title=move || job.with(|j| format::date_time(j.created_at_ms))>
                {move || job.with(|j| format::when(j.created_at_ms, now))}
            </td>
            <td>{move || job.with(|j| j.duration_ms.map_or_else(|| "—".into(), |ms| format::duration(ms / 1_000)))}</td>
            <td class="actions">{actions}</td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(label: Option<&str>, model: Option<&str>) -> JobListItem {
        JobListItem {
            id: "p0-abc".into(),
            label: label.map(str::to_owned),
            model_name: model.map(str::to_owned),
            data_name: None,
            state: JobState::Succeeded,
            rows: 60,
            created_at_ms: 0,
            duration_ms: None,
            expired: false,
        }
    }

    #[test]
    fn a_job_is_called_by_its_name_else_its_model_else_its_id() {
        assert_eq!(
            display_name(&item(Some("churn v2"), Some("m.json"))),
            "churn v2"
        );
        assert_eq!(display_name(&item(Some("  "), Some("m.json"))), "m.json");
        assert_eq!(display_name(&item(None, None)), "p0-abc");
    }

    #[test]
    fn an_empty_list_is_one_page_and_a_full_last_page_adds_none() {
        assert_eq!(pages(0, 20), 1);
        assert_eq!(pages(20, 20), 1);
        assert_eq!(pages(21, 20), 2);
    }

    #[test]
    fn the_count_of_jobs_agrees_with_its_number() {
        assert_eq!(jobs_words(1), "1 job");
        assert_eq!(jobs_words(0), "0 jobs");
        assert_eq!(jobs_words(1_204), "1,204 jobs");
    }

    #[test]
    fn the_search_is_encoded_into_the_list_url() {
        assert_eq!(
            list_url(" a b&c ", 2),
            "/api/jobs?q=a%20b%26c&page=2&per_page=20"
        );
    }
}
