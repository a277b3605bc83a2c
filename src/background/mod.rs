//! Work the server does on its own schedule, not on a request: the reaper (death row for
//! uploads that never completed) and the orphan sweep (its backstop for crashes).

pub mod reaper;
pub mod sweep;

use std::time::Duration;
use tokio::time::{Interval, MissedTickBehavior};

/// Ticks now and then every `every`. A slow pass delays the next one rather than stacking
/// them up.
fn ticks(every: Duration) -> Interval {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticks
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 4)
}
