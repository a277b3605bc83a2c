//! Small chores on a schedule: signed-in sessions that ran out are deleted (a session is also
//! refused the moment it is presented late, so this only keeps the table small), and upload
//! events older than a day are pruned. (The server forgets its idle rate-limit buckets the same
//! way: `server::limits::IdleBuckets`.)

use super::Pass;
use crate::{accounts::Accounts, clock::Clock};
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

/// Uploads that ended without a file (aborted, rejected, expired) are removed once they are
/// older than the retention: their objects went when they closed, and without this a guest
/// that starts and abandons uploads would grow the database without end.
pub struct ClosedUploads {
    pub db: crate::db::Pool,
    pub retention: std::time::Duration,
}

impl Pass for ClosedUploads {
    const NAME: &'static str = "closed uploads";

    async fn pass(&self) -> Result<(), String> {
        let retention = i64::try_from(self.retention.as_millis()).unwrap_or(i64::MAX);
        let now = crate::clock::SystemClock.now_ms();
        let before = now.saturating_sub(retention);
        let mut removed = 0;
        loop {
            let batch = crate::db::uploads::remove_closed(&self.db, before, now, 1000)
                .await
                .map_err(|e| e.to_string())?;
            removed += batch;
            if batch < 1000 {
                break;
            }
        }
        if removed > 0 {
            tracing::info!(removed, "closed uploads past their retention removed");
        }
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
