//! The library: every file this browser has uploaded, with its status, thumbnail and a
//! download link, a page at a time, as a table or a grid of pictures, in the order chosen and
//! searched by name. The first page is read once (again when the owner changes, or the order
//! or search does); from then on rows follow the live feed alone: an upload appears as it
//! starts, turns `uploaded`, `processing`, `ready` with its thumbnail, or `rejected`,
//! `aborted`, `expired`, and leaves when deleted, in this tab and every other, without a
//! reload. The storage meter is asked again (at most twice a second) when a status changes.

mod item;
mod rows;
mod selection;

use crate::{
    api::list_uploads,
    model::{LibraryPage, LibrarySort, UploadEvent, UploadView, MAX_SEARCH},
    ui::live,
};
use item::{UploadCard, UploadRow};
use leptos::prelude::*;
use rows::{Meter, Rows, LIBRARY_ROWS};
use selection::{Selection, SelectionBar};

#[component]
pub fn Library(
    version: RwSignal<u32>,
    /// The server's answers about uploads this page settled (see `Uploader`).
    heard: RwSignal<Vec<UploadView>>,
    /// Set from each first page: the storage meter shows it.
    used: RwSignal<Option<u64>>,
) -> impl IntoView {
    let typed = RwSignal::new(String::new());
    let search = RwSignal::new(String::new());
    let sort = RwSignal::new(LibrarySort::Newest);
    let layout = Layout::remembered();
    // The search is asked for when typing pauses, not at every key.
    Effect::new(move |_| {
        let now = typed.get();
        set_timeout(
            move || {
                if typed.get_untracked() == now && search.get_untracked() != now.trim() {
                    search.set(now.trim().to_string());
                }
            },
            std::time::Duration::from_millis(SEARCH_PAUSE_MS),
        );
    });
    let first = Resource::new(
        move || (version.get(), search.get(), sort.get()),
        |(_, search, sort)| list_uploads(None, Some(search).filter(|s| !s.is_empty()), Some(sort)),
    );
    Effect::new(move |_| {
        if let Some(Ok(page)) = first.get() {
            used.set(page.used);
        }
    });
    let sorts = LibrarySort::ALL
        .into_iter()
        .map(|s| view! { <option value=s.as_str() selected=move || sort.get() == s>{s.label()}</option> })
        .collect_view();
    view! {
        <section class="library">
            <div class="library-head">
                <h2>"Library"</h2>
                <input
                    type="search"
                    class="library-search"
                    placeholder="Search by name"
                    aria-label="Search the library by name"
                    maxlength=MAX_SEARCH.to_string()
                    prop:value=move || typed.get()
                    on:input=move |ev| typed.set(event_target_value(&ev))
                />
                <label class="library-sort">
                    <span class="visually-hidden">"Order"</span>
                    <select on:change=move |ev| {
                        if let Some(s) = LibrarySort::parse(&event_target_value(&ev)) {
                            sort.set(s);
                        }
                    }>{sorts}</select>
                </label>
                <div class="layout-switch" role="group" aria-label="Show the library as">
                    <button type="button" aria-pressed=move || (layout.get() == Layout::List).to_string()
                        on:click=move |_| Layout::choose(layout, Layout::List)>"List"</button>
                    <button type="button" aria-pressed=move || (layout.get() == Layout::Grid).to_string()
                        on:click=move |_| Layout::choose(layout, Layout::Grid)>"Grid"</button>
                </div>
            </div>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    first
                        .get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                            Ok(page) => {
                                let order = (sort.get_untracked(), search.get_untracked());
                                view! { <UploadTable first=page order used heard layout/> }.into_any()
                            }
                        })
                }}
            </Transition>
        </section>
    }
}

/// How long typing must pause before the library is searched.
const SEARCH_PAUSE_MS: u64 = 250;

/// A table of rows, or a grid of pictures (for a library of photos and videos). The choice is
/// remembered in this browser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    List,
    Grid,
}

impl Layout {
    #[cfg(feature = "hydrate")]
    const KEY: &'static str = "hoist.library.layout";

    /// The table until the browser says otherwise (after hydration: the server draws the table).
    fn remembered() -> RwSignal<Self> {
        let layout = RwSignal::new(Self::List);
        Effect::new(move |_| {
            #[cfg(feature = "hydrate")]
            if let Some(Ok(Some(word))) = web_sys::window()
                .and_then(|w| w.local_storage().ok().flatten())
                .map(|s| s.get_item(Self::KEY))
            {
                if word == "grid" {
                    layout.set(Self::Grid);
                }
            }
        });
        layout
    }

    fn choose(layout: RwSignal<Self>, chosen: Self) {
        layout.set(chosen);
        #[cfg(feature = "hydrate")]
        if let Some(Ok(Some(storage))) = web_sys::window().map(|w| w.local_storage()) {
            let word = if chosen == Self::Grid { "grid" } else { "list" };
            let _ = storage.set_item(Self::KEY, word);
        }
    }
}

/// The first page, and the pages "Load more" brings after it.
#[component]
fn UploadTable(
    first: LibraryPage,
    order: (LibrarySort, String),
    used: RwSignal<Option<u64>>,
    heard: RwSignal<Vec<UploadView>>,
    layout: RwSignal<Layout>,
) -> impl IntoView {
    let shown_at_first = first.uploads.len().max(LIBRARY_ROWS);
    let events_after = first.events_after;
    let searched = !order.1.is_empty();
    let (sort, search) = (order.0, StoredValue::new(order.1.clone()));
    let rows = Rows::new(first, shown_at_first, order);
    let selection = Selection::new();
    let next = rows.next;
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
    if let Some(after) = events_after {
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
            let search = Some(search.get_value()).filter(|s| !s.is_empty());
            match list_uploads(Some(cursor), search, Some(sort)).await {
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
    let grid = move || layout.get() == Layout::Grid;
    let all_ticked = move || {
        let shown = rows.visible();
        !shown.is_empty() && shown.iter().all(|r| selection.has(&r.id))
    };
    let tick_all = move |ev| {
        let ids = rows.visible().into_iter().map(|r| r.id).collect();
        selection.all(ids, event_target_checked(&ev));
    };
    view! {
        <Show when=empty>
            <p class="empty">{if searched { "No file names match that search." } else { "No files yet." }}</p>
        </Show>
        <SelectionBar selection rows/>
        <Show when=grid>
            <label class="select-all" hidden=empty>
                <input type="checkbox" prop:checked=all_ticked on:change=tick_all/>
                " Select all shown"
            </label>
            <ul class="grid" hidden=empty>
                <For each=move || rows.visible() key=|row| row.id.clone() let:row>
                    <UploadCard row rows selection/>
                </For>
            </ul>
        </Show>
        <table hidden=move || empty() || grid()>
            <thead>
                <tr>
                    <th scope="col" class="select">
                        <input type="checkbox" aria-label="Select all shown"
                            prop:checked=all_ticked on:change=tick_all/>
                    </th>
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
                <Show when=move || !grid()>
                    <For each=move || rows.visible() key=|row| row.id.clone() let:row>
                        <UploadRow row rows selection/>
                    </For>
                </Show>
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
