//! Death row. Every upload is recorded with an expiry the moment it starts; activity pushes
//! the expiry forward and verification clears it. The reaper takes what expired through the
//! expiry index — never by listing the bucket — aborts its multipart upload or deletes its
//! object, and marks it `expired`.
//!
//! Safe with several reapers on one database: rows are claimed in one `UPDATE … RETURNING`
//! that also moves their expiry a lease ahead, so no two reapers hold the same row, and a
//! reaper that dies mid-way only delays its rows by the lease. Idempotent: an upload the
//! store has already forgotten counts as cleaned.

use crate::{
    clock::{self, millis, SharedClock},
    db::{self, uploads::Doomed, DbResult, Pool},
    model::ClosedBecause,
    observe::metrics::{REAPER_FAILED, UPLOADS_EXPIRED},
    storage::{purge, ObjectStore, PurgeCalls, StorageError},
};
use futures::{stream, StreamExt};
use std::time::{Duration, Instant};

/// Rows claimed per statement.
const BATCH: i64 = 256;
/// Store requests in flight at once.
const CONCURRENCY: usize = 16;
/// How long a claim lasts before another reaper may take the row over.
const LEASE: Duration = Duration::from_secs(600);
/// A failed cleanup is retried after the reaper's interval, doubling up to this.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReapReport {
    /// Expired uploads taken from death row.
    pub claimed: u64,
    /// Cleaned in the store and marked `expired`.
    pub reaped: u64,
    /// Left for a later pass because the store refused or was away.
    pub failed: u64,
    pub aborts: u64,
    pub deletes: u64,
    /// ListMultipartUploads for one key: an upload recorded before the store confirmed it.
    pub key_lookups: u64,
}

impl ReapReport {
    pub fn store_calls(&self) -> u64 {
        self.aborts + self.deletes + self.key_lookups
    }

    fn add(&mut self, other: Self) {
        self.claimed += other.claimed;
        self.reaped += other.reaped;
        self.failed += other.failed;
        self.aborts += other.aborts;
        self.deletes += other.deletes;
        self.key_lookups += other.key_lookups;
    }
}

pub struct Reaper<S> {
    db: Pool,
    store: S,
    /// Tells this reaper's claims from another's.
    token: String,
    upload_ttl: Duration,
    retry_delay: Duration,
    clock: SharedClock,
}

impl<S: ObjectStore> Reaper<S> {
    /// `retry_delay` is the first wait before a failed cleanup is tried again (the interval).
    pub fn new(db: Pool, store: S, upload_ttl: Duration, retry_delay: Duration) -> Self {
        Self {
            db,
            store,
            token: uuid::Uuid::new_v4().to_string(),
            upload_ttl,
            retry_delay,
            clock: clock::system(),
        }
    }

    /// Judges expiries by `clock` instead of the system's (tests move it forward).
    pub fn with_clock(self, clock: SharedClock) -> Self {
        Self { clock, ..self }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Reaps everything expired now, batch after batch, and logs what it did.
    pub async fn run_once(&self) -> DbResult<ReapReport> {
        let started = Instant::now();
        let mut report = ReapReport::default();
        loop {
            let now = self.clock.now_ms();
            let batch =
                db::uploads::claim_expired(&self.db, &self.token, now, now + millis(LEASE), BATCH)
                    .await?;
            if batch.is_empty() {
                break;
            }
            let reaped = self.reap(batch).await?;
            metrics::counter!(UPLOADS_EXPIRED).increment(reaped.reaped);
            metrics::counter!(REAPER_FAILED).increment(reaped.failed);
            report.add(reaped);
        }
        if report.claimed > 0 {
            tracing::info!(
                reaped = report.reaped,
                failed = report.failed,
                store_calls = report.store_calls(),
                seconds = started.elapsed().as_secs_f64(),
                "reaper: expired uploads deleted"
            );
        }
        Ok(report)
    }

    async fn reap(&self, batch: Vec<Doomed>) -> DbResult<ReapReport> {
        let mut report = ReapReport {
            claimed: batch.len() as u64,
            ..ReapReport::default()
        };
        let outcomes: Vec<(Doomed, PurgeCalls, Result<(), StorageError>)> = stream::iter(batch)
            .map(|doomed| async move {
                let mut calls = PurgeCalls::default();
                let upload_id = doomed.s3_upload_id.as_deref();
                let result = purge(&self.store, &doomed.object_key, upload_id, &mut calls).await;
                (doomed, calls, result)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;

        let mut cleaned = Vec::with_capacity(outcomes.len());
        for (doomed, calls, result) in outcomes {
            report.aborts += calls.aborts;
            report.deletes += calls.deletes;
            report.key_lookups += calls.key_lookups;
            match result {
                Ok(()) => cleaned.push(doomed.id),
                Err(e) => {
                    report.failed += 1;
                    let attempts = u32::try_from(doomed.reap_attempts).unwrap_or(u32::MAX);
                    let delay = self
                        .retry_delay
                        .saturating_mul(2u32.saturating_pow(attempts.min(16)))
                        .min(MAX_RETRY_DELAY);
                    tracing::warn!(
                        upload = %doomed.id,
                        key = %doomed.object_key,
                        attempt = attempts + 1,
                        retry_in_secs = delay.as_secs(),
                        error = %e,
                        "reaper: could not delete an expired upload"
                    );
                    let retry_at = self.clock.now_ms() + millis(delay);
                    db::uploads::reap_failed(
                        &self.db,
                        &self.token,
                        &doomed.id,
                        &e.to_string(),
                        retry_at,
                    )
                    .await?;
                }
            }
        }
        let reason = ClosedBecause::Expired {
            idle_secs: self.upload_ttl.as_secs(),
        };
        report.reaped = db::uploads::mark_reaped(
            &self.db,
            &self.token,
            &cleaned,
            &reason,
            self.clock.now_ms(),
        )
        .await?;
        Ok(report)
    }
}

impl<S: ObjectStore> super::Pass for Reaper<S> {
    const NAME: &'static str = "reaper";

    async fn pass(&self) -> Result<(), String> {
        self.run_once().await.map(|_| ()).map_err(|e| e.to_string())
    }
}
