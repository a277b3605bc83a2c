//! The pages: the HTML shell; the uploader above the library, under a header with the
//! account; a file's own page; and the account's API tokens.

use crate::ui::{
    account::AccountBar, file_page::FilePageView, library::Library, public_page::PublicPage,
    tokens::TokensPage, uploader::Uploader,
};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    ParamSegment, StaticSegment,
};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    // The policy names this response's nonce, which Leptos puts on its hydration script.
    #[cfg(feature = "ssr")]
    crate::server::guard::content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/hoist.css"/>
        <Title text="Hoist"/>
        <Router>
            <Routes fallback=|| "Page not found.".into_view()>
                <Route path=StaticSegment("") view=HomePage/>
                <Route path=StaticSegment("account") view=TokensPage/>
                <Route path=StaticSegment("public") view=PublicPage/>
                <Route path=(StaticSegment("files"), ParamSegment("id")) view=FilePageView/>
            </Routes>
        </Router>
    }
}

#[component]
fn HomePage() -> impl IntoView {
    let library_version = RwSignal::new(0u32);
    let heard = RwSignal::new(Vec::new());
    let used = RwSignal::new(None::<u64>);
    // Effects run only in the browser: the attribute tells people's scripts and tests that
    // the page is interactive.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <main data-hydrated=move || hydrated.get().then_some("true")>
            <header class="page-head">
                <div>
                    <h1>"Hoist"</h1>
                    <p class="tagline">
                        "Files of any size, straight into storage. "
                        <a href="/public">"Public files"</a>
                    </p>
                </div>
                <AccountBar library_version used/>
            </header>
            <Uploader heard/>
            <Library version=library_version used heard/>
        </main>
    }
}
