//! Small chores on a schedule: signed-in sessions that ran out are deleted (a session is also
//! refused the moment it is presented late, so this only keeps the table small), and rate-limit
//! buckets that have filled up again are forgotten (so the limiters remember only recent
//! clients), and upload events older than a day are pruned.

use super::Pass;
use crate::{accounts::Accounts, clock::Clock, server::limits::Limits};
use std::sync::Arc;

pub struct StaleSessions(pub Arc<Accounts>);

impl Pass for StaleSessions {
    const NAME: &'static str = "stale sessions";

    async fn pass(&self) -> Result<(), String> {
        let ended = self
            .0
            .end_stale_sessions()
            .await
            .map_err(|e| e.to_string())?;
        if ended > 0 {
            tracing::info!(ended, "sessions past their lifetime deleted");
        }
        Ok(())
    }
}

pub struct IdleBuckets(pub Arc<Limits>);

impl Pass for IdleBuckets {
    const NAME: &'static str = "rate-limit buckets";

    async fn pass(&self) -> Result<(), String> {
        self.0.forget_idle();
        Ok(())
    }
}

/// Events older than a day are forgotten: a page away that long reloads its library anyway.
pub struct OldEvents(pub crate::db::Pool);

impl Pass for OldEvents {
    const NAME: &'static str = "old events";

    async fn pass(&self) -> Result<(), String> {
        let day_ago = crate::clock::SystemClock.now_ms() - 86_400_000;
        crate::db::events::prune(&self.0, day_ago)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}
