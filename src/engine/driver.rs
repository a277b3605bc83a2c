//! Runs every upload on the page. One pump takes parts from the shared [`Scheduler`] while the
//! pool has room and sends each in its own task; files are started (or resumed) lazily, just
//! before the pool would run dry, so a queue of a thousand files does not put a thousand
//! uploads on the server's death row at once.
//!
//! Nothing here holds a `RefCell` borrow across an `.await`: every await point may run other
//! parts' callbacks in between.

use super::{
    browser, digest,
    progress::Progress,
    rate::Rate,
    resume::{Fingerprint, Ledger, Unfinished},
    retry::{self, PutError, Verdict},
    scheduler::{FileId, Scheduler},
    task::{Command, EngineView, Phase, UploadTask},
    xhr,
};
use crate::{
    api::{
        abort_upload, complete_upload, get_engine_settings, keep_upload_alive, list_uploads,
        resume_upload, sign_parts, start_upload,
    },
    checksum::ChecksumAlgorithm,
    error::ApiError,
    model::{EngineSettings, PartPlan, PartToSign, SignedRequest, UploadStatus},
};
use futures::{channel::mpsc, lock::Mutex, StreamExt};
use leptos::{prelude::*, task::spawn_local};
use std::{
    cell::{Cell, OnceCell, RefCell},
    collections::{BTreeMap, HashMap, VecDeque},
    future::Future,
    rc::Rc,
    time::Duration,
};
use wasm_bindgen::JsCast;
use web_sys::{Blob, File, XmlHttpRequest};

/// Part URLs asked for in one `sign_parts` call: two pools' worth, so the next batch is
/// signed while the previous one is still being sent.
const SIGN_BATCH_PER_SLOT: usize = 2;
/// A URL is used only in the first three quarters of its life, so it cannot expire between
/// the check and the store reading the request (counted on the browser's own clock).
const URL_LIFE_USED: f64 = 0.75;
/// Files being started (or resumed) at once.
const STARTING_AT_ONCE: usize = 2;
/// How often the page's figures (bytes, percent, speed, time left) are refreshed. Progress
/// events arrive far more often (every few ms across six requests); redrawing on each would
/// spend on the page the CPU the upload needs.
const TICK: Duration = Duration::from_millis(250);
/// An upload with parts on their way tells the server it is alive at least this often, as a
/// share of the upload TTL (a part on a slow link can take longer than the TTL).
const KEEP_ALIVE_SHARE: f64 = 0.25;

thread_local! {
    static ENGINE: OnceCell<Engine> = const { OnceCell::new() };
}

/// Creates the page's engine, once, writing into `view`.
pub fn install(view: EngineView) {
    ENGINE.with(|cell| {
        if cell.get().is_none() {
            let engine = Engine::new(view);
            let _ = cell.set(engine.clone());
            engine.run();
        }
    });
}

fn engine() -> Option<Engine> {
    ENGINE.with(|cell| cell.get().cloned())
}

/// Files picked or dropped: new uploads, or the continuation of an unfinished one when a file
/// has the same fingerprint.
pub fn add_files(files: Vec<File>) {
    if let Some(engine) = engine() {
        engine.add(files);
    }
}

/// A file offered for one particular unfinished upload: refused, with the reason shown, unless
/// it is that file.
pub fn resume_with(upload_id: &str, file: File) {
    if let Some(engine) = engine() {
        engine.resume_with(upload_id, file);
    }
}

pub fn command(command: Command) {
    let Some(engine) = engine() else { return };
    let all = || engine.0.jobs.borrow().keys().copied().collect::<Vec<_>>();
    match command {
        Command::Pause(id) => engine.pause(id),
        Command::Resume(id) => engine.resume(id),
        Command::Cancel(id) => engine.cancel(id),
        Command::PauseAll => all().into_iter().for_each(|id| engine.pause(id)),
        Command::ResumeAll => all().into_iter().for_each(|id| engine.resume(id)),
        Command::CancelAll => all().into_iter().for_each(|id| engine.cancel(id)),
        Command::Discard(upload_id) => engine.discard(upload_id),
    }
}

#[derive(Clone)]
struct Engine(Rc<Inner>);

struct Inner {
    view: EngineView,
    scheduler: RefCell<Scheduler>,
    jobs: RefCell<BTreeMap<FileId, Job>>,
    /// Files waiting to be started, in the order they were added.
    queue: RefCell<VecDeque<FileId>>,
    starting: Cell<usize>,
    ledger: RefCell<Ledger>,
    total_rate: RefCell<Rate>,
    /// The server's upload TTL, in ms.
    upload_ttl_ms: Cell<f64>,
    next_id: Cell<FileId>,
    wake: mpsc::UnboundedSender<()>,
    wake_rx: RefCell<Option<mpsc::UnboundedReceiver<()>>>,
}

struct Job {
    file: File,
    task: UploadTask,
    fingerprint: Fingerprint,
    /// The server's id, once started; or the unfinished upload this file continues.
    upload_id: Option<String>,
    plan: Option<PartPlan>,
    progress: Progress,
    rate: Rate,
    /// The checksum the server wants with every part, if any.
    checksum: Option<ChecksumAlgorithm>,
    /// Each part's checksum as first read from the file: signed into its URL, and what a
    /// second reading must match (otherwise the file changed under the upload).
    checksums: HashMap<u32, String>,
    /// Signed URLs not used yet, with the time (ms, browser clock) they stop being fresh.
    urls: HashMap<u32, (SignedRequest, f64)>,
    in_flight: HashMap<u32, XmlHttpRequest>,
    /// When (browser clock) the server last heard of this upload: it expires a TTL later.
    heard_at: f64,
    /// One `sign_parts` call at a time per file, so parts starting together share a batch.
    signing: Rc<Mutex<()>>,
}

/// What a start or a resume found out.
struct Begun {
    upload_id: String,
    plan: PartPlan,
    done: Vec<u32>,
    checksum: Option<ChecksumAlgorithm>,
}

impl Engine {
    fn new(view: EngineView) -> Self {
        let (wake, wake_rx) = mpsc::unbounded();
        Self(Rc::new(Inner {
            view,
            scheduler: RefCell::new(Scheduler::new(
                EngineSettings::default().parallel_parts as usize,
            )),
            jobs: RefCell::new(BTreeMap::new()),
            queue: RefCell::new(VecDeque::new()),
            starting: Cell::new(0),
            ledger: RefCell::new(browser::load_ledger()),
            total_rate: RefCell::new(Rate::default()),
            upload_ttl_ms: Cell::new(EngineSettings::default().upload_ttl_secs as f64 * 1000.0),
            next_id: Cell::new(1),
            wake,
            wake_rx: RefCell::new(Some(wake_rx)),
        }))
    }

    fn run(&self) {
        let view = self.0.view;
        view.online.set(browser::online());
        browser::on_network_change(move |online| view.online.set(online));

        let engine = self.clone();
        spawn_local(async move {
            if let Ok(settings) = get_engine_settings().await {
                engine
                    .0
                    .scheduler
                    .borrow_mut()
                    .set_limit(settings.parallel_parts as usize);
                engine
                    .0
                    .upload_ttl_ms
                    .set(settings.upload_ttl_secs as f64 * 1000.0);
                engine.wake();
            }
        });
        let engine = self.clone();
        spawn_local(async move { engine.show_unfinished().await });
        let engine = self.clone();
        browser::every(TICK, move || engine.tick());
        let engine = self.clone();
        spawn_local(async move { engine.pump().await });
    }

    fn wake(&self) {
        let _ = self.0.wake.unbounded_send(());
    }

    /// Starts files and parts whenever something changed, for as long as the page lives.
    async fn pump(self) {
        let Some(mut wakes) = self.0.wake_rx.borrow_mut().take() else {
            return;
        };
        loop {
            self.start_queued();
            loop {
                let next = self.0.scheduler.borrow_mut().take_next();
                let Some((id, part)) = next else { break };
                spawn_local(self.clone().send_part(id, part));
            }
            if wakes.next().await.is_none() {
                return;
            }
        }
    }

    /// Starts the next queued files while the pool is about to run out of parts to send.
    fn start_queued(&self) {
        loop {
            let (waiting, limit) = {
                let s = self.0.scheduler.borrow();
                (s.waiting(), s.limit())
            };
            if waiting >= limit || self.0.starting.get() >= STARTING_AT_ONCE {
                return;
            }
            let Some(id) = self.0.queue.borrow_mut().pop_front() else {
                return;
            };
            if self.phase(id) == Some(Phase::Queued) {
                spawn_local(self.clone().start(id));
            }
        }
    }

    fn add(&self, files: Vec<File>) {
        for file in files {
            let fingerprint = fingerprint(&file);
            let busy = self.busy_uploads();
            let resume = self
                .0
                .ledger
                .borrow()
                .matching(&fingerprint, &busy)
                .map(|e| e.upload_id.clone());
            self.enqueue(file, fingerprint, resume);
        }
        self.wake();
    }

    fn resume_with(&self, upload_id: &str, file: File) {
        let offered = fingerprint(&file);
        let entry = self
            .0
            .ledger
            .borrow()
            .entries
            .iter()
            .find(|e| e.upload_id == upload_id)
            .cloned();
        let view = self.0.view;
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
        let id = self.0.next_id.get();
        self.0.next_id.set(id + 1);
        let task = UploadTask::new(id, file.name(), fingerprint.size);
        if let Some(upload_id) = &resume {
            self.0
                .view
                .unfinished
                .update(|list| list.retain(|e| &e.upload_id != upload_id));
        }
        self.0.jobs.borrow_mut().insert(
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
        self.0.queue.borrow_mut().push_back(id);
        self.0.view.tasks.update(|tasks| tasks.push(task));
    }

    /// Starts a file, or picks up its unfinished upload (asking the store what it holds).
    async fn start(self, id: FileId) {
        let Some((task, fp, known)) =
            self.with_job(id, |j| (j.task, j.fingerprint.clone(), j.upload_id.clone()))
        else {
            return;
        };
        self.0.starting.set(self.0.starting.get() + 1);
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
        self.0.starting.set(self.0.starting.get() - 1);
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
        self.0.ledger.borrow_mut().remember(Unfinished {
            upload_id: upload_id.clone(),
            file: fingerprint,
        });
        self.save_ledger();

        match task.phase.get_untracked() {
            // Cancelled while it was starting: the server has an upload to throw away.
            Phase::Aborted => return self.abort_on_server(upload_id),
            Phase::Paused => {
                self.0
                    .scheduler
                    .borrow_mut()
                    .plan(id, plan.part_count(), &done);
                self.0.scheduler.borrow_mut().pause(id);
                return;
            }
            _ => {}
        }
        self.0
            .scheduler
            .borrow_mut()
            .plan(id, plan.part_count(), &done);
        task.set_phase(Phase::Uploading);
        if self.0.scheduler.borrow().is_complete(id) {
            spawn_local(self.clone().complete(id));
        }
    }

    /// Sends one part until it arrives, the file stops, or retrying cannot help.
    async fn send_part(self, id: FileId, part: u32) {
        let mut failures = 0;
        let mut resigns = 0;
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
                Err(e) if e.is_transient() => {
                    failures += 1;
                    if failures >= retry::MAX_ATTEMPTS {
                        return self.fail(id, e.to_string());
                    }
                    browser::sleep(retry::backoff(failures, browser::random())).await;
                    continue;
                }
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
            let progress = {
                let engine = self.clone();
                move |loaded: u64| engine.sending(id, part, loaded)
            };
            let started = |xhr: &XmlHttpRequest| {
                self.with_job_mut(id, |j| j.in_flight.insert(part, xhr.clone()));
            };
            let result = xhr::put(&request, &body, timeout_ms(len), progress, started).await;
            self.with_job_mut(id, |j| {
                j.in_flight.remove(&part);
                j.urls.remove(&part);
                if result.is_err() {
                    j.progress.failed(part);
                }
            });
            let error = match result {
                Ok(()) => return self.part_done(id, part, len),
                Err(PutError::Aborted) => return self.release(id, part),
                Err(e) => e,
            };
            match retry::judge(&error) {
                Verdict::Resign => {
                    resigns += 1;
                    if resigns > retry::MAX_RESIGNS {
                        return self.fail(id, format!("Upload failed: {error}."));
                    }
                }
                // The store refused bytes that differ from the checksum: damaged on the way
                // (send them again), or the file itself changed (stop: the upload would mix
                // two versions of it).
                Verdict::Reread => {
                    failures += 1;
                    if let Err(message) = self.recheck(id, part).await {
                        return self.fail(id, message);
                    }
                    if failures >= retry::MAX_ATTEMPTS {
                        return self.fail(id, format!("Upload failed: {error}."));
                    }
                    self.note(
                        id,
                        Some(format!(
                            "Part {part} arrived damaged; sending it again (attempt {} of {}).",
                            failures + 1,
                            retry::MAX_ATTEMPTS
                        )),
                    );
                }
                // Offline: not a failure; the loop waits for the network.
                Verdict::Retry if !browser::online() => {}
                Verdict::Retry if !self.readable(id, part).await => {
                    return self.fail(id, self.unreadable(id));
                }
                Verdict::Retry => {
                    failures += 1;
                    if failures >= retry::MAX_ATTEMPTS {
                        return self.fail(id, format!("Upload failed: {error}."));
                    }
                    let pause = retry::backoff(failures, browser::random());
                    self.note(
                        id,
                        Some(format!(
                            "Part {part}: {error}; trying again in {} (attempt {} of {}).",
                            crate::format::duration(pause.as_secs_f64()),
                            failures + 1,
                            retry::MAX_ATTEMPTS
                        )),
                    );
                    browser::sleep(pause).await;
                }
                Verdict::Fatal(message) => return self.fail(id, message),
            }
        }
    }

    /// Computes the part's checksum from the file, once, when the upload wants one.
    async fn read_checksum(&self, id: FileId, part: u32) -> Result<(), String> {
        let needed = self
            .with_job(id, |j| {
                j.checksum.filter(|_| !j.checksums.contains_key(&part))
            })
            .flatten();
        let Some(algorithm) = needed else {
            return Ok(());
        };
        let value = self.digest(id, part, algorithm).await?;
        self.with_job_mut(id, |j| {
            j.checksums.entry(part).or_insert(value);
        });
        Ok(())
    }

    /// Reads the part again after the store refused its bytes: the same checksum means they
    /// were damaged on the way; another means the file changed since the upload began.
    async fn recheck(&self, id: FileId, part: u32) -> Result<(), String> {
        let Some((Some(algorithm), first, name)) = self.with_job(id, |j| {
            (
                j.checksum,
                j.checksums.get(&part).cloned(),
                j.fingerprint.name.clone(),
            )
        }) else {
            return Ok(());
        };
        let now = self.digest(id, part, algorithm).await?;
        if first.is_some_and(|first| first != now) {
            return Err(format!(
                "{name} changed while it was being uploaded, so the parts sent no longer fit \
                 together. Pick it again to upload it as it is now."
            ));
        }
        Ok(())
    }

    async fn digest(
        &self,
        id: FileId,
        part: u32,
        algorithm: ChecksumAlgorithm,
    ) -> Result<String, String> {
        let (blob, _) = self.slice(id, part).ok_or_else(|| self.unreadable(id))?;
        digest::of(&blob, algorithm)
            .await
            .map_err(|digest::Unreadable| self.unreadable(id))
    }

    async fn readable(&self, id: FileId, part: u32) -> bool {
        match self.slice(id, part) {
            Some((blob, _)) => digest::readable(&blob).await,
            None => false,
        }
    }

    fn unreadable(&self, id: FileId) -> String {
        let name = self
            .with_job(id, |j| j.fingerprint.name.clone())
            .unwrap_or_default();
        format!(
            "{name} can no longer be read: it was changed, moved or deleted after it was \
             picked. Pick it again to continue."
        )
    }

    /// A fresh URL for `part`, signing it (and the parts due next) if none is at hand.
    async fn url_for(&self, id: FileId, part: u32) -> Result<SignedRequest, ApiError> {
        let Some(lock) = self.with_job(id, |j| j.signing.clone()) else {
            return Err(ApiError::NotFound);
        };
        let _signing = lock.lock().await;
        let now = browser::now_ms();
        let cached = self
            .with_job(id, |j| {
                j.urls
                    .get(&part)
                    .filter(|(_, until)| *until > now)
                    .map(|(r, _)| r.clone())
            })
            .flatten();
        if let Some(request) = cached {
            return Ok(request);
        }
        let upload_id = self
            .with_job(id, |j| j.upload_id.clone())
            .flatten()
            .ok_or(ApiError::NotFound)?;
        // This part, the others already running without a URL (parts start together), and
        // the ones due next.
        let batch_len = self.0.scheduler.borrow().limit() * SIGN_BATCH_PER_SLOT;
        let candidates = {
            let s = self.0.scheduler.borrow();
            let mut c = s.running(id);
            c.extend(s.upcoming(id, 0, batch_len));
            c
        };
        // A part can be signed once its checksum is known (if the upload wants one).
        let to_sign = |n: u32| {
            self.with_job(id, |j| {
                let fresh = j.urls.get(&n).is_some_and(|(_, until)| *until > now);
                let checksum = j.checksums.get(&n).cloned();
                (!fresh && (j.checksum.is_none() || checksum.is_some())).then_some(PartToSign {
                    part_number: n,
                    checksum,
                })
            })
            .flatten()
        };
        // This part first: its checksum is known, and its URL is not (or we would not be here).
        let batch: Vec<PartToSign> = std::iter::once(part)
            .chain(candidates.into_iter().filter(|n| *n != part))
            .filter_map(to_sign)
            .take(batch_len)
            .collect();
        let signed = sign_parts(upload_id, batch).await?;
        self.with_job_mut(id, |j| {
            j.heard_at = browser::now_ms();
            for p in signed {
                let until = fresh_until(&p.request);
                j.urls.insert(p.part_number, (p.request, until));
            }
            j.urls.get(&part).map(|(r, _)| r.clone())
        })
        .flatten()
        .ok_or(ApiError::Internal)
    }

    fn slice(&self, id: FileId, part: u32) -> Option<(Blob, u64)> {
        self.with_job(id, |j| {
            let (start, end) = j.plan?.range(part)?;
            let blob: &Blob = j.file.unchecked_ref();
            let slice = blob.slice_with_f64_and_f64(start as f64, end as f64).ok()?;
            Some((slice, end - start))
        })
        .flatten()
    }

    fn sending(&self, id: FileId, part: u32, loaded: u64) {
        self.with_job_mut(id, |j| j.progress.sending(part, loaded));
    }

    fn part_done(&self, id: FileId, part: u32, len: u64) {
        self.with_job_mut(id, |j| {
            j.progress.finished(part, len);
            j.task.show(&j.progress);
        });
        self.note(id, None);
        let complete = {
            let mut s = self.0.scheduler.borrow_mut();
            s.finished(id, part);
            s.is_complete(id)
        };
        if complete && self.phase(id) == Some(Phase::Uploading) {
            spawn_local(self.clone().complete(id));
        }
        self.wake();
    }

    fn release(&self, id: FileId, part: u32) {
        self.0.scheduler.borrow_mut().released(id, part);
        self.wake();
    }

    /// Every part is in the store: the server checks them (never trusting us) and completes.
    async fn complete(self, id: FileId) {
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
                self.0
                    .scheduler
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
        self.0.scheduler.borrow_mut().remove(id);
        self.forget(upload_id);
        self.0.view.library_version.update(|v| *v += 1);
    }

    fn pause(&self, id: FileId) {
        let Some(phase) = self.phase(id) else { return };
        if !phase.is_active() {
            return;
        }
        self.set_phase(id, Phase::Paused);
        self.0.scheduler.borrow_mut().pause(id);
        self.abort_in_flight(id);
    }

    /// Continues a paused or failed file: the store says which parts it already holds.
    fn resume(&self, id: FileId) {
        let Some(phase) = self.phase(id) else { return };
        if !phase.can_resume() {
            return;
        }
        let started = self
            .with_job(id, |j| j.upload_id.is_some())
            .unwrap_or(false);
        self.set_phase(id, Phase::Queued);
        if started {
            spawn_local(self.clone().start(id));
        } else {
            self.0.queue.borrow_mut().push_front(id);
            self.wake();
        }
    }

    fn cancel(&self, id: FileId) {
        let Some(phase) = self.phase(id) else { return };
        if phase.is_settled() || phase == Phase::Verifying {
            return;
        }
        self.set_phase(id, Phase::Aborted);
        self.0.queue.borrow_mut().retain(|q| *q != id);
        self.0.scheduler.borrow_mut().remove(id);
        self.abort_in_flight(id);
        // While starting, the upload id is not known yet; `begin` aborts it when it is.
        if phase != Phase::Starting {
            if let Some(upload_id) = self.with_job(id, |j| j.upload_id.clone()).flatten() {
                self.abort_on_server(upload_id);
            }
        }
        self.wake();
    }

    fn discard(&self, upload_id: String) {
        self.0
            .view
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
            engine.0.view.library_version.update(|v| *v += 1);
        });
    }

    fn fail(&self, id: FileId, message: String) {
        if self.phase(id).is_some_and(|p| p.is_settled()) {
            return;
        }
        if let Some(task) = self.with_job(id, |j| j.task) {
            task.failed(message);
        }
        self.0.scheduler.borrow_mut().pause(id);
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

    /// Refreshes what the page shows: bytes and percent, speeds and times left, per file and
    /// in total.
    fn tick(&self) {
        let now = browser::now_ms();
        let keep_alive_after = self.0.upload_ttl_ms.get() * KEEP_ALIVE_SHARE;
        let mut alive = Vec::new();
        for job in self.0.jobs.borrow_mut().values_mut() {
            if job.task.phase.get_untracked() != Phase::Uploading {
                continue;
            }
            if !job.in_flight.is_empty() && now - job.heard_at > keep_alive_after {
                job.heard_at = now;
                alive.extend(job.upload_id.clone());
            }
            if job.task.sent.get_untracked() != job.progress.sent() {
                job.task.show(&job.progress);
            }
            job.rate.record(now, job.progress.sent());
            job.task.speed.set(job.rate.bytes_per_second());
            job.task.seconds_left.set(
                job.rate
                    .seconds_left(job.progress.total() - job.progress.sent()),
            );
        }
        for upload_id in alive {
            spawn_local(async move {
                // A failure here is not the file's: its parts go on, and a closed upload
                // shows itself through them.
                if let Err(e) = keep_upload_alive(upload_id.clone()).await {
                    leptos::logging::warn!("could not keep upload {upload_id} alive: {e}");
                }
            });
        }
        let view = self.0.view;
        let uploading = view.tasks.with_untracked(|tasks| {
            tasks
                .iter()
                .any(|t| t.phase.get_untracked() == Phase::Uploading)
        });
        let mut rate = self.0.total_rate.borrow_mut();
        if uploading {
            // The engine's clock must not subscribe to what it reads.
            let (sent, size) = untrack(|| view.totals());
            rate.record(now, sent);
            view.total_speed.set(rate.bytes_per_second());
            view.total_seconds_left
                .set(rate.seconds_left(size.saturating_sub(sent)));
        } else {
            rate.reset();
            view.total_speed.set(None);
            view.total_seconds_left.set(None);
        }
    }

    /// After a reload: the uploads this browser left unfinished that the server still
    /// continues, listed so the person can pick their files again.
    async fn show_unfinished(self) {
        if self.0.ledger.borrow().entries.is_empty() {
            return;
        }
        // Unfinished uploads are recent, so they are on the first pages; read on until every
        // one the ledger names has been seen (or a few pages have been read).
        const MAX_PAGES: usize = 10;
        let mut wanted: Vec<String> = self
            .0
            .ledger
            .borrow()
            .entries
            .iter()
            .map(|e| e.upload_id.clone())
            .collect();
        let mut open = Vec::new();
        let mut cursor = None;
        for _ in 0..MAX_PAGES {
            let Ok(page) = list_uploads(cursor).await else {
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
        self.0.ledger.borrow_mut().retain_open(&open);
        self.save_ledger();
        let busy = self.busy_uploads();
        let waiting: Vec<Unfinished> = self
            .0
            .ledger
            .borrow()
            .entries
            .iter()
            .filter(|e| !busy.contains(&e.upload_id))
            .cloned()
            .collect();
        self.0.view.unfinished.set(waiting);
    }

    fn forget(&self, upload_id: &str) {
        self.0.ledger.borrow_mut().forget(upload_id);
        self.save_ledger();
    }

    fn save_ledger(&self) {
        browser::save_ledger(&self.0.ledger.borrow());
    }

    /// Uploads that files on this page are already sending.
    fn busy_uploads(&self) -> Vec<String> {
        self.0
            .jobs
            .borrow()
            .values()
            .filter(|j| !j.task.phase.get_untracked().is_settled())
            .filter_map(|j| j.upload_id.clone())
            .collect()
    }

    fn note(&self, id: FileId, note: Option<String>) {
        if let Some(task) = self.with_job(id, |j| j.task) {
            task.note.set(note);
        }
    }

    fn phase(&self, id: FileId) -> Option<Phase> {
        self.with_job(id, |j| j.task.phase.get_untracked())
    }

    fn set_phase(&self, id: FileId, phase: Phase) {
        if let Some(task) = self.with_job(id, |j| j.task) {
            task.set_phase(phase);
        }
    }

    fn with_job<T>(&self, id: FileId, f: impl FnOnce(&Job) -> T) -> Option<T> {
        self.0.jobs.borrow().get(&id).map(f)
    }

    fn with_job_mut<T>(&self, id: FileId, f: impl FnOnce(&mut Job) -> T) -> Option<T> {
        self.0.jobs.borrow_mut().get_mut(&id).map(f)
    }
}

fn fingerprint(file: &File) -> Fingerprint {
    Fingerprint {
        name: file.name(),
        size: file.size() as u64,
        last_modified: file.last_modified() as i64,
        content_type: file.type_(),
    }
}

fn fresh_until(request: &SignedRequest) -> f64 {
    browser::now_ms() + request.valid_for_secs as f64 * 1000.0 * URL_LIFE_USED
}

/// Generous: a part may crawl over a bad connection, but a request that hears nothing for
/// this long is dead. A minute plus the part at 16 KiB/s.
fn timeout_ms(len: u64) -> u32 {
    u32::try_from(60_000 + len / 16).unwrap_or(u32::MAX)
}

/// Calls the server until it answers, waiting out lost connections and a briefly unavailable
/// store with the same backoff as parts; other errors are the answer.
async fn persist<T, F, Fut>(call: F) -> Result<T, ApiError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let mut failures = 0;
    loop {
        browser::until_online().await;
        match call().await {
            Err(e) if e.is_transient() && failures + 1 < retry::MAX_ATTEMPTS => {
                if browser::online() {
                    failures += 1;
                    browser::sleep(retry::backoff(failures, browser::random())).await;
                }
            }
            other => return other,
        }
    }
}
