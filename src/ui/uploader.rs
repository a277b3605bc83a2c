//! Picking or dropping files, and one row per file being uploaded.

use super::progress_bar::ProgressBar;
use crate::engine::task::{Phase, UploadTask};
use leptos::prelude::*;

#[component]
pub fn Uploader(
    /// Bumped when an upload settles, so the library reloads.
    library_version: RwSignal<u32>,
) -> impl IntoView {
    let tasks = RwSignal::new(Vec::<UploadTask>::new());
    let dragging = RwSignal::new(false);

    let on_change = move |ev: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        browser::take_from_input(&ev, tasks, library_version);
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, library_version);
    };
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        #[cfg(feature = "hydrate")]
        browser::take_from_drop(&ev, tasks, library_version);
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
            <p>"Drop files here, or"</p>
            <label class="button" for="file-input">"Choose files"</label>
            <input id="file-input" class="visually-hidden" type="file" multiple on:change=on_change/>
        </section>
        <ul class="tasks">
            <For each=move || tasks.get() key=|task| task.key let:task>
                <TaskRow task/>
            </For>
        </ul>
    }
}

#[component]
fn TaskRow(task: UploadTask) -> impl IntoView {
    let name = move || task.name.get_value();
    view! {
        <li class="task" data-phase=move || task.phase.get().word()>
            <div class="task-head">
                <span class="task-name">{name}</span>
                <span class="task-status">{move || task.phase.get().word()}</span>
            </div>
            <ProgressBar
                label=Signal::derive(move || format!("Upload progress for {}", name()))
                percent=task.percent
            />
            <div class="task-bytes">{move || task.bytes_text()}</div>
            <Show when=move || task.phase.get() == Phase::Failed>
                <p class="task-error" role="alert">{move || task.error.get().unwrap_or_default()}</p>
            </Show>
        </li>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use crate::engine::{run, task::UploadTask};
    use leptos::{prelude::*, task::spawn_local};
    use std::sync::atomic::{AtomicU64, Ordering};
    use wasm_bindgen::JsCast;
    use web_sys::{File, FileList, HtmlInputElement};

    static NEXT_KEY: AtomicU64 = AtomicU64::new(1);

    pub fn take_from_input(
        ev: &leptos::ev::Event,
        tasks: RwSignal<Vec<UploadTask>>,
        version: RwSignal<u32>,
    ) {
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
        else {
            return;
        };
        if let Some(files) = input.files() {
            start_all(&files, tasks, version);
        }
        // Picking the same file again must fire `change` again.
        input.set_value("");
    }

    pub fn take_from_drop(
        ev: &leptos::ev::DragEvent,
        tasks: RwSignal<Vec<UploadTask>>,
        version: RwSignal<u32>,
    ) {
        if let Some(files) = ev.data_transfer().and_then(|dt| dt.files()) {
            start_all(&files, tasks, version);
        }
    }

    fn start_all(files: &FileList, tasks: RwSignal<Vec<UploadTask>>, version: RwSignal<u32>) {
        let files: Vec<File> = (0..files.length()).filter_map(|i| files.get(i)).collect();
        for file in files {
            let task = UploadTask::new(
                NEXT_KEY.fetch_add(1, Ordering::Relaxed),
                file.name(),
                file.size() as u64,
            );
            tasks.update(|list| list.push(task));
            spawn_local(async move {
                match run::upload(file, task).await {
                    Ok(()) => task.succeeded(),
                    Err(message) => task.failed(message),
                }
                version.update(|v| *v += 1);
            });
        }
    }
}
