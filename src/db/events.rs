//! Queries on the `events` table: what happened to whose upload, in the order it happened.

use super::DbResult;
use super::{Conn, Pool};

/// PostgreSQL's `LISTEN`/`NOTIFY` channel on which commits that wrote events are announced.
pub const CHANNEL: &str = "hoist_events";

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    pub owner: String,
    pub upload_id: String,
    /// A [`crate::model::UploadEvent`] as JSON.
    pub body: String,
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
    if super::on_postgres(conn) {
        // Delivered at commit (once per transaction, however many events it wrote) to every
        // instance listening, whose feed then reads at once rather than at its next poll.
        sqlx::query("SELECT 1 FROM pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(&mut *conn)
            .await?;
    }
    Ok(id)
}

/// One owner's events after `after`, oldest first.
pub async fn for_owner_after(
    pool: &Pool,
    owner: &str,
    after: i64,
    limit: i64,
) -> DbResult<Vec<EventRow>> {
    Ok(sqlx::query_as(
        "SELECT id, owner, upload_id, body FROM events WHERE owner = $1 AND id > $2 \
         ORDER BY id LIMIT $3",
    )
    .bind(owner)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Everyone's events after `after`, oldest first: what the live feed passes on.
pub async fn after(pool: &Pool, after: i64, limit: i64) -> DbResult<Vec<EventRow>> {
    Ok(sqlx::query_as(
        "SELECT id, owner, upload_id, body FROM events WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// The id of the newest event, 0 if there is none.
pub async fn last_id(pool: &Pool) -> DbResult<i64> {
    let (id,): (Option<i64>,) = sqlx::query_as("SELECT MAX(id) FROM events")
        .fetch_one(pool)
        .await?;
    Ok(id.unwrap_or(0))
}

/// Forgets events written before `before` (Unix ms). A client away longer than that reloads.
pub async fn prune(pool: &Pool, before: i64) -> DbResult<u64> {
    let done = super::alone(
        pool,
        sqlx::query("DELETE FROM events WHERE at < $1")
            .bind(before)
            .execute(pool),
    )
    .await?;
    Ok(done.rows_affected())
}
