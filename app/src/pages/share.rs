//! The job page's Share section: read-only links to the job (`POST /api/jobs/{id}/shares`,
//! whose answer is the only one that holds the link), the links made so far (`GET …/shares`)
//! and Revoke (`DELETE …/shares/{share}`). A share link's viewer sees none of it, and nor does
//! a server without sign-in (everyone who reaches it sees every job already).

use super::copy::CopyButton;
use super::job::JobSignals;
use super::row_explorer::Loaded;
use crate::format;
use crate::me::{explain_failure, has_account, use_me, viewer_only};
use crate::net;
use crate::wire_team::{Share, ShareRequest};
use leptos::prelude::*;

/// The expiry choices: the select's value and the hours it means (`None`: until revoked).
const EXPIRIES: [(&str, &str, Option<u32>); 3] = [
    ("", "Never", None),
    ("24", "In 24 hours", Some(24)),
    ("168", "In 7 days", Some(168)),
];

fn hours(value: &str) -> Option<u32> {
    EXPIRIES
        .iter()
        .find(|(v, _, _)| *v == value)
        .and_then(|(_, _, h)| *h)
}

/// When a link stops working, in words.
fn expiry_words(expires_at_ms: Option<u64>, now_ms: u64) -> String {
    match expires_at_ms {
        None => "never expires".into(),
        Some(at) if at <= now_ms => "expired".into(),
        Some(at) => format!(
            "expires in {}",
            format::duration(at.saturating_sub(now_ms) / 1_000)
        ),
    }
}

/// The Share section, once the page knows the job and who is looking.
#[component]
pub fn SharePanel() -> impl IntoView {
    let s = expect_context::<JobSignals>();
    let me = use_me();
    let offered = move || {
        let id = s.id.get();
        let owner = me.0.with(|m| {
            m.as_ref()
                .is_some_and(|m| m.mode != "none" && has_account(m) && !viewer_only(m, &id))
        });
        owner && s.job.with(Option::is_some) && s.gone.with(Option::is_none)
    };
    view! {
        <Show when=offered>
            {view! { <ShareBody id=s.id.get_untracked() /> }.into_any()}
        </Show>
    }
}

async fn load(id: String, shares: RwSignal<Loaded<Vec<Share>>>) {
    let url = format!("/api/jobs/{id}/shares");
    let answer = match net::request("GET", &url, None, None).await {
        Ok(r) if r.ok() => r.json::<Vec<Share>>().map_or_else(
            |_| Loaded::Failed("the server's answer could not be read".into()),
            Loaded::Ready,
        ),
        other => Loaded::Failed(explain_failure(other)),
    };
    let _ = shares.try_set(answer);
}

#[component]
fn ShareBody(id: String) -> impl IntoView {
    let id = StoredValue::new(id);
    let shares = RwSignal::new(Loaded::<Vec<Share>>::Idle);
    let expiry = RwSignal::new(String::new());
    // The link just made: the one time the page can show it.
    let fresh = RwSignal::new(None::<Share>);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    Effect::new(move |_| {
        shares.set(Loaded::Loading);
        leptos::task::spawn_local(load(id.get_value(), shares));
    });

    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let request = ShareRequest {
            expires_in_hours: hours(&expiry.get_untracked()),
        };
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let url = format!("/api/jobs/{}/shares", id.get_value());
            let body = serde_json::to_string(&request).unwrap_or_default();
            match net::request("POST", &url, Some(body), None).await {
                Ok(r) if r.ok() => match r.json::<Share>() {
                    Ok(share) => {
                        fresh.set(Some(share));
                        load(id.get_value(), shares).await;
                    }
                    Err(_) => error.set(Some("the server's answer could not be read".into())),
                },
                other => error.set(Some(explain_failure(other))),
            }
            busy.set(false);
        });
    };
    let revoked = Callback::new(move |share: String| {
        if fresh.with_untracked(|f| f.as_ref().is_some_and(|f| f.id == share)) {
            fresh.set(None);
        }
        shares.update(|l| {
            if let Loaded::Ready(list) = l {
                list.retain(|x| x.id != share);
            }
        });
    });
    let link = move || {
        let path = fresh.with(|f| f.as_ref().and_then(|f| f.url.clone()))?;
        Some(format!("{}{path}", net::origin()))
    };

    view! {
        <section class="share" data-testid="share-panel" aria-labelledby="share-title">
            <h2 id="share-title">"Share"</h2>
            <p class="muted">
                "A link shows this job and its results to whoever opens it, read-only, without an \
                 account. Revoke it to take it back."
            </p>
            <form class="share-create" on:submit=create>
                <label>
                    "Link expires "
                    <select
                        data-testid="share-expiry"
                        prop:value=move || expiry.get()
                        on:change=move |ev| expiry.set(event_target_value(&ev))
                    >
                        {EXPIRIES.iter().map(|(v, words, _)| view! { <option value=*v>{*words}</option> }).collect_view()}
                    </select>
                </label>
                " "
                <button type="submit" data-testid="share-create" disabled=move || busy.get()>"Create link"</button>
            </form>
            {move || error.get().map(|m| view! { <p class="error" role="alert" data-testid="share-error">{m}</p> })}
            {move || link().map(|url| view! {
                <div class="fresh-secret">
                    <div class="copy-row">
                        <input type="text" readonly aria-label="The new share link" data-testid="share-url" value=url.clone() />
                        <CopyButton text=url testid="share-copy" />
                    </div>
                    <p class="muted">"Copy it now: the link is shown only this once (the list below keeps its dates)."</p>
                </div>
            })}
            {move || match shares.get() {
                Loaded::Idle | Loaded::Loading => view! { <p class="muted">"Loading the links…"</p> }.into_any(),
                Loaded::Failed(m) => view! { <p class="error" role="alert">{m}</p> }.into_any(),
                Loaded::Ready(list) if list.is_empty() => view! { <p class="muted" data-testid="shares-empty">"No links to this job."</p> }.into_any(),
                Loaded::Ready(list) => {
                    let now = net::now_ms();
                    view! {
                        <ul class="share-list">
                            {list.into_iter().map(|share| view! { <ShareItem share now revoked /> }).collect_view()}
                        </ul>
                    }
                    .into_any()
                }
            }}
        </section>
    }
    // Type-erased: the section's full type is deeper than rustc's default query limit.
    .into_any()
}

#[component]
fn ShareItem(share: Share, now: u64, revoked: Callback<String>) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let ids = StoredValue::new((share.job.clone(), share.id.clone()));
    let revoke = move |_| {
        busy.set(true);
        leptos::task::spawn_local(async move {
            let (job, id) = ids.get_value();
            let url = format!("/api/jobs/{job}/shares/{id}");
            match net::request("DELETE", &url, None, None).await {
                // 404: already revoked (in another tab) — the same outcome.
                Ok(r) if r.ok() || r.status == 404 => revoked.run(id),
                other => {
                    error.set(Some(explain_failure(other)));
                    busy.set(false);
                }
            }
        });
    };
    view! {
        <li data-testid="share-item">
            <span title=format::date_time(share.created_at_ms)>
                {format!("Link made {}", format::when(share.created_at_ms, now))}
            </span>
            <span class="muted">{format!(" · {}", expiry_words(share.expires_at_ms, now))}</span>
            " "
            <button type="button" data-testid="share-revoke" disabled=move || busy.get() on:click=revoke>"Revoke"</button>
            {move || error.get().map(|m| view! { <p class="error" role="alert">{m}</p> })}
        </li>
    }
}

/// "Shared with you (read-only)": what a share link's viewer sees under the job's title.
#[component]
pub fn SharedNote() -> impl IntoView {
    let s = expect_context::<JobSignals>();
    let me = use_me();
    view! {
        <Show when=move || me.read_only(&s.id.get())>
            <p class="shared-note" data-testid="shared-note">"Shared with you (read-only)"</p>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expiry_choices_mean_hours() {
        assert_eq!(hours(""), None);
        assert_eq!(hours("24"), Some(24));
        assert_eq!(hours("168"), Some(168));
        assert_eq!(hours("999"), None);
    }

    #[test]
    fn a_links_expiry_reads_as_words() {
        assert_eq!(expiry_words(None, 0), "never expires");
        assert_eq!(expiry_words(Some(1_000), 2_000), "expired");
        assert_eq!(
            expiry_words(Some(3_600_000 + 60_000), 0),
            "expires in 1 h 1 min"
        );
    }
}
