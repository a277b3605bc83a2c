//! An upload with its file, as its owner's pages show it: the file rows, the view made of both,
//! and the event that says how an upload now stands, which every change writes in its own
//! transaction (`files`, `jobs`). Beneath them, so that they need not import each other.

use super::{events, uploads, Conn, DbResult, Pool};
use crate::model::{FileInfo, Processing, Scan, UploadView, Visibility};

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct FileRow {
    pub upload_id: String,
    pub processing: Processing,
    pub error: Option<String>,
    pub sha256: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub duration_ms: Option<i64>,
    pub codecs: Option<String>,
    pub thumbnail_key: Option<String>,
    pub title: String,
    pub description: String,
    pub visibility: Visibility,
    pub share_key: String,
    pub scan: Scan,
    pub scan_detail: Option<String>,
    /// The furthest a running job of the file has got (transcodes report it).
    pub progress: Option<i64>,
    /// Renditions of its HLS ladder ready to play.
    pub rungs: i64,
    pub jobs_done: i64,
    pub jobs_total: i64,
}

macro_rules! file_columns {
    () => {
        "f.upload_id, f.processing, f.error, f.sha256, f.width, f.height, f.duration_ms, \
         f.codecs, f.thumbnail_key, f.title, f.description, f.visibility, f.share_key, \
         f.scan, f.scan_detail, \
         (SELECT MAX(j.progress) FROM jobs j WHERE j.upload_id = f.upload_id \
            AND j.state = 'running') AS progress, \
         (SELECT COUNT(*) FROM renditions r WHERE r.upload_id = f.upload_id \
            AND r.playlist IS NOT NULL) AS rungs, \
         (SELECT COUNT(*) FROM jobs j WHERE j.upload_id = f.upload_id \
            AND j.state IN ('done', 'skipped')) AS jobs_done, \
         (SELECT COUNT(*) FROM jobs j WHERE j.upload_id = f.upload_id) AS jobs_total"
    };
}

impl FileRow {
    pub fn info(&self) -> FileInfo {
        let number = |n: Option<i64>| n.and_then(|n| u32::try_from(n).ok());
        FileInfo {
            processing: self.processing,
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
            visibility: self.visibility,
            scan: self.scan,
            scan_detail: self.scan_detail.clone(),
            progress: self
                .progress
                .and_then(|p| u8::try_from(p.clamp(0, 100)).ok()),
            rungs: u32::try_from(self.rungs).unwrap_or(0),
        }
    }
}

/// The file rows of these uploads (those that have one).
pub async fn for_uploads(pool: &Pool, upload_ids: &[&str]) -> DbResult<Vec<FileRow>> {
    if upload_ids.is_empty() {
        return Ok(Vec::new());
    }
    // A page is at most a few hundred rows; the statement holds only placeholders.
    let placeholders: Vec<String> = (1..=upload_ids.len()).map(|n| format!("${n}")).collect();
    let sql = format!(
        concat!(
            "SELECT ",
            file_columns!(),
            " FROM files f WHERE f.upload_id IN ({})"
        ),
        placeholders.join(", ")
    );
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    for id in upload_ids {
        query = query.bind(*id);
    }
    Ok(query.fetch_all(pool).await?)
}

pub async fn find<'e, E>(db: E, upload_id: &str) -> DbResult<Option<FileRow>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = concat!(
        "SELECT ",
        file_columns!(),
        " FROM files f WHERE f.upload_id = $1"
    );
    Ok(sqlx::query_as(sql)
        .bind(upload_id)
        .fetch_optional(db)
        .await?)
}

/// An upload with its file, as its owner sees it, and the owner.
pub async fn full_view(conn: &mut Conn, upload_id: &str) -> DbResult<Option<(String, UploadView)>> {
    let Some(row) = uploads::find(&mut *conn, upload_id).await? else {
        return Ok(None);
    };
    let file = find(&mut *conn, upload_id).await?;
    let mut view = row.view();
    view.file = file.as_ref().map(FileRow::info);
    Ok(Some((row.owner, view)))
}

/// Writes the upload's event as it now stands (nothing if it is gone).
pub async fn changed(conn: &mut Conn, upload_id: &str, now: i64) -> DbResult<()> {
    if let Some((owner, upload)) = full_view(conn, upload_id).await? {
        events::record_view(conn, &owner, upload, now).await?;
    }
    Ok(())
}
