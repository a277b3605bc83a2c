//! `/public`: files their owners made public, with their thumbnails, most recently changed first.

use crate::{api::files::public_files, format, model::UploadView};
use leptos::prelude::*;

#[component]
pub fn PublicPage() -> impl IntoView {
    let files = Resource::new(|| (), |_| public_files());
    view! {
        <main class="public-page">
            <header class="page-head">
                <h1>"Public files"</h1>
                <a href="/">"Back to uploads"</a>
            </header>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    files
                        .get()
                        .map(|result| match result {
                            Ok(list) if list.is_empty() => {
                                view! { <p class="empty">"Nothing public yet."</p> }.into_any()
                            }
                            Ok(list) => view! { <ul class="public-files">{list.into_iter().map(card).collect_view()}</ul> }.into_any(),
                            Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                        })
                }}
            </Transition>
        </main>
    }
}

fn card(upload: UploadView) -> impl IntoView {
    let href = format!("/files/{}", upload.id);
    let title = upload
        .file
        .as_ref()
        .map_or_else(|| upload.name.clone(), |f| f.title.clone());
    let thumbnail = upload.file.as_ref().filter(|f| f.thumbnail).map(|_| {
        let src = format!("/files/{}/thumbnail", upload.id);
        view! { <img class="thumbnail" src=src alt="" loading="lazy"/> }
    });
    view! {
        <li>
            <a href=href>
                {thumbnail}
                <span class="title">{title}</span>
            </a>
            <small>{format::bytes(upload.size)} " · " {upload.content_type.clone()}</small>
        </li>
    }
}
