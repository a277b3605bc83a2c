//! Queries on the `files` table: an upload once it has arrived, what processing found and what
//! its owner says of it. Every change here writes its event in the same transaction.

use super::{events, jobs, uploads, DbError, DbResult};
use crate::model::{FileInfo, Processing, UploadEvent, UploadView, Visibility};
use sqlx::{SqliteConnection, SqlitePool};

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct FileRow {
    pub upload_id: String,
    pub processing: String,
    pub error: Option<String>,
    pub sha256: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub duration_ms: Option<i64>,
    pub codecs: Option<String>,
    pub thumbnail_key: Option<String>,
    pub title: String,
    pub description: String,
    pub visibility: String,
    pub share_key: String,
    pub jobs_done: i64,
    pub jobs_total: i64,
}

macro_rules! file_columns {
    () => {
        "f.upload_id, f.processing, f.error, f.sha256, f.width, f.height, f.duration_ms, \
         f.codecs, f.thumbnail_key, f.title, f.description, f.visibility, f.share_key, \
         (SELECT COUNT(*) FROM jobs j WHERE j.upload_id = f.upload_id \
            AND j.state IN ('done', 'skipped')) AS jobs_done, \
         (SELECT COUNT(*) FROM jobs j WHERE j.upload_id = f.upload_id) AS jobs_total"
    };
}

impl FileRow {
    pub fn visibility(&self) -> DbResult<Visibility> {
        Visibility::parse(&self.visibility)
            .ok_or_else(|| DbError::Corrupt(format!("visibility {:?}", self.visibility)))
    }

    pub fn info(&self) -> DbResult<FileInfo> {
        let number = |n: Option<i64>| n.and_then(|n| u32::try_from(n).ok());
        Ok(FileInfo {
            processing: Processing::parse(&self.processing)
                .ok_or_else(|| DbError::Corrupt(format!("processing {:?}", self.processing)))?,
            error: self.error.clone(),
            jobs_done: u32::try_from(self.jobs_done).unwrap_or(0),
            jobs_total: u32::try_from(self.jobs_total).unwrap_or(0),
            sha256: self.sha256.clone(),
            width: number(self.width),
            height: number(self.height),
            duration_ms: self.duration_ms.and_then(|n| u64::try_from(n).ok()),
            codecs: self.codecs.clone(),
            thumbnail: self.thumbnail_key.is_some(),
            title: self.title.clone(),
            description: self.description.clone(),
            visibility: self.visibility()?,
        })
    }
}

/// The pardon and what follows it, in one transaction: the upload is marked uploaded (off
/// death row), its file row is made, its jobs are queued and its event is written. A crash
/// can leave all of it or none of it, never an uploaded file without its jobs. `false` if the
/// upload had already left the `uploading` state.
pub async fn arrive(
    pool: &SqlitePool,
    upload_id: &str,
    now: i64,
    kinds: &[&str],
    max_attempts: u32,
) -> DbResult<bool> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    if !uploads::mark_uploaded(&mut *tx, upload_id, now).await? {
        return Ok(false);
    }
    let share_key = uuid::Uuid::new_v4().simple().to_string();
    sqlx::query(
        "INSERT INTO files (upload_id, processing, title, share_key, updated_at) \
         SELECT id, ?, name, ?, ? FROM uploads WHERE id = ?",
    )
    .bind(if kinds.is_empty() { "ready" } else { "queued" })
    .bind(share_key)
    .bind(now)
    .bind(upload_id)
    .execute(&mut *tx)
    .await?;
    jobs::enqueue(&mut tx, upload_id, kinds, max_attempts, now).await?;
    changed(&mut tx, upload_id, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// The file rows of these uploads (those that have one).
pub async fn for_uploads(pool: &SqlitePool, upload_ids: &[&str]) -> DbResult<Vec<FileRow>> {
    if upload_ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::to_string(upload_ids).map_err(|e| DbError::Corrupt(e.to_string()))?;
    let sql = concat!(
        "SELECT ",
        file_columns!(),
        " FROM files f WHERE f.upload_id IN (SELECT value FROM json_each(?))"
    );
    Ok(sqlx::query_as(sql).bind(ids).fetch_all(pool).await?)
}

pub async fn find<'e, E>(db: E, upload_id: &str) -> DbResult<Option<FileRow>>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    let sql = concat!(
        "SELECT ",
        file_columns!(),
        " FROM files f WHERE f.upload_id = ?"
    );
    Ok(sqlx::query_as(sql)
        .bind(upload_id)
        .fetch_optional(db)
        .await?)
}

/// An upload with its file, as its owner sees it, and the owner.
pub async fn full_view(
    conn: &mut SqliteConnection,
    upload_id: &str,
) -> DbResult<Option<(String, UploadView)>> {
    let Some(row) = uploads::find(&mut *conn, upload_id).await? else {
        return Ok(None);
    };
    let file = find(&mut *conn, upload_id).await?;
    let mut view = row.view()?;
    view.file = file.as_ref().map(FileRow::info).transpose()?;
    Ok(Some((row.owner, view)))
}

/// Writes the upload's event as it now stands (nothing if it is gone).
pub async fn changed(conn: &mut SqliteConnection, upload_id: &str, now: i64) -> DbResult<()> {
    if let Some((owner, upload)) = full_view(conn, upload_id).await? {
        let body = serde_json::to_string(&UploadEvent::Changed {
            upload: Box::new(upload),
        })
        .map_err(|e| DbError::Corrupt(e.to_string()))?;
        events::record(conn, &owner, upload_id, &body, now).await?;
    }
    Ok(())
}

/// The owner's words and choice of audience. `false` if the file is not theirs (or has not
/// arrived).
pub async fn describe(
    pool: &SqlitePool,
    upload_id: &str,
    owner: &str,
    title: &str,
    description: &str,
    visibility: Visibility,
    now: i64,
) -> DbResult<bool> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let done = sqlx::query(
        "UPDATE files SET title = ?, description = ?, visibility = ?, updated_at = ? \
         WHERE upload_id = ? AND upload_id IN (SELECT id FROM uploads WHERE owner = ?)",
    )
    .bind(title)
    .bind(description)
    .bind(visibility.as_str())
    .bind(now)
    .bind(upload_id)
    .bind(owner)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    changed(&mut tx, upload_id, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// Public files, most recently changed first, with their uploads.
pub async fn public(pool: &SqlitePool, limit: i64) -> DbResult<Vec<String>> {
    let ids: Vec<(String,)> = sqlx::query_as(
        "SELECT f.upload_id FROM files f JOIN uploads u ON u.id = f.upload_id \
         WHERE f.visibility = 'public' AND u.status = 'uploaded' \
         ORDER BY f.updated_at DESC LIMIT ?",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(ids.into_iter().map(|(id,)| id).collect())
}

/// Deletes an upload's row (its file, jobs and parts go with it) and writes that it went.
pub async fn delete_with_event(
    pool: &SqlitePool,
    upload_id: &str,
    claim: &str,
    now: i64,
) -> DbResult<()> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let owner: Option<(String,)> =
        sqlx::query_as("DELETE FROM uploads WHERE id = ? AND reap_claim = ? RETURNING owner")
            .bind(upload_id)
            .bind(claim)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((owner,)) = owner {
        let body = serde_json::to_string(&UploadEvent::Deleted {
            upload_id: upload_id.to_owned(),
        })
        .map_err(|e| DbError::Corrupt(e.to_string()))?;
        events::record(&mut tx, &owner, upload_id, &body, now).await?;
    }
    tx.commit().await?;
    Ok(())
}
