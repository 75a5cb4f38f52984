//! The Copy button beside a link or a secret the page shows in full.

use crate::net;
use leptos::prelude::*;

/// Copies `text` to the clipboard and says whether that worked; when the browser refuses (no
/// permission, plain HTTP on another host), the text beside it is still there to select.
#[component]
pub fn CopyButton(#[prop(into)] text: Signal<String>, testid: &'static str) -> impl IntoView {
    let said = RwSignal::new(None::<&'static str>);
    let copy = move |_| {
        let text = text.get_untracked();
        leptos::task::spawn_local(async move {
            let done = net::copy_text(&text).await;
            said.set(Some(if done {
                "Copied"
            } else {
                "Select the text and copy it"
            }));
            net::sleep_ms(2_500).await;
            let _ = said.try_set(None);
        });
    };
    view! {
        <button type="button" class="copy" data-testid=testid on:click=copy>"Copy"</button>
        <span class="muted copy-said" role="status">{move || said.get()}</span>
    }
}
