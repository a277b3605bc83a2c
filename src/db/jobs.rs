//! Queries on the `jobs` table: the processing queue. A job is claimed by taking a lease,
//! kept by renewing it, and finished by the worker that holds it; a lapsed lease makes the
//! job claimable again. Every transition that changes a file's processing state updates the
//! file and writes its event in the same transaction.

use super::{views, DbResult};
use super::{Backend, Conn, Pool};
use crate::model::{Processing, Scan};

/// The malware scan's kind. Its state is the file's `scan`, apart from processing: a file
/// waiting for a scanner that is down is not "processing".
pub const SCAN: &str = "scan";
/// A scan is tried this often (its backoff tops out at ten minutes: about a day) before its
/// file shows "not scanned" for good.
pub const SCAN_ATTEMPTS: u32 = 150;

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct JobRow {
    pub id: i64,
    pub upload_id: String,
    pub kind: String,
    pub state: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub error: Option<String>,
    /// Runs that ended with their runner dead (see migration 0013).
    pub deaths: i64,
    /// How far it has got while it runs, for the jobs that say (0–100).
    pub progress: Option<i64>,
}

macro_rules! job_columns {
    () => {
        "id, upload_id, kind, state, attempts, max_attempts, error, deaths, progress"
    };
}

/// How a run ended, as the queue records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Not applicable here (no tool, nothing to read): finished, with the reason.
    Skipped(String),
    /// Failed, to be tried again at `run_at` (Unix ms); `died`: its decoder was killed.
    Retry {
        error: String,
        run_at: i64,
        died: bool,
    },
    /// Failed for good.
    Failed(String),
}

impl Outcome {
    /// The job's state after this outcome (`queued` again for a retry).
    pub fn word(&self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Skipped(_) => "skipped",
            Self::Retry { .. } => "queued",
            Self::Failed(_) => "failed",
        }
    }
}

/// Queues one job of each kind for the upload, to run from `run_at`; a kind already queued
/// is left as it is.
pub async fn enqueue(
    conn: &mut Conn,
    upload_id: &str,
    kinds: &[&str],
    max_attempts: u32,
    now: i64,
    run_at: i64,
) -> DbResult<()> {
    for kind in kinds {
        sqlx::query(
            "INSERT INTO jobs (upload_id, kind, state, max_attempts, run_at, created_at) \
             VALUES ($1, $2, 'queued', $3, $4, $5) ON CONFLICT (upload_id, kind) DO NOTHING",
        )
        .bind(upload_id)
        .bind(kind)
        .bind(i64::from(max_attempts.max(1)))
        .bind(run_at)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// When the jobs of a file that has just arrived may first run. While its owner still has
/// uploads on their way, `hold_ms` from now: their parts and completions come first (a
/// thumbnail can wait a few seconds; a person watching 200 files go cannot), and an upload
/// left open for a day holds nothing back longer than that. Once nothing of theirs is on its
/// way, now, and the owner's jobs held so far are released with it.
///
/// Decided here, once per file, so that claiming a job stays one indexed lookup however many
/// are held.
pub async fn first_run_at(
    conn: &mut Conn,
    upload_id: &str,
    now: i64,
    hold_ms: i64,
) -> DbResult<i64> {
    if hold_ms <= 0 {
        return Ok(now);
    }
    let sending: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT 1 FROM uploads mine JOIN uploads other \
           ON other.owner = mine.owner AND other.status = 'uploading' \
         WHERE mine.id = $1 LIMIT 1) AS any_left",
    )
    .bind(upload_id)
    .fetch_one(&mut *conn)
    .await?;
    if sending > 0 {
        return Ok(now + hold_ms);
    }
    // Only jobs never tried: a retry keeps its backoff. The partial index on queued jobs'
    // run_at finds the held ones; each is checked against the owner by its upload's key.
    sqlx::query(
        "UPDATE jobs SET run_at = $1 WHERE state = 'queued' AND run_at > $1 AND attempts = 0 \
           AND EXISTS (SELECT 1 FROM uploads u WHERE u.id = jobs.upload_id \
             AND u.owner = (SELECT owner FROM uploads WHERE id = $2))",
    )
    .bind(now)
    .bind(upload_id)
    .execute(&mut *conn)
    .await?;
    Ok(now)
}

/// A job whose runs killed this many processes is not run again.
pub const MAX_DEATHS: i64 = 2;

/// Takes the next due job for `worker` until `lease_until`: a queued job whose time has come,
/// or a running one whose worker stopped renewing its lease (a death). A job that has killed
/// its runner twice, or was claimed more often than it may be tried, is failed here instead
/// of handed out again.
pub async fn claim(
    pool: &Pool,
    worker: &str,
    now: i64,
    lease_until: i64,
) -> DbResult<Option<JobRow>> {
    loop {
        let due: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM jobs WHERE (state = 'queued' AND run_at <= $1) \
               OR (state = 'running' AND lease_until < $1) LIMIT 1",
        )
        .bind(now)
        .fetch_optional(pool)
        .await?;
        if due.is_none() {
            return Ok(None);
        }
        let job: Option<JobRow> = sqlx::query_as(claim_sql(Backend::of(pool)))
            .bind(worker)
            .bind(lease_until)
            .bind(now)
            .fetch_optional(pool.writer())
            .await?;
        let Some(job) = job else {
            return Ok(None);
        };
        // The claim is its own statement so that workers on PostgreSQL skip each other's
        // rows instead of queueing; what it means for the file is written after, in order.
        // A worker dying in between leaves a running job whose lease will lapse.
        // The file's state is decided from all its jobs: another instance finishing a sibling
        // must wait, or each would read the other's job as unfinished.
        let mut tx = pool.begin_for_upload(&job.upload_id).await?;
        let why = if job.deaths >= MAX_DEATHS {
            Some(format!(
                "{}: the process running it died twice (killed, crashed or lost), \
                 so it is not tried again",
                job.kind
            ))
        } else if job.attempts > job.max_attempts {
            Some(format!(
                "{} stopped: its worker stopped answering {} times",
                job.kind, job.max_attempts
            ))
        } else {
            None
        };
        if let Some(why) = why {
            // Not handed out: this claim was no attempt.
            sqlx::query("UPDATE jobs SET attempts = attempts - 1 WHERE id = $1")
                .bind(job.id)
                .execute(&mut *tx)
                .await?;
            settle(&mut tx, &job, &Outcome::Failed(why), now).await?;
            tx.commit().await?;
            continue;
        }
        let started = sqlx::query(
            "UPDATE files SET processing = 'processing', updated_at = $1 \
             WHERE upload_id = $2 AND processing = 'queued'",
        )
        .bind(now)
        .bind(&job.upload_id)
        .execute(&mut *tx)
        .await?;
        if started.rows_affected() > 0 {
            views::changed(&mut tx, &job.upload_id, now).await?;
        }
        tx.commit().await?;
        return Ok(Some(job));
    }
}

/// One statement takes the oldest due job. SQLite runs it under its write lock; on
/// PostgreSQL `SKIP LOCKED` passes over a row another worker is taking, and the outer
/// condition is checked again on the row actually locked.
fn claim_sql(backend: Backend) -> &'static str {
    macro_rules! claim {
        ($lock:literal) => {
            concat!(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, worker = $1, \
                   lease_until = $2, error = CASE WHEN state = 'running' \
                     THEN 'its worker stopped answering' ELSE error END, \
                   deaths = deaths + CASE WHEN state = 'running' THEN 1 ELSE 0 END \
                 WHERE id = (SELECT id FROM jobs \
                   WHERE (state = 'queued' AND run_at <= $3) \
                     OR (state = 'running' AND lease_until < $3) \
                   ORDER BY run_at, id LIMIT 1",
                $lock,
                ") AND ((state = 'queued' AND run_at <= $3) \
                   OR (state = 'running' AND lease_until < $3)) \
                 RETURNING ",
                job_columns!()
            )
        };
    }
    match backend {
        Backend::Sqlite => claim!(""),
        Backend::Postgres => claim!(" FOR UPDATE SKIP LOCKED"),
    }
}

/// Renews a lease. `false`: the job is no longer this worker's (its lease lapsed and another
/// took it, or the file was deleted), and the worker should drop it.
pub async fn renew(pool: &Pool, job_id: i64, worker: &str, lease_until: i64) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET lease_until = $1 WHERE id = $2 AND worker = $3 AND state = 'running'",
    )
    .bind(lease_until)
    .bind(job_id)
    .bind(worker)
    .execute(pool.writer())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Hands back the jobs that the workers named `{worker}/…` are running, as a clean shutdown
/// does: they are queued again at once, their run neither counted as an attempt nor as a death.
pub async fn release(pool: &Pool, worker: &str, now: i64) -> DbResult<u64> {
    let done = sqlx::query(
        "UPDATE jobs SET state = 'queued', worker = NULL, lease_until = NULL, run_at = $1, \
               attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END \
             WHERE state = 'running' AND worker LIKE $2",
    )
    .bind(now)
    .bind(format!("{worker}/%"))
    .execute(pool.writer())
    .await?;
    Ok(done.rows_affected())
}

/// What a finished job found, written to its file with the job's end.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Findings {
    pub sha256: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_ms: Option<u64>,
    pub codecs: Option<String>,
    pub thumbnail_key: Option<String>,
    /// The scan's verdict and its detail (the signature, or why it could not scan).
    pub scan: Option<(Scan, Option<String>)>,
    /// Jobs of these kinds to queue for the file now (a ladder's lower rungs).
    pub follow_up: Vec<&'static str>,
}

/// Ends a run: the outcome, what it found, the file's processing state and its event, in one
/// transaction. `false` if the job was no longer this worker's: then nothing is written.
pub async fn finish(
    pool: &Pool,
    job: &JobRow,
    worker: &str,
    outcome: &Outcome,
    findings: &Findings,
    now: i64,
) -> DbResult<bool> {
    // Siblings' states decide the file's (see `claim`).
    let mut tx = pool.begin_for_upload(&job.upload_id).await?;
    // An update, not a read, so that the row stays locked: on PostgreSQL a claim of a lapsed
    // lease could otherwise slip in between this check and the job's end.
    let mine: Option<(i64,)> = sqlx::query_as(
        "UPDATE jobs SET lease_until = lease_until \
         WHERE id = $1 AND worker = $2 AND state = 'running' RETURNING id",
    )
    .bind(job.id)
    .bind(worker)
    .fetch_optional(&mut *tx)
    .await?;
    if mine.is_none() {
        return Ok(false);
    }
    let number = |n: Option<u32>| n.map(i64::from);
    // An infected file takes no new thumbnail: its object and pictures are being deleted.
    let written = sqlx::query(
        "UPDATE files SET sha256 = COALESCE($1, sha256), width = COALESCE($2, width), \
           height = COALESCE($3, height), duration_ms = COALESCE($4, duration_ms), \
           codecs = COALESCE($5, codecs), thumbnail_key = COALESCE($6, thumbnail_key) \
         WHERE upload_id = $7 AND scan <> 'infected'",
    )
    .bind(&findings.sha256)
    .bind(number(findings.width))
    .bind(number(findings.height))
    .bind(findings.duration_ms.and_then(|d| i64::try_from(d).ok()))
    .bind(&findings.codecs)
    .bind(&findings.thumbnail_key)
    .bind(&job.upload_id)
    .execute(&mut *tx)
    .await?;
    if written.rows_affected() == 0 {
        // Doomed here, it is deleted unless a row names it after all (the outbox checks).
        if let Some(key) = &findings.thumbnail_key {
            super::outbox::doom(&mut tx, &[key], now).await?;
        }
    }
    match &findings.scan {
        Some((Scan::Infected, signature)) => {
            let signature = signature.as_deref().unwrap_or("unnamed");
            super::quarantine::quarantine(&mut tx, &job.upload_id, signature, now).await?;
        }
        Some((scan, detail)) => {
            sqlx::query(
                "UPDATE files SET scan = $1, scan_detail = $2 \
                 WHERE upload_id = $3 AND scan <> 'infected'",
            )
            .bind(*scan)
            .bind(detail)
            .bind(&job.upload_id)
            .execute(&mut *tx)
            .await?;
        }
        None => {}
    }
    if !findings.follow_up.is_empty() {
        // An infected file's bytes are going: nothing more is made from them.
        let infected: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM files WHERE upload_id = $1 AND scan = 'infected'",
        )
        .bind(&job.upload_id)
        .fetch_one(&mut *tx)
        .await?;
        if infected == 0 {
            let attempts = u32::try_from(job.max_attempts).unwrap_or(1);
            enqueue(
                &mut tx,
                &job.upload_id,
                &findings.follow_up,
                attempts,
                now,
                now,
            )
            .await?;
        }
    }
    settle(&mut tx, job, outcome, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// Records the outcome and brings the file's processing state in line with its jobs.
async fn settle(tx: &mut Conn, job: &JobRow, outcome: &Outcome, now: i64) -> DbResult<()> {
    let state = outcome.word();
    let (error, run_at) = match outcome {
        Outcome::Done => (None, None),
        Outcome::Skipped(why) => (Some(why.as_str()), None),
        Outcome::Retry { error, run_at, .. } => (Some(error.as_str()), Some(*run_at)),
        Outcome::Failed(error) => (Some(error.as_str()), None),
    };
    let died = matches!(outcome, Outcome::Retry { died: true, .. });
    let finished = (state != "queued").then_some(now);
    sqlx::query(
        "UPDATE jobs SET state = $1, error = $2, run_at = COALESCE($3, run_at), \
           finished_at = $4, worker = NULL, lease_until = NULL, deaths = deaths + $5, \
           progress = NULL \
         WHERE id = $6",
    )
    .bind(state)
    .bind(error)
    .bind(run_at)
    .bind(finished)
    .bind(i64::from(died))
    .bind(job.id)
    .execute(&mut *tx)
    .await?;

    let (pending, failed): (i64, i64) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(CASE WHEN state IN ('queued', 'running') THEN 1 ELSE 0 END), 0) \
                  AS BIGINT), \
                CAST(COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM jobs WHERE upload_id = $1 AND kind <> 'scan'",
    )
    .bind(&job.upload_id)
    .fetch_one(&mut *tx)
    .await?;
    let processing = match (pending, failed) {
        (0, 0) => Processing::Ready,
        (0, _) => Processing::Failed,
        _ => Processing::Processing,
    };
    // The first failure is the one people read; later ones usually follow from it.
    sqlx::query(
        "UPDATE files SET processing = $1, updated_at = $2, error = CASE WHEN $3 > 0 THEN \
           (SELECT error FROM jobs WHERE upload_id = $4 AND state = 'failed' \
              AND kind <> 'scan' ORDER BY finished_at, id LIMIT 1) ELSE NULL END \
         WHERE upload_id = $4",
    )
    .bind(processing.as_str())
    .bind(now)
    .bind(failed)
    .bind(&job.upload_id)
    .execute(&mut *tx)
    .await?;
    views::changed(tx, &job.upload_id, now).await
}

/// How far a running job has got (0–100), and the file's event that says so. Nothing if the
/// job is no longer this worker's.
pub async fn progress(
    pool: &Pool,
    job: &JobRow,
    worker: &str,
    percent: u8,
    now: i64,
) -> DbResult<()> {
    let mut tx = pool.begin_for_upload(&job.upload_id).await?;
    let done = sqlx::query(
        "UPDATE jobs SET progress = $1 WHERE id = $2 AND worker = $3 AND state = 'running'",
    )
    .bind(i64::from(percent))
    .bind(job.id)
    .bind(worker)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() > 0 {
        views::changed(&mut tx, &job.upload_id, now).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// How many jobs are in `state` (`queued` or `running`), by kind: the queue's depth, as
/// `/metrics` reports it. Finished jobs stay in the table, so the state is always named.
pub async fn count_in(pool: &Pool, state: &str) -> DbResult<Vec<(String, i64)>> {
    let sql = "SELECT kind, COUNT(*) FROM jobs WHERE state = $1 GROUP BY kind ORDER BY kind";
    Ok(sqlx::query_as(sql).bind(state).fetch_all(pool).await?)
}

/// The jobs of one upload, for tests and for the file page.
pub async fn of_upload(pool: &Pool, upload_id: &str) -> DbResult<Vec<JobRow>> {
    let sql = concat!(
        "SELECT ",
        job_columns!(),
        " FROM jobs WHERE upload_id = $1 ORDER BY id"
    );
    Ok(sqlx::query_as(sql).bind(upload_id).fetch_all(pool).await?)
}

#[cfg(test)]
mod tests;
