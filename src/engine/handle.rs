//! How components reach the page's upload engine: a handle in Leptos context. In the browser it
//! holds the engine; while the page is rendered on the server it does nothing, so the
//! components need not know where they run.

use super::task::{Command, EngineView};
use leptos::{ev, html, prelude::*};

#[derive(Clone, Copy)]
pub struct EngineHandle {
    #[cfg(feature = "hydrate")]
    engine: StoredValue<Option<super::driver::Engine>, LocalStorage>,
}

impl EngineHandle {
    /// A handle for the components below the caller.
    pub fn provide() -> Self {
        let handle = Self {
            #[cfg(feature = "hydrate")]
            engine: StoredValue::new_local(None),
        };
        provide_context(handle);
        handle
    }

    /// The handle an ancestor provided.
    pub fn get() -> Self {
        expect_context()
    }
}

#[cfg(feature = "hydrate")]
impl EngineHandle {
    /// Starts the engine (once), writing into `view`. Effects run only in the browser, so this
    /// is called from one.
    pub fn start(self, view: EngineView, folder_input: NodeRef<html::Input>) {
        if self.engine.with_value(Option::is_none) {
            self.engine
                .set_value(Some(super::driver::Engine::start(view)));
        }
        // Not a standard attribute, so the view cannot set it; every current browser knows it.
        if let Some(input) = folder_input.get() {
            input.set_webkitdirectory(true);
        }
    }

    pub fn send(self, command: Command) {
        if let Some(engine) = self.engine.get_value() {
            engine.command(command);
        }
    }

    /// Files from a picker; `for_upload` when the picker belongs to one unfinished upload.
    pub fn pick(self, event: &ev::Event, for_upload: Option<String>) {
        if let Some(engine) = self.engine.get_value() {
            super::picking::from_input(engine, event, for_upload);
        }
    }

    /// Dropped files, walking into dropped folders.
    pub fn drop_files(self, event: &ev::DragEvent) {
        if let Some(engine) = self.engine.get_value() {
            super::picking::from_drop(engine, event);
        }
    }

    /// A page-local address of file `key`'s bytes, for its row's picture; give it back with
    /// [`Self::forget_preview`] when the row goes, or the file stays referenced.
    pub fn preview(self, key: u64) -> Option<String> {
        let file = self.engine.get_value()?.file(key)?;
        web_sys::Url::create_object_url_with_blob(&file).ok()
    }

    pub fn forget_preview(self, url: &str) {
        let _ = web_sys::Url::revoke_object_url(url);
    }
}

/// On the server nothing uploads: the page is only rendered.
#[cfg(not(feature = "hydrate"))]
impl EngineHandle {
    pub fn start(self, _view: EngineView, _folder_input: NodeRef<html::Input>) {}

    pub fn send(self, _command: Command) {}

    pub fn pick(self, _event: &ev::Event, _for_upload: Option<String>) {}

    pub fn drop_files(self, _event: &ev::DragEvent) {}

    pub fn preview(self, _key: u64) -> Option<String> {
        None
    }

    pub fn forget_preview(self, _url: &str) {}
}
