//! Queries on the `uploads` table.

use super::{DbError, DbResult};
use crate::model::{UploadStatus, UploadView};
use sqlx::SqlitePool;

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
    pub reason: Option<String>,
    pub created_at: i64,
    pub completed_at: Option<i64>,
    pub expires_at: Option<i64>,
}

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

    pub fn view(&self) -> DbResult<UploadView> {
        Ok(UploadView {
            id: self.id.clone(),
            name: self.name.clone(),
            size: self.size(),
            content_type: self.content_type.clone(),
            status: self.status()?,
            reason: self.reason.clone(),
            created_at_ms: self.created_at,
            completed_at_ms: self.completed_at,
        })
    }
}

/// The columns of [`UploadRow`], as a literal so queries stay `&'static str` (sqlx refuses
/// SQL built at run time unless told it is safe).
macro_rules! columns {
    () => {
        "id, owner, name, object_key, content_type, size, part_size, s3_upload_id, \
         status, reason, created_at, completed_at, expires_at"
    };
}

pub async fn insert(pool: &SqlitePool, row: &UploadRow) -> DbResult<()> {
    sqlx::query(concat!(
        "INSERT INTO uploads (",
        columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
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
    .execute(pool)
    .await?;
    Ok(())
}

/// The upload `id` if, and only if, it belongs to `owner`.
pub async fn find_owned(pool: &SqlitePool, id: &str, owner: &str) -> DbResult<Option<UploadRow>> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM uploads WHERE id = ? AND owner = ?"
    );
    Ok(sqlx::query_as(sql)
        .bind(id)
        .bind(owner)
        .fetch_optional(pool)
        .await?)
}

/// The owner's uploads, newest first.
pub async fn list_owned(pool: &SqlitePool, owner: &str, limit: i64) -> DbResult<Vec<UploadRow>> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM uploads WHERE owner = ? ORDER BY created_at DESC, id LIMIT ?"
    );
    Ok(sqlx::query_as(sql)
        .bind(owner)
        .bind(limit)
        .fetch_all(pool)
        .await?)
}

pub async fn set_s3_upload_id(pool: &SqlitePool, id: &str, s3_upload_id: &str) -> DbResult<()> {
    sqlx::query("UPDATE uploads SET s3_upload_id = ? WHERE id = ?")
        .bind(s3_upload_id)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Pushes the expiry of a living upload forward. Returns false if it is no longer uploading.
pub async fn extend(pool: &SqlitePool, id: &str, expires_at: i64) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE uploads SET expires_at = MAX(expires_at, ?) WHERE id = ? AND status = 'uploading'",
    )
    .bind(expires_at)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The pardon: a verified upload is taken off death row. Returns false if the upload had
/// already left the `uploading` state (completed or closed by a concurrent call).
pub async fn mark_uploaded(pool: &SqlitePool, id: &str, now: i64) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE uploads SET status = 'uploaded', completed_at = ?, expires_at = NULL, reason = NULL \
         WHERE id = ? AND status = 'uploading'",
    )
    .bind(now)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends an upload that will never be verified (rejected or aborted).
pub async fn mark_closed(
    pool: &SqlitePool,
    id: &str,
    status: UploadStatus,
    reason: Option<&str>,
    now: i64,
) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE uploads SET status = ?, reason = ?, completed_at = ?, expires_at = NULL \
         WHERE id = ? AND status = 'uploading'",
    )
    .bind(status.as_str())
    .bind(reason)
    .bind(now)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}
