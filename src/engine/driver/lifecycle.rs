//! A file's life on the page: added (or matched to an unfinished upload), started or resumed
//! on the server, completed — or paused, resumed, cancelled, failed.

use super::{fingerprint, persist, Engine, Job};
use crate::{
    api::{abort_upload, complete_upload, resume_upload, start_upload},
    checksum::ChecksumAlgorithm,
    engine::{
        browser,
        progress::Progress,
        rate::Rate,
        resume::{Fingerprint, Unfinished},
        scheduler::FileId,
        task::{Phase, UploadTask},
    },
    error::ApiError,
    model::PartPlan,
};
use futures::lock::Mutex;
use leptos::{prelude::*, task::spawn_local};
use std::{collections::HashMap, rc::Rc};
use web_sys::{File, XmlHttpRequest};

/// What a start or a resume found out.
struct Begun {
    upload_id: String,
    plan: PartPlan,
    done: Vec<u32>,
    checksum: Option<ChecksumAlgorithm>,
}

impl Engine {
    /// Files picked or dropped: new uploads, or the continuation of an unfinished one when a
    /// file has the same fingerprint.
    pub fn add(&self, files: Vec<File>) {
        for file in files {
            let fingerprint = fingerprint(&file);
            let busy = self.busy_uploads();
            let resume = self
                .ledger
                .borrow()
                .matching(&fingerprint, &busy)
                .map(|e| e.upload_id.clone());
            self.enqueue(file, fingerprint, resume);
        }
        self.wake();
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
        self.enqueue(file, offered, Some(entry.upload_id));
        self.wake();
    }

    fn enqueue(&self, file: File, fingerprint: Fingerprint, resume: Option<String>) {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let task = UploadTask::new(id, file.name(), fingerprint.size);
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
        self.view.tasks.update(|tasks| tasks.push(task));
    }

    /// Starts a file, or picks up its unfinished upload (asking the store what it holds).
    pub(super) async fn start_file(self, id: FileId) {
        let Some((task, fp, known)) =
            self.with_job(id, |j| (j.task, j.fingerprint.clone(), j.upload_id.clone()))
        else {
            return;
        };
        self.starting.set(self.starting.get() + 1);
        task.set_phase(Phase::Starting);
        let begun = match known {
            Some(upload_id) => match self.resume_on_server(&upload_id, &fp).await {
                // A remembered upload the server no longer continues: start afresh rather
                // than refuse a file the person clearly wants uploaded.
                Err(ApiError::NotFound | ApiError::Closed(_)) if self.is_fresh_pick(id) => {
                    self.forget(&upload_id);
                    self.start_on_server(&fp).await
                }
                other => other,
            },
            None => self.start_on_server(&fp).await,
        };
        self.starting.set(self.starting.get() - 1);
        match begun {
            Ok(begun) => self.begin(id, begun),
            Err(e) => {
                if let ApiError::Invalid(_) | ApiError::NotFound | ApiError::Closed(_) = e {
                    self.with_job(id, |j| j.upload_id.clone())
                        .flatten()
                        .inspect(|u| self.forget(u));
                }
                self.fail(id, e.to_string());
            }
        }
        self.wake();
    }

    /// Was this file matched to an unfinished upload by the main picker (rather than offered
    /// for it explicitly, or resumed after a pause on this page)?
    fn is_fresh_pick(&self, id: FileId) -> bool {
        self.with_job(id, |j| j.plan.is_none()).unwrap_or(false)
    }

    async fn start_on_server(&self, fp: &Fingerprint) -> Result<Begun, ApiError> {
        let started =
            persist(|| start_upload(fp.name.clone(), fp.size, fp.content_type.clone())).await?;
        Ok(Begun {
            upload_id: started.upload_id,
            plan: started.plan,
            done: Vec::new(),
            checksum: started.checksum,
        })
    }

    async fn resume_on_server(&self, upload_id: &str, fp: &Fingerprint) -> Result<Begun, ApiError> {
        let state =
            persist(|| resume_upload(upload_id.to_string(), fp.size, fp.content_type.clone()))
                .await?;
        Ok(Begun {
            upload_id: state.upload_id,
            plan: state.plan,
            done: state.done,
            checksum: state.checksum,
        })
    }

    fn begin(&self, id: FileId, begun: Begun) {
        let Begun {
            upload_id,
            plan,
            done,
            checksum,
        } = begun;
        let stored: u64 = done.iter().filter_map(|&n| plan.part_len(n)).sum();
        let Some((task, fingerprint)) = self.with_job_mut(id, |job| {
            job.upload_id = Some(upload_id.clone());
            job.plan = Some(plan);
            job.checksum = checksum;
            job.heard_at = browser::now_ms();
            job.progress.restart(stored);
            job.rate.reset();
            job.task.show(&job.progress);
            (job.task, job.fingerprint.clone())
        }) else {
            return;
        };
        self.remember(Unfinished {
            upload_id: upload_id.clone(),
            file: fingerprint,
        });

        match task.phase.get_untracked() {
            // Cancelled while it was starting: the server has an upload to throw away.
            Phase::Aborted => return self.abort_on_server(upload_id),
            Phase::Paused => {
                self.scheduler
                    .borrow_mut()
                    .plan(id, plan.part_count(), &done);
                self.scheduler.borrow_mut().pause(id);
                return;
            }
            _ => {}
        }
        self.scheduler
            .borrow_mut()
            .plan(id, plan.part_count(), &done);
        task.set_phase(Phase::Uploading);
        if self.scheduler.borrow().is_complete(id) {
            spawn_local(self.clone().complete(id));
        }
    }

    /// Every part is in the store: the server checks them (never trusting us) and completes.
    pub(super) async fn complete(self, id: FileId) {
        let Some((task, upload_id)) = self.with_job(id, |j| (j.task, j.upload_id.clone())) else {
            return;
        };
        let Some(upload_id) = upload_id else { return };
        task.set_phase(Phase::Verifying);
        match persist(|| complete_upload(upload_id.clone())).await {
            Ok(_) => {
                task.succeeded();
                self.settle(id, &upload_id);
            }
            // The store lacks parts we thought sent: send them again.
            Err(ApiError::Incomplete { missing }) => {
                let Some(plan) = self.with_job(id, |j| j.plan).flatten() else {
                    return;
                };
                let done: Vec<u32> = (1..=plan.part_count())
                    .filter(|n| !missing.contains(n))
                    .collect();
                let stored = done.iter().filter_map(|&n| plan.part_len(n)).sum();
                self.with_job_mut(id, |j| j.progress.restart(stored));
                self.scheduler
                    .borrow_mut()
                    .plan(id, plan.part_count(), &done);
                task.set_phase(Phase::Uploading);
                self.wake();
            }
            Err(e @ ApiError::Rejected(_)) => {
                task.failed(e.to_string());
                self.settle(id, &upload_id);
            }
            Err(e) => task.failed(e.to_string()),
        }
    }

    /// The upload is over for good: nothing to resume, the library has news.
    fn settle(&self, id: FileId, upload_id: &str) {
        self.scheduler.borrow_mut().remove(id);
        self.forget(upload_id);
        self.view.library_version.update(|v| *v += 1);
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
    fn abort_on_server(&self, upload_id: String) {
        let engine = self.clone();
        spawn_local(async move {
            match persist(|| abort_upload(upload_id.clone())).await {
                Ok(_) | Err(ApiError::NotFound | ApiError::Closed(_)) => engine.forget(&upload_id),
                // The server's reaper removes it when it expires.
                Err(e) => leptos::logging::warn!("could not abort upload {upload_id}: {e}"),
            }
            engine.view.library_version.update(|v| *v += 1);
        });
    }

    /// The file stops here, with `message` shown; it can be resumed.
    pub(super) fn fail(&self, id: FileId, message: String) {
        if self.phase(id).is_some_and(|p| p.is_settled()) {
            return;
        }
        if let Some(task) = self.with_job(id, |j| j.task) {
            task.failed(message);
        }
        self.scheduler.borrow_mut().pause(id);
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
