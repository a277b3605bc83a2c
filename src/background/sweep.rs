//! The backstop behind the reaper: the one case a row cannot point to is a multipart upload
//! the store created but no row knows (a crash between the two, an upload from a database
//! since restored from backup). This slow sweep lists the bucket's in-progress multipart
//! uploads — ListMultipartUploads lists uploads, never objects — and aborts those of ours,
//! older than the upload TTL, that no living upload owns.

use crate::{
    clock::{self, millis, SharedClock},
    db::{self, DbError, Pool},
    observe::metrics::{SWEEP_ABORTED, SWEEP_FAILED, SWEEP_LISTED},
    storage::{ObjectStore, StorageError},
    uploads::naming,
};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// In-progress multipart uploads the store listed.
    pub listed: u64,
    /// Orphans aborted.
    pub aborted: u64,
    pub failed: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Db(#[from] DbError),
}

pub struct OrphanSweep<S> {
    db: Pool,
    store: S,
    prefix: String,
    older_than: Duration,
    clock: SharedClock,
}

impl<S: ObjectStore> OrphanSweep<S> {
    /// Only uploads started more than `older_than` ago are candidates (the upload TTL: a
    /// younger one may belong to a start that is still recording it). Looks only under
    /// `prefix`, where Hoist's keys are: other applications may share the bucket.
    pub fn new(db: Pool, store: S, prefix: &str, older_than: Duration) -> Self {
        Self {
            db,
            store,
            prefix: prefix.to_string(),
            older_than,
            clock: clock::system(),
        }
    }

    /// Judges ages by `clock` instead of the system's (tests move it forward).
    pub fn with_clock(self, clock: SharedClock) -> Self {
        Self { clock, ..self }
    }

    pub async fn run_once(&self) -> Result<SweepReport, SweepError> {
        let started = Instant::now();
        let cutoff = self.clock.now_ms() - millis(self.older_than);
        let mut report = SweepReport::default();
        for pending in self.store.pending_uploads(&self.prefix).await? {
            report.listed += 1;
            // Other applications may share the bucket: only keys Hoist makes are ours.
            if !naming::is_object_key(&self.prefix, &pending.key)
                || pending.initiated_ms.is_none_or(|t| t > cutoff)
            {
                continue;
            }
            match db::uploads::living_upload_at(&self.db, &pending.key).await? {
                Some(Some(known)) if known == pending.upload_id => continue,
                // Still being created; the row's own expiry covers it.
                Some(None) => continue,
                _ => {}
            }
            match self
                .store
                .abort_multipart(&pending.key, &pending.upload_id)
                .await
            {
                Ok(_) => report.aborted += 1,
                Err(e) => {
                    report.failed += 1;
                    tracing::warn!(key = %pending.key, error = %e, "orphan sweep: abort failed");
                }
            }
        }
        metrics::counter!(SWEEP_LISTED).increment(report.listed);
        metrics::counter!(SWEEP_ABORTED).increment(report.aborted);
        metrics::counter!(SWEEP_FAILED).increment(report.failed);
        if report.aborted + report.failed > 0 {
            tracing::info!(
                listed = report.listed,
                aborted = report.aborted,
                failed = report.failed,
                seconds = started.elapsed().as_secs_f64(),
                "orphan sweep: multipart uploads no upload knows were aborted"
            );
        }
        Ok(report)
    }
}

impl<S: ObjectStore> super::Pass for OrphanSweep<S> {
    const NAME: &'static str = "orphan sweep";

    async fn pass(&self) -> Result<(), String> {
        self.run_once().await.map(|_| ()).map_err(|e| e.to_string())
    }
}
