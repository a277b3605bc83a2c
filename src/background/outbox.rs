//! Drains the outbox of doomed objects (`db::outbox`): every key a delete or a fold left
//! without a row is deleted from the store, retried with a doubling backoff until the store
//! confirms. Runs in every instance (at once when this process doomed something, and every few
//! seconds for what other processes doomed); keys are claimed with a lease, so two instances
//! never send the same delete and one that dies only delays its keys.

use crate::{
    clock::{self, millis, SharedClock},
    db::{self, outbox::Wake, DbResult, Pool},
    storage::ObjectStore,
};
use futures::{stream, StreamExt};
use std::time::Duration;

/// Keys claimed per statement.
const BATCH: i64 = 256;
/// Store requests in flight at once.
const CONCURRENCY: usize = 16;
/// How long a claim lasts before another drainer may take the key over: a delete takes
/// milliseconds, and one sent twice (a slow drainer overtaken) is harmless, so a dead drainer
/// delays its keys only this long.
const LEASE: Duration = Duration::from_secs(20);
/// What another process doomed is picked up within this.
const POLL: Duration = Duration::from_secs(5);
/// The first wait after a failed delete, doubled each time up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_secs(10);
const MAX_RETRY: Duration = Duration::from_secs(3600);

/// What one drain did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Deleted from the store (or already gone).
    pub deleted: u64,
    /// Left alone: a row names the key after all.
    pub kept: u64,
    /// The store refused or was away: tried again later.
    pub failed: u64,
}

pub struct Outbox<S> {
    db: Pool,
    store: S,
    wake: Wake,
    clock: SharedClock,
}

impl<S: ObjectStore> Outbox<S> {
    pub fn new(db: Pool, store: S, wake: Wake) -> Self {
        Self {
            db,
            store,
            wake,
            clock: clock::system(),
        }
    }

    /// Drains until the process ends: when rung, and every [`POLL`].
    pub async fn run(self) {
        loop {
            if let Err(error) = self.drain().await {
                tracing::warn!(%error, "outbox: cannot read the doomed objects");
            }
            tokio::select! {
                () = self.wake.rung() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Deletes every doomed key that is due now, batch after batch.
    pub async fn drain(&self) -> DbResult<DrainReport> {
        let mut report = DrainReport::default();
        loop {
            let now = self.clock.now_ms();
            let due = db::outbox::claim_due(&self.db, now, now + millis(LEASE), BATCH).await?;
            if due.is_empty() {
                break;
            }
            let outcomes: Vec<DbResult<Outcome>> = stream::iter(due)
                .map(|(key, attempts)| async move { self.deliver(&key, attempts).await })
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            for outcome in outcomes {
                match outcome? {
                    Outcome::Deleted => report.deleted += 1,
                    Outcome::Kept => report.kept += 1,
                    Outcome::Failed => report.failed += 1,
                }
            }
            if report.failed > 0 && report.deleted == 0 {
                // The store is away: what failed is not due again before its backoff.
                break;
            }
        }
        if report != DrainReport::default() {
            tracing::info!(
                deleted = report.deleted,
                kept = report.kept,
                failed = report.failed,
                "outbox: doomed objects deleted"
            );
        }
        Ok(report)
    }

    async fn deliver(&self, key: &str, attempts: i64) -> DbResult<Outcome> {
        if db::outbox::still_named(&self.db, key).await? {
            tracing::warn!(key, "outbox: a doomed object is named by a row; kept");
            db::outbox::done(&self.db, key).await?;
            return Ok(Outcome::Kept);
        }
        match self.store.delete(key).await {
            Ok(()) => {
                db::outbox::done(&self.db, key).await?;
                Ok(Outcome::Deleted)
            }
            Err(error) => {
                let attempts = u32::try_from(attempts).unwrap_or(u32::MAX);
                let delay = FIRST_RETRY
                    .saturating_mul(2u32.saturating_pow(attempts.min(16)))
                    .min(MAX_RETRY);
                tracing::warn!(
                    key,
                    attempt = attempts + 1,
                    retry_in_secs = delay.as_secs(),
                    %error,
                    "outbox: could not delete a doomed object"
                );
                let retry_at = self.clock.now_ms() + millis(delay);
                db::outbox::failed(&self.db, key, &error.to_string(), retry_at).await?;
                Ok(Outcome::Failed)
            }
        }
    }
}

enum Outcome {
    Deleted,
    Kept,
    Failed,
}
