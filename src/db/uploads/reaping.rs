//! Claims on living uploads: an abort's, and the reaper's on expired ones, with what
//! each claim may then do to the row.

use super::*;

/// `abort_upload` takes a living upload for itself, as the reaper takes an expired one: from
/// then on it cannot be completed or extended, so deleting what the store holds cannot race
/// a completion. The claim moves the expiry one `lease_until` ahead: should the request die
/// half-way, the reaper finishes the job.
pub async fn claim_for_abort(
    pool: &Pool,
    id: &str,
    claim: &str,
    now: i64,
    lease_until: i64,
) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE uploads SET reap_claim = $1, expires_at = $2 \
         WHERE id = $3 AND status = 'uploading' AND reap_claim IS NULL AND reap_attempts = 0 \
           AND expires_at > $4",
    )
    .bind(claim)
    .bind(lease_until)
    .bind(id)
    .bind(now)
    .execute(pool.writer())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives an abort's claim back (the store was away): the upload lives on, as before.
pub async fn release_claim(pool: &Pool, id: &str, claim: &str) -> DbResult<()> {
    sqlx::query("UPDATE uploads SET reap_claim = NULL WHERE id = $1 AND reap_claim = $2")
        .bind(id)
        .bind(claim)
        .execute(pool.writer())
        .await?;
    Ok(())
}

/// An expired upload the reaper has claimed: what it needs to clean up the store.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Doomed {
    pub id: String,
    pub object_key: String,
    pub s3_upload_id: Option<String>,
    pub reap_attempts: i64,
}

/// Claims up to `limit` expired uploads, oldest expiry first, through the expiry index. One
/// statement, so two reapers on one database never claim the same row: on SQLite the second
/// sees the pushed-forward expiry; on PostgreSQL it skips rows the first has locked and
/// re-checks the expiry of those it waited for. The claim lasts until `lease_until`; after
/// that an unfinished claim (its reaper died) is expired again and claimable.
pub async fn claim_expired(
    pool: &Pool,
    token: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> DbResult<Vec<Doomed>> {
    let sql = claim_expired_statement(Backend::of(pool));
    Ok(sqlx::query_as(sql)
        .bind(token)
        .bind(lease_until)
        .bind(now)
        .bind(limit)
        .fetch_all(pool.writer())
        .await?)
}

/// Removes up to `limit` uploads that ended without a file (aborted, rejected, expired)
/// before `before`, through the index of closed uploads. A row still being cleaned up (a
/// claim or an expiry on it) stays until the cleanup is done. Returns how many went.
pub async fn remove_closed(pool: &Pool, before: i64, now: i64, limit: i64) -> DbResult<u64> {
    let mut tx = pool.writer().begin().await?;
    let gone: Vec<(String, String)> = sqlx::query_as(
        "DELETE FROM uploads WHERE id IN (SELECT id FROM uploads \
               WHERE status IN ('aborted', 'rejected', 'expired') AND completed_at < $1 \
               AND expires_at IS NULL AND reap_claim IS NULL LIMIT $2) \
         RETURNING id, owner",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    // Settled long ago, so no other event of theirs is on its way; open pages drop the rows.
    for (id, owner) in &gone {
        crate::db::events::record_deleted(&mut tx, owner, id, now).await?;
    }
    tx.commit().await?;
    Ok(gone.len() as u64)
}

/// The statement of [`claim_expired`] (binds: claim token, lease end, now, limit), public so
/// that a test can ask the database how it would run exactly this one.
pub fn claim_expired_statement(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "UPDATE uploads SET reap_claim = $1, expires_at = $2 \
             WHERE id IN (SELECT id FROM uploads WHERE expires_at <= $3 \
               ORDER BY expires_at LIMIT $4) \
             RETURNING id, object_key, s3_upload_id, reap_attempts"
        }
        Backend::Postgres => {
            "UPDATE uploads SET reap_claim = $1, expires_at = $2 \
             WHERE id IN (SELECT id FROM uploads WHERE expires_at <= $3 \
               ORDER BY expires_at LIMIT $4 FOR UPDATE SKIP LOCKED) AND expires_at <= $3 \
             RETURNING id, object_key, s3_upload_id, reap_attempts"
        }
    }
}

/// Marks claimed uploads `expired`, with their events. Returns how many were still held by
/// this claim (an upload aborted meanwhile by its owner stays `aborted`).
pub async fn mark_reaped(
    pool: &Pool,
    token: &str,
    ids: &[String],
    reason: &ClosedBecause,
    now: i64,
) -> DbResult<u64> {
    expire_claimed(pool, ids, token, reason, now).await
}

/// Gives a claimed upload back after its cleanup failed: tried again at `retry_at`, with the
/// store's answer kept where an operator can see it. A row that was closed meanwhile leaves
/// death row instead: reviving it would have the reaper claim, purge and fail to mark it
/// forever (only living uploads are marked `expired`).
pub async fn reap_failed(
    pool: &Pool,
    token: &str,
    id: &str,
    error: &str,
    retry_at: i64,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE uploads SET reap_claim = NULL, reap_attempts = reap_attempts + 1, \
         reap_error = $1, \
         expires_at = CASE WHEN status = 'uploading' THEN $2 ELSE NULL END \
         WHERE id = $3 AND reap_claim = $4",
    )
    .bind(error)
    .bind(retry_at)
    .bind(id)
    .bind(token)
    .execute(pool.writer())
    .await?;
    Ok(())
}
