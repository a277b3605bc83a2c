//! Getting `File`s out of the page: the pickers, and drops of files and whole folders.
use super::driver::Engine;
use futures::channel::oneshot;
use leptos::task::spawn_local;
use wasm_bindgen::{closure::Closure, JsCast};
use web_sys::{
    File, FileList, FileSystemDirectoryEntry, FileSystemEntry, FileSystemFileEntry,
    HtmlInputElement,
};

/// Files from a picker; `for_upload` when the picker belongs to one unfinished upload.
pub fn from_input(engine: Engine, ev: &leptos::ev::Event, for_upload: Option<String>) {
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
                engine.resume_with(&upload_id, file);
            }
        }
        None => engine.add(files),
    }
}

/// Dropped files, walking into dropped folders where the browser allows it.
pub fn from_drop(engine: Engine, ev: &leptos::ev::DragEvent) {
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
            engine.add(list(&files));
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
        engine.add(files);
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
