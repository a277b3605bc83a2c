//! Queries on the `uploads` table.

use super::{Backend, Conn, Pool};
use super::{DbError, DbResult};
use crate::model::{ClosedBecause, UploadStatus, UploadView};

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct UploadRow {
    pub id: String,
    pub owner: String,
    pub name: String,
    pub object_key: String,
    pub content_type: String,
    pub size: i64,
    pub part_size: i64,
    pub s3_upload_id: Option<String>,
    pub status: String,
    /// A [`ClosedBecause`] as JSON (see [`UploadRow::closed_because`]).
    pub reason: Option<String>,
    pub created_at: i64,
    pub completed_at: Option<i64>,
    pub expires_at: Option<i64>,
    /// The checksum algorithm every part carries, if any (see [`crate::model::PartChecksum`]).
    pub checksum: Option<String>,
    /// Who is closing the upload right now: the reaper's token, or [`ABORT_CLAIM`] and a
    /// request's id. While set, nothing else may complete or extend it.
    pub reap_claim: Option<String>,
    /// Failed clean-ups so far: above 0, `expires_at` is the next retry, not a deadline.
    pub reap_attempts: i64,
}

/// Claims taken by `abort_upload` start with this; the reaper's are bare tokens.
pub const ABORT_CLAIM: &str = "abort:";

impl UploadRow {
    pub fn status(&self) -> DbResult<UploadStatus> {
        UploadStatus::parse(&self.status)
            .ok_or_else(|| DbError::Corrupt(format!("status {:?}", self.status)))
    }

    pub fn size(&self) -> u64 {
        u64::try_from(self.size).unwrap_or(0)
    }

    pub fn part_size(&self) -> u64 {
        u64::try_from(self.part_size).unwrap_or(1).max(1)
    }

    pub fn closed_because(&self) -> Option<ClosedBecause> {
        self.reason.as_deref().map(ClosedBecause::from_stored)
    }

    pub fn view(&self) -> DbResult<UploadView> {
        Ok(UploadView {
            id: self.id.clone(),
            name: self.name.clone(),
            size: self.size(),
            content_type: self.content_type.clone(),
            status: self.status()?,
            reason: self.closed_because(),
            created_at_ms: self.created_at,
            completed_at_ms: self.completed_at,
            file: None,
        })
    }
}

/// The columns of [`UploadRow`], as a literal so queries stay `&'static str` (sqlx refuses
/// SQL built at run time unless told it is safe).
macro_rules! columns {
    () => {
        "id, owner, name, object_key, content_type, size, part_size, s3_upload_id, \
         status, reason, created_at, completed_at, expires_at, checksum, reap_claim"
    };
}

/// What a read of an [`UploadRow`] selects: its written columns and the reaper's count.
macro_rules! row_columns {
    () => {
        concat!($crate::db::uploads::columns!(), ", reap_attempts")
    };
}
pub(crate) use columns;
pub(crate) use row_columns;

/// How many uploads a scope has, as migration 0009's triggers keep it.
macro_rules! held_files {
    ($scope:literal, $param:literal) => {
        concat!(
            "COALESCE((SELECT files FROM held WHERE scope = '",
            $scope,
            ":' || ",
            $param,
            "), 0)"
        )
    };
}
pub(crate) use held_files;

/// The bytes held in `$scope` ("owner" or "net", a guest network) named by `$param`: the
/// distinct objects of its uploads that are uploading or uploaded, an object several uploads
/// share (the same content uploaded again) counted once. The database's triggers keep the
/// figure in `held` (migration 0008), so reading it costs one row however much is held.
macro_rules! held_bytes {
    ($scope:literal, $param:literal) => {
        concat!(
            "COALESCE((SELECT bytes FROM held WHERE scope = '",
            $scope,
            ":' || ",
            $param,
            "), 0)"
        )
    };
}
pub(crate) use held_bytes;

pub async fn insert<'e, E>(db: E, row: &UploadRow) -> DbResult<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let query = sqlx::query(concat!(
        "INSERT INTO uploads (",
        columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    ));
    bind_row(query, row).execute(db).await?;
    Ok(())
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Binds [`UploadRow`]'s values in the order of `columns!()`.
fn bind_row<'q>(query: Query<'q>, row: &'q UploadRow) -> Query<'q> {
    query
        .bind(&row.id)
        .bind(&row.owner)
        .bind(&row.name)
        .bind(&row.object_key)
        .bind(&row.content_type)
        .bind(row.size)
        .bind(row.part_size)
        .bind(&row.s3_upload_id)
        .bind(&row.status)
        .bind(&row.reason)
        .bind(row.created_at)
        .bind(row.completed_at)
        .bind(row.expires_at)
        .bind(&row.checksum)
        .bind(&row.reap_claim)
}

/// What an owner may hold: bytes kept or on their way, and unfinished uploads; for a guest,
/// also what all guests of its network may hold together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowance {
    pub quota: u64,
    pub max_active: u64,
    /// Uploads of any status the owner may have.
    pub max_files: u64,
    pub network: Option<NetworkAllowance>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkAllowance {
    /// An IPv4 address, or an IPv6 /64.
    pub key: String,
    pub quota: u64,
    /// Uploads of any status all guests of the network may have.
    pub max_files: u64,
}

/// Why a new upload was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Its size on top of `used` (kept and reserved) would pass the quota.
    Quota { used: u64 },
    /// The owner has `active` unfinished uploads, the most allowed.
    Active { active: u64 },
    /// Its size on top of what the guests of its network keep (`used`) would pass their quota.
    Network { used: u64 },
    /// The owner, or the guests of its network, have as many uploads as they may.
    Files,
}

/// New uploads in one write transaction, each admitted only if it fits the owner's allowance
/// beside everything the owner holds at that instant, the batch's earlier files included.
/// The check and the insert are one statement inside a [`super::write`] transaction, so
/// concurrent starts are serialised: together they can never pass the quota. Each row
/// carries the checksum its only part is signed for when the browser sent one (a starting
/// upload has no part signed yet, so there is no conflict).
pub async fn insert_many(
    pool: &Pool,
    rows: &[(&UploadRow, Option<&str>)],
    allowance: &Allowance,
) -> DbResult<Vec<Result<(), Refused>>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let limit = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let quota = limit(allowance.quota);
    let max_active = limit(allowance.max_active);
    let net = allowance.network.as_ref().map(|n| n.key.as_str());
    let net_quota = allowance
        .network
        .as_ref()
        .map_or(i64::MAX, |n| limit(n.quota));
    let max_files = limit(allowance.max_files);
    let net_max_files = allowance
        .network
        .as_ref()
        .map_or(i64::MAX, |n| limit(n.max_files));
    let mut tx = super::write(pool).await?;
    let mut admitted = Vec::with_capacity(rows.len());
    for (row, first_part) in rows {
        let query = sqlx::query(concat!(
            "INSERT INTO uploads (",
            columns!(),
            ", guest_net) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
             $15, $16 WHERE ",
            held_bytes!("owner", "$2"),
            " + $6 <= $17 ",
            "AND (SELECT COUNT(*) FROM uploads WHERE owner = $2 AND status = 'uploading') < $18 ",
            "AND ($16 IS NULL OR ",
            held_bytes!("net", "$16"),
            " + $6 <= $19) AND ",
            held_files!("owner", "$2"),
            " < $20 AND ($16 IS NULL OR ",
            held_files!("net", "$16"),
            " < $21)"
        ));
        let done = bind_row(query, row)
            .bind(net)
            .bind(quota)
            .bind(max_active)
            .bind(net_quota)
            .bind(max_files)
            .bind(net_max_files)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            let files = (max_files, net_max_files);
            let refused = refusal(&mut tx, row, (quota, max_active), files, net).await?;
            admitted.push(Err(refused));
            continue;
        }
        if let Some(checksum) = first_part {
            sqlx::query(
                "INSERT INTO upload_parts (upload_id, part_number, checksum) VALUES ($1, 1, $2)",
            )
            .bind(&row.id)
            .bind(checksum)
            .execute(&mut *tx)
            .await?;
        }
        admitted.push(Ok(()));
    }
    tx.commit().await?;
    Ok(admitted)
}

/// Which limit a refused row met, read inside the transaction that refused it.
async fn refusal(
    tx: &mut Conn,
    row: &UploadRow,
    (quota, max_active): (i64, i64),
    (max_files, net_max_files): (i64, i64),
    net: Option<&str>,
) -> DbResult<Refused> {
    let (used, active, files, net_files): (i64, i64, i64, i64) = sqlx::query_as(concat!(
        "SELECT ",
        held_bytes!("owner", "$1"),
        ", (SELECT COUNT(*) FROM uploads WHERE owner = $1 AND status = 'uploading'), ",
        held_files!("owner", "$1"),
        ", ",
        held_files!("net", "$2"),
    ))
    .bind(&row.owner)
    .bind(net)
    .fetch_one(&mut *tx)
    .await?;
    if files >= max_files || net.is_some() && net_files >= net_max_files {
        return Ok(Refused::Files);
    }
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    if active >= max_active {
        return Ok(Refused::Active {
            active: count(active),
        });
    }
    if used.saturating_add(row.size) > quota || net.is_none() {
        return Ok(Refused::Quota { used: count(used) });
    }
    let net_used: i64 = sqlx::query_scalar(concat!("SELECT ", held_bytes!("net", "$1")))
        .bind(net)
        .fetch_one(&mut *tx)
        .await?;
    Ok(Refused::Network {
        used: count(net_used),
    })
}

/// The upload `id`, whoever owns it: for work the server does on its own (never on a
/// caller's word: see [`find_owned`]).
pub async fn find<'e, E>(db: E, id: &str) -> DbResult<Option<UploadRow>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = concat!("SELECT ", row_columns!(), " FROM uploads WHERE id = $1");
    Ok(sqlx::query_as(sql).bind(id).fetch_optional(db).await?)
}

/// The upload `id` if, and only if, it belongs to `owner`.
pub async fn find_owned(pool: &Pool, id: &str, owner: &str) -> DbResult<Option<UploadRow>> {
    let sql = concat!(
        "SELECT ",
        row_columns!(),
        " FROM uploads WHERE id = $1 AND owner = $2"
    );
    Ok(sqlx::query_as(sql)
        .bind(id)
        .bind(owner)
        .fetch_optional(pool)
        .await?)
}

/// The owner's uploads, newest first, starting after `after` (the `(created_at, id)` of the
/// last row of the previous page): a keyset page, as cheap on page 1,000 as on page 1.
pub async fn list_owned(
    pool: &Pool,
    owner: &str,
    after: Option<(i64, &str)>,
    limit: i64,
) -> DbResult<Vec<UploadRow>> {
    let (created_at, id) = after.unwrap_or((i64::MAX, ""));
    let sql = concat!(
        "SELECT ",
        row_columns!(),
        " FROM uploads WHERE owner = $1 AND (created_at < $2 OR (created_at = $2 AND id > $3)) \
         ORDER BY created_at DESC, id LIMIT $4"
    );
    Ok(sqlx::query_as(sql)
        .bind(owner)
        .bind(created_at)
        .bind(id)
        .bind(limit)
        .fetch_all(pool)
        .await?)
}

/// The store's ids for uploads it has started, `(id, s3_upload_id)`, in one transaction.
pub async fn set_s3_upload_ids(pool: &Pool, ids: &[(&str, &str)]) -> DbResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut tx = super::batch(pool).await?;
    for (id, s3_upload_id) in ids {
        sqlx::query("UPDATE uploads SET s3_upload_id = $1 WHERE id = $2")
            .bind(s3_upload_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Pushes the expiry of a living upload forward. Returns false if it is no longer uploading,
/// or has already expired (an expired upload is dead even before the reaper gets to it:
/// reviving it could race the reaper's abort), or someone is closing it. A failed cleanup
/// leaves a future retry time in `expires_at`; `reap_attempts` keeps such an upload dead.
pub async fn extend(pool: &Pool, id: &str, now: i64, expires_at: i64) -> DbResult<bool> {
    let done = super::alone(pool, sqlx::query(
        "UPDATE uploads SET expires_at = CASE WHEN expires_at > $1 THEN expires_at ELSE $1 END \
         WHERE id = $2 AND status = 'uploading' AND reap_claim IS NULL AND reap_attempts = 0 \
           AND expires_at > $3",
    )
    .bind(expires_at)
    .bind(id)
    .bind(now)
    .execute(pool))
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The pardon: a verified upload is taken off death row. Returns false if the upload had
/// already left the `uploading` state (completed or closed by a concurrent call).
pub async fn mark_uploaded<'e, E>(db: E, id: &str, now: i64) -> DbResult<bool>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let done = sqlx::query(
        "UPDATE uploads SET status = 'uploaded', completed_at = $1, expires_at = NULL, \
           reason = NULL \
         WHERE id = $2 AND status = 'uploading' AND reap_claim IS NULL",
    )
    .bind(now)
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends an upload that will never be verified (rejected or aborted). An upload already
/// settled keeps what it was: the caller reads the row afterwards. One the reaper (or an
/// abort) has claimed is left to its claimant, which closes it once its cleanup is done: a
/// row closed under a claim would be given back with a new expiry by a failed cleanup.
pub async fn mark_closed(
    pool: &Pool,
    id: &str,
    status: UploadStatus,
    reason: Option<&ClosedBecause>,
    now: i64,
) -> DbResult<()> {
    super::alone(
        pool,
        sqlx::query(
            "UPDATE uploads SET status = $1, reason = $2, completed_at = $3, expires_at = NULL \
         WHERE id = $4 AND status = 'uploading' AND reap_claim IS NULL",
        )
        .bind(status.as_str())
        .bind(reason.map(ClosedBecause::to_stored))
        .bind(now)
        .bind(id)
        .execute(pool),
    )
    .await?;
    Ok(())
}

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
    let done = super::alone(
        pool,
        sqlx::query(
            "UPDATE uploads SET reap_claim = $1, expires_at = $2 \
         WHERE id = $3 AND status = 'uploading' AND reap_claim IS NULL AND reap_attempts = 0 \
           AND expires_at > $4",
        )
        .bind(claim)
        .bind(lease_until)
        .bind(id)
        .bind(now)
        .execute(pool),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives an abort's claim back (the store was away): the upload lives on, as before.
pub async fn release_claim(pool: &Pool, id: &str, claim: &str) -> DbResult<()> {
    super::alone(
        pool,
        sqlx::query("UPDATE uploads SET reap_claim = NULL WHERE id = $1 AND reap_claim = $2")
            .bind(id)
            .bind(claim)
            .execute(pool),
    )
    .await?;
    Ok(())
}

/// Ends a claimed upload as `aborted`. `false`: the claim was lost meanwhile (the reaper took
/// over), which the caller sees when it reads the row again.
pub async fn mark_aborted(pool: &Pool, id: &str, claim: &str, now: i64) -> DbResult<bool> {
    let done = super::alone(
        pool,
        sqlx::query(
            "UPDATE uploads SET status = 'aborted', reason = NULL, completed_at = $1, \
         expires_at = NULL, reap_claim = NULL \
         WHERE id = $2 AND reap_claim = $3 AND status = 'uploading'",
        )
        .bind(now)
        .bind(id)
        .bind(claim)
        .execute(pool),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records the checksum each part is being signed for. Returns the parts already signed for
/// a different checksum; those are left as they were.
pub async fn record_part_checksums(
    pool: &Pool,
    upload_id: &str,
    parts: &[(u32, &str)],
) -> DbResult<Vec<u32>> {
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    // One statement for the whole batch (at most MAX_SIGN_BATCH rows): on SQLite every
    // statement is a trip to the connection's thread and a turn at the write lock.
    let rows: Vec<String> = (0..parts.len())
        .map(|i| format!("($1, ${}, ${})", 2 * i + 2, 2 * i + 3))
        .collect();
    let sql = format!(
        "INSERT INTO upload_parts (upload_id, part_number, checksum) VALUES {} \
         ON CONFLICT (upload_id, part_number) DO UPDATE SET checksum = upload_parts.checksum \
         RETURNING part_number, checksum",
        rows.join(", ")
    );
    let mut query = sqlx::query_as::<_, (i64, String)>(sqlx::AssertSqlSafe(sql)).bind(upload_id);
    for &(part_number, checksum) in parts {
        query = query.bind(i64::from(part_number)).bind(checksum);
    }
    let recorded = super::alone(pool, query.fetch_all(pool)).await?;
    Ok(parts
        .iter()
        .filter(|&&(n, checksum)| {
            recorded
                .iter()
                .any(|(m, held)| *m == i64::from(n) && held != checksum)
        })
        .map(|&(n, _)| n)
        .collect())
}

/// Signs a part for other content after all: the store refused (or never got) the first.
pub async fn replace_part_checksum(
    pool: &Pool,
    upload_id: &str,
    part_number: u32,
    checksum: &str,
) -> DbResult<()> {
    super::alone(
        pool,
        sqlx::query(
            "UPDATE upload_parts SET checksum = $1 WHERE upload_id = $2 AND part_number = $3",
        )
        .bind(checksum)
        .bind(upload_id)
        .bind(i64::from(part_number))
        .execute(pool),
    )
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
    Ok(super::alone(
        pool,
        sqlx::query_as(sql)
            .bind(token)
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .fetch_all(pool),
    )
    .await?)
}

/// Removes up to `limit` uploads that ended without a file (aborted, rejected, expired)
/// before `before`, through the index of closed uploads. A row still being cleaned up (a
/// claim or an expiry on it) stays until the cleanup is done. Returns how many went.
pub async fn remove_closed(pool: &Pool, before: i64, limit: i64) -> DbResult<u64> {
    let done = super::alone(
        pool,
        sqlx::query(
            "DELETE FROM uploads WHERE id IN (SELECT id FROM uploads \
               WHERE status IN ('aborted', 'rejected', 'expired') AND completed_at < $1 \
               AND expires_at IS NULL AND reap_claim IS NULL LIMIT $2)",
        )
        .bind(before)
        .bind(limit)
        .execute(pool),
    )
    .await?;
    Ok(done.rows_affected())
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

/// Marks claimed uploads `expired`, in one transaction. Returns how many were still held by
/// this claim (an upload aborted meanwhile by its owner stays `aborted`).
pub async fn mark_reaped(
    pool: &Pool,
    token: &str,
    ids: &[String],
    reason: &ClosedBecause,
    now: i64,
) -> DbResult<u64> {
    let reason = reason.to_stored();
    let mut tx = super::batch(pool).await?;
    let mut marked = 0;
    for id in ids {
        marked += sqlx::query(
            "UPDATE uploads SET status = 'expired', reason = $1, completed_at = $2, \
             expires_at = NULL, reap_claim = NULL, reap_error = NULL \
             WHERE id = $3 AND reap_claim = $4 AND status = 'uploading'",
        )
        .bind(&reason)
        .bind(now)
        .bind(id)
        .bind(token)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    tx.commit().await?;
    Ok(marked)
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
    super::alone(
        pool,
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
        .execute(pool),
    )
    .await?;
    Ok(())
}

/// The store's upload id a living upload under `key` has recorded: `Some(None)` while it is
/// still being created, `None` if no living upload owns the key.
pub async fn living_upload_at(pool: &Pool, key: &str) -> DbResult<Option<Option<String>>> {
    Ok(sqlx::query_scalar(
        "SELECT s3_upload_id FROM uploads WHERE object_key = $1 AND status = 'uploading'",
    )
    .bind(key)
    .fetch_optional(pool)
    .await?)
}
