//! The feed: one task per process tails the `events` table and broadcasts each new row to the
//! process's live connections, which pick their owner's. Event ids are handed out under the
//! database's writer lock (`db::write`), so they are committed in order and "after the last id
//! seen" misses nothing. A commit in this process rings the [`Bell`]; on PostgreSQL a commit in
//! any instance or worker is also announced by `NOTIFY`, so events cross instances at once;
//! the poll catches whatever else (a SQLite neighbour, a dropped listener).

use super::Bell;
use crate::db::{self, events::EventRow, Pool};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::sync::broadcast;

/// Events written by other processes arrive within this.
const POLL: Duration = Duration::from_millis(500);
/// Rows read per query.
const BATCH: i64 = 500;
/// Events a slow connection may fall behind before it re-reads from the database.
const BUFFER: usize = 1024;
/// Live connections one owner may hold (tabs, devices).
pub const PER_OWNER: usize = 16;

pub struct Feed {
    db: Pool,
    sender: broadcast::Sender<Arc<EventRow>>,
    /// Open connections per owner.
    open: Mutex<HashMap<String, usize>>,
}

impl Feed {
    /// Starts tailing after the newest event now in the database.
    pub async fn start(db: Pool, bell: Bell) -> Result<Arc<Self>, db::DbError> {
        let last = db::events::last_id(&db).await?;
        let (sender, _) = broadcast::channel(BUFFER);
        let feed = Arc::new(Self {
            db,
            sender,
            open: Mutex::default(),
        });
        if db::Backend::of(&feed.db) == db::Backend::Postgres {
            let url = feed.db.connect_options().database_url.to_string();
            tokio::spawn(listen(url, bell.clone()));
        }
        tokio::spawn(tail(feed.clone(), bell, last));
        Ok(feed)
    }

    pub fn db(&self) -> &Pool {
        &self.db
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<EventRow>> {
        self.sender.subscribe()
    }

    /// Live connections open in this process.
    pub fn clients(&self) -> usize {
        self.sender.receiver_count()
    }

    /// A place for one more of `owner`'s connections, held until the guard drops; `None` when
    /// they already have [`PER_OWNER`].
    pub fn admit(self: &Arc<Self>, owner: &str) -> Option<Admitted> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(owner.to_owned()).or_default();
        if *count >= PER_OWNER {
            return None;
        }
        *count += 1;
        Some(Admitted {
            feed: self.clone(),
            owner: owner.to_owned(),
        })
    }
}

/// One admitted connection; dropping it (the client went) frees its place.
pub struct Admitted {
    feed: Arc<Feed>,
    owner: String,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.feed.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.owner) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.owner);
            }
        }
    }
}

/// Rings the bell for every `NOTIFY` on the events channel, reconnecting when the connection
/// is lost.
async fn listen(url: String, bell: Bell) {
    loop {
        match sqlx::postgres::PgListener::connect(&url).await {
            Ok(mut listener) => match listener.listen(db::events::CHANNEL).await {
                Ok(()) => {
                    while listener.recv().await.is_ok() {
                        bell.ring();
                    }
                }
                Err(error) => tracing::warn!(%error, "live feed: cannot LISTEN"),
            },
            Err(error) => tracing::warn!(%error, "live feed: cannot connect to listen"),
        }
        tokio::time::sleep(POLL * 4).await;
    }
}

async fn tail(feed: Arc<Feed>, bell: Bell, mut last: i64) {
    loop {
        tokio::select! {
            () = bell.rung() => {}
            () = tokio::time::sleep(POLL) => {}
        }
        loop {
            let rows = match db::events::after(&feed.db, last, BATCH).await {
                Ok(rows) => rows,
                Err(error) => {
                    tracing::warn!(%error, "live feed: cannot read events");
                    break;
                }
            };
            let full = rows.len() as i64 == BATCH;
            for row in rows {
                last = row.id;
                // No receiver is not an error: nobody is watching.
                let _ = feed.sender.send(Arc::new(row));
            }
            if !full {
                break;
            }
        }
    }
}
