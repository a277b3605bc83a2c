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
use std::collections::{HashMap, HashSet};

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
    let shown_at_first = first.uploads.len().max(LIBRARY_ROWS);
    let rows = Rows::new(first.uploads, shown_at_first);
    let next = RwSignal::new(first.next);
    let meter = Meter::new(used);
    // What this page settled shows at once, stream or no stream; the feed's event for it
    // (the same view, or a later one) follows.
    Effect::new(move |_| {
        heard.track();
        let views = heard
            .try_update_untracked(std::mem::take)
            .unwrap_or_default();
        for view in views {
            rows.push(
                UploadEvent::Changed {
                    upload: Box::new(view),
                },
                meter,
            );
        }
    });
    if let Some(after) = first.events_after {
        let (stop, stopped) = futures::channel::oneshot::channel::<()>();
        live::follow(after, move |event| rows.push(event, meter), stopped);
        // A new first page (another owner signed in) follows from its own cursor.
        on_cleanup(move || {
            let _ = stop.send(());
        });
    }
    let loading = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let load_more = move |_| {
        // Rows the feed pushed below the fold come first; then the server's next page.
        if rows.hidden() > 0 {
            rows.shown.update(|n| *n += LIBRARY_ROWS);
            return;
        }
        let Some(cursor) = next.get_untracked() else {
            return;
        };
        loading.set(true);
        leptos::task::spawn_local(async move {
            match list_uploads(Some(cursor)).await {
                Ok(page) => {
                    rows.append(page.uploads);
                    next.set(page.next);
                    error.set(None);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            loading.set(false);
        });
    };
    let empty = move || rows.list.with(Vec::is_empty);
    let more = move || next.with(Option::is_some) || rows.hidden() != 0;
    view! {
        <Show when=empty>
            <p class="empty">"No files yet."</p>
        </Show>
        <table hidden=empty>
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
                <For each=move || rows.visible() key=|row| row.id.clone() let:row>
                    <UploadRow row rows/>
                </For>
            </tbody>
        </table>
        <Show when=more>
            <button class="load-more" on:click=load_more disabled=move || loading.get()>
                "Load more"
            </button>
        </Show>
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
    }
}

/// At most this many rows are drawn until "Load more" asks for more: a session that uploads
/// 10,000 files keeps them all in memory, not all in the DOM.
const LIBRARY_ROWS: usize = 100;

/// One upload in the library: its own signal, so an event redraws its row alone.
#[derive(Clone)]
struct Row {
    id: String,
    view: ArcRwSignal<UploadView>,
}

impl Row {
    fn new(upload: UploadView) -> Self {
        Self {
            id: upload.id.clone(),
            view: ArcRwSignal::new(upload),
        }
    }
}

/// The library's rows, newest first, and the feed's events waiting for the next animation
/// frame: however many arrive in one frame, the list changes once.
#[derive(Clone, Copy)]
struct Rows {
    list: RwSignal<Vec<Row>>,
    by_id: StoredValue<HashMap<String, ArcRwSignal<UploadView>>>,
    /// How many rows are drawn.
    shown: RwSignal<usize>,
    waiting: StoredValue<Vec<UploadEvent>>,
    /// When (browser clock, ms) events were last applied.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    flushed_at: StoredValue<f64>,
}

#[cfg(feature = "hydrate")]
const FLUSH_EVERY_MS: f64 = 200.0;

impl Rows {
    fn new(first: Vec<UploadView>, shown: usize) -> Self {
        let rows = Self {
            list: RwSignal::new(Vec::new()),
            by_id: StoredValue::new(HashMap::new()),
            shown: RwSignal::new(shown),
            waiting: StoredValue::new(Vec::new()),
            flushed_at: StoredValue::new(0.0),
        };
        rows.append(first);
        rows
    }

    fn visible(self) -> Vec<Row> {
        let shown = self.shown.get();
        self.list.with(|l| l[..shown.min(l.len())].to_vec())
    }

    fn hidden(self) -> usize {
        let shown = self.shown.get();
        self.list.with(Vec::len).saturating_sub(shown)
    }

    /// A later page from the server, below what is there (an upload the feed put at the top
    /// may come again on it).
    fn append(self, page: Vec<UploadView>) {
        let fresh: Vec<Row> = self
            .by_id
            .try_update_value(|by_id| {
                let mut fresh = Vec::new();
                for u in page {
                    if !by_id.contains_key(&u.id) {
                        let row = Row::new(u);
                        by_id.insert(row.id.clone(), row.view.clone());
                        fresh.push(row);
                    }
                }
                fresh
            })
            .unwrap_or_default();
        let more = fresh.len();
        self.list.update(|l| l.extend(fresh));
        if self.shown.get_untracked() < self.list.with_untracked(Vec::len) {
            self.shown.update(|n| *n += more);
        }
    }

    /// An event from the feed (or from this page's own calls), applied at the next frame.
    fn push(self, event: UploadEvent, meter: Meter) {
        let first = self
            .waiting
            .try_update_value(|w| {
                w.push(event);
                w.len() == 1
            })
            .unwrap_or(false);
        if first {
            let flush = move || {
                if self.flush() {
                    meter.ask();
                }
            };
            // At the next frame, but not more often than every FLUSH_EVERY_MS: while 10,000
            // files arrive, redrawing the table at 60 frames a second was most of the page's
            // work (its layout and paint), and nobody reads a table that fast.
            #[cfg(feature = "hydrate")]
            {
                let wait = self.flushed_at.get_value() + FLUSH_EVERY_MS - js_sys::Date::now();
                let next_frame = move || request_animation_frame(flush);
                if wait > 0.0 {
                    set_timeout(next_frame, std::time::Duration::from_millis(wait as u64));
                } else {
                    next_frame();
                }
            }
            #[cfg(not(feature = "hydrate"))]
            flush();
        }
    }

    /// Applies the waiting events; true if what the owner stores may have changed (an upload
    /// appeared, changed status or went). The table may be gone by then (a sign-in draws a
    /// new one): nothing happens.
    fn flush(self) -> bool {
        let Some(events) = self.waiting.try_update_value(std::mem::take) else {
            return false;
        };
        #[cfg(feature = "hydrate")]
        self.flushed_at.set_value(js_sys::Date::now());
        let mut fresh: Vec<Row> = Vec::new();
        let mut gone: HashSet<String> = HashSet::new();
        let mut moved = false;
        self.by_id.update_value(|by_id| {
            for event in events {
                match event {
                    UploadEvent::Changed { upload } => match by_id.get(&upload.id) {
                        Some(view) => {
                            moved |= view.with_untracked(|v| v.status != upload.status);
                            if view.with_untracked(|v| v != &*upload) {
                                view.set(*upload);
                            }
                        }
                        // Started here or in another tab or device: newest first.
                        None => {
                            moved = true;
                            gone.remove(&upload.id);
                            let row = Row::new(*upload);
                            by_id.insert(row.id.clone(), row.view.clone());
                            fresh.push(row);
                        }
                    },
                    UploadEvent::Deleted { upload_id } => {
                        moved = true;
                        by_id.remove(&upload_id);
                        gone.insert(upload_id);
                    }
                }
            }
        });
        if !fresh.is_empty() || !gone.is_empty() {
            fresh.reverse();
            fresh.retain(|r| !gone.contains(&r.id));
            self.list.update(|l| {
                l.retain(|r| !gone.contains(&r.id));
                l.splice(0..0, fresh);
            });
        }
        moved
    }

    fn remove(self, id: &str) {
        self.by_id.update_value(|by_id| {
            by_id.remove(id);
        });
        self.list.update(|l| l.retain(|r| r.id != id));
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
fn UploadRow(row: Row, rows: Rows) -> impl IntoView {
    let view = row.view.clone();
    let status = {
        let view = view.clone();
        Memo::new(move |_| view.with(|u| (u.status, u.name.clone())))
    };
    let cells = {
        let view = view.clone();
        move || view.with(cells)
    };
    let id = row.id.clone();
    let actions = move || {
        let (status, name) = status.get();
        let download = (status == UploadStatus::Uploaded).then(|| {
            let href = format!("/files/{id}/download");
            view! { <a href=href download=name.clone()>"Download"</a> }
        });
        // Uploads still on their way are cancelled from the upload list above.
        let delete = (status != UploadStatus::Uploading)
            .then(|| view! { <DeleteButton id=id.clone() name rows/> });
        view! { {download} {delete} }
    };
    let processing = {
        let view = row.view.clone();
        Signal::derive(move || view.with(|u| u.file.as_ref().map(|f| f.processing.as_str())))
    };
    view! {
        <tr
            data-upload-id=row.id.clone()
            data-status=move || status.with(|(s, _)| s.as_str())
            data-processing=processing
        >
            {cells}
            <td class="actions">{actions}</td>
        </tr>
    }
}

/// Every cell of a row but its actions, drawn from the upload as it is now.
fn cells(upload: &UploadView) -> impl IntoView {
    let time = format::utc_time(upload.completed_at_ms.unwrap_or(upload.created_at_ms));
    let reason = upload
        .reason
        .as_ref()
        .map(ToString::to_string)
        .or_else(|| upload.file.as_ref().and_then(|f| f.error.clone()));
    let arrived = upload.status == UploadStatus::Uploaded;
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
        let page = format!("/files/{}", upload.id);
        view! { <a href=page>{upload.name.clone()}</a> }.into_any()
    } else {
        upload.name.clone().into_any()
    };
    view! {
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
    }
}

/// "Delete", then a second, explicit "Delete for good" or "Keep": a file is not lost to one
/// stray click.
#[component]
fn DeleteButton(id: String, name: String, rows: Rows) -> impl IntoView {
    let asking = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let confirm = move |_| {
        let id = id.clone();
        busy.set(true);
        leptos::task::spawn_local(async move {
            match delete_upload(id.clone()).await {
                // The feed says so too (and tells other tabs); this tab need not wait for it.
                Ok(()) => rows.remove(&id),
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
