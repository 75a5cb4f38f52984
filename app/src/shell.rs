//! The HTML shell, the router and the pages.

use crate::csp::ContentSecurityPolicy;
use crate::me::{Identity, MeSignal};
use crate::pages::{
    account::AccountPage, compare::ComparePage, job::JobPage, my_jobs::MyJobsPage,
    signin::SignInPage, start::StartPage,
};
use crate::status::{OutageBanner, StatusIndicator, StatusSignals};
use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, StaticSegment,
    components::{Route, Router, Routes},
};

/// The document around the app; rendered by the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <ContentSecurityPolicy />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The application: header with the user's links and the service status, the outage banner,
/// and the routed pages.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let status = StatusSignals::new();
    provide_context(status);
    let me = MeSignal::new();
    provide_context(me);

    // Effects never run during server rendering: this is the browser taking over.
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        {
            crate::net::mark_hydrated();
            crate::browser::spawn_health_poller(status);
        }
        leptos::task::spawn_local(crate::me::load(me));
    });

    view! {
        <Stylesheet id="leptos" href="/pkg/shaplab.css" />
        <Title text="shaplab — SHAP explanations for tree models" />
        <Router>
            <header class="top">
                <a href="/" class="brand">
                    "shaplab"
                </a>
                <Identity />
                <StatusIndicator />
            </header>
            <OutageBanner />
            <main>
                <Routes fallback=NotFound>
                    <Route path=StaticSegment("") view=StartPage />
                    <Route path=(StaticSegment("jobs"), ParamSegment("id")) view=JobPage />
                    <Route path=StaticSegment("compare") view=ComparePage />
                    <Route path=StaticSegment("signin") view=SignInPage />
                    <Route path=StaticSegment("jobs") view=MyJobsPage />
                    <Route path=StaticSegment("account") view=AccountPage />
                </Routes>
            </main>
        </Router>
    }
}

/// Any path the router does not know (the server answers it with status 404).
#[component]
fn NotFound() -> impl IntoView {
    view! {
        <section class="intro">
            <h1>"Page not found"</h1>
            <p>
                "There is nothing at this address. " <a href="/">"Go to the start page"</a> "."
            </p>
        </section>
    }
}
