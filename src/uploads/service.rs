use super::{policy, sniff, UploadError, UploadResult, UploadRules};
use crate::{
    checksum::ChecksumAlgorithm,
    clock::{self, millis, SharedClock},
    db::{
        self,
        outbox::Deletion,
        uploads::{Allowance, UploadRow, ABORT_CLAIM},
        Pool,
    },
    error::Invalid,
    model::{
        ClosedBecause, LibraryPage, PartPlan, PartToSign, Rejection, ResumeState, SignedPart,
        StartedUpload, UploadStatus, UploadView, MAX_COMPLETE_BATCH, MAX_SIGN_BATCH,
    },
    observe::metrics as observe,
    storage::{self, Checksum, ObjectStore, PurgeCalls, StorageError, StoredPart},
};
use futures::{stream::FuturesOrdered, StreamExt};
use std::{sync::Arc, time::Duration};
use tokio::sync::Notify;

mod abort;
mod complete;
mod list;
mod sign;
mod start;
#[cfg(test)]
mod tests;

/// Uploads of one `complete_uploads` call verified at once.
const VERIFYING_AT_ONCE: usize = 8;
/// How long a download link stays valid.
const DOWNLOAD_TTL: Duration = Duration::from_secs(300);
/// How long an abort holds an upload before the reaper may finish the job for it.
const ABORT_LEASE: Duration = Duration::from_secs(600);
/// The library comes in pages of this many uploads, newest first.
pub const LIBRARY_PAGE: usize = 100;

/// What a browser asks to upload.
#[derive(Clone, Debug)]
pub struct NewUpload {
    pub name: String,
    pub size: u64,
    pub content_type: String,
    /// The whole file's checksum, for a file that fits in one part: its URL is then signed
    /// in the same answer, saving a round trip per small file.
    pub checksum: Option<String>,
    /// The whole file's SHA-256 (hex), when the client read it first: content the owner
    /// holds already is not sent again.
    pub sha256: Option<String>,
    /// Who chooses the parts: Hoist's own plan, or the layout a Companion client uses.
    pub layout: Layout,
}

/// How an upload is cut into parts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Layout {
    /// Hoist's plan (`HOIST_PART_SIZE`, grown for large files), with a checksum per part when
    /// the server asks for them.
    #[default]
    Planned,
    /// `@uppy/aws-s3`'s own: parts of `max(ceil(size / 10,000), 5 MiB)`, sent without
    /// checksums (it has no way to send one). Each part is still signed for its exact length.
    Companion,
}

pub struct UploadService<S> {
    db: Pool,
    store: S,
    rules: UploadRules,
    clock: SharedClock,
    after: Arrival,
}

/// What follows a verified upload: its jobs are queued (tried this many times each), the
/// workers and the live feed are woken.
#[derive(Clone, Debug)]
pub struct Arrival {
    pub job_attempts: u32,
    /// How long a file's jobs may wait while its owner's other uploads are on their way.
    pub job_yield: Duration,
    /// Whether each file is also scanned for malware.
    pub scan: crate::model::ScanMode,
    /// Whether a verified video gets an HLS ladder.
    pub hls: bool,
    pub queued: Arc<Notify>,
    pub bell: crate::live::Bell,
    /// Rung when a delete doomed objects, so the outbox deletes them at once.
    pub outbox: db::outbox::Wake,
}

impl Default for Arrival {
    fn default() -> Self {
        Self {
            job_attempts: 5,
            job_yield: Duration::ZERO,
            scan: crate::model::ScanMode::Off,
            hls: false,
            queued: Arc::default(),
            bell: crate::live::Bell::default(),
            outbox: db::outbox::Wake::default(),
        }
    }
}

impl<S: ObjectStore> UploadService<S> {
    pub fn new(db: Pool, store: S, rules: UploadRules) -> Self {
        Self {
            db,
            store,
            rules,
            clock: clock::system(),
            after: Arrival::default(),
        }
    }

    /// Whom to wake when a file arrives, and how often its jobs are tried.
    pub fn with_arrival(self, after: Arrival) -> Self {
        Self { after, ..self }
    }

    /// Judges expiries by `clock` instead of the system's (tests move it forward).
    pub fn with_clock(self, clock: SharedClock) -> Self {
        Self { clock, ..self }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn db(&self) -> &Pool {
        &self.db
    }

    /// Validates the request, records the upload (on death row from its first moment: it
    /// expires unless completed) and prepares the store to receive it.
    pub async fn start(
        &self,
        owner: &str,
        allowance: Allowance,
        request: NewUpload,
    ) -> UploadResult<StartedUpload> {
        let mut started = self.start_many(owner, allowance, vec![request]).await?;
        started.pop().unwrap_or(Err(UploadError::NotFound))
    }

    async fn find(&self, owner: &str, id: &str) -> UploadResult<UploadRow> {
        // Ids are UUIDs: anything longer is not one of ours, and need not reach the database.
        if id.len() > 64 {
            return Err(UploadError::NotFound);
        }
        db::uploads::find_owned(&self.db, id, owner)
            .await?
            .ok_or(UploadError::NotFound)
    }

    /// The browser says the upload is alive (parts still on their way): its expiry moves on.
    pub async fn keep_alive(&self, owner: &str, id: &str) -> UploadResult<()> {
        let row = self.open_upload(owner, id).await?;
        self.extend(&row).await
    }

    /// Pushes a living upload's expiry forward. An upload whose time ran out is expired even
    /// if the reaper has not come by yet: continuing it would race the reaper's abort.
    /// No upload lives longer than `max_upload_duration`, however active: the bucket's
    /// lifecycle rule would abort it under our feet.
    async fn extend(&self, row: &UploadRow) -> UploadResult<()> {
        let now = self.clock.now_ms();
        let last_moment = row.created_at + millis(self.rules.max_upload_duration);
        let until = (now + millis(self.rules.upload_ttl)).min(last_moment);
        if until > now && db::uploads::extend(&self.db, &row.id, now, until).await? {
            return Ok(());
        }
        let now = self.find(&row.owner, &row.id).await?;
        Err(UploadError::Closed(match now.status {
            UploadStatus::Uploading => closing(&now),
            settled => settled,
        }))
    }

    /// Signing comes in batches every few seconds per upload; pushing the expiry on each would
    /// be a write per batch. It is pushed once a tenth of the idle time has gone by: an upload
    /// read as open, unclaimed and with more than nine tenths of its time ahead cannot be
    /// reaped before that tenth is up, and one active at least every nine tenths of
    /// `upload_ttl` stays alive.
    async fn extend_when_due(&self, row: &UploadRow) -> UploadResult<()> {
        let now = self.clock.now_ms();
        let fresh_until = now + millis(self.rules.upload_ttl) * 9 / 10;
        let untouched = row.reap_claim.is_none() && row.reap_attempts == 0;
        if untouched && row.expires_at.is_some_and(|at| at > fresh_until) {
            return Ok(());
        }
        self.extend(row).await
    }

    async fn open_upload(&self, owner: &str, id: &str) -> UploadResult<UploadRow> {
        let row = self.find(owner, id).await?;
        match row.status {
            UploadStatus::Uploading => Ok(row),
            closed => Err(UploadError::Closed(closed)),
        }
    }
}

/// Runs `futures` with at most `at_once` of them going, and gives their outputs in order.
/// The futures come ready-made in a `Vec` rather than from a stream combinator's closure: a
/// closure returning a borrowing future makes a server function's future fail the `Send`
/// check (rust-lang/rust#102211).
async fn in_order<F: std::future::Future>(futures: Vec<F>, at_once: usize) -> Vec<F::Output> {
    let mut running = FuturesOrdered::new();
    let mut outputs = Vec::with_capacity(futures.len());
    for future in futures {
        if running.len() == at_once {
            outputs.extend(running.next().await);
        }
        running.push_back(future);
    }
    while let Some(output) = running.next().await {
        outputs.push(output);
    }
    outputs
}

/// What an upload that is still `uploading` but can no longer continue is becoming: aborted
/// if `abort_upload` holds it, expired otherwise (its time ran out, or the reaper holds it).
fn closing(row: &UploadRow) -> UploadStatus {
    match row.reap_claim.as_deref() {
        Some(claim) if claim.starts_with(ABORT_CLAIM) => UploadStatus::Aborted,
        _ => UploadStatus::Expired,
    }
}

/// The checksum the upload's parts must carry, as recorded when it started.
fn checksum_of(row: &UploadRow) -> UploadResult<Option<ChecksumAlgorithm>> {
    row.checksum
        .as_deref()
        .map(|word| {
            ChecksumAlgorithm::parse(word)
                .ok_or_else(|| db::DbError::Corrupt(format!("checksum {word:?}")).into())
        })
        .transpose()
}

fn plan_of(row: &UploadRow) -> PartPlan {
    PartPlan::new(row.size(), row.part_size())
}
