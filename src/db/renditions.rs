//! Queries on the `renditions` table: a video's HLS ladder. A rendition's row is written before
//! its object and names it all along (see migration 0018), so every object a transcode may
//! have written is named by a row until the outbox is told to delete it.

use super::{outbox, views, Conn, DbResult, Pool};

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct RenditionRow {
    pub upload_id: String,
    /// The rung: the picture's shorter side.
    pub height: i64,
    pub width: i64,
    /// The picture's height (0 in rows older than migration 0019: `height`).
    pub picture_height: i64,
    pub object_key: String,
    pub playlist: Option<String>,
    pub bandwidth: i64,
    pub codecs: String,
    #[sqlx(try_from = "super::Flag")]
    pub remuxed: bool,
}

macro_rules! rendition_columns {
    () => {
        "upload_id, height, width, picture_height, object_key, playlist, bandwidth, codecs, \
         remuxed"
    };
}

impl RenditionRow {
    /// The picture's height in pixels.
    pub fn picture_height(&self) -> i64 {
        if self.picture_height > 0 {
            self.picture_height
        } else {
            self.height
        }
    }
}

/// What a finished rendition is, written with its playlist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Made {
    /// The rung: the picture's shorter side.
    pub height: u32,
    pub width: u32,
    pub picture_height: u32,
    pub object_key: String,
    pub playlist: String,
    pub bandwidth: u64,
    pub codecs: String,
    pub remuxed: bool,
}

/// Names `key` as the rendition of `upload_id` at `height` before anything is written there
/// (a retry finds its own reservation in place). `false`: the upload is gone (deleted
/// meanwhile) or was found infected, and nothing may be written.
pub async fn reserve(
    pool: &Pool,
    upload_id: &str,
    height: u32,
    key: &str,
    now: i64,
) -> DbResult<bool> {
    let mut tx = pool.begin_for_upload(upload_id).await?;
    let made = sqlx::query(
        "INSERT INTO renditions (upload_id, height, width, object_key, created_at) \
         SELECT u.id, $2, 0, $3, $4 FROM uploads u JOIN files f ON f.upload_id = u.id \
         WHERE u.id = $1 AND u.status = 'uploaded' AND f.scan <> 'infected' \
         ON CONFLICT (upload_id, height) DO NOTHING",
    )
    .bind(upload_id)
    .bind(i64::from(height))
    .bind(key)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let mine: Option<(String,)> = sqlx::query_as(
        "SELECT r.object_key FROM renditions r JOIN files f ON f.upload_id = r.upload_id \
         WHERE r.upload_id = $1 AND r.height = $2 AND r.object_key = $3 AND f.scan <> 'infected'",
    )
    .bind(upload_id)
    .bind(i64::from(height))
    .bind(key)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(made.rows_affected() > 0 || mine.is_some())
}

/// Publishes a rendition: from now on the file's ladder lists it. `false`: the upload or its
/// reservation went meanwhile; the caller dooms what it wrote.
pub async fn publish(pool: &Pool, upload_id: &str, made: &Made, now: i64) -> DbResult<bool> {
    let mut tx = pool.begin_for_upload(upload_id).await?;
    let done = sqlx::query(
        "UPDATE renditions SET width = $1, playlist = $2, bandwidth = $3, codecs = $4, \
           remuxed = $5, picture_height = $9 \
         WHERE upload_id = $6 AND height = $7 AND object_key = $8 \
           AND NOT EXISTS (SELECT 1 FROM files f WHERE f.upload_id = $6 AND f.scan = 'infected')",
    )
    .bind(i64::from(made.width))
    .bind(&made.playlist)
    .bind(i64::try_from(made.bandwidth).unwrap_or(i64::MAX))
    .bind(&made.codecs)
    .bind(i64::from(made.remuxed))
    .bind(upload_id)
    .bind(i64::from(made.height))
    .bind(&made.object_key)
    .bind(i64::from(made.picture_height))
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    views::changed(&mut tx, upload_id, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// Gives up the renditions of `upload_id` that a job which failed for good was making (at
/// `height`, or any not yet published): their rows go and their objects, if any were written,
/// are doomed in the same transaction.
pub async fn abandon(pool: &Pool, upload_id: &str, height: Option<u32>, now: i64) -> DbResult<()> {
    let mut tx = pool.begin_for_upload(upload_id).await?;
    let gone: Vec<(String,)> = sqlx::query_as(
        "DELETE FROM renditions WHERE upload_id = $1 AND playlist IS NULL \
           AND ($2 < 0 OR height = $2) RETURNING object_key",
    )
    .bind(upload_id)
    .bind(height.map_or(-1, i64::from))
    .fetch_all(&mut *tx)
    .await?;
    let keys: Vec<&str> = gone.iter().map(|(k,)| k.as_str()).collect();
    outbox::doom_unnamed_renditions(&mut tx, &keys, now).await?;
    tx.commit().await
}

/// The renditions of an upload, published or not, tallest first.
pub async fn of_upload<'e, E>(db: E, upload_id: &str) -> DbResult<Vec<RenditionRow>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = concat!(
        "SELECT ",
        rendition_columns!(),
        " FROM renditions WHERE upload_id = $1 ORDER BY height DESC"
    );
    Ok(sqlx::query_as(sql).bind(upload_id).fetch_all(db).await?)
}

/// The published heights of an upload's ladder, tallest first (for its view).
pub async fn heights(conn: &mut Conn, upload_id: &str) -> DbResult<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT height FROM renditions WHERE upload_id = $1 AND playlist IS NOT NULL \
         ORDER BY height DESC",
    )
    .bind(upload_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// The rendition keys of `upload_id`.
pub async fn keys_of(conn: &mut Conn, upload_id: &str) -> DbResult<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT object_key FROM renditions WHERE upload_id = $1")
            .bind(upload_id)
            .fetch_all(&mut *conn)
            .await?,
    )
}

/// A copy of a file (content stored once) shares its source's published renditions.
pub async fn copy(conn: &mut Conn, from: &str, to: &str, now: i64) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO renditions (upload_id, height, width, picture_height, object_key, \
           playlist, bandwidth, codecs, remuxed, created_at) \
         SELECT $1, height, width, picture_height, object_key, playlist, bandwidth, codecs, \
           remuxed, $2 \
         FROM renditions WHERE upload_id = $3 AND playlist IS NOT NULL",
    )
    .bind(to)
    .bind(now)
    .bind(from)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
