//! The sign-in page (`/signin?next=/where/you/were`): user name and password, sent as JSON
//! to `POST /api/session`; on success a full page load to `next` (so every part of the page
//! starts again as the signed-in user).

use crate::net;
use crate::wire_team::SignIn;
use leptos::html::Input;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// Where to go after signing in: `next` if it is a path on this site, else the start page.
/// `//evil.example` and `/\evil.example` are other sites to a browser, so they are refused
/// (an open redirect would let a phishing link borrow our sign-in page).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") => {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// What the page says after a refused sign-in: the server's words (it explains a lockout and
/// how long it lasts); a lockout without them still says when to come back.
fn refusal(reply: &net::Reply) -> String {
    let e = reply.error();
    match (e.code.as_str(), reply.retry_after_s) {
        ("signin_locked", Some(s)) if !e.message.contains("try again") => {
            format!(
                "{} — try again in {}",
                e.message,
                crate::format::duration(u64::from(s))
            )
        }
        _ => e.message,
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let user = NodeRef::<Input>::new();
    let password = NodeRef::<Input>::new();
    let error = RwSignal::new(None::<String>);
    let sending = RwSignal::new(false);
    // Submit stays disabled until the wasm runs: before that the browser would send the form
    // itself, password and all, to wherever `action` points.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if sending.get_untracked() {
            return;
        }
        let value = |r: NodeRef<Input>| r.get_untracked().map(|e| e.value()).unwrap_or_default();
        let body = SignIn {
            user: value(user).trim().to_owned(),
            password: value(password),
        };
        if body.user.is_empty() || body.password.is_empty() {
            error.set(Some("Enter your user name and your password.".into()));
            return;
        }
        let next = safe_next(query.with_untracked(|q| q.get("next")).as_deref());
        sending.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let body = serde_json::to_string(&body).unwrap_or_default();
            match net::request("POST", "/api/session", Some(body), None).await {
                Ok(r) if r.ok() => {
                    net::go_to(&next);
                    return; // the page is leaving: keep the button disabled
                }
                Ok(r) => error.set(Some(refusal(&r))),
                Err(_) => error.set(Some(
                    "The server did not answer; try again in a moment.".into(),
                )),
            }
            sending.set(false);
        });
    };

    view! {
        <Title text="Sign in — shaplab" />
        <section class="intro signin" data-testid="signin">
            <h1>"Sign in"</h1>
            <form method="post" action="/api/session" on:submit=submit>
                <label for="signin-user">"User name"</label>
                <input
                    id="signin-user"
                    name="user"
                    type="text"
                    autocomplete="username"
                    autocapitalize="none"
                    spellcheck="false"
                    required
                    data-testid="signin-user"
                    node_ref=user
                />
                <label for="signin-password">"Password"</label>
                <input
                    id="signin-password"
                    name="password"
                    type="password"
                    autocomplete="current-password"
                    required
                    data-testid="signin-password"
                    node_ref=password
                />
                <button
                    type="submit"
                    class="primary"
                    data-testid="signin-submit"
                    disabled=move || !hydrated.get() || sending.get()
                >
                    {move || if sending.get() { "Signing in…" } else { "Sign in" }}
                </button>
                {move || error.get().map(|m| view! { <p class="error" role="alert" data-testid="signin-error">{m}</p> })}
            </form>
            <p class="muted">"Accounts are made by your administrator (" <code>"shaplab user add"</code> ")."</p>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_may_only_be_a_path_on_this_site() {
        assert_eq!(
            safe_next(Some("/jobs/p0-abc?section=row")),
            "/jobs/p0-abc?section=row"
        );
        assert_eq!(safe_next(Some("/")), "/");
        assert_eq!(safe_next(Some("//evil.example/x")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("jobs")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn a_lockout_says_when_to_come_back() {
        let reply = net::Reply {
            status: 429,
            body: r#"{"code":"signin_locked","message":"too many failed sign-ins"}"#.into(),
            retry_after_s: Some(90),
            poll_hint_s: None,
        };
        assert_eq!(
            refusal(&reply),
            "too many failed sign-ins — try again in 1 min 30 s"
        );
        let wrong = net::Reply {
            status: 401,
            body: r#"{"code":"bad_credentials","message":"wrong user name or password"}"#.into(),
            retry_after_s: None,
            poll_hint_s: None,
        };
        assert_eq!(refusal(&wrong), "wrong user name or password");
    }
}
