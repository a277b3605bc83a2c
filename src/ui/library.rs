//! The library: every file this browser has uploaded, with its status, thumbnail and a
//! download link, a page at a time. The first page is read once (again only when the owner
//! changes: a sign-in); from then on rows follow the live feed alone: an upload appears as it
//! starts, turns `uploaded`, `processing`, `ready` with its thumbnail, or `rejected`,
//! `aborted`, `expired`, and leaves when deleted, in this tab and every other, without a
//! reload. The storage meter is asked again (at most twice a second) when a status changes.

use crate::{
    api::{account::whoami, delete_upload, list_uploads},
    format,
    model::{LibraryPage, UploadEvent, UploadStatus, UploadView},
    ui::live,
};
use leptos::prelude::*;

#[component]
pub fn Library(
    version: RwSignal<u32>,
    /// The server's answers about uploads this page settled (see `Uploader`).
    heard: RwSignal<Vec<UploadView>>,
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
                            Ok(page) => view! { <UploadTable first=page used heard/> }.into_any(),
                        })
                }}
            </Transition>
        </section>
    }
}

/// The first page, and the pages "Load more" brings after it.
#[component]
fn UploadTable(
    first: LibraryPage,
    used: RwSignal<Option<u64>>,
    heard: RwSignal<Vec<UploadView>>,
) -> impl IntoView {
    let rows = RwSignal::new(first.uploads);
    let next = RwSignal::new(first.next);
    let meter = Meter::new(used);
    // What this page settled shows at once, stream or no stream; the feed's event for it
    // (the same view, or a later one) follows.
    Effect::new(move |_| {
        heard.track();
        let views = heard
            .try_update_untracked(std::mem::take)
            .unwrap_or_default();
        let mut changed = false;
        for view in views {
            changed |= apply(
                rows,
                UploadEvent::Changed {
                    upload: Box::new(view),
                },
            );
        }
        if changed {
            meter.ask();
        }
    });
    if let Some(after) = first.events_after {
        let (stop, stopped) = futures::channel::oneshot::channel::<()>();
        live::follow(
            after,
            move |event| {
                if apply(rows, event) {
                    meter.ask();
                }
            },
            stopped,
        );
        // A new first page (another owner signed in) follows from its own cursor.
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
                    // An upload the feed put at the top may come again on a later page.
                    rows.update(|r| {
                        let shown: std::collections::HashSet<String> =
                            r.iter().map(|u| u.id.clone()).collect();
                        r.extend(page.uploads.into_iter().filter(|u| !shown.contains(&u.id)));
                    });
                    next.set(page.next);
                    error.set(None);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            loading.set(false);
        });
    };
    view! {
        <Show when=move || rows.with(Vec::is_empty)>
            <p class="empty">"No files yet."</p>
        </Show>
        <table hidden=move || rows.with(Vec::is_empty)>
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
                    <UploadRow upload rows/>
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

/// One event from the feed, applied to the rows on this page. True if it may have changed
/// what the owner stores (an upload appeared, changed status or went).
fn apply(rows: RwSignal<Vec<UploadView>>, event: UploadEvent) -> bool {
    match event {
        UploadEvent::Changed { upload } => rows
            .try_update(|rows| match rows.iter_mut().find(|r| r.id == upload.id) {
                Some(row) => {
                    let moved = row.status != upload.status;
                    *row = *upload;
                    moved
                }
                // Started here or in another tab or device: newest first.
                None => {
                    rows.insert(0, *upload);
                    true
                }
            })
            .unwrap_or(false),
        UploadEvent::Deleted { upload_id } => {
            rows.update(|rows| rows.retain(|r| r.id != upload_id));
            true
        }
    }
}

/// The storage meter's figure, asked of the server again after changes: one question at a
/// time, and not more often than every [`METER_EVERY_MS`], however many uploads settle.
#[derive(Clone, Copy)]
struct Meter {
    used: RwSignal<Option<u64>>,
    /// A question is in flight or waiting; `again`: more changed since it was asked.
    asking: StoredValue<bool>,
    again: StoredValue<bool>,
}

const METER_EVERY_MS: u32 = 500;

impl Meter {
    fn new(used: RwSignal<Option<u64>>) -> Self {
        Self {
            used,
            asking: StoredValue::new(false),
            again: StoredValue::new(false),
        }
    }

    fn ask(self) {
        if self.asking.try_get_value().unwrap_or(true) {
            self.again.try_set_value(true);
            return;
        }
        self.asking.try_set_value(true);
        // The table (and with it these values) may be gone by the time an answer comes (a
        // sign-in draws a new one): then the task ends quietly.
        leptos::task::spawn_local(async move {
            loop {
                live::pause(METER_EVERY_MS).await;
                if self.again.try_set_value(false).is_some() {
                    return;
                }
                if let Ok(me) = whoami().await {
                    if self.used.try_set(Some(me.used)).is_some() {
                        return;
                    }
                }
                if !self.again.try_get_value().unwrap_or(false) {
                    break;
                }
            }
            self.asking.try_set_value(false);
        });
    }
}

#[component]
fn UploadRow(upload: UploadView, rows: RwSignal<Vec<UploadView>>) -> impl IntoView {
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
        .then(|| view! { <DeleteButton id=upload.id.clone() name=upload.name.clone() rows/> });
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
fn DeleteButton(id: String, name: String, rows: RwSignal<Vec<UploadView>>) -> impl IntoView {
    let asking = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let confirm = move |_| {
        let id = id.clone();
        busy.set(true);
        leptos::task::spawn_local(async move {
            match delete_upload(id.clone()).await {
                // The feed says so too (and tells other tabs); this tab need not wait for it.
                Ok(()) => rows.update(|rows| rows.retain(|r| r.id != id)),
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
