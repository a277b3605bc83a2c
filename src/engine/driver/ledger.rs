//! The uploads this browser left unfinished, kept in local storage: after a reload they are
//! listed (if the server still continues them), and a file picked again continues its upload.

use super::Engine;
use crate::{
    api::list_uploads,
    engine::{browser, resume::Unfinished},
    model::UploadStatus,
};
use leptos::prelude::*;
use leptos::task::spawn_local;

/// Unfinished uploads are recent, so they are on the library's first pages; at most this many
/// are read looking for them.
const MAX_PAGES: usize = 10;

impl Engine {
    /// After a reload: the uploads this browser left unfinished that the server still
    /// continues, listed so the person can pick their files again.
    pub(super) async fn show_unfinished(self) {
        let mut wanted: Vec<String> = self
            .ledger
            .borrow()
            .entries
            .iter()
            .map(|e| e.upload_id.clone())
            .collect();
        if wanted.is_empty() {
            return;
        }
        let mut open = Vec::new();
        let mut cursor = None;
        for _ in 0..MAX_PAGES {
            let Ok(page) = list_uploads(cursor, None, None).await else {
                return;
            };
            for upload in page.uploads {
                wanted.retain(|id| *id != upload.id);
                if upload.status == UploadStatus::Uploading {
                    open.push(upload.id);
                }
            }
            cursor = page.next;
            if wanted.is_empty() || cursor.is_none() {
                break;
            }
        }
        self.ledger.borrow_mut().retain_open(&open);
        self.save_ledger();
        let busy = self.busy_uploads();
        let waiting: Vec<Unfinished> = self
            .ledger
            .borrow()
            .entries
            .iter()
            .filter(|e| !busy.contains(&e.upload_id))
            .cloned()
            .collect();
        self.view.unfinished.set(waiting);
    }

    pub(super) fn remember(&self, entry: Unfinished) {
        self.ledger.borrow_mut().remember(entry);
        self.save_ledger();
    }

    pub(super) fn forget(&self, upload_id: &str) {
        self.ledger.borrow_mut().forget(upload_id);
        self.save_ledger();
    }

    /// Writes the ledger once for everything that changed in this turn of the event loop: a
    /// batch of 30 files started or completed is one write of the ledger, not 30 (each of
    /// which serialised all of it). The write runs as a microtask, before any part of those
    /// files can be sent.
    fn save_ledger(&self) {
        if self.ledger_dirty.replace(true) {
            return;
        }
        let engine = self.clone();
        spawn_local(async move {
            engine.ledger_dirty.set(false);
            browser::save_ledger(&engine.ledger.borrow());
        });
    }

    /// Uploads that files on this page are already sending.
    pub(super) fn busy_uploads(&self) -> Vec<String> {
        self.jobs
            .borrow()
            .values()
            .filter(|j| !j.task.phase.get_untracked().is_settled())
            .filter_map(|j| j.upload_id.clone())
            .collect()
    }
}
