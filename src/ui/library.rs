//! The library: every file this browser has uploaded, with its status, thumbnail and a
//! download link, a page at a time. Rows follow the live feed: a file turns `processing`,
//! then `ready` with its thumbnail, without a reload.

use crate::{
    api::{delete_upload, list_uploads},
    format,
    model::{LibraryPage, UploadEvent, UploadStatus, UploadView},
    ui::live,
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
    if let Some(after) = first.events_after {
        let (stop, stopped) = futures::channel::oneshot::channel::<()>();
        live::follow(after, move |event| apply(rows, event), stopped);
        // A new first page (after an upload, a delete) follows from its own cursor.
        on_cleanup(move || {
            let _ = stop.send(());
        });
    }
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
                    <th scope="col"><span class="visually-hidden">"Preview"</span></th>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Size"</th>
                    <th scope="col">"Type"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Time"</th>
                    <th scope="col"></th>
                </tr>
            </thead>
            <tbody>
                <For each=move || rows.get() key=row_key let:upload>
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

/// A row is drawn again when what it shows changes.
fn row_key(upload: &UploadView) -> (String, &'static str, Option<(u32, bool, String)>) {
    let file = upload
        .file
        .as_ref()
        .map(|f| (f.jobs_done, f.thumbnail, f.title.clone()));
    (upload.id.clone(), upload.status_word(), file)
}

/// One event from the feed, applied to the rows on this page.
fn apply(rows: RwSignal<Vec<UploadView>>, event: UploadEvent) {
    match event {
        UploadEvent::Changed { upload } => rows.update(|rows| {
            match rows.iter_mut().find(|r| r.id == upload.id) {
                Some(row) => *row = *upload,
                // Arrived from another tab or device: newest first.
                None => rows.insert(0, *upload),
            }
        }),
        UploadEvent::Deleted { upload_id } => {
            rows.update(|rows| rows.retain(|r| r.id != upload_id))
        }
    }
}

#[component]
fn UploadRow(upload: UploadView, version: RwSignal<u32>) -> impl IntoView {
    let time = format::utc_time(upload.completed_at_ms.unwrap_or(upload.created_at_ms));
    let reason = upload
        .reason
        .as_ref()
        .map(ToString::to_string)
        .or_else(|| upload.file.as_ref().and_then(|f| f.error.clone()));
    let arrived = upload.status == UploadStatus::Uploaded;
    let page = format!("/files/{}", upload.id);
    let download = arrived.then(|| {
        let href = format!("/files/{}/download", upload.id);
        view! { <a href=href download=upload.name.clone()>"Download"</a> }
    });
    let thumbnail = upload.file.as_ref().filter(|f| f.thumbnail).map(|_| {
        let src = format!("/files/{}/thumbnail", upload.id);
        view! { <img class="thumbnail" src=src alt="" loading="lazy" width="64" height="64"/> }
    });
    let details = upload
        .file
        .as_ref()
        .map(format::media_details)
        .filter(|d| !d.is_empty());
    let name = if arrived {
        view! { <a href=page.clone()>{upload.name.clone()}</a> }.into_any()
    } else {
        upload.name.clone().into_any()
    };
    // Uploads still on their way are cancelled from the upload list above.
    let delete = (upload.status != UploadStatus::Uploading)
        .then(|| view! { <DeleteButton id=upload.id.clone() name=upload.name.clone() version/> });
    let processing = upload.file.as_ref().map(|f| f.processing.as_str());
    view! {
        <tr data-upload-id=upload.id.clone() data-status=upload.status.as_str() data-processing=processing>
            <td class="preview">{thumbnail}</td>
            <td class="name">
                {name}
                {details.map(|d| view! { <small class="details">{d}</small> })}
                // Why it was rejected, expired or failed, where the person looks for their file.
                {reason.clone().map(|why| view! { <small class="reason">{why}</small> })}
            </td>
            <td>{format::bytes(upload.size)}</td>
            <td>{upload.content_type.clone()}</td>
            <td class="status" title=reason.unwrap_or_default()>
                {upload.status_word()}
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
