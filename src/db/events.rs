//! Queries on the `events` table: what happened to whose upload, in the order it happened.

use super::{Backend, Conn, DbError, DbResult, Pool};
use crate::model::{EventCursor, UploadEvent, UploadView};

/// PostgreSQL's `LISTEN`/`NOTIFY` channel on which commits that wrote events are announced
/// (by the trigger of migration 0015, which names it too).
pub const CHANNEL: &str = "hoist_events";

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    /// The writing transaction's id on PostgreSQL, 0 on SQLite (see [`EventCursor`]).
    pub tx: i64,
    pub owner: String,
    pub upload_id: String,
    /// A [`crate::model::UploadEvent`] as JSON.
    pub body: String,
}

impl EventRow {
    pub fn cursor(&self) -> EventCursor {
        EventCursor {
            tx: self.tx,
            id: self.id,
        }
    }
}

/// Written inside the transaction that made the change, so an event exists exactly when the
/// change does.
pub async fn record(
    conn: &mut Conn,
    owner: &str,
    upload_id: &str,
    body: &str,
    now: i64,
) -> DbResult<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO events (owner, upload_id, body, at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(owner)
    .bind(upload_id)
    .bind(body)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    // On PostgreSQL a trigger (migration 0015) notifies `CHANNEL` for every instance
    // listening, whose feed then reads at once rather than at its next poll.
    Ok(id)
}

/// The first place events may still appear at: every event before it, in `(tx, id)` order,
/// is committed or never will be. On PostgreSQL, the oldest transaction still running (no
/// transaction with a smaller id can begin any more); on SQLite, whose one writer commits in
/// order, anything.
pub async fn horizon(pool: &Pool) -> DbResult<i64> {
    match Backend::of(pool) {
        Backend::Sqlite => Ok(i64::MAX),
        Backend::Postgres => Ok(sqlx::query_scalar(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
        )
        .fetch_one(pool)
        .await?),
    }
}

/// Writes the event that shows `upload` as it now stands.
pub async fn record_view(
    conn: &mut Conn,
    owner: &str,
    upload: UploadView,
    now: i64,
) -> DbResult<i64> {
    let id = upload.id.clone();
    let body = serde_json::to_string(&UploadEvent::Changed {
        upload: Box::new(upload),
    })
    .map_err(|e| DbError::Corrupt(e.to_string()))?;
    record(conn, owner, &id, &body, now).await
}

/// Writes the event that says upload `upload_id` is gone.
pub async fn record_deleted(
    conn: &mut Conn,
    owner: &str,
    upload_id: &str,
    now: i64,
) -> DbResult<i64> {
    let body = serde_json::to_string(&UploadEvent::Deleted {
        upload_id: upload_id.to_owned(),
    })
    .map_err(|e| DbError::Corrupt(e.to_string()))?;
    record(conn, owner, upload_id, &body, now).await
}

/// One owner's final events after `after`, in order: those before the [`horizon`] read first,
/// so that none still to commit can land behind them.
pub async fn for_owner_after(
    pool: &Pool,
    owner: &str,
    after: EventCursor,
    limit: i64,
) -> DbResult<Vec<EventRow>> {
    let horizon = horizon(pool).await?;
    Ok(sqlx::query_as(
        "SELECT id, tx, owner, upload_id, body FROM events \
         WHERE owner = $1 AND (tx, id) > ($2, $3) AND tx < $4 ORDER BY tx, id LIMIT $5",
    )
    .bind(owner)
    .bind(after.tx)
    .bind(after.id)
    .bind(horizon)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Everyone's events after `after`, in order: what the live feed passes on. Those at or past
/// `horizon` (read before, with [`horizon`]) are not final yet and come back apart.
pub async fn after(pool: &Pool, after: EventCursor, horizon: i64, limit: i64) -> DbResult<Final> {
    let mut rows: Vec<EventRow> = sqlx::query_as(
        "SELECT id, tx, owner, upload_id, body FROM events WHERE (tx, id) > ($1, $2) \
         ORDER BY tx, id LIMIT $3",
    )
    .bind(after.tx)
    .bind(after.id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let read = rows.len();
    let final_rows = rows.partition_point(|r| r.tx < horizon);
    let waiting = rows.split_off(final_rows).len();
    Ok(Final {
        rows,
        waiting,
        full: read as i64 == limit,
    })
}

/// What [`after`] read.
#[derive(Debug)]
pub struct Final {
    /// Final, in order.
    pub rows: Vec<EventRow>,
    /// Committed rows after them that are not final yet (a transaction with a smaller id is
    /// still running): read again shortly.
    pub waiting: usize,
    /// The read was cut at its limit: there may be more.
    pub full: bool,
}

/// A place from which a follower gets every event that becomes final after now: on SQLite
/// the newest event; on PostgreSQL the [`horizon`], since a transaction running now may yet
/// commit an event ordered before events already committed (which may then come twice:
/// events say what an upload is now, so a repeat changes nothing).
pub async fn newest(pool: &Pool) -> DbResult<EventCursor> {
    match Backend::of(pool) {
        Backend::Sqlite => {
            let (id,): (Option<i64>,) = sqlx::query_as("SELECT MAX(id) FROM events")
                .fetch_one(pool)
                .await?;
            Ok(EventCursor {
                tx: 0,
                id: id.unwrap_or(0),
            })
        }
        // Ids start at 1: (horizon, 0) is before everything at or past the horizon.
        Backend::Postgres => Ok(EventCursor {
            tx: horizon(pool).await?,
            id: 0,
        }),
    }
}

/// Forgets events written before `before` (Unix ms), a batch at a time: one long delete would
/// hold the live feed back on PostgreSQL (see [`horizon`]). A client away longer reloads.
pub async fn prune(pool: &Pool, before: i64) -> DbResult<u64> {
    const BATCH: i64 = 5_000;
    let mut pruned = 0;
    loop {
        let done = sqlx::query(
            "DELETE FROM events WHERE id IN \
               (SELECT id FROM events WHERE at < $1 ORDER BY at LIMIT $2)",
        )
        .bind(before)
        .bind(BATCH)
        .execute(pool.writer())
        .await?;
        pruned += done.rows_affected();
        if done.rows_affected() < BATCH as u64 {
            return Ok(pruned);
        }
    }
}
