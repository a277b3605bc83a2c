//! The outbox of objects to delete from the store (`doomed_objects`). A change that leaves no
//! row naming an object writes the object's key here in its own transaction, so the database
//! never says "deleted" while the store may keep the bytes unrecorded, and no row ever names
//! an object that is gone: the row goes first, the object after, retried until the store
//! confirms (see `background::outbox`).

use super::{events, uploads::UploadRow, Backend, Conn, DbResult, Pool};
use crate::model::UploadStatus;
use std::sync::Arc;
use tokio::sync::Notify;

/// Rung after a transaction doomed objects, so the outbox drains at once instead of at its
/// next poll.
#[derive(Clone, Debug, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    pub fn ring(&self) {
        self.0.notify_one();
    }

    pub async fn rung(&self) {
        self.0.notified().await;
    }
}

/// Records `keys` for deletion, due at `now`. A key already doomed stays as it is.
pub async fn doom(conn: &mut Conn, keys: &[&str], now: i64) -> DbResult<()> {
    for key in keys {
        sqlx::query(
            "INSERT INTO doomed_objects (object_key, due_at) VALUES ($1, $2) \
             ON CONFLICT (object_key) DO NOTHING",
        )
        .bind(*key)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Records one key for deletion on its own (an object made for an upload that went meanwhile).
pub async fn doom_alone(pool: &Pool, key: &str, now: i64) -> DbResult<()> {
    let mut tx = pool.writer().begin().await?;
    doom(&mut tx, &[key], now).await?;
    tx.commit().await
}

/// Dooms those of `keys` that no rendition row names any more (a copy of a file shares its
/// source's renditions).
pub async fn doom_unnamed_renditions(conn: &mut Conn, keys: &[&str], now: i64) -> DbResult<()> {
    for key in keys {
        let named: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM renditions WHERE object_key = $1")
                .bind(*key)
                .fetch_one(&mut *conn)
                .await?;
        if named == 0 {
            doom(conn, &[key], now).await?;
        }
    }
    Ok(())
}

/// What deleting an upload found.
#[derive(Debug, PartialEq, Eq)]
pub enum Deletion {
    /// No such upload of this owner.
    NotFound,
    /// Still uploading, or being closed by the reaper or an abort: `status` says which.
    Busy { status: UploadStatus },
    /// Gone, its event written and the objects no other upload names doomed.
    Deleted { doomed: usize },
}

/// Deletes `owner`'s upload `id` (not one still uploading or claimed) in one write
/// transaction: the row (its file, jobs and parts go with it), the event that says so, and,
/// when no other arrived upload shares its object (content stored once), its object and
/// thumbnail into the outbox. A crash at any point leaves either everything as it was or the
/// row gone and its objects doomed: never a half-deleted row, never an unrecorded object.
pub async fn delete_upload(pool: &Pool, id: &str, owner: &str, now: i64) -> DbResult<Deletion> {
    // The owner's uploads that share this one's object are counted below: a copy being made
    // or folded meanwhile (same owner) must wait.
    let mut tx = pool.writer().begin_holding(&[owner]).await?;
    let sql = concat!(
        "SELECT ",
        super::uploads::row_columns!(),
        " FROM uploads WHERE id = $1 AND owner = $2"
    );
    let row: Option<UploadRow> = sqlx::query_as(sql)
        .bind(id)
        .bind(owner)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else {
        return Ok(Deletion::NotFound);
    };
    if row.status == UploadStatus::Uploading || row.reap_claim.is_some() {
        return Ok(Deletion::Busy { status: row.status });
    }
    let thumbnail: Option<(Option<String>,)> =
        sqlx::query_as("SELECT thumbnail_key FROM files WHERE upload_id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let renditions: Vec<String> =
        sqlx::query_scalar("SELECT object_key FROM renditions WHERE upload_id = $1")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
    sqlx::query("DELETE FROM uploads WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    // Its renditions' rows went with it; a copy of the file may still name their objects.
    let named: Vec<&str> = renditions.iter().map(String::as_str).collect();
    doom_unnamed_renditions(&mut tx, &named, now).await?;
    let mut doomed = Vec::new();
    // A closed upload's object was purged when it closed; only an arrived one has bytes.
    if row.status == UploadStatus::Uploaded {
        let named: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM uploads WHERE object_key = $1 AND status = 'uploaded'",
        )
        .bind(&row.object_key)
        .fetch_one(&mut *tx)
        .await?;
        if named == 0 {
            doomed.push(row.object_key.clone());
        }
        if let Some(key) = thumbnail.and_then(|(k,)| k) {
            let named: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM files WHERE thumbnail_key = $1")
                    .bind(&key)
                    .fetch_one(&mut *tx)
                    .await?;
            if named == 0 {
                doomed.push(key);
            }
        }
    }
    let keys: Vec<&str> = doomed.iter().map(String::as_str).collect();
    doom(&mut tx, &keys, now).await?;
    events::record_deleted(&mut tx, owner, id, now).await?;
    tx.commit().await?;
    Ok(Deletion::Deleted {
        doomed: doomed.len(),
    })
}

/// Takes up to `limit` doomed keys that are due, moving each one's due time to `lease_until`
/// so that another drainer (another instance) does not take it too; one that dies mid-way
/// only delays its keys by the lease.
pub async fn claim_due(
    pool: &Pool,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> DbResult<Vec<(String, i64)>> {
    let sql = match Backend::of(pool) {
        Backend::Sqlite => {
            "UPDATE doomed_objects SET due_at = $1 WHERE object_key IN \
             (SELECT object_key FROM doomed_objects WHERE due_at <= $2 ORDER BY due_at LIMIT $3) \
             RETURNING object_key, attempts"
        }
        Backend::Postgres => {
            "UPDATE doomed_objects SET due_at = $1 WHERE object_key IN \
             (SELECT object_key FROM doomed_objects WHERE due_at <= $2 ORDER BY due_at LIMIT $3 \
              FOR UPDATE SKIP LOCKED) AND due_at <= $2 \
             RETURNING object_key, attempts"
        }
    };
    Ok(sqlx::query_as(sql)
        .bind(lease_until)
        .bind(now)
        .bind(limit)
        .fetch_all(pool.writer())
        .await?)
}

/// Whether any upload or file still names `key`: then it must stay (a safety net; a key is
/// doomed only once nothing names it, and nothing names a key anew once nothing does). An
/// infected file's upload keeps naming its object, which must go all the same.
pub async fn still_named(pool: &Pool, key: &str) -> DbResult<bool> {
    let named: i64 = sqlx::query_scalar(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM uploads u WHERE u.object_key = $1 \
             AND NOT EXISTS (SELECT 1 FROM files f \
               WHERE f.upload_id = u.id AND f.scan = 'infected')) \
           OR EXISTS (SELECT 1 FROM files WHERE thumbnail_key = $1) \
           OR EXISTS (SELECT 1 FROM renditions r WHERE r.object_key = $1 \
             AND NOT EXISTS (SELECT 1 FROM files f \
               WHERE f.upload_id = r.upload_id AND f.scan = 'infected')) THEN 1 ELSE 0 END",
    )
    .bind(key)
    .fetch_one(pool)
    .await?;
    Ok(named != 0)
}

/// The store no longer holds `key` (or it must stay): it leaves the outbox.
pub async fn done(pool: &Pool, key: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM doomed_objects WHERE object_key = $1")
        .bind(key)
        .execute(pool.writer())
        .await?;
    Ok(())
}

/// The store refused or was away: tried again at `retry_at`, its answer kept for an operator.
pub async fn failed(pool: &Pool, key: &str, error: &str, retry_at: i64) -> DbResult<()> {
    sqlx::query(
        "UPDATE doomed_objects SET attempts = attempts + 1, last_error = $1, due_at = $2 \
             WHERE object_key = $3",
    )
    .bind(error)
    .bind(retry_at)
    .bind(key)
    .execute(pool.writer())
    .await?;
    Ok(())
}

/// Keys waiting in the outbox (for `/metrics` and tests).
pub async fn waiting(pool: &Pool) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM doomed_objects")
        .fetch_one(pool)
        .await?)
}
