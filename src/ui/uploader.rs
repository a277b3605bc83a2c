//! Picking or dropping files, the total progress, uploads left unfinished by an earlier page,
//! and one row per file with its own controls.

use super::{progress_bar::ProgressBar, type_icon::TypeIcon};
use crate::{
    engine::{
        handle::EngineHandle,
        resume::Unfinished,
        task::{Command, EngineView, Summary, UploadTask},
    },
    format,
};
use leptos::prelude::*;

/// The picker, the queue and the totals. The library below follows what happens to each upload
/// from the live feed; `heard` also passes it the server's own answers about uploads settled
/// here, which need no stream.
#[component]
pub fn Uploader(heard: RwSignal<Vec<crate::model::UploadView>>) -> impl IntoView {
    let view = EngineView::new(heard);
    let engine = EngineHandle::provide();
    let folded = RwSignal::new(true);
    let dragging = RwSignal::new(false);
    let folder_input = NodeRef::<leptos::html::Input>::new();
    // Effects run only in the browser: that is where the engine lives.
    Effect::new(move |_| engine.start(view, folder_input));

    let on_change = move |ev: leptos::ev::Event| engine.pick(&ev, None);
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        engine.drop_files(&ev);
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
        <Show when=move || view.summary.with(|s| s.files > 0)>
            <TotalRow view folded/>
        </Show>
        <Show
            when=move || windowed(view)
            fallback=move || {
                view! {
                    <ul
                        class="tasks"
                        id="queue-rows"
                        class:folded=move || folds(view) && folded.get()
                    >
                        // Nothing here once the queue is windowed, whichever of the two
                        // notices the change first.
                        <For
                            each=move || if windowed(view) { Vec::new() } else { view.tasks.get() }
                            key=|task| task.key
                            let:task
                        >
                            <TaskRow task/>
                        </For>
                    </ul>
                }
            }
        >
            <TaskWindow view/>
        </Show>
    }
}

/// Failed files named under the summary of a long queue.
const SHOWN_FAILURES: usize = 5;

/// Above this many files only the rows in view are drawn: a picking of 10,000 files is not
/// 10,000 rows of DOM, reactive bars and buttons.
const WINDOW_FROM: usize = 100;
/// Is the queue long enough to draw only the rows in view?
fn windowed(view: EngineView) -> bool {
    view.tasks.with(|t| t.len() > WINDOW_FROM)
}

/// From this many uploaded files on, a short queue folds into a box a few rows high under its
/// summary line (with a button to show it whole): 33 files are a line of counts and a short
/// list, not 33 rows to scroll past. Every row stays in the page, each with its bar.
const FOLD_FROM: usize = 25;
fn folds(view: EngineView) -> bool {
    !windowed(view) && view.summary.with(|s| s.uploaded) >= FOLD_FROM
}

/// Pictures of picked images are made only up to this size (a phone's photo): the browser
/// decodes the whole image for a 40-pixel square, and a 50-megapixel one costs more memory
/// than it shows.
const PREVIEW_MAX_BYTES: u64 = 8 << 20;

/// A row's height in the windowed list, in pixels (`.tasks.windowed > .task` in the style).
const ROW_PX: f64 = 64.0;
/// Rows drawn above and below the visible ones, so a quick scroll shows no gap.
const OVERSCAN: usize = 6;

/// The queue of a large picking: a scrolling box as tall as every row would be, holding only
/// the rows in view (tasks are only ever appended, so a row's place never changes).
#[component]
fn TaskWindow(view: EngineView) -> impl IntoView {
    let viewport = NodeRef::<leptos::html::Div>::new();
    let scrolled = RwSignal::new((0.0f64, 640.0f64));
    let measure = move || {
        if let Some(el) = viewport.get_untracked() {
            scrolled.set((f64::from(el.scroll_top()), f64::from(el.client_height())));
        }
    };
    Effect::new(move |_| {
        if viewport.get().is_some() {
            measure();
        }
    });
    let count = move || view.tasks.with(Vec::len);
    let range = Memo::new(move |_| {
        let (top, height) = scrolled.get();
        let n = count();
        let first = ((top / ROW_PX) as usize).saturating_sub(OVERSCAN).min(n);
        let last = (first + (height / ROW_PX).ceil() as usize + 2 * OVERSCAN).min(n);
        (first, last)
    });
    let visible = move || {
        let (first, last) = range.get();
        view.tasks.with(|t| {
            t[first..last]
                .iter()
                .copied()
                .enumerate()
                .map(|(i, t)| (first + i, t))
                .collect::<Vec<_>>()
        })
    };
    view! {
        <div
            class="task-viewport"
            node_ref=viewport
            on:scroll=move |_| measure()
            role="region"
            aria-label="Files in the queue"
            tabindex="0"
        >
            <ul class="tasks windowed" style:height=move || format!("{}px", count() as f64 * ROW_PX)>
                <For each=visible key=|(_, task)| task.key let:row>
                    <li class="task-slot" style:top=format!("{}px", row.0 as f64 * ROW_PX)>
                        <TaskRow task=row.1/>
                    </li>
                </For>
            </ul>
        </div>
    }
}

#[component]
fn TotalRow(view: EngineView, folded: RwSignal<bool>) -> impl IntoView {
    let engine = EngineHandle::get();
    let summary = view.summary;
    let percent = Signal::derive(move || summary.with(Summary::percent));
    // In a long queue a failed file's row may be far out of view: the first few are named
    // here, with why. Looked up only when the number of failures changes.
    let failures = Memo::new(move |_| {
        if summary.with(Summary::failures) == 0 {
            return Vec::new();
        }
        view.tasks.with_untracked(|tasks| {
            tasks
                .iter()
                .filter(|t| t.phase.get_untracked().has_failed())
                .take(SHOWN_FAILURES)
                .map(|t| {
                    (
                        t.name.get_value(),
                        t.error.get_untracked().unwrap_or_default(),
                    )
                })
                .collect::<Vec<_>>()
        })
    });
    view! {
        <section
            class="total"
            data-files=move || summary.with(|s| s.files)
            data-uploaded=move || summary.with(|s| s.uploaded)
            data-failed=move || summary.with(Summary::failures)
        >
            <div class="task-head">
                <span class="task-name">"All files"</span>
                <span class="total-rate">
                    {move || format::rate(view.total_speed.get(), view.total_seconds_left.get())}
                </span>
            </div>
            <ProgressBar label=Signal::derive(|| "Total upload progress".to_string()) percent/>
            <div class="task-bytes total-bytes">
                {move || summary.with(|s| format!("{} / {}", format::bytes(s.sent), format::bytes(s.size)))}
            </div>
            <p class="queue-summary">
                {move || summary.with(Summary::line)}
                <Show when=move || folds(view)>
                    <button
                        type="button"
                        class="link"
                        aria-controls="queue-rows"
                        aria-expanded=move || (!folded.get()).to_string()
                        on:click=move |_| folded.update(|f| *f = !*f)
                    >
                        {move || if folded.get() {
                            format!("Show all {} files", summary.with(|s| s.files))
                        } else {
                            "Show fewer".to_string()
                        }}
                    </button>
                </Show>
            </p>
            <Show when=move || windowed(view) && !failures.with(Vec::is_empty)>
                <ul class="queue-failures">
                    {move || {
                        failures
                            .get()
                            .into_iter()
                            .map(|(name, why)| view! { <li><strong>{name}</strong>": "{why}</li> })
                            .collect_view()
                    }}
                </ul>
            </Show>
            <div class="controls">
                <button
                    type="button"
                    disabled=move || summary.with(|s| s.active() == 0)
                    on:click=move |_| engine.send(Command::PauseAll)
                >
                    "Pause all"
                </button>
                <button
                    type="button"
                    disabled=move || summary.with(|s| s.resumable() == 0)
                    on:click=move |_| engine.send(Command::ResumeAll)
                >
                    "Resume all"
                </button>
                <button
                    type="button"
                    disabled=move || summary.with(|s| s.active() + s.resumable() == 0)
                    on:click=move |_| engine.send(Command::CancelAll)
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
    let engine = EngineHandle::get();
    let on_change = move |ev: leptos::ev::Event| engine.pick(&ev, Some(upload_id.get_value()));
    view! {
        <li class="unfinished-upload" data-upload-id=entry.upload_id.clone()>
            <span class="task-name">{entry.file.name.clone()}</span>
            <span class="task-bytes">{format::bytes(entry.file.size)}</span>
            <label class="button" for=input_id.clone()>
                {format!("Pick {} again", entry.file.name)}
            </label>
            <input id=input_id class="visually-hidden" type="file" on:change=on_change/>
            <button type="button" on:click=move |_| engine.send(Command::Discard(upload_id.get_value()))>
                "Discard"
            </button>
            {move || error().map(|message| view! { <p class="task-error" role="alert">{message}</p> })}
        </li>
    }
}

#[component]
fn TaskRow(task: UploadTask) -> impl IntoView {
    let engine = EngineHandle::get();
    let name = move || task.name.get_value();
    let phase = move || task.phase.get();
    let key = task.key;
    let content_type = task.content_type.get_value();
    let preview = (content_type.starts_with("image/") && task.size <= PREVIEW_MAX_BYTES)
        .then(|| engine.preview(key))
        .flatten();
    if let Some(url) = preview.clone() {
        on_cleanup(move || engine.forget_preview(&url));
    }
    let picture = match preview {
        Some(url) => {
            view! { <img src=url alt="" decoding="async" width="40" height="40"/> }.into_any()
        }
        None => view! { <TypeIcon name=name() content_type/> }.into_any(),
    };
    view! {
        <li class="task" data-phase=move || phase().word()>
            <span class="task-picture">{picture}</span>
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
                    <button type="button" on:click=move |_| engine.send(Command::Pause(key))>
                        "Pause"
                    </button>
                </Show>
                <Show when=move || phase().can_resume()>
                    <button type="button" on:click=move |_| engine.send(Command::Resume(key))>
                        "Resume"
                    </button>
                </Show>
                <Show when=move || phase().is_active() || phase().can_resume()>
                    <button type="button" on:click=move |_| engine.send(Command::Cancel(key))>
                        "Cancel"
                    </button>
                </Show>
            </div>
            {move || task.note.get().map(|note| view! { <p class="task-note">{note}</p> })}
            <Show when=move || phase().has_failed()>
                <p class="task-error" role="alert">{move || task.error.get().unwrap_or_default()}</p>
            </Show>
        </li>
    }
}
