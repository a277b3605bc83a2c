//! Every part is in the store: the server checks the upload (never trusting us) and completes
//! it. Files that finish while a `complete_uploads` call is out wait for it and go together in
//! the next, so two hundred small files cost a handful of calls, not two hundred.

use super::{persist, Engine};
use crate::{
    api::complete_uploads,
    engine::{scheduler::FileId, task::Phase},
    error::ApiError,
    model::{UploadView, MAX_COMPLETE_BATCH},
    protocol::plan::Remaining,
};
use leptos::{prelude::*, task::spawn_local};

impl Engine {
    /// Asks the server to complete `id` with the next batch.
    pub(super) fn complete_soon(&self, id: FileId) {
        self.set_phase(id, Phase::Verifying);
        self.completing.borrow_mut().push_back(id);
        if !self.completing_busy.get() {
            self.completing_busy.set(true);
            spawn_local(self.clone().complete_waiting());
        }
    }

    /// Sends the waiting files, batch after batch, until none is left.
    async fn complete_waiting(self) {
        loop {
            let batch: Vec<(FileId, String)> = {
                let mut waiting = self.completing.borrow_mut();
                let take = waiting.len().min(MAX_COMPLETE_BATCH);
                waiting
                    .drain(..take)
                    .filter(|id| self.phase(*id) == Some(Phase::Verifying))
                    .filter_map(|id| Some((id, self.with_job(id, |j| j.upload_id.clone())??)))
                    .collect()
            };
            if batch.is_empty() && self.completing.borrow().is_empty() {
                break;
            }
            if batch.is_empty() {
                continue;
            }
            let ids: Vec<String> = batch.iter().map(|(_, u)| u.clone()).collect();
            match persist(|| complete_uploads(ids.clone())).await {
                Ok(answers) => {
                    for ((id, upload_id), answer) in batch.into_iter().zip(answers) {
                        self.completed(id, &upload_id, answer);
                    }
                }
                Err(e) => {
                    for (id, _) in batch {
                        self.set_failed(id, e.to_string());
                    }
                }
            }
        }
        self.completing_busy.set(false);
    }

    /// What the server's verification of one upload means for its file.
    fn completed(&self, id: FileId, upload_id: &str, answer: Result<UploadView, ApiError>) {
        let Some(task) = self.with_job(id, |j| j.task) else {
            return;
        };
        match answer {
            Ok(view) => {
                task.succeeded();
                self.view.heard.update(|heard| heard.push(view));
                self.settle(id, upload_id);
            }
            // The store lacks parts we thought sent: send them again.
            Err(ApiError::Incomplete { missing }) => {
                let Some(plan) = self.with_job(id, |j| j.plan).flatten() else {
                    return;
                };
                let left = Remaining::from_missing(plan, &missing);
                self.with_job_mut(id, |j| j.progress.restart(left.held_bytes));
                self.scheduler
                    .borrow_mut()
                    .plan(id, plan.part_count(), &left.done);
                task.set_phase(Phase::Uploading);
                self.wake();
            }
            Err(e @ ApiError::Rejected(_)) => {
                task.refused(e.to_string());
                self.settle(id, upload_id);
            }
            Err(e) => task.failed(e.to_string()),
        }
    }

    fn set_failed(&self, id: FileId, message: String) {
        if let Some(task) = self.with_job(id, |j| j.task) {
            task.failed(message);
        }
    }

    /// The upload is over for good: nothing to resume (the library hears of it from the feed).
    fn settle(&self, id: FileId, upload_id: &str) {
        self.scheduler.borrow_mut().remove(id);
        self.forget(upload_id);
    }
}
