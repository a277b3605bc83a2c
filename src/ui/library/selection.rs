//! Choosing many files in the library and deleting them together.

use super::rows::Rows;
use crate::{api::delete_uploads, model::MAX_DELETE_BATCH};
use leptos::prelude::*;
use std::collections::HashSet;

/// The uploads ticked in the library, by id.
#[derive(Clone, Copy)]
pub struct Selection(RwSignal<HashSet<String>>);

impl Selection {
    pub fn new() -> Self {
        Self(RwSignal::new(HashSet::new()))
    }

    pub fn has(self, id: &str) -> bool {
        self.0.with(|s| s.contains(id))
    }

    pub fn set(self, id: String, on: bool) {
        self.all(vec![id], on);
    }

    pub fn count(self) -> usize {
        self.0.with(HashSet::len)
    }

    /// Ticks or unticks these rows (every row drawn, for "Select all shown").
    pub fn all(self, ids: Vec<String>, on: bool) {
        self.0.update(|s| {
            for id in ids {
                if on {
                    s.insert(id);
                } else {
                    s.remove(&id);
                }
            }
        });
    }

    /// Forgets ids that are no longer in the table (deleted here or elsewhere).
    pub fn keep_only(self, rows: Rows) {
        let present: HashSet<String> = rows
            .list
            .with_untracked(|l| l.iter().map(|r| r.id.clone()).collect());
        if self
            .0
            .with_untracked(|s| s.iter().any(|id| !present.contains(id)))
        {
            self.0.update(|s| s.retain(|id| present.contains(id)));
        }
    }
}

/// Shown while anything is ticked: how many, "Delete selected" (with a second, explicit
/// confirmation, as for one file) and "Clear selection".
#[component]
pub fn SelectionBar(selection: Selection, rows: Rows) -> impl IntoView {
    let asking = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let said = RwSignal::new(None::<(bool, String)>);
    // A row deleted elsewhere leaves the selection too.
    Effect::new(move |_| {
        rows.list.track();
        selection.keep_only(rows);
    });
    let delete = move |_| {
        let ids: Vec<String> = selection.0.get_untracked().into_iter().collect();
        busy.set(true);
        leptos::task::spawn_local(async move {
            let (gone, failures) = delete_all(ids).await;
            for id in &gone {
                rows.remove(id);
            }
            selection.all(gone.clone(), false);
            said.set(Some(match failures.first() {
                None => (true, format!("Deleted {}.", files(gone.len()))),
                Some(first) => (
                    false,
                    format!(
                        "Deleted {}; {} could not be deleted: {first}",
                        files(gone.len()),
                        files(failures.len())
                    ),
                ),
            }));
            busy.set(false);
            asking.set(false);
        });
    };
    let count = move || selection.count();
    view! {
        <Show when=move || { count() > 0 }>
            <div class="selection-bar" role="group" aria-label="Selected files">
                <span class="selection-count">
                    {move || format!("{} selected", files(count()))}
                </span>
                <Show
                    when=move || asking.get()
                    fallback=move || view! {
                        <button type="button" class="danger" on:click=move |_| asking.set(true)>
                            "Delete selected"
                        </button>
                        <button type="button" class="link" on:click=move |_| selection.0.set(HashSet::new())>
                            "Clear selection"
                        </button>
                    }
                >
                    <span class="confirm">
                        {move || format!("Delete {} for good? ", files(count()))}
                        <button type="button" class="danger" on:click=delete disabled=move || busy.get()>
                            "Delete them for good"
                        </button>
                        <button type="button" class="link" on:click=move |_| asking.set(false)>
                            "Keep them"
                        </button>
                    </span>
                </Show>
            </div>
        </Show>
        {move || said.get().map(|(ok, text)| if ok {
            view! { <p class="said" role="status">{text}</p> }.into_any()
        } else {
            view! { <p class="error" role="alert">{text}</p> }.into_any()
        })}
    }
}

/// "1 file", "2 files".
fn files(n: usize) -> String {
    if n == 1 {
        "1 file".to_string()
    } else {
        format!("{n} files")
    }
}

/// Deletes `ids` a batch at a time: the ids deleted, and a sentence for each that was not.
async fn delete_all(ids: Vec<String>) -> (Vec<String>, Vec<String>) {
    let mut gone = Vec::new();
    let mut failures = Vec::new();
    for batch in ids.chunks(MAX_DELETE_BATCH) {
        match delete_uploads(batch.to_vec()).await {
            Ok(refused) => {
                let left: HashSet<&str> = refused.iter().map(|r| r.upload_id.as_str()).collect();
                gone.extend(
                    batch
                        .iter()
                        .filter(|id| !left.contains(id.as_str()))
                        .cloned(),
                );
                failures.extend(refused.into_iter().map(|r| r.error.to_string()));
            }
            Err(e) => failures.extend(batch.iter().map(|_| e.to_string())),
        }
    }
    (gone, failures)
}
