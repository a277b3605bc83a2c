//! Picking or dropping files, the total progress, uploads left unfinished by an earlier page,
//! and one row per file with its own controls.

use super::progress_bar::ProgressBar;
use crate::{
    engine::{
        resume::Unfinished,
        task::{Command, EngineView, Phase, UploadTask},
    },
    format,
};
use leptos::prelude::*;

#[component]
pub fn Uploader(
    /// Bumped when an upload settles, so the library reloads.
    library_version: RwSignal<u32>,
) -> impl IntoView {
    let view = EngineView::new(library_version);
    let dragging = RwSignal::new(false);
    let folder_input = NodeRef::<leptos::html::Input>::new();
    // Effects run only in the browser: that is where the engine lives.
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        {
            crate::engine::driver::install(view);
            // Not a standard attribute, so the view cannot set it; every current browser
            // knows it.
            if let Some(input) = folder_input.get() {
                input.set_webkitdirectory(true);
            }
        }
    });

    let on_change = move |ev: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        picking::from_input(&ev, None);
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        #[cfg(feature = "hydrate")]
        picking::from_drop(&ev);
    };

    view! {
        <section
            class="drop-zone"
            class:dragging=move || dragging.get()
            on:dragover=move |ev| {
                ev.prevent_default();
                dragging.set(true);
            }
            on:dragleave=move |_| dragging.set(false)
            on:drop=on_drop
        >
            <p>"Drop files or folders here, or"</p>
            <label class="button" for="file-input">"Choose files"</label>
            <input id="file-input" class="visually-hidden" type="file" multiple on:change=on_change/>
            <label class="button secondary" for="folder-input">"Choose a folder"</label>
            <input
                id="folder-input"
                class="visually-hidden"
                type="file"
                multiple
                node_ref=folder_input
                on:change=on_change
            />
        </section>
        <Show when=move || !view.online.get()>
            <p class="offline" role="status">
                "You are offline. Uploads wait and continue by themselves when the connection is back."
            </p>
        </Show>
        <UnfinishedList view/>
        <Show when=move || !view.tasks.with(Vec::is_empty)>
            <TotalRow view/>
        </Show>
        <ul class="tasks">
            <For each=move || view.tasks.get() key=|task| task.key let:task>
                <TaskRow task/>
            </For>
        </ul>
    }
}

fn send(command: Command) {
    #[cfg(feature = "hydrate")]
    crate::engine::driver::command(command);
    #[cfg(not(feature = "hydrate"))]
    let _ = command;
}

#[component]
fn TotalRow(view: EngineView) -> impl IntoView {
    let percent = Signal::derive(move || view.total_percent());
    let any = move |test: fn(Phase) -> bool| {
        view.tasks
            .with(|tasks| tasks.iter().any(|t| test(t.phase.get())))
    };
    view! {
        <section class="total">
            <div class="task-head">
                <span class="task-name">"All files"</span>
                <span class="total-rate">
                    {move || format::rate(view.total_speed.get(), view.total_seconds_left.get())}
                </span>
            </div>
            <ProgressBar label=Signal::derive(|| "Total upload progress".to_string()) percent/>
            <div class="task-bytes total-bytes">
                {move || {
                    let (sent, size) = view.totals();
                    format!("{} / {}", format::bytes(sent), format::bytes(size))
                }}
            </div>
            <div class="controls">
                <button
                    type="button"
                    disabled=move || !any(Phase::is_active)
                    on:click=|_| send(Command::PauseAll)
                >
                    "Pause all"
                </button>
                <button
                    type="button"
                    disabled=move || !any(Phase::can_resume)
                    on:click=|_| send(Command::ResumeAll)
                >
                    "Resume all"
                </button>
                <button
                    type="button"
                    disabled=move || !any(|p| p.is_active() || p.can_resume())
                    on:click=|_| send(Command::CancelAll)
                >
                    "Cancel all"
                </button>
            </div>
        </section>
    }
}

#[component]
fn UnfinishedList(view: EngineView) -> impl IntoView {
    view! {
        <Show when=move || !view.unfinished.with(Vec::is_empty)>
            <section class="unfinished">
                <h2>"Unfinished uploads"</h2>
                <p>
                    "These uploads stopped when the page was closed. Pick or drop the same file again to continue where it stopped."
                </p>
                <ul>
                    <For
                        each=move || view.unfinished.get()
                        key=|entry| entry.upload_id.clone()
                        let:entry
                    >
                        <UnfinishedRow entry view/>
                    </For>
                </ul>
            </section>
        </Show>
    }
}

#[component]
fn UnfinishedRow(entry: Unfinished, view: EngineView) -> impl IntoView {
    let input_id = format!("resume-{}", entry.upload_id);
    let upload_id = StoredValue::new(entry.upload_id.clone());
    let error = move || {
        view.unfinished_error
            .get()
            .filter(|(id, _)| *id == upload_id.get_value())
            .map(|(_, message)| message)
    };
    let on_change = move |ev: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        picking::from_input(&ev, Some(upload_id.get_value()));
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    view! {
        <li class="unfinished-upload" data-upload-id=entry.upload_id.clone()>
            <span class="task-name">{entry.file.name.clone()}</span>
            <span class="task-bytes">{format::bytes(entry.file.size)}</span>
            <label class="button" for=input_id.clone()>
                {format!("Pick {} again", entry.file.name)}
            </label>
            <input id=input_id class="visually-hidden" type="file" on:change=on_change/>
            <button type="button" on:click=move |_| send(Command::Discard(upload_id.get_value()))>
                "Discard"
            </button>
            {move || error().map(|message| view! { <p class="task-error" role="alert">{message}</p> })}
        </li>
    }
}

#[component]
fn TaskRow(task: UploadTask) -> impl IntoView {
    let name = move || task.name.get_value();
    let phase = move || task.phase.get();
    let key = task.key;
    view! {
        <li class="task" data-phase=move || phase().word()>
            <div class="task-head">
                <span class="task-name">{name}</span>
                <span class="task-status">{move || phase().word()}</span>
            </div>
            <ProgressBar
                label=Signal::derive(move || format!("Upload progress for {}", name()))
                percent=task.percent
            />
            <div class="task-bytes">
                <span>{move || task.bytes_text()}</span>
                <span class="task-rate">{move || task.rate_text()}</span>
            </div>
            <div class="controls">
                <Show when=move || phase().is_active()>
                    <button type="button" on:click=move |_| send(Command::Pause(key))>
                        "Pause"
                    </button>
                </Show>
                <Show when=move || phase().can_resume()>
                    <button type="button" on:click=move |_| send(Command::Resume(key))>
                        "Resume"
                    </button>
                </Show>
                <Show when=move || phase().is_active() || phase().can_resume()>
                    <button type="button" on:click=move |_| send(Command::Cancel(key))>
                        "Cancel"
                    </button>
                </Show>
            </div>
            {move || task.note.get().map(|note| view! { <p class="task-note">{note}</p> })}
            <Show when=move || phase() == Phase::Failed>
                <p class="task-error" role="alert">{move || task.error.get().unwrap_or_default()}</p>
            </Show>
        </li>
    }
}

/// Getting `File`s out of the page: the pickers, and drops of files and whole folders.
#[cfg(feature = "hydrate")]
mod picking {
    use crate::engine::driver;
    use futures::channel::oneshot;
    use leptos::task::spawn_local;
    use wasm_bindgen::{closure::Closure, JsCast};
    use web_sys::{
        File, FileList, FileSystemDirectoryEntry, FileSystemEntry, FileSystemFileEntry,
        HtmlInputElement,
    };

    /// Files from a picker; `for_upload` when the picker belongs to one unfinished upload.
    pub fn from_input(ev: &leptos::ev::Event, for_upload: Option<String>) {
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
        else {
            return;
        };
        let files = input.files().map(|f| list(&f)).unwrap_or_default();
        // Picking the same file again must fire `change` again.
        input.set_value("");
        match for_upload {
            Some(upload_id) => {
                if let Some(file) = files.into_iter().next() {
                    driver::resume_with(&upload_id, file);
                }
            }
            None => driver::add_files(files),
        }
    }

    /// Dropped files, walking into dropped folders where the browser allows it.
    pub fn from_drop(ev: &leptos::ev::DragEvent) {
        let Some(transfer) = ev.data_transfer() else {
            return;
        };
        // Entries must be taken while the event is being handled; reading them can wait.
        let items = transfer.items();
        let entries: Vec<FileSystemEntry> = (0..items.length())
            .filter_map(|i| items.get(i))
            .filter_map(|item| item.webkit_get_as_entry().ok().flatten())
            .collect();
        if !entries.iter().any(FileSystemEntry::is_directory) {
            if let Some(files) = transfer.files() {
                driver::add_files(list(&files));
            }
            return;
        }
        spawn_local(async move {
            let mut files = Vec::new();
            let mut stack = entries;
            while let Some(entry) = stack.pop() {
                if entry.is_directory() {
                    let dir: FileSystemDirectoryEntry = entry.unchecked_into();
                    stack.extend(read_folder(&dir).await);
                } else if let Some(file) = read_file(entry.unchecked_into()).await {
                    files.push(file);
                }
            }
            driver::add_files(files);
        });
    }

    fn list(files: &FileList) -> Vec<File> {
        (0..files.length()).filter_map(|i| files.get(i)).collect()
    }

    async fn read_file(entry: FileSystemFileEntry) -> Option<File> {
        let (tx, rx) = oneshot::channel::<File>();
        let done = Closure::once(move |file: File| {
            let _ = tx.send(file);
        });
        entry.file_with_callback(done.as_ref().unchecked_ref());
        rx.await.ok()
    }

    /// Every entry of a folder: `readEntries` hands them out in pages until it returns none.
    async fn read_folder(dir: &FileSystemDirectoryEntry) -> Vec<FileSystemEntry> {
        let reader = dir.create_reader();
        let mut all = Vec::new();
        loop {
            let (tx, rx) = oneshot::channel::<js_sys::Array>();
            let got = Closure::once(move |page: js_sys::Array| {
                let _ = tx.send(page);
            });
            if reader
                .read_entries_with_callback(got.as_ref().unchecked_ref())
                .is_err()
            {
                break;
            }
            let Ok(page) = rx.await else { break };
            if page.length() == 0 {
                break;
            }
            all.extend(page.iter().map(|e| e.unchecked_into::<FileSystemEntry>()));
        }
        all
    }
}
