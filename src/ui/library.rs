//! The library: every file this browser has uploaded, with its status and a download link,
//! a page at a time.

use crate::{
    api::{delete_upload, list_uploads},
    format,
    model::{LibraryPage, UploadStatus, UploadView},
};
use leptos::prelude::*;

#[component]
pub fn Library(
    version: RwSignal<u32>,
    /// Set from each first page: the storage meter shows it.
    used: RwSignal<Option<u64>>,
) -> impl IntoView {
    let first = Resource::new(move || version.get(), |_| list_uploads(None));
    Effect::new(move |_| {
        if let Some(Ok(page)) = first.get() {
            used.set(page.used);
        }
    });
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
                            Ok(page) => view! { <UploadTable first=page version/> }.into_any(),
                        })
                }}
            </Transition>
        </section>
    }
}

/// The first page, and the pages "Load more" brings after it.
#[component]
fn UploadTable(first: LibraryPage, version: RwSignal<u32>) -> impl IntoView {
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
                    <UploadRow upload version/>
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
fn UploadRow(upload: UploadView, version: RwSignal<u32>) -> impl IntoView {
    let time = format::utc_time(upload.completed_at_ms.unwrap_or(upload.created_at_ms));
    let reason = upload.reason.as_ref().map(ToString::to_string);
    let download = (upload.status == UploadStatus::Uploaded).then(|| {
        let href = format!("/files/{}/download", upload.id);
        view! { <a href=href download=upload.name.clone()>"Download"</a> }
    });
    // Uploads still on their way are cancelled from the upload list above.
    let delete = (upload.status != UploadStatus::Uploading)
        .then(|| view! { <DeleteButton id=upload.id.clone() name=upload.name.clone() version/> });
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
            <td class="actions">{download} {delete}</td>
        </tr>
    }
}

/// "Delete", then a second, explicit "Delete for good" or "Keep": a file is not lost to one
/// stray click.
#[component]
fn DeleteButton(id: String, name: String, version: RwSignal<u32>) -> impl IntoView {
    let asking = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let confirm = move |_| {
        let id = id.clone();
        busy.set(true);
        leptos::task::spawn_local(async move {
            match delete_upload(id).await {
                Ok(()) => version.update(|v| *v += 1),
                Err(e) => {
                    error.set(Some(e.to_string()));
                    busy.set(false);
                }
            }
        });
    };
    let label = format!("Delete {name} for good");
    view! {
        <Show
            when=move || asking.get()
            fallback=move || {
                view! {
                    <button type="button" class="link" on:click=move |_| asking.set(true)>
                        "Delete"
                    </button>
                }
            }
        >
            <span class="confirm" role="group" aria-label=label.clone()>
                "Delete for good? "
                <button type="button" class="danger" on:click=confirm.clone() disabled=move || busy.get()>
                    "Delete for good"
                </button>
                <button type="button" class="link" on:click=move |_| asking.set(false)>
                    "Keep"
                </button>
            </span>
        </Show>
        {move || error.get().map(|e| view! { <small class="error" role="alert">{e}</small> })}
    }
}
