//! The workers: each takes the next due job from the queue, runs it while renewing its lease,
//! and records how it ended. Retries wait out a doubling backoff; a failure that would repeat
//! itself (a damaged file) fails at once.

use super::{
    hash, hls, isolation::Isolated, media, poster, scan, thumbnail, Finished, Isolation, JobError,
    JobKind, ProcessingSettings,
};
use crate::{
    clock::{millis, SharedClock},
    db::{
        self,
        jobs::{Findings, JobRow, Outcome},
        Pool,
    },
    live::Bell,
    model::{Scan, ScanMode},
    storage::s3::S3Store,
};
use std::{sync::Arc, time::Duration};
use tokio::{sync::Notify, task::JoinHandle};

/// How often an idle worker looks for jobs queued by another process (or whose lease lapsed);
/// jobs queued by this process wake it at once.
const POLL: Duration = Duration::from_secs(1);

pub struct Workers {
    db: Pool,
    store: S3Store,
    settings: ProcessingSettings,
    /// Decoding in a child process per job; `None`: in this one (`inline`, for debugging).
    isolated: Option<Isolated>,
    clock: SharedClock,
    /// Rung when jobs are queued in this process.
    pub queued: Arc<Notify>,
    /// Rung when a job's end wrote an event.
    bell: Bell,
    /// This process's name in the `worker` column.
    name: String,
    /// The running workers, stopped by [`Workers::stop`].
    running: std::sync::Mutex<Vec<JoinHandle<()>>>,
    /// Set when the process is stopping: a run that ends now (its decoder perhaps stopped by
    /// the same signal) is not recorded; its job is handed back instead.
    stopping: std::sync::atomic::AtomicBool,
}

impl Workers {
    pub fn new(
        db: Pool,
        store: S3Store,
        settings: ProcessingSettings,
        clock: SharedClock,
        queued: Arc<Notify>,
        bell: Bell,
    ) -> Self {
        let isolated = (settings.isolation == Isolation::Child).then(|| Isolated::new(&settings));
        Self {
            db,
            store,
            settings,
            isolated,
            clock,
            queued,
            bell,
            name: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            running: std::sync::Mutex::default(),
            stopping: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Runs `count` workers until [`Workers::stop`] or the process ends.
    pub fn spawn(self: &Arc<Self>, count: usize) {
        if count > 0 {
            let settings = self.settings.transcoding.clone();
            tokio::task::spawn_blocking(move || {
                let swept = hls::sweep_scratch(&settings);
                if swept > 0 {
                    tracing::info!(
                        swept,
                        "worker: folders of transcodes that died were removed"
                    );
                }
            });
        }
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        for index in 0..count {
            let workers = self.clone();
            running.push(tokio::spawn(async move { workers.run(index).await }));
        }
    }

    /// A clean shutdown: the workers stop where they are (their decoders are killed with
    /// them) and their jobs go back to the queue at once, so that a restart costs no job an
    /// attempt and is not mistaken for a job that kills its worker.
    pub async fn stop(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let running = std::mem::take(&mut *self.running.lock().unwrap_or_else(|e| e.into_inner()));
        for handle in &running {
            handle.abort();
        }
        for handle in running {
            let _ = handle.await;
        }
        match db::jobs::release(&self.db, &self.name, self.clock.now_ms()).await {
            Ok(0) => {}
            Ok(released) => tracing::info!(released, "worker: jobs handed back to the queue"),
            Err(error) => {
                tracing::warn!(%error, "worker: cannot hand jobs back; their leases will lapse")
            }
        }
    }

    async fn run(&self, index: usize) {
        let me = format!("{}/{index}", self.name);
        loop {
            // Listening before looking: a job queued between the two still wakes us.
            let queued = self.queued.notified();
            tokio::pin!(queued);
            queued.as_mut().enable();
            match self.next(&me).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "worker: cannot reach the queue"),
            }
            tokio::select! {
                _ = queued => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Claims and runs one job. `false`: nothing was due.
    pub async fn next(&self, me: &str) -> Result<bool, db::DbError> {
        if self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(false);
        }
        let now = self.clock.now_ms();
        let lease = millis(self.settings.lease);
        let Some(job) = db::jobs::claim(&self.db, me, now, now + lease).await? else {
            return Ok(false);
        };
        self.bell.ring();
        let started = std::time::Instant::now();
        let result = tokio::select! {
            result = self.perform(&job, me) => Some(result),
            () = self.keep_lease(&job, me) => None,
        };
        let Some(result) = result else {
            tracing::warn!(
                job = job.id,
                kind = job.kind,
                "worker: lost the job's lease; another worker has it"
            );
            return Ok(true);
        };
        if self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(false);
        }
        let (outcome, findings) = self.outcome(&job, result);
        metrics::histogram!(
            crate::observe::metrics::JOB_SECONDS,
            "kind" => job.kind.clone(),
            "outcome" => outcome.word(),
        )
        .record(started.elapsed().as_secs_f64());
        tracing::info!(
            job = job.id,
            kind = job.kind,
            upload = job.upload_id,
            attempt = job.attempts,
            ms = started.elapsed().as_millis() as u64,
            outcome = ?outcome,
            "worker: job finished"
        );
        let mine =
            db::jobs::finish(&self.db, &job, me, &outcome, &findings, self.clock.now_ms()).await?;
        // A rung that will not be made leaves no object behind: its reservation goes, and
        // whatever it wrote is doomed.
        let kind = JobKind::parse(&job.kind);
        if mine
            && matches!(outcome, Outcome::Failed(_))
            && kind.is_some_and(JobKind::makes_rendition)
        {
            let height = kind.and_then(JobKind::rung);
            db::renditions::abandon(&self.db, &job.upload_id, height, self.clock.now_ms()).await?;
        }
        if mine {
            self.fold(&job.upload_id).await?;
        } else {
            // The file was deleted meanwhile (or the job taken over): a thumbnail made for
            // it would be left behind, so it goes to the outbox (which leaves it if a row
            // names it after all).
            if let Some(key) = &findings.thumbnail_key {
                if db::files::find(&self.db, &job.upload_id).await?.is_none() {
                    db::outbox::doom_alone(&self.db, key, self.clock.now_ms()).await?;
                }
            }
        }
        self.bell.ring();
        Ok(true)
    }

    /// Content its owner holds already is kept once: once the file's processing has ended,
    /// it moves to the earlier object, and its own object goes to the outbox, which deletes
    /// it from the store (retrying until the store confirms).
    async fn fold(&self, upload_id: &str) -> Result<(), db::DbError> {
        let require_clean = self.settings.scanning.mode == ScanMode::Required;
        let now = self.clock.now_ms();
        let Some(unused) =
            db::files::fold_into_twin(&self.db, upload_id, now, require_clean).await?
        else {
            return Ok(());
        };
        tracing::info!(
            upload = upload_id,
            key = unused.key,
            "worker: content stored once; its second object goes"
        );
        Ok(())
    }

    /// What a job that knows how far it has got calls with its percentage: at most one write
    /// (and one event) a second, each in a task of its own so that ffmpeg's pipe is never
    /// held up by the database.
    fn reporter(&self, job: &JobRow, me: &str) -> impl FnMut(u8) {
        let (db, clock, bell) = (self.db.clone(), self.clock.clone(), self.bell.clone());
        let (job, me) = (job.clone(), me.to_string());
        let mut last: Option<(std::time::Instant, u8)> = None;
        move |percent| {
            // Down as well as up: a copy that falls back to encoding starts again from 0, and
            // a bar held at 99 while the encode runs would say nothing.
            let due = last
                .is_none_or(|(at, was)| percent != was && at.elapsed() >= Duration::from_secs(1));
            if !due {
                return;
            }
            last = Some((std::time::Instant::now(), percent));
            let (db, clock, bell, job, me) = (
                db.clone(),
                clock.clone(),
                bell.clone(),
                job.clone(),
                me.clone(),
            );
            tokio::spawn(async move {
                match db::jobs::progress(&db, &job, &me, percent, clock.now_ms()).await {
                    Ok(()) => bell.ring(),
                    Err(error) => tracing::debug!(%error, "worker: progress not recorded"),
                }
            });
        }
    }

    /// Renews the lease every third of its length; returns only if it was lost.
    async fn keep_lease(&self, job: &JobRow, me: &str) {
        let every = self.settings.lease / 3;
        loop {
            tokio::time::sleep(every).await;
            let until = self.clock.now_ms() + millis(self.settings.lease);
            match db::jobs::renew(&self.db, job.id, me, until).await {
                Ok(true) => {}
                Ok(false) => return,
                // The database is away: keep working; the lease may still hold when it returns.
                Err(error) => tracing::warn!(%error, "worker: cannot renew a lease"),
            }
        }
    }

    async fn perform(&self, job: &JobRow, me: &str) -> Result<Finished, JobError> {
        let Some(kind) = JobKind::parse(&job.kind) else {
            return Err(JobError::Unreadable {
                what: "the job",
                why: format!("this version knows no job {:?}", job.kind),
            });
        };
        let Some(upload) = db::uploads::find(&self.db, &job.upload_id).await? else {
            return Ok(Finished::Skipped("the file was deleted".into()));
        };
        let (key, size) = (upload.object_key.as_str(), upload.size());
        match (kind, &self.isolated) {
            // Hashing parses nothing a file could subvert: it stays in this process. Scanning
            // only passes the bytes to clamd, which parses them in its own.
            (JobKind::Hash, _) => hash::run(&self.store, key, size).await,
            (JobKind::Scan, _) => scan::run(&self.store, key, size, &self.settings.scanning).await,
            // ffmpeg is the parser here, in processes of its own under limits (`hls`); the
            // worker only streams the renditions it wrote to the store.
            (JobKind::Hls | JobKind::Hls720 | JobKind::Hls360, _) => {
                let ladder = hls::Ladder {
                    store: &self.store,
                    db: &self.db,
                    clock: &self.clock,
                    settings: &self.settings.transcoding,
                    ffmpeg: &self.settings.ffmpeg,
                    upload_id: &job.upload_id,
                    object_key: key,
                    content_type: &upload.content_type,
                };
                let report = self.reporter(job, me);
                match kind.rung() {
                    Some(height) => ladder.rung(height, report).await,
                    None => ladder.top(report).await,
                }
            }
            (_, Some(isolated)) => {
                isolated
                    .run(&self.store, kind, key, size, &upload.content_type)
                    .await
            }
            (JobKind::Thumbnail, None) => {
                thumbnail::run(&self.store, key, size, self.settings.max_image_side).await
            }
            (JobKind::Media, None) => media::run(&self.store, key, size).await,
            (JobKind::Poster, None) => {
                poster::run(&self.store, key, &upload.content_type, &self.settings).await
            }
        }
    }

    fn outcome(&self, job: &JobRow, result: Result<Finished, JobError>) -> (Outcome, Findings) {
        let scanner_failed = match (&result, JobKind::parse(&job.kind)) {
            (Err(e), Some(JobKind::Scan)) => Some(e.to_string()),
            _ => None,
        };
        let (outcome, mut findings) = self.judge(job, result);
        // A scan that could not run: with `best-effort` the file shows "not scanned" while
        // it is tried again (and stays shared as any other); with `required` it stays
        // pending until the last try.
        if let Some(why) = scanner_failed {
            let last = !matches!(outcome, Outcome::Retry { .. });
            if last || self.settings.scanning.mode == ScanMode::BestEffort {
                let why = if last {
                    format!("{why}; not tried again")
                } else {
                    format!("{why}; trying again")
                };
                findings.scan = Some((Scan::Unscanned, Some(why)));
            }
        }
        (outcome, findings)
    }

    fn judge(&self, job: &JobRow, result: Result<Finished, JobError>) -> (Outcome, Findings) {
        let label = job.kind.as_str();
        match result {
            Ok(Finished::Found(findings)) => (Outcome::Done, findings),
            Err(e @ JobError::Gone) => (Outcome::Skipped(e.to_string()), Findings::default()),
            Ok(Finished::Skipped(why)) => (Outcome::Skipped(why), Findings::default()),
            // This death is the job's second (a decoder before, or a worker process).
            Err(e) if e.died() && job.deaths + 1 >= db::jobs::MAX_DEATHS => (
                Outcome::Failed(format!(
                    "{label}: {e}; what ran it has died twice, so it is not tried again"
                )),
                Findings::default(),
            ),
            Err(e) if e.is_permanent() || job.attempts >= job.max_attempts => (
                Outcome::Failed(format!("{label}: {e}")),
                Findings::default(),
            ),
            Err(e) => {
                let attempt = u32::try_from(job.attempts).unwrap_or(u32::MAX);
                let wait = millis(self.settings.backoff_after(attempt));
                let retry = Outcome::Retry {
                    error: format!("{label}: {e}"),
                    run_at: self.clock.now_ms() + wait,
                    died: e.died(),
                };
                (retry, Findings::default())
            }
        }
    }
}
