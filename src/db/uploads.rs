//! Queries on the `uploads` table.

use super::DbResult;
use super::{Backend, Conn, Pool, Writer};
use crate::model::{ClosedBecause, LibrarySort, UploadStatus, UploadView};

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
    pub status: UploadStatus,
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
    pub fn size(&self) -> u64 {
        u64::try_from(self.size).unwrap_or(0)
    }

    pub fn part_size(&self) -> u64 {
        u64::try_from(self.part_size).unwrap_or(1).max(1)
    }

    pub fn closed_because(&self) -> Option<ClosedBecause> {
        self.reason.as_deref().map(ClosedBecause::from_stored)
    }

    pub fn view(&self) -> UploadView {
        UploadView {
            id: self.id.clone(),
            name: self.name.clone(),
            size: self.size(),
            content_type: self.content_type.clone(),
            status: self.status,
            reason: self.closed_because(),
            created_at_ms: self.created_at,
            completed_at_ms: self.completed_at,
            file: None,
        }
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

mod admission;
mod lifecycle;
mod parts;
mod reaping;

pub use admission::*;
pub use lifecycle::*;
pub use parts::*;
pub use reaping::*;

/// A row as it is, outside every allowance: for tests and tools that set up a state.
pub async fn insert(w: &Writer, row: &UploadRow) -> DbResult<()> {
    let query = sqlx::query(concat!(
        "INSERT INTO uploads (",
        columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    ));
    bind_row(query, row).execute(w).await?;
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
        .bind(row.status)
        .bind(&row.reason)
        .bind(row.created_at)
        .bind(row.completed_at)
        .bind(row.expires_at)
        .bind(&row.checksum)
        .bind(&row.reap_claim)
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

/// Where a page of the library starts: after the row with this sort key and id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum After {
    Number(i64, String),
    Text(String, String),
}

/// The owner's uploads in `sort`'s order, those whose name holds `search` (in either case, as
/// the database's `lower` sees letters), starting after `after`: a keyset page, which starts
/// where the index says instead of counting past the pages before. Ties are broken by id, so
/// no row is skipped or repeated. Names are lowered by the database alone, on both sides of
/// every comparison: Rust and SQLite disagree about letters beyond ASCII.
pub async fn list_owned(
    pool: &Pool,
    owner: &str,
    sort: LibrarySort,
    search: &str,
    after: Option<&After>,
    limit: i64,
) -> DbResult<Vec<UploadRow>> {
    // Fixed fragments only: what the caller sends is bound, never written into the text.
    let (key, cmp, dir, at) = match sort {
        LibrarySort::Newest => ("created_at", "<", "DESC", "$2"),
        LibrarySort::Oldest => ("created_at", ">", "ASC", "$2"),
        LibrarySort::Name => ("lower(name)", ">", "ASC", "lower($2)"),
        // As its index has it (migration 0016): ascending minus the size.
        LibrarySort::Largest => ("(-size)", ">", "ASC", "(-$2)"),
    };
    let filter = if search.is_empty() {
        ""
    } else {
        " AND lower(name) LIKE lower($5) ESCAPE '\\'"
    };
    let page = if after.is_some() {
        // The first term is the index's range; the second drops the ties already shown.
        format!(" AND {key} {cmp}= {at} AND ({key} {cmp} {at} OR id > $3)")
    } else {
        // $2 and $3 stay in the text, unused, so that every statement binds the same values.
        " AND ($2 IS NULL OR $3 IS NULL OR TRUE)".to_owned()
    };
    let sql = format!(
        "SELECT {} FROM uploads WHERE owner = $1{page}{filter} ORDER BY {key} {dir}, id LIMIT $4",
        row_columns!()
    );
    let query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(owner);
    let query = match after {
        Some(After::Number(n, id)) => query.bind(*n).bind(id.as_str()),
        Some(After::Text(t, id)) => query.bind(t.as_str()).bind(id.as_str()),
        None => query.bind(None::<i64>).bind(None::<String>),
    };
    let query = query.bind(limit);
    let query = if search.is_empty() {
        query
    } else {
        query.bind(format!("%{}%", like_escaped(search)))
    };
    Ok(query.fetch_all(pool).await?)
}

/// `text` matched literally by `LIKE … ESCAPE '\'`.
fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The store's ids for uploads it has started, `(id, s3_upload_id)`, in one transaction.
pub async fn set_s3_upload_ids(pool: &Pool, ids: &[(&str, &str)]) -> DbResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut tx = pool.writer().begin().await?;
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
    let done = sqlx::query(
        "UPDATE uploads SET expires_at = CASE WHEN expires_at > $1 THEN expires_at ELSE $1 END \
         WHERE id = $2 AND status = 'uploading' AND reap_claim IS NULL AND reap_attempts = 0 \
           AND expires_at > $3",
    )
    .bind(expires_at)
    .bind(id)
    .bind(now)
    .execute(pool.writer())
    .await?;
    Ok(done.rows_affected() == 1)
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
