//! The library: every file this browser has uploaded, with its status and a download link,
//! a page at a time.

use crate::{
    api::list_uploads,
    format,
    model::{LibraryPage, UploadStatus, UploadView},
};
use leptos::prelude::*;

#[component]
pub fn Library(version: RwSignal<u32>) -> impl IntoView {
    let first = Resource::new(move || version.get(), |_| list_uploads(None));
    view! {
        <section class="library">
            <h2>"Library"</h2>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    first
                        .get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                            Ok(page) if page.uploads.is_empty() => {
                                view! { <p class="empty">"No files yet."</p> }.into_any()
                            }
                            Ok(page) => view! { <UploadTable first=page/> }.into_any(),
                        })
                }}
            </Transition>
        </section>
    }
}

/// The first page, and the pages "Load more" brings after it.
#[component]
fn UploadTable(first: LibraryPage) -> impl IntoView {
    let rows = RwSignal::new(first.uploads);
    let next = RwSignal::new(first.next);
    let loading = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let load_more = move |_| {
        let Some(cursor) = next.get_untracked() else {
            return;
        };
        loading.set(true);
        leptos::task::spawn_local(async move {
            match list_uploads(Some(cursor)).await {
                Ok(page) => {
                    rows.update(|r| r.extend(page.uploads));
                    next.set(page.next);
                    error.set(None);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            loading.set(false);
        });
    };
    view! {
        <table>
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Size"</th>
                    <th scope="col">"Type"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Time"</th>
                    <th scope="col"></th>
                </tr>
            </thead>
            <tbody>
                <For each=move || rows.get() key=|upload| upload.id.clone() let:upload>
                    <UploadRow upload/>
                </For>
            </tbody>
        </table>
        <Show when=move || next.with(Option::is_some)>
            <button class="load-more" on:click=load_more disabled=move || loading.get()>
                "Load more"
            </button>
        </Show>
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
    }
}

#[component]
fn UploadRow(upload: UploadView) -> impl IntoView {
    let time = format::utc_time(upload.completed_at_ms.unwrap_or(upload.created_at_ms));
    let reason = upload.reason.as_ref().map(ToString::to_string);
    let download = (upload.status == UploadStatus::Uploaded).then(|| {
        let href = format!("/files/{}/download", upload.id);
        view! { <a href=href download=upload.name.clone()>"Download"</a> }
    });
    view! {
        <tr data-upload-id=upload.id.clone() data-status=upload.status.as_str()>
            <td class="name">
                {upload.name.clone()}
                // Why it was rejected or expired, where the person looks for their file.
                {reason.clone().map(|why| view! { <small class="reason">{why}</small> })}
            </td>
            <td>{format::bytes(upload.size)}</td>
            <td>{upload.content_type.clone()}</td>
            <td class="status" title=reason.unwrap_or_default()>
                {upload.status.as_str()}
            </td>
            <td>{time}</td>
            <td>{download}</td>
        </tr>
    }
}
