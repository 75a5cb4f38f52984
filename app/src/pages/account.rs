//! "API keys" (`/account`): keys for scripts (`Authorization: Bearer <key>`), listed from
//! `GET /api/keys`, made with a label (`POST`; the secret is in that answer only, so the page
//! shows it once, with a ready-to-run curl line) and revoked (`DELETE /api/keys/{id}`).

use super::copy::CopyButton;
use super::row_explorer::Loaded;
use crate::format;
use crate::me::explain_failure;
use crate::net;
use crate::wire_team::{ApiKey, KeyRequest};
use leptos::prelude::*;
use leptos_meta::Title;

/// The command a user can paste to check their key works.
fn curl_example(origin: &str, key: &str) -> String {
    format!("curl -H \"Authorization: Bearer {key}\" {origin}/api/jobs")
}

async fn load(keys: RwSignal<Loaded<Vec<ApiKey>>>) {
    let answer = match net::request("GET", "/api/keys", None, None).await {
        Ok(r) if r.ok() => r.json::<Vec<ApiKey>>().map_or_else(
            |_| Loaded::Failed("the server's answer could not be read".into()),
            Loaded::Ready,
        ),
        other => Loaded::Failed(explain_failure(other)),
    };
    let _ = keys.try_set(answer);
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let keys = RwSignal::new(Loaded::<Vec<ApiKey>>::Idle);
    let label = RwSignal::new(String::new());
    // The key just made, with its secret: kept only in this page's memory.
    let fresh = RwSignal::new(None::<ApiKey>);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    // Browser only (effects never run on the server).
    Effect::new(move |_| {
        keys.set(Loaded::Loading);
        leptos::task::spawn_local(load(keys));
    });

    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = label.get_untracked().trim().to_owned();
        if text.is_empty() {
            error.set(Some(
                "Name the key after what will use it (e.g. \"nightly report\").".into(),
            ));
            return;
        }
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let body = serde_json::to_string(&KeyRequest { label: text }).unwrap_or_default();
            match net::request("POST", "/api/keys", Some(body), None).await {
                Ok(r) if r.ok() => match r.json::<ApiKey>() {
                    Ok(key) => {
                        fresh.set(Some(key));
                        label.set(String::new());
                        load(keys).await;
                    }
                    Err(_) => error.set(Some("the server's answer could not be read".into())),
                },
                other => error.set(Some(explain_failure(other))),
            }
            busy.set(false);
        });
    };
    let revoked = Callback::new(move |id: String| {
        if fresh.with_untracked(|k| k.as_ref().is_some_and(|k| k.id == id)) {
            fresh.set(None);
        }
        keys.update(|k| {
            if let Loaded::Ready(list) = k {
                list.retain(|key| key.id != id);
            }
        });
    });

    view! {
        <Title text="API keys — shaplab" />
        <section class="intro account-keys" data-testid="account">
            <h1>"API keys"</h1>
            <p class="muted">
                "A key lets a script use the API as you: send it as "
                <code>"Authorization: Bearer <key>"</code>
                ". Revoke a key you no longer use, or one that may have leaked."
            </p>
            <form class="key-create" on:submit=create>
                <label for="key-label">"Label "</label>
                <input
                    id="key-label"
                    type="text"
                    data-testid="key-label"
                    placeholder="what will use it"
                    maxlength="100"
                    prop:value=move || label.get()
                    on:input=move |ev| label.set(event_target_value(&ev))
                />
                <button type="submit" class="primary" data-testid="key-create" disabled=move || busy.get()>
                    "Create key"
                </button>
            </form>
            {move || error.get().map(|m| view! { <p class="error" role="alert" data-testid="key-error">{m}</p> })}
            {move || fresh.get().and_then(|k| k.key.map(|secret| view! { <FreshKey label=k.label secret /> }))}
            {move || match keys.get() {
                Loaded::Idle | Loaded::Loading => view! { <p class="muted">"Loading your keys…"</p> }.into_any(),
                Loaded::Failed(m) => view! { <p class="error" role="alert">{m}</p> }.into_any(),
                Loaded::Ready(list) if list.is_empty() => view! { <p class="muted" data-testid="keys-empty">"You have no API keys."</p> }.into_any(),
                Loaded::Ready(list) => {
                    let now = net::now_ms();
                    view! {
                        <ul class="key-list">
                            {list.into_iter().map(|key| view! { <KeyItem key now revoked /> }).collect_view()}
                        </ul>
                    }
                    .into_any()
                }
            }}
        </section>
    }
}

/// The secret of the key just made: the one time anyone sees it.
#[component]
fn FreshKey(label: String, secret: String) -> impl IntoView {
    let curl = curl_example(&net::origin(), &secret);
    view! {
        <div class="fresh-secret" role="status">
            <p>
                <strong>{format!("Your new key “{label}”. ")}</strong>
                "Copy it now: it is not shown again."
            </p>
            <div class="copy-row">
                <input type="text" readonly aria-label="The new API key" data-testid="key-secret" value=secret.clone() />
                <CopyButton text=secret testid="key-copy" />
            </div>
            <p class="muted">"Try it:"</p>
            <pre><code data-testid="key-curl">{curl}</code></pre>
        </div>
    }
}

#[component]
fn KeyItem(key: ApiKey, now: u64, revoked: Callback<String>) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let id = StoredValue::new(key.id.clone());
    let revoke = move |_| {
        busy.set(true);
        leptos::task::spawn_local(async move {
            let id = id.get_value();
            match net::request("DELETE", &format!("/api/keys/{id}"), None, None).await {
                // 404: already gone (revoked in another tab) — the same outcome.
                Ok(r) if r.ok() || r.status == 404 => revoked.run(id),
                other => {
                    error.set(Some(explain_failure(other)));
                    busy.set(false);
                }
            }
        });
    };
    view! {
        <li data-testid="key-item">
            <span class="label">{key.label}</span>
            <span class="muted" title=format::date_time(key.created_at_ms)>
                {format!(" · made {}", format::when(key.created_at_ms, now))}
            </span>
            " "
            <button type="button" data-testid="key-revoke" disabled=move || busy.get() on:click=revoke>"Revoke"</button>
            {move || error.get().map(|m| view! { <p class="error" role="alert">{m}</p> })}
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_curl_example_is_ready_to_paste() {
        assert_eq!(
            curl_example("http://127.0.0.1:3000", "shk_abc"),
            "curl -H \"Authorization: Bearer shk_abc\" http://127.0.0.1:3000/api/jobs"
        );
    }
}
