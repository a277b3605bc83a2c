//! Work the server does on its own schedule, not on a request: the reaper (death row for
//! uploads that never completed), the orphan sweep (its backstop for crashes), and
//! housekeeping (stale sessions, idle rate-limit buckets, closed uploads past retention), and
//! the outbox (objects a delete or a fold left without a row, deleted from the store).

pub mod housekeeping;
pub mod outbox;
pub mod reaper;
mod settings;
pub mod sweep;

pub use settings::BackgroundSettings;

use std::{future::Future, time::Duration};
use tokio::time::MissedTickBehavior;

/// One pass of background work.
pub trait Pass: Send + Sync + 'static {
    /// How the log names it.
    const NAME: &'static str;
    fn pass(&self) -> impl Future<Output = Result<(), String>> + Send;
}

/// Runs `job` now and every `interval`, for as long as the server lives. A failed pass is
/// logged, not fatal: the next one tries again. A slow pass delays the next rather than
/// stacking them up.
pub async fn every<P: Pass>(job: P, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(error) = job.pass().await {
            tracing::warn!(%error, "{}: pass failed", P::NAME);
        }
    }
}
