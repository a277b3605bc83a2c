//! An upload's life, in one place. It is started `uploading` (admission writes the row and
//! its event) and leaves that status once, by [`transition`]: `uploaded` when verified,
//! `rejected` when it never will be, `aborted` by its owner, `expired` by the reaper. A
//! settled upload is then only deleted (`outbox::delete_upload`, which writes the event that
//! says so); what processing makes of an arrived file is the file's own state (`jobs`).
//!
//! Each move is a compare-and-set on the status (and claim) it starts from, with the event
//! that tells the owner's pages, in the caller's transaction: a change exists exactly when its
//! event does. A move the row is not in a state for is refused with [`Impossible`], which says
//! where the row is.

use super::*;
use crate::db::events;

/// A move out of `uploading`.
#[derive(Clone, Copy, Debug)]
pub enum Step<'a> {
    /// Verified: off death row. The caller writes the event once the file row it makes
    /// exists (`files::arrive`), so that the event shows the file.
    Arrive,
    /// It will never be verified (the store refused it, what arrived is not what was
    /// announced). Not while an abort or the reaper holds it: the claimant closes it.
    Reject { reason: Option<&'a ClosedBecause> },
    /// The store would not open it: nothing was ever sent (`aborted`, with the reason).
    StoreRefused,
    /// Its owner's abort, which holds `claim` (see `claim_for_abort`).
    Abort { claim: &'a str },
    /// The reaper's, which holds `claim` (see `claim_expired`).
    Expire {
        claim: &'a str,
        reason: &'a ClosedBecause,
    },
}

impl Step<'_> {
    pub fn to(self) -> UploadStatus {
        match self {
            Self::Arrive => UploadStatus::Uploaded,
            Self::Reject { .. } => UploadStatus::Rejected,
            Self::StoreRefused => UploadStatus::Aborted,
            Self::Abort { .. } => UploadStatus::Aborted,
            Self::Expire { .. } => UploadStatus::Expired,
        }
    }
}

/// A move the upload was not in a state for. Not a fault: two requests (or a request and the
/// reaper) raced, and the other one won.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("upload {upload_id} cannot become {to:?}: it is {from}")]
pub struct Impossible {
    pub upload_id: String,
    pub to: UploadStatus,
    pub from: Where,
}

/// Where an upload was when a move was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Where {
    Gone,
    /// Settled already.
    Settled(UploadStatus),
    /// Still `uploading`, but held by a claim the move does not hold (or not held by the
    /// claim it names).
    Claimed,
}

impl std::fmt::Display for Where {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Gone => f.write_str("gone"),
            Self::Settled(status) => f.write_str(status.as_str()),
            Self::Claimed => f.write_str("held by another's claim"),
        }
    }
}

pub type Moved = Result<(), Impossible>;

/// Moves upload `id` by `step` inside `tx`, writing its event (but for [`Step::Arrive`]). `tx`
/// holds the upload's owner from before its first write (see `db::writer`).
pub async fn transition(tx: &mut Conn, id: &str, step: Step<'_>, now: i64) -> DbResult<Moved> {
    let to = step.to().as_str();
    let done = match step {
        // Unclaimed moves differ only in the status and the reason they leave.
        Step::Arrive | Step::Reject { .. } | Step::StoreRefused => {
            let reason = match step {
                Step::Reject { reason } => reason.map(ClosedBecause::to_stored),
                Step::StoreRefused => Some(ClosedBecause::StoreRefusedStart.to_stored()),
                _ => None,
            };
            sqlx::query_as::<_, UploadRow>(concat!(
                "UPDATE uploads SET status = $1, completed_at = $2, expires_at = NULL, \
                   reason = $4 \
                 WHERE id = $3 AND status = 'uploading' AND reap_claim IS NULL RETURNING ",
                row_columns!()
            ))
            .bind(to)
            .bind(now)
            .bind(id)
            .bind(reason)
        }
        Step::Abort { claim } => sqlx::query_as::<_, UploadRow>(concat!(
            "UPDATE uploads SET status = $1, completed_at = $2, expires_at = NULL, \
               reason = NULL, reap_claim = NULL \
             WHERE id = $3 AND status = 'uploading' AND reap_claim = $4 RETURNING ",
            row_columns!()
        ))
        .bind(to)
        .bind(now)
        .bind(id)
        .bind(claim),
        Step::Expire { claim, reason } => sqlx::query_as::<_, UploadRow>(concat!(
            "UPDATE uploads SET status = $1, completed_at = $2, expires_at = NULL, \
               reason = $5, reap_claim = NULL, reap_error = NULL \
             WHERE id = $3 AND status = 'uploading' AND reap_claim = $4 RETURNING ",
            row_columns!()
        ))
        .bind(to)
        .bind(now)
        .bind(id)
        .bind(claim)
        .bind(reason.to_stored()),
    }
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = done {
        // The event is the row the statement returned: no second read.
        if !matches!(step, Step::Arrive) {
            events::record_view(tx, &row.owner, row.view(), now).await?;
        }
        return Ok(Ok(()));
    }
    let from = match find(&mut *tx, id).await? {
        None => Where::Gone,
        Some(row) if row.status == UploadStatus::Uploading => Where::Claimed,
        Some(row) => Where::Settled(row.status),
    };
    Ok(Err(Impossible {
        upload_id: id.to_owned(),
        to: step.to(),
        from,
    }))
}

/// The reaper's [`Step::Expire`] for a batch of uploads it holds by `claim`, in one transaction
/// and one statement (a pass may close a hundred thousand): the owners are held first, as
/// [`transition`]'s callers do, and each upload that moved writes its event. Returns how many
/// moved; the others were closed another way meanwhile (an abort).
pub async fn expire_claimed(
    pool: &Pool,
    ids: &[String],
    claim: &str,
    reason: &ClosedBecause,
    now: i64,
) -> DbResult<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    // Placeholders only, the ids' from `$first` on.
    let list = |first: usize| {
        let marks: Vec<String> = (first..first + ids.len())
            .map(|n| format!("${n}"))
            .collect();
        marks.join(", ")
    };
    let owners_sql = format!(
        "SELECT DISTINCT owner FROM uploads WHERE id IN ({})",
        list(1)
    );
    let mut owners = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(owners_sql));
    for id in ids {
        owners = owners.bind(id);
    }
    let owners: Vec<String> = owners.fetch_all(pool).await?;
    let keys: Vec<&str> = owners.iter().map(String::as_str).collect();
    let mut tx = pool.writer().begin_holding(&keys).await?;
    let sql = format!(
        concat!(
            "UPDATE uploads SET status = 'expired', completed_at = $3, expires_at = NULL, \
               reason = $2, reap_claim = NULL, reap_error = NULL \
             WHERE status = 'uploading' AND reap_claim = $1 AND id IN ({}) \
             RETURNING ",
            row_columns!()
        ),
        list(4)
    );
    let mut update = sqlx::query_as::<_, UploadRow>(sqlx::AssertSqlSafe(sql))
        .bind(claim)
        .bind(reason.to_stored())
        .bind(now);
    for id in ids {
        update = update.bind(id);
    }
    let moved = update.fetch_all(&mut *tx).await?;
    for row in &moved {
        events::record_view(&mut tx, &row.owner, row.view(), now).await?;
    }
    tx.commit().await?;
    Ok(moved.len() as u64)
}

/// [`transition`] in a transaction of its own.
pub async fn settle(pool: &Pool, id: &str, step: Step<'_>, now: i64) -> DbResult<Moved> {
    let mut tx = pool.begin_for_upload(id).await?;
    let moved = transition(&mut tx, id, step, now).await?;
    tx.commit().await?;
    Ok(moved)
}

#[cfg(test)]
mod tests;
