//! A file's life on the page: added (or matched to an unfinished upload), then paused,
//! resumed, cancelled or failed. Starting is in [`super::starting`], completing in
//! [`super::completing`].

use super::{fingerprint, persist, Engine, Job};
use crate::{
    api::abort_upload,
    engine::{
        browser,
        progress::Progress,
        rate::Rate,
        resume::Fingerprint,
        scheduler::FileId,
        task::{Phase, UploadTask},
    },
    error::ApiError,
};
use futures::lock::Mutex;
use leptos::{prelude::*, task::spawn_local};
use std::{collections::HashMap, rc::Rc, time::Duration};
use web_sys::{File, XmlHttpRequest};

/// Files of a picking taken in one go (see [`Engine::add`]).
const ADD_AT_ONCE: usize = 100;

impl Engine {
    /// Files picked or dropped: new uploads, or the continuation of an unfinished one when a
    /// file has the same fingerprint.
    ///
    /// A picking is taken in slices of [`ADD_AT_ONCE`] files, the page free in between:
    /// reading a picked file's name, size and date asks the browser's process each time, and
    /// 2,000 files at once held the page for about a second.
    pub fn add(&self, files: Vec<File>) {
        let engine = self.clone();
        spawn_local(async move {
            let mut busy = engine.busy_uploads();
            for slice in files.chunks(ADD_AT_ONCE) {
                let mut added = Vec::with_capacity(slice.len());
                for file in slice {
                    let fingerprint = fingerprint(file);
                    let resume = engine
                        .ledger
                        .borrow()
                        .matching(&fingerprint, &busy)
                        .map(|e| e.upload_id.clone());
                    busy.extend(resume.iter().cloned());
                    added.push(engine.enqueue(file.clone(), fingerprint, resume));
                }
                // One change of the list per slice, however many files it holds.
                engine.view.tasks.update(|tasks| tasks.extend(added));
                engine.wake();
                browser::sleep(Duration::ZERO).await;
            }
        });
    }

    /// A file offered for one particular unfinished upload: refused, with the reason shown,
    /// unless it is that file.
    pub fn resume_with(&self, upload_id: &str, file: File) {
        let offered = fingerprint(&file);
        let entry = self
            .ledger
            .borrow()
            .entries
            .iter()
            .find(|e| e.upload_id == upload_id)
            .cloned();
        let view = self.view;
        let Some(entry) = entry else { return };
        if let Some(reason) = entry.file.mismatch(&offered) {
            let message = format!("That is not the same file: {reason}. Nothing was sent.");
            view.unfinished_error
                .set(Some((upload_id.to_string(), message)));
            return;
        }
        view.unfinished_error.set(None);
        let task = self.enqueue(file, offered, Some(entry.upload_id));
        view.tasks.update(|tasks| tasks.push(task));
        self.wake();
    }

    /// A job for `file`, queued to start; the caller shows its task.
    fn enqueue(&self, file: File, fingerprint: Fingerprint, resume: Option<String>) -> UploadTask {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let task = UploadTask::new(id, file.name(), fingerprint.size, self.view.frame);
        task.content_type
            .set_value(fingerprint.content_type.clone());
        if let Some(upload_id) = &resume {
            self.view
                .unfinished
                .update(|list| list.retain(|e| &e.upload_id != upload_id));
        }
        self.jobs.borrow_mut().insert(
            id,
            Job {
                progress: Progress::new(fingerprint.size),
                file,
                task,
                fingerprint,
                upload_id: resume,
                plan: None,
                checksum: None,
                checksums: HashMap::new(),
                rate: Rate::default(),
                urls: HashMap::new(),
                in_flight: HashMap::new(),
                heard_at: 0.0,
                signing: Rc::new(Mutex::new(())),
            },
        );
        self.queue.borrow_mut().push_back(id);
        task
    }

    pub(super) fn pause(&self, id: FileId) {
        let Some(phase) = self.phase(id) else { return };
        if !phase.is_active() {
            return;
        }
        self.set_phase(id, Phase::Paused);
        self.scheduler.borrow_mut().pause(id);
        self.abort_in_flight(id);
    }

    /// Continues a paused or failed file: the store says which parts it already holds.
    pub(super) fn resume(&self, id: FileId) {
        let Some(phase) = self.phase(id) else { return };
        if !phase.can_resume() {
            return;
        }
        let started = self
            .with_job(id, |j| j.upload_id.is_some())
            .unwrap_or(false);
        self.set_phase(id, Phase::Queued);
        if started {
            spawn_local(self.clone().start_file(id));
        } else {
            self.queue.borrow_mut().push_front(id);
            self.wake();
        }
    }

    pub(super) fn cancel(&self, id: FileId) {
        let Some(phase) = self.phase(id) else { return };
        if phase.is_settled() || phase == Phase::Verifying {
            return;
        }
        self.set_phase(id, Phase::Aborted);
        self.queue.borrow_mut().retain(|q| *q != id);
        self.scheduler.borrow_mut().remove(id);
        self.abort_in_flight(id);
        // While starting, the upload id is not known yet; `begin` aborts it when it is.
        if phase != Phase::Starting {
            if let Some(upload_id) = self.with_job(id, |j| j.upload_id.clone()).flatten() {
                self.abort_on_server(upload_id);
            }
        }
        self.wake();
    }

    pub(super) fn discard(&self, upload_id: String) {
        self.view
            .unfinished
            .update(|list| list.retain(|e| e.upload_id != upload_id));
        self.abort_on_server(upload_id);
    }

    /// Asks the server to abort `upload_id`, leaving nothing in the store.
    pub(super) fn abort_on_server(&self, upload_id: String) {
        let engine = self.clone();
        spawn_local(async move {
            match persist(|| abort_upload(upload_id.clone())).await {
                Ok(view) => {
                    engine.view.heard.update(|heard| heard.push(view));
                    engine.forget(&upload_id);
                }
                Err(ApiError::NotFound | ApiError::Closed(_)) => engine.forget(&upload_id),
                // The server's reaper removes it when it expires.
                Err(e) => leptos::logging::warn!("could not abort upload {upload_id}: {e}"),
            }
        });
    }

    /// The file stops here, with `message` shown; it can be resumed.
    pub(super) fn fail(&self, id: FileId, message: String) {
        self.stop(id, message, false);
    }

    /// Stops the file with `error`: for good when the server refused the file (nothing then
    /// offers to send it again), as [`Self::fail`] otherwise.
    pub(super) fn refuse_or_fail(&self, id: FileId, error: ApiError) {
        self.stop(id, error.to_string(), error.is_refusal());
    }

    fn stop(&self, id: FileId, message: String, refused: bool) {
        if self.phase(id).is_some_and(|p| p.is_settled()) {
            return;
        }
        let Some((task, upload_id)) = self.with_job(id, |j| (j.task, j.upload_id.clone())) else {
            return;
        };
        if refused {
            task.refused(message);
            self.scheduler.borrow_mut().remove(id);
            upload_id.inspect(|u| self.forget(u));
        } else {
            task.failed(message);
            self.scheduler.borrow_mut().pause(id);
        }
        self.abort_in_flight(id);
        self.wake();
    }

    fn abort_in_flight(&self, id: FileId) {
        let requests: Vec<XmlHttpRequest> = self
            .with_job_mut(id, |j| j.in_flight.drain().map(|(_, x)| x).collect())
            .unwrap_or_default();
        for request in requests {
            let _ = request.abort();
        }
    }
}
