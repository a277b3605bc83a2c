//! Files reach the server: fresh ones in batches (one `start_uploads` call for many, a small
//! file's checksum read first so its URL comes in the answer), a file continuing an unfinished
//! upload on its own (the store says which parts it holds).

use super::{persist, Engine};
use crate::{
    api::{resume_upload, start_uploads},
    checksum::{ChecksumAlgorithm, Hasher},
    engine::{
        browser, digest,
        resume::{Fingerprint, Unfinished},
        scheduler::FileId,
        task::Phase,
    },
    error::ApiError,
    model::{EngineSettings, FileToStart, PartPlan, SignedPart, StartedUpload, MAX_START_BATCH},
    protocol::plan::{self, Remaining},
};
use leptos::{prelude::*, task::spawn_local};
use wasm_bindgen::JsCast;

/// How long starting pauses after the server said too many uploads are unfinished.
const START_HOLD: std::time::Duration = std::time::Duration::from_millis(500);
/// Start batches in flight at once.
const STARTING_AT_ONCE: usize = 2;
/// Files in one `start_uploads` call, at most: fewer than the server takes, so that a first
/// batch is not a long wait.
const FILES_PER_START: usize = 32;
const _: () = assert!(FILES_PER_START <= MAX_START_BATCH);
/// A batch stops growing at this many bytes of request body, well under the server's 16 KiB.
const START_BODY: usize = 12 * 1024;
/// ... or at this many bytes of small files to hash before it can be sent: the first batch's
/// reading is time in which nothing is sent yet.
const START_HASHING: u64 = 64 * 1024 * 1024;

/// What a start or a resume found out.
struct Begun {
    upload_id: String,
    plan: PartPlan,
    done: Vec<u32>,
    checksum: Option<ChecksumAlgorithm>,
    /// URLs signed with the answer, and the checksum the only part was signed for.
    signed: Vec<SignedPart>,
    first_part: Option<String>,
}

impl Begun {
    /// A fresh upload; `first_part` is the checksum sent with its start, if any, and `sha256`
    /// the whole file's, which the server signs a one-part file's URL for.
    fn started(started: StartedUpload, first_part: Option<String>, sha256: Option<&str>) -> Self {
        let first_part = match started.checksum {
            Some(ChecksumAlgorithm::Sha256) => sha256.and_then(crate::checksum::sha256_header),
            _ => first_part,
        };
        Self {
            upload_id: started.upload_id,
            plan: started.plan,
            // Content the account holds already: nothing to send, only to complete.
            done: match started.already_stored {
                true => (1..=started.plan.part_count()).collect(),
                false => Vec::new(),
            },
            checksum: started.checksum,
            signed: started.signed,
            first_part,
        }
    }
}

/// What a fresh file's start brings, read from the file in one pass: its SHA-256 (a file up
/// to `hash_first_max`: the server answers "already stored" for content the account holds,
/// and signs a one-part file's URL for that hash, which the store then checks), or else its
/// only part's checksum (a file that fits in one part).
async fn first_read(
    settings: &EngineSettings,
    fp: &Fingerprint,
    file: &web_sys::File,
) -> Result<(Option<String>, Option<String>), digest::Unreadable> {
    let whole = fp.size <= settings.hash_first_max;
    let one_part = settings
        .checksum
        .filter(|_| fp.size <= settings.part_size && !whole);
    let mut hashers = Vec::new();
    hashers.extend(one_part.map(ChecksumAlgorithm::hasher));
    hashers.extend(whole.then(|| ChecksumAlgorithm::Sha256.hasher()));
    if hashers.is_empty() {
        return Ok((None, None));
    }
    let mut done = digest::read(file.unchecked_ref(), fp.size, hashers)
        .await?
        .into_iter();
    let checksum = one_part.and_then(|_| done.next()).map(Hasher::finish);
    let sha256 = whole
        .then(|| done.next())
        .flatten()
        .map(|h| crate::format::hex(&h.finish_bytes()));
    Ok((checksum, sha256))
}

impl Engine {
    /// Starts the next queued files while the pool is about to run out of parts to send:
    /// fresh files together, as many as two pools' worth of parts.
    pub(super) fn start_queued(&self) {
        loop {
            let (waiting, limit) = {
                let s = self.scheduler.borrow();
                (s.waiting(), s.limit())
            };
            if waiting >= limit || self.starting.get() >= STARTING_AT_ONCE {
                return;
            }
            if self.hold_starts_until.get() > browser::now_ms() {
                return;
            }
            let Some(id) = self.queue.borrow_mut().pop_front() else {
                return;
            };
            if self.phase(id) != Some(Phase::Queued) {
                continue;
            }
            if self.continues_upload(id) {
                spawn_local(self.clone().start_file(id));
                continue;
            }
            let mut batch = vec![id];
            let (mut parts, mut body, mut hashing) = self.start_cost(id);
            while batch.len() < FILES_PER_START && parts < 2 * limit && hashing < START_HASHING {
                let Some(next) = self.queue.borrow().front().copied() else {
                    break;
                };
                if self.phase(next) != Some(Phase::Queued) {
                    self.queue.borrow_mut().pop_front();
                    continue;
                }
                let (more_parts, more_body, more_hashing) = self.start_cost(next);
                if self.continues_upload(next) || body + more_body > START_BODY {
                    break;
                }
                self.queue.borrow_mut().pop_front();
                batch.push(next);
                parts += more_parts;
                body += more_body;
                hashing += more_hashing;
            }
            self.starting.set(self.starting.get() + 1);
            spawn_local(self.clone().start_batch(batch));
        }
    }

    fn continues_upload(&self, id: FileId) -> bool {
        self.with_job(id, |j| j.upload_id.is_some())
            .unwrap_or(false)
    }

    /// What a file adds to a start batch: its parts (as far as the page can tell before the
    /// server plans them), its share of the `start_uploads` body (URL-encoded: up to three
    /// bytes per byte, plus keys) and the bytes to hash first (a one-part file's).
    fn start_cost(&self, id: FileId) -> (usize, usize, u64) {
        let settings = self.settings.get();
        self.with_job(id, |j| {
            let fp = &j.fingerprint;
            let parts = usize::try_from(plan::plan_for(fp.size, &settings).part_count())
                .unwrap_or(usize::MAX);
            let one_part = settings.checksum.is_some() && fp.size <= settings.part_size;
            let read_first = one_part || fp.size <= settings.hash_first_max;
            let body = 3 * (fp.name.len() + fp.content_type.len()) + 200;
            (parts, body, if read_first { fp.size } else { 0 })
        })
        .unwrap_or((1, 0, 0))
    }

    /// Starts fresh files with one call. Each file that fits in one part has its checksum
    /// read first (cheap for a small file, and needed before sending anyway).
    async fn start_batch(self, ids: Vec<FileId>) {
        let settings = self.settings.get();
        let mut batch = Vec::with_capacity(ids.len());
        let mut files = Vec::with_capacity(ids.len());
        for id in ids {
            let Some((task, fp, file)) =
                self.with_job(id, |j| (j.task, j.fingerprint.clone(), j.file.clone()))
            else {
                continue;
            };
            task.set_phase(Phase::Starting);
            let Ok((checksum, sha256)) = first_read(&settings, &fp, &file).await else {
                self.fail(id, self.unreadable(id));
                continue;
            };
            files.push(FileToStart {
                name: fp.name,
                size: fp.size,
                content_type: fp.content_type,
                checksum: checksum.clone(),
                sha256: sha256.clone(),
            });
            batch.push((id, checksum, sha256));
        }
        if !batch.is_empty() {
            match persist(|| start_uploads(files.clone())).await {
                Ok(answers) => {
                    for ((id, first_part, sha256), answer) in batch.into_iter().zip(answers) {
                        match answer {
                            Ok(started) => self
                                .begin(id, Begun::started(started, first_part, sha256.as_deref())),
                            Err(ApiError::TooManyActive { .. }) => self.start_later(id),
                            Err(e) => self.refuse_or_fail(id, e),
                        }
                    }
                }
                Err(e) => {
                    for (id, _, _) in batch {
                        self.fail(id, e.to_string());
                    }
                }
            }
        }
        self.starting.set(self.starting.get() - 1);
        self.wake();
    }

    /// The server has as many of the caller's uploads unfinished as it allows: the file waits
    /// at the head of the queue, and starting pauses, until some of them finish (a picking of
    /// 10,000 files runs into that cap while earlier files wait for their verification).
    fn start_later(&self, id: FileId) {
        if let Some(task) = self.with_job(id, |j| j.task) {
            task.set_phase(Phase::Queued);
        }
        self.queue.borrow_mut().push_front(id);
        self.hold_starts_until
            .set(browser::now_ms() + START_HOLD.as_secs_f64() * 1000.0);
        let engine = self.clone();
        spawn_local(async move {
            browser::sleep(START_HOLD).await;
            engine.wake();
        });
    }

    /// Picks up a file's unfinished upload (asking the store what it holds), or starts it
    /// afresh when the server no longer continues it.
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
                    self.start_one(&fp).await
                }
                other => other,
            },
            None => self.start_one(&fp).await,
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
                self.refuse_or_fail(id, e);
            }
        }
        self.wake();
    }

    /// Was this file matched to an unfinished upload by the main picker (rather than offered
    /// for it explicitly, or resumed after a pause on this page)?
    fn is_fresh_pick(&self, id: FileId) -> bool {
        self.with_job(id, |j| j.plan.is_none()).unwrap_or(false)
    }

    async fn start_one(&self, fp: &Fingerprint) -> Result<Begun, ApiError> {
        let file = FileToStart {
            name: fp.name.clone(),
            size: fp.size,
            content_type: fp.content_type.clone(),
            checksum: None,
            sha256: None,
        };
        let mut answers = persist(|| start_uploads(vec![file.clone()])).await?;
        let started = answers.pop().ok_or_else(ApiError::internal)??;
        Ok(Begun::started(started, None, None))
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
            signed: Vec::new(),
            first_part: None,
        })
    }

    fn begin(&self, id: FileId, begun: Begun) {
        let Begun {
            upload_id,
            plan,
            done,
            checksum,
            signed,
            first_part,
        } = begun;
        let stored = Remaining::from_done(plan, &done).held_bytes;
        let Some((task, fingerprint)) = self.with_job_mut(id, |job| {
            job.upload_id = Some(upload_id.clone());
            job.plan = Some(plan);
            job.checksum = checksum;
            // The whole file's checksum is its only part's, and the URL was signed for it.
            if let (Some(value), 1) = (first_part, plan.part_count()) {
                job.checksums.insert(1, value);
            }
            for part in signed {
                let until = super::signing::fresh_until(&part.request);
                job.urls.insert(part.part_number, (part.request, until));
            }
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
            self.complete_soon(id);
        }
    }
}
