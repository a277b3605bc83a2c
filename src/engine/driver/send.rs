//! One part, from the file to the store: until it arrives, the file stops, or retrying cannot
//! help. What a failure means is decided in [`crate::protocol::retry`]; this loop only acts on it.

use super::Engine;
use crate::{
    engine::{browser, scheduler::FileId, task::Phase, xhr},
    error::ApiError,
    protocol::retry::{self, Attempts, Next, PutError, Verdict},
};
use std::time::Duration;
use wasm_bindgen::JsCast;
use web_sys::{Blob, XmlHttpRequest};

impl Engine {
    /// Sends one part until it arrives, the file stops, or retrying cannot help.
    pub(super) async fn send_part(self, id: FileId, part: u32) {
        let mut attempts = Attempts::default();
        loop {
            browser::until_online().await;
            if self.phase(id) != Some(Phase::Uploading) {
                return self.release(id, part);
            }
            if let Err(message) = self.read_checksum(id, part).await {
                return self.fail(id, message);
            }
            let request = match self.url_for(id, part).await {
                Ok(request) => request,
                // Offline meanwhile: not a failure; the loop waits for the network.
                Err(e) if e.is_transient() && !browser::online() => continue,
                Err(ApiError::RateLimited { retry_after_secs }) => {
                    let asked = Duration::from_secs(retry_after_secs);
                    browser::sleep(retry::as_asked(asked, browser::random())).await;
                    continue;
                }
                Err(e) if e.is_transient() => match attempts.failed(browser::random()) {
                    Next::RetryAfter { pause, .. } => {
                        browser::sleep(pause).await;
                        continue;
                    }
                    _ => return self.fail(id, e.to_string()),
                },
                Err(e) => return self.fail(id, e.to_string()),
            };
            if self.phase(id) != Some(Phase::Uploading) {
                return self.release(id, part);
            }
            let Some((body, len)) = self.slice(id, part) else {
                return self.release(id, part);
            };
            // Reading the checksum and signing took a while: the network may have gone since
            // the top of the loop. Nothing leaves while offline.
            if !browser::online() {
                continue;
            }
            let error = match self.put(id, part, &request, &body, len).await {
                Ok(()) => return self.part_done(id, part, len),
                Err(PutError::Aborted) => return self.release(id, part),
                Err(e) => e,
            };
            let next = match retry::judge(&error) {
                Verdict::Resign => attempts.expired(),
                // The store refused bytes that differ from the checksum: damaged on the way
                // (send them again at once), or the file itself changed (stop: the upload
                // would mix two versions of it).
                Verdict::Reread => {
                    let next = attempts.failed(browser::random());
                    if let Err(message) = self.recheck(id, part).await {
                        return self.fail(id, message);
                    }
                    if let Next::RetryAfter { attempt, .. } = next {
                        self.note(
                            id,
                            Some(format!(
                                "Part {part} arrived damaged; sending it again (attempt {attempt} of {}).",
                                retry::MAX_ATTEMPTS
                            )),
                        );
                        continue;
                    }
                    next
                }
                // Offline: not a failure; the loop waits for the network.
                Verdict::Retry if !browser::online() => continue,
                Verdict::Retry if !self.readable(id, part).await => {
                    return self.fail(id, self.unreadable(id));
                }
                Verdict::Retry => attempts.failed(browser::random()),
                Verdict::Fatal(message) => return self.fail(id, message),
            };
            match next {
                Next::ResignNow => {}
                Next::RetryAfter { pause, attempt } => {
                    self.note(
                        id,
                        Some(format!(
                            "Part {part}: {error}; trying again in {} (attempt {attempt} of {}).",
                            crate::format::duration(pause.as_secs_f64()),
                            retry::MAX_ATTEMPTS
                        )),
                    );
                    browser::sleep(pause).await;
                }
                Next::GiveUp => return self.fail(id, format!("Upload failed: {error}.")),
            }
        }
    }

    /// One PUT, with the page's progress kept up to date and the request abortable.
    async fn put(
        &self,
        id: FileId,
        part: u32,
        request: &crate::model::SignedRequest,
        body: &Blob,
        len: u64,
    ) -> Result<(), PutError> {
        let progress = {
            let engine = self.clone();
            move |loaded: u64| {
                engine.with_job_mut(id, |j| j.progress.sending(part, loaded));
            }
        };
        let started = |xhr: &XmlHttpRequest| {
            self.with_job_mut(id, |j| j.in_flight.insert(part, xhr.clone()));
        };
        let result = xhr::put(request, body, timeout_ms(len), progress, started).await;
        self.with_job_mut(id, |j| {
            j.in_flight.remove(&part);
            j.urls.remove(&part);
            if result.is_err() {
                j.progress.failed(part);
            }
        });
        result
    }

    /// The part's bytes, as a slice of the file (nothing is read until it is sent).
    pub(super) fn slice(&self, id: FileId, part: u32) -> Option<(Blob, u64)> {
        self.with_job(id, |j| {
            let (start, end) = j.plan?.range(part)?;
            let blob: &Blob = j.file.unchecked_ref();
            // A part that is the whole file is the file: slicing a picked file asks the
            // browser's process about it again (about a millisecond each, measured over
            // 1,000 small files).
            if start == 0 && end == j.fingerprint.size {
                return Some((blob.clone(), end));
            }
            let slice = blob.slice_with_f64_and_f64(start as f64, end as f64).ok()?;
            Some((slice, end - start))
        })
        .flatten()
    }

    fn part_done(&self, id: FileId, part: u32, len: u64) {
        self.with_job_mut(id, |j| {
            j.progress.finished(part, len);
            j.task.show(&j.progress);
        });
        self.note(id, None);
        let complete = {
            let mut s = self.scheduler.borrow_mut();
            s.finished(id, part);
            s.is_complete(id)
        };
        if complete && self.phase(id) == Some(Phase::Uploading) {
            self.complete_soon(id);
        }
        self.wake();
    }

    fn release(&self, id: FileId, part: u32) {
        self.scheduler.borrow_mut().released(id, part);
        self.wake();
    }
}

/// Generous: a part may crawl over a bad connection, but a request that hears nothing for
/// this long is dead. A minute plus the part at 16 KiB/s.
fn timeout_ms(len: u64) -> u32 {
    u32::try_from(60_000 + len / 16).unwrap_or(u32::MAX)
}
