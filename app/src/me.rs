//! Who the server takes this browser for (`GET /api/me`, a [`Me`]): fetched once after
//! hydration, provided to every page as [`MeSignal`], and shown in the header — the user's
//! name, links to their jobs and API keys, and Sign out.
//!
//! The server renders the header without it (it is `None` until the browser asks), so the
//! first browser render matches the server's and hydration never sees a mismatch.

use crate::net;
use crate::view_state::encode;
use crate::wire_team::Me;
use leptos::prelude::*;

/// `None` until `/api/me` answers (and for good if it never does: the pages then offer what
/// they always offered, and the server refuses what this browser may not do).
#[derive(Clone, Copy)]
pub struct MeSignal(pub RwSignal<Option<Me>>);

impl MeSignal {
    pub fn new() -> Self {
        MeSignal(RwSignal::new(None))
    }

    /// Whether this browser may only look at job `job`: it came by a share link. The job page
    /// then hides whatever changes the job (Cancel, Run again, Share). Unknown until `/api/me`
    /// answers, and `false` meanwhile — the server refuses a viewer's changes anyway.
    pub fn read_only(self, job: &str) -> bool {
        self.0
            .with(|me| me.as_ref().is_some_and(|me| viewer_only(me, job)))
    }
}

impl Default for MeSignal {
    fn default() -> Self {
        Self::new()
    }
}

/// A share link's viewer: identified by the link (`via: share`), or — signed in on their own
/// account too — holding the link to this very job.
pub fn viewer_only(me: &Me, job: &str) -> bool {
    me.via == "share" || me.share_job.as_deref() == Some(job)
}

/// Whether `me` has pages of their own (their jobs, their API keys): a signed-in user, not a
/// share link's viewer.
pub fn has_account(me: &Me) -> bool {
    me.user.is_some() && me.via != "share"
}

pub fn use_me() -> MeSignal {
    expect_context::<MeSignal>()
}

fn on_sign_in_page(path: &str) -> bool {
    path == "/signin" || path.starts_with("/signin?")
}

/// Sends the browser to the sign-in page, to come back here afterwards (a session that ended
/// while the page was open, or a page the server rendered for nobody).
pub fn sign_in_again() {
    let here = net::current_path();
    if on_sign_in_page(&here) {
        return;
    }
    net::go_to(&format!("/signin?next={}", encode(&here)));
}

/// A request that failed, in words for the page; a session that ended (401) sends the browser
/// to sign in again.
pub fn explain_failure(reply: Result<net::Reply, net::FetchError>) -> String {
    match reply {
        Ok(r) if r.status == 401 => {
            sign_in_again();
            "You are signed out.".into()
        }
        Ok(r) => r.error().message,
        Err(_) => "the server did not answer; try again in a moment".into(),
    }
}

/// Asks the server who we are, once. The sign-in page does not ask: nobody is signed in there,
/// and the 401 would only be noise in the console.
pub async fn load(me: MeSignal) {
    if on_sign_in_page(&net::current_path()) {
        return;
    }
    match net::request("GET", "/api/me", None, None).await {
        Ok(r) if r.ok() => {
            if let Ok(answer) = r.json::<Me>() {
                let _ = me.0.try_set(Some(answer));
            }
        }
        Ok(r) if r.status == 401 => sign_in_again(),
        // An outage: the status indicator and the banner say so; the header stays bare.
        _ => {}
    }
}

/// The header's right-hand side: the user's pages, their name, Sign out.
#[component]
pub fn Identity() -> impl IntoView {
    let me = use_me();
    let trouble = RwSignal::new(None::<String>);
    let sign_out = move |_| {
        leptos::task::spawn_local(async move {
            match net::request("DELETE", "/api/session", None, None).await {
                // 401: the session had already ended — signed out all the same.
                Ok(r) if r.ok() || r.status == 401 => net::go_to("/signin"),
                Ok(r) => trouble.set(Some(r.error().message)),
                Err(_) => trouble.set(Some("the server did not answer; try again".into())),
            }
        });
    };
    move || {
        me.0.get().map(|me| {
            let pages = has_account(&me).then(|| {
                view! {
                    <a href="/jobs" data-testid="nav-jobs">"Your jobs"</a>
                    <a href="/account" data-testid="nav-keys">"API keys"</a>
                }
            });
            let name = me.user.clone().map(|u| view! { <span class="user" data-testid="me-user">{u}</span> });
            let viewer = (me.via == "share").then(|| view! { <span class="user">"Read-only link"</span> });
            let out = me.can_sign_out.then(|| {
                view! {
                    <button type="button" class="sign-out" data-testid="sign-out" on:click=sign_out>
                        "Sign out"
                    </button>
                }
            });
            view! {
                <nav class="account" aria-label="Your account" data-testid="account-nav">
                    {pages}
                    {name}
                    {viewer}
                    {out}
                    {move || trouble.get().map(|m| view! { <span class="sign-out-error" role="alert">{m}</span> })}
                </nav>
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me(user: Option<&str>, via: &str, share_job: Option<&str>) -> Me {
        Me {
            user: user.map(str::to_owned),
            via: via.into(),
            share_job: share_job.map(str::to_owned),
            ..Me::default()
        }
    }

    #[test]
    fn a_share_links_viewer_only_looks() {
        assert!(viewer_only(&me(None, "share", Some("j1")), "j1"));
        assert!(viewer_only(&me(Some("bob"), "share", Some("j1")), "j1"));
        assert!(viewer_only(&me(Some("bob"), "session", Some("j1")), "j1"));
        assert!(!viewer_only(&me(Some("bob"), "session", Some("j1")), "j2"));
        assert!(!viewer_only(&me(Some("local"), "none", None), "j1"));
    }

    #[test]
    fn only_signed_in_users_have_pages_of_their_own() {
        assert!(has_account(&me(Some("alice"), "session", None)));
        assert!(has_account(&me(Some("local"), "none", None)));
        assert!(!has_account(&me(Some("bob"), "share", Some("j1"))));
        assert!(!has_account(&me(None, "share", Some("j1"))));
    }

    #[test]
    fn the_sign_in_page_is_recognised_with_or_without_a_query() {
        assert!(on_sign_in_page("/signin"));
        assert!(on_sign_in_page("/signin?next=%2Fjobs"));
        assert!(!on_sign_in_page("/signing"));
        assert!(!on_sign_in_page("/"));
    }
}
