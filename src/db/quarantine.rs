//! A file the malware scanner found infected: its rows marked, its bytes doomed. Beside the
//! queue (`jobs`), which records the verdict, and the files, which it changes, so that neither
//! imports the other.

use super::{views, Conn, DbResult};

/// A file the scanner found infected. Every file whose upload names the same object (content
/// stored once) is the same bytes: each is marked infected with the signature, made private
/// and loses its thumbnail, and its jobs not yet run are skipped; the object and the
/// thumbnails are doomed in the same transaction. The rows stay, so their owners read why.
pub async fn quarantine(tx: &mut Conn, upload_id: &str, signature: &str, now: i64) -> DbResult<()> {
    let Some(key): Option<String> =
        sqlx::query_scalar("SELECT object_key FROM uploads WHERE id = $1")
            .bind(upload_id)
            .fetch_optional(&mut *tx)
            .await?
    else {
        return Ok(());
    };
    let files: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT f.upload_id, f.thumbnail_key FROM files f JOIN uploads u ON u.id = f.upload_id \
         WHERE u.object_key = $1",
    )
    .bind(&key)
    .fetch_all(&mut *tx)
    .await?;
    let mut doomed = vec![key.as_str()];
    for (id, thumbnail) in &files {
        doomed.extend(thumbnail.as_deref());
        sqlx::query(
            "UPDATE files SET scan = 'infected', scan_detail = $1, visibility = 'private', \
               thumbnail_key = NULL, updated_at = $2 WHERE upload_id = $3",
        )
        .bind(signature)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE jobs SET state = 'skipped', error = 'the file is infected', finished_at = $1 \
             WHERE upload_id = $2 AND state = 'queued'",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        views::changed(tx, id, now).await?;
    }
    let mut renditions = Vec::new();
    for (id, _) in &files {
        renditions.extend(super::renditions::keys_of(tx, id).await?);
        sqlx::query("DELETE FROM renditions WHERE upload_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    doomed.extend(renditions.iter().map(String::as_str));
    super::outbox::doom(tx, &doomed, now).await
}
