//! Queries on the `files` table: an upload once it has arrived, what processing found and what
//! its owner says of it. Every change here writes its event in the same transaction.

use super::{events, jobs, uploads, DbError, DbResult};
use super::{Conn, Pool};
use crate::model::{FileInfo, Processing, UploadEvent, UploadView, Visibility};

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
    pool: &Pool,
    upload_id: &str,
    now: i64,
    kinds: &[&str],
    max_attempts: u32,
) -> DbResult<bool> {
    let mut tx = pool.writer().begin().await?;
    if !uploads::mark_uploaded(&mut *tx, upload_id, now).await? {
        return Ok(false);
    }
    let share_key = uuid::Uuid::new_v4().simple().to_string();
    sqlx::query(
        "INSERT INTO files (upload_id, processing, title, share_key, updated_at) \
         SELECT id, $1, name, $2, $3 FROM uploads WHERE id = $4",
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
    let mut view = row.view()?;
    view.file = file.as_ref().map(FileRow::info).transpose()?;
    Ok(Some((row.owner, view)))
}

/// Writes the upload's event as it now stands (nothing if it is gone).
pub async fn changed(conn: &mut Conn, upload_id: &str, now: i64) -> DbResult<()> {
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
    pool: &Pool,
    upload_id: &str,
    owner: &str,
    title: &str,
    description: &str,
    visibility: Visibility,
    now: i64,
) -> DbResult<bool> {
    let mut tx = pool.writer().begin().await?;
    let done = sqlx::query(
        "UPDATE files SET title = $1, description = $2, visibility = $3, updated_at = $4 \
         WHERE upload_id = $5 AND upload_id IN (SELECT id FROM uploads WHERE owner = $6)",
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

/// Gives the file a new link key, so that every link handed out before opens nothing.
/// False if `owner` has no such file.
pub async fn new_share_key(pool: &Pool, upload_id: &str, owner: &str, now: i64) -> DbResult<bool> {
    let mut tx = pool.writer().begin().await?;
    let done = sqlx::query(
        "UPDATE files SET share_key = $1, updated_at = $2 \
         WHERE upload_id = $3 AND upload_id IN (SELECT id FROM uploads WHERE owner = $4)",
    )
    .bind(uuid::Uuid::new_v4().simple().to_string())
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

/// Whether `owner`'s files may be shown to anyone else: not when the owner is an account that
/// has been disabled (its public and link files go dark with it; its files stay).
pub async fn owner_may_share(pool: &Pool, owner: &str) -> DbResult<bool> {
    let disabled: Option<(i64,)> = sqlx::query_as(
        "SELECT disabled FROM accounts WHERE 'account:' || id = $1 AND disabled = 1",
    )
    .bind(owner)
    .fetch_optional(pool)
    .await?;
    Ok(disabled.is_none())
}

/// Public files, most recently changed first, with their uploads. A disabled account's
/// files are left out.
pub async fn public(pool: &Pool, limit: i64) -> DbResult<Vec<String>> {
    let ids: Vec<(String,)> = sqlx::query_as(
        "SELECT f.upload_id FROM files f JOIN uploads u ON u.id = f.upload_id \
         WHERE f.visibility = 'public' AND u.status = 'uploaded' \
           AND NOT EXISTS (SELECT 1 FROM accounts a \
             WHERE 'account:' || a.id = u.owner AND a.disabled = 1) \
         ORDER BY f.updated_at DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(ids.into_iter().map(|(id,)| id).collect())
}

/// Makes `row` (a new upload, not yet written) an `uploaded` upload sharing the object of the
/// owner's earlier upload with this SHA-256 and size, if there is one whose processing has
/// finished: its file row takes what processing found there, so no job runs again. `false`
/// (and nothing written) if the owner holds no such upload. Written holding the owner, with
/// the source still uploaded and unclaimed, so a delete of the source running at the
/// same moment either sees the new upload or is seen by it (see
/// [`super::outbox::delete_upload`]). A copy costs no quota, but it is a row: past the owner's
/// (or its guest network's) `max_files` none is made (and the fresh start that follows is
/// refused with the reason).
pub async fn share_stored(
    pool: &Pool,
    row: &uploads::UploadRow,
    sha256: &str,
    allowance: &uploads::Allowance,
) -> DbResult<bool> {
    const SOURCE: &str = "SELECT u.id, u.object_key, u.content_type, u.guest_net
         FROM files f JOIN uploads u ON u.id = f.upload_id
         WHERE f.sha256 = $1 AND u.owner = $2 AND u.size = $3 AND u.status = 'uploaded'
           AND u.reap_claim IS NULL AND f.processing IN ('ready', 'failed')
         LIMIT 1";
    type Source = (String, String, String, Option<String>);
    let find = || {
        sqlx::query_as::<_, Source>(SOURCE)
            .bind(sha256)
            .bind(&row.owner)
            .bind(row.size)
    };
    // A plain read first: a file the owner does not hold costs no write lock.
    if find().fetch_optional(pool).await?.is_none() {
        return Ok(false);
    }
    let mut tx = pool.writer().begin().await?;
    let net = allowance
        .network
        .as_ref()
        .map(|n| uploads::network_key(&n.key));
    let mut holds = vec![row.owner.as_str()];
    holds.extend(net.as_deref());
    tx.hold(&holds).await?;
    let Some((source, key, content_type, guest_net)) = find().fetch_optional(&mut *tx).await?
    else {
        return Ok(false);
    };
    let now = row.created_at;
    let limit = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let net_max = allowance
        .network
        .as_ref()
        .map_or(i64::MAX, |n| limit(n.max_files));
    let made = sqlx::query(concat!(
        "INSERT INTO uploads (id, owner, name, object_key, content_type, size, part_size, status,
             created_at, completed_at, checksum, guest_net)
         SELECT $1, $2, $3, $4, $5, $6, $7, 'uploaded', $8, $8, $9, $10 WHERE ",
        uploads::held_files!("owner", "$2"),
        " < $11 AND ($10 IS NULL OR ",
        uploads::held_files!("net", "$10"),
        " < $12)"
    ))
    .bind(&row.id)
    .bind(&row.owner)
    .bind(&row.name)
    .bind(key)
    .bind(content_type)
    .bind(row.size)
    .bind(row.part_size)
    .bind(now)
    .bind(&row.checksum)
    .bind(guest_net)
    .bind(limit(allowance.max_files))
    .bind(net_max)
    .execute(&mut *tx)
    .await?;
    if made.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO files (upload_id, processing, error, sha256, width, height, duration_ms,
             codecs, thumbnail_key, title, share_key, updated_at)
         SELECT $1, processing, error, sha256, width, height, duration_ms, codecs, thumbnail_key,
             $2, $3, $4 FROM files WHERE upload_id = $5",
    )
    .bind(&row.id)
    .bind(&row.name)
    .bind(uuid::Uuid::new_v4().simple().to_string())
    .bind(now)
    .bind(source)
    .execute(&mut *tx)
    .await?;
    changed(&mut tx, &row.id, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// An object a fold left without uploads, doomed in the fold's transaction.
#[derive(Debug, PartialEq, Eq)]
pub struct Unused {
    pub key: String,
    pub thumbnail_key: Option<String>,
}

/// Content sent again (a file larger than a client reads before sending): once `upload_id`'s
/// processing has ended and its SHA-256 is known, it and every upload sharing its object move
/// to the owner's earlier object of the same content, if there is one, and its own object is
/// doomed in the same transaction (the outbox deletes it from the store). Holding the owner,
/// with both uploads unclaimed (see [`super::outbox::delete_upload`]).
pub async fn fold_into_twin(pool: &Pool, upload_id: &str, now: i64) -> DbResult<Option<Unused>> {
    const TWIN: &str = "SELECT u.object_key, t.object_key, tf.thumbnail_key, uf.thumbnail_key
         FROM uploads u JOIN files uf ON uf.upload_id = u.id
         JOIN files tf ON tf.sha256 = uf.sha256
         JOIN uploads t ON t.id = tf.upload_id
         WHERE u.id = $1 AND u.status = 'uploaded' AND u.reap_claim IS NULL
           AND uf.processing IN ('ready', 'failed') AND uf.sha256 IS NOT NULL
           AND t.owner = u.owner AND t.size = u.size AND t.object_key != u.object_key
           AND t.status = 'uploaded' AND t.reap_claim IS NULL
           AND tf.processing IN ('ready', 'failed')
           AND (t.created_at, t.id) < (u.created_at, u.id)
         ORDER BY t.created_at, t.id LIMIT 1";
    type Twin = (String, String, Option<String>, Option<String>);
    let find = || sqlx::query_as::<_, Twin>(TWIN).bind(upload_id);
    if find().fetch_optional(pool).await?.is_none() {
        return Ok(None);
    }
    let mut tx = pool.writer().begin().await?;
    tx.hold_owner_of(upload_id).await?;
    let Some((own_key, twin_key, twin_thumbnail, own_thumbnail)) =
        find().fetch_optional(&mut *tx).await?
    else {
        return Ok(None);
    };
    let moved: Vec<(String,)> = sqlx::query_as(
        "UPDATE uploads SET object_key = $1 WHERE object_key = $2 AND status = 'uploaded' \
         RETURNING id",
    )
    .bind(&twin_key)
    .bind(&own_key)
    .fetch_all(&mut *tx)
    .await?;
    for (id,) in &moved {
        sqlx::query("UPDATE files SET thumbnail_key = $1, updated_at = $2 WHERE upload_id = $3")
            .bind(&twin_thumbnail)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        changed(&mut tx, id, now).await?;
    }
    let mut doomed = vec![own_key.as_str()];
    if own_thumbnail != twin_thumbnail {
        doomed.extend(own_thumbnail.as_deref());
    }
    super::outbox::doom(&mut tx, &doomed, now).await?;
    tx.commit().await?;
    Ok(Some(Unused {
        key: own_key,
        thumbnail_key: own_thumbnail,
    }))
}
