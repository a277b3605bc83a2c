//! Runs every upload on the page. One pump takes parts from the shared [`Scheduler`] while the
//! pool has room and sends each in its own task; files are started (or resumed) lazily, just
//! before the pool would run dry, so a queue of a thousand files does not put a thousand
//! uploads on the server's death row at once.
//!
//! The pieces, by what each decides: [`lifecycle`] (a file picked, paused, resumed, cancelled),
//! [`starting`] (files reach the server, fresh ones in batches), [`completing`] (finished
//! files verified in batches), [`send`]
//! (one part until it arrives), [`signing`] (fresh URLs, in batches), [`integrity`] (reading a
//! part's checksum, and again after the store refused it), [`clock`] (the page's figures and
//! keep-alive), [`ledger`] (uploads to resume after a reload).
//!
//! Nothing here holds a `RefCell` borrow across an `.await`: every await point may run other
//! parts' callbacks in between.

mod clock;
mod completing;
mod integrity;
mod ledger;
mod lifecycle;
mod send;
mod signing;
mod starting;

use super::{
    browser,
    progress::Progress,
    rate::Rate,
    resume::{Fingerprint, Ledger},
    scheduler::{FileId, Scheduler},
    task::{Command, EngineView, Phase, UploadTask},
};
use crate::{
    api::get_engine_settings,
    checksum::ChecksumAlgorithm,
    error::ApiError,
    model::{EngineSettings, PartPlan, SignedRequest},
    protocol::retry::{self, Attempts, Next},
};
use futures::{channel::mpsc, lock::Mutex, StreamExt};
use leptos::{prelude::*, task::spawn_local};
use std::{
    cell::{Cell, RefCell},
    collections::{BTreeMap, HashMap, VecDeque},
    future::Future,
    ops::Deref,
    rc::Rc,
    time::Duration,
};
use web_sys::{File, XmlHttpRequest};

/// The page's engine. Cheap to clone: every clone is the same engine.
#[derive(Clone)]
pub struct Engine(Rc<Inner>);

pub struct Inner {
    view: EngineView,
    scheduler: RefCell<Scheduler>,
    jobs: RefCell<BTreeMap<FileId, Job>>,
    /// Files waiting to be started, in the order they were added.
    queue: RefCell<VecDeque<FileId>>,
    /// Start calls out (batches of fresh files, or single resumes).
    starting: Cell<usize>,
    /// No file starts before this time (browser clock, ms): the server said the caller has
    /// as many unfinished uploads as it may, and some must finish first.
    hold_starts_until: Cell<f64>,
    /// Files whose parts have all arrived, waiting for the next `complete_uploads` call.
    completing: RefCell<VecDeque<FileId>>,
    completing_busy: Cell<bool>,
    ledger: RefCell<Ledger>,
    /// A write of the ledger is queued for the end of this turn.
    ledger_dirty: Cell<bool>,
    total_rate: RefCell<Rate>,
    settings: Cell<EngineSettings>,
    next_id: Cell<FileId>,
    wake: mpsc::UnboundedSender<()>,
    wake_rx: RefCell<Option<mpsc::UnboundedReceiver<()>>>,
}

impl Deref for Engine {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
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

impl Engine {
    /// Creates the engine writing into `view` and starts it.
    pub fn start(view: EngineView) -> Self {
        let (wake, wake_rx) = mpsc::unbounded();
        let engine = Self(Rc::new(Inner {
            view,
            scheduler: RefCell::new(Scheduler::new(
                EngineSettings::default().parallel_parts as usize,
            )),
            jobs: RefCell::new(BTreeMap::new()),
            queue: RefCell::new(VecDeque::new()),
            starting: Cell::new(0),
            hold_starts_until: Cell::new(0.0),
            completing: RefCell::new(VecDeque::new()),
            completing_busy: Cell::new(false),
            ledger: RefCell::new(browser::load_ledger()),
            ledger_dirty: Cell::new(false),
            total_rate: RefCell::new(Rate::default()),
            settings: Cell::new(EngineSettings::default()),
            next_id: Cell::new(1),
            wake,
            wake_rx: RefCell::new(Some(wake_rx)),
        }));
        engine.run();
        engine
    }

    fn run(&self) {
        let view = self.view;
        view.online.set(browser::online());
        browser::on_network_change(move |online| view.online.set(online));

        let engine = self.clone();
        spawn_local(async move {
            if let Ok(settings) = get_engine_settings().await {
                engine
                    .scheduler
                    .borrow_mut()
                    .set_limit(settings.parallel_parts as usize);
                engine.settings.set(settings);
                engine.wake();
            }
        });
        let engine = self.clone();
        spawn_local(async move { engine.show_unfinished().await });
        self.clone().start_clock();
        let engine = self.clone();
        spawn_local(async move { engine.pump().await });
    }

    /// A person's command from the page.
    pub fn command(&self, command: Command) {
        let all = || self.jobs.borrow().keys().copied().collect::<Vec<_>>();
        match command {
            Command::Pause(id) => self.pause(id),
            Command::Resume(id) => self.resume(id),
            Command::Cancel(id) => self.cancel(id),
            Command::PauseAll => all().into_iter().for_each(|id| self.pause(id)),
            Command::ResumeAll => all().into_iter().for_each(|id| self.resume(id)),
            Command::CancelAll => all().into_iter().for_each(|id| self.cancel(id)),
            Command::Discard(upload_id) => self.discard(upload_id),
        }
    }

    fn wake(&self) {
        let _ = self.wake.unbounded_send(());
    }

    /// Starts files and parts whenever something changed, for as long as the page lives.
    async fn pump(self) {
        let Some(mut wakes) = self.wake_rx.borrow_mut().take() else {
            return;
        };
        loop {
            self.start_queued();
            loop {
                let next = self.scheduler.borrow_mut().take_next();
                let Some((id, part)) = next else { break };
                spawn_local(self.clone().send_part(id, part));
            }
            if wakes.next().await.is_none() {
                return;
            }
        }
    }

    fn note(&self, id: FileId, note: Option<String>) {
        if let Some(task) = self.with_job(id, |j| j.task) {
            task.note.set(note);
        }
    }

    /// The picked file behind task `id`, for its row's picture.
    pub fn file(&self, id: FileId) -> Option<File> {
        self.with_job(id, |j| j.file.clone())
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
        self.jobs.borrow().get(&id).map(f)
    }

    fn with_job_mut<T>(&self, id: FileId, f: impl FnOnce(&mut Job) -> T) -> Option<T> {
        self.jobs.borrow_mut().get_mut(&id).map(f)
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

/// Calls the server until it answers, waiting out lost connections and a briefly unavailable
/// store with the same backoff as parts; other errors are the answer.
async fn persist<T, F, Fut>(call: F) -> Result<T, ApiError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let mut attempts = Attempts::default();
    loop {
        browser::until_online().await;
        match call().await {
            // Lost offline: not a failure; the loop waits for the network.
            Err(e) if e.is_transient() && !browser::online() => {}
            Err(ApiError::RateLimited { retry_after_secs }) => {
                let asked = Duration::from_secs(retry_after_secs);
                browser::sleep(retry::as_asked(asked, browser::random())).await;
            }
            Err(e) if e.is_transient() => match attempts.failed(browser::random()) {
                Next::RetryAfter { pause, .. } => browser::sleep(pause).await,
                _ => return Err(e),
            },
            other => return other,
        }
    }
}
