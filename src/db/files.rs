//! Queries on the `files` table: an upload once it has arrived, what processing found and what
//! its owner says of it. Every change here writes its event in the same transaction.

pub use super::views::{changed, find, for_uploads, full_view, FileRow};
use super::Pool;
use super::{jobs, uploads, DbResult};
use crate::model::{Scan, Visibility};

/// The pardon and what follows it, in one transaction: the upload is marked uploaded (off
/// death row), its file row is made, its jobs are queued and its event is written. A crash
/// can leave all of it or none of it, never an uploaded file without its jobs. `sha256`: the
/// file's hash when the store checked it on arrival; `hold_ms`: how long its jobs may wait
/// for the owner's other uploads (see [`jobs::first_run_at`]). `false` if the upload had
/// already left the `uploading` state.
pub async fn arrive(
    pool: &Pool,
    upload_id: &str,
    now: i64,
    kinds: &[&str],
    (max_attempts, hold_ms): (u32, i64),
    sha256: Option<&str>,
) -> DbResult<bool> {
    let mut tx = pool.begin_for_upload(upload_id).await?;
    if uploads::transition(&mut tx, upload_id, uploads::Step::Arrive, now)
        .await?
        .is_err()
    {
        return Ok(false);
    }
    let share_key = uuid::Uuid::new_v4().simple().to_string();
    // The scan is not processing (see `jobs::SCAN`): it has a state of its own.
    let (scan, processing): (Vec<&str>, Vec<&str>) = kinds.iter().partition(|k| **k == jobs::SCAN);
    sqlx::query(
        "INSERT INTO files (upload_id, processing, title, share_key, updated_at, sha256, scan) \
         SELECT id, $1, name, $2, $3, $5, $6 FROM uploads WHERE id = $4",
    )
    .bind(if processing.is_empty() {
        "ready"
    } else {
        "queued"
    })
    .bind(share_key)
    .bind(now)
    .bind(upload_id)
    .bind(sha256)
    .bind(if scan.is_empty() {
        Scan::Off
    } else {
        Scan::Pending
    })
    .execute(&mut *tx)
    .await?;
    let run_at = jobs::first_run_at(&mut tx, upload_id, now, hold_ms).await?;
    jobs::enqueue(&mut tx, upload_id, &processing, max_attempts, now, run_at).await?;
    jobs::enqueue(&mut tx, upload_id, &scan, jobs::SCAN_ATTEMPTS, now, run_at).await?;
    changed(&mut tx, upload_id, now).await?;
    tx.commit().await?;
    Ok(true)
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
    let mut tx = pool.writer().begin_holding(&[owner]).await?;
    let done = sqlx::query(
        "UPDATE files SET title = $1, description = $2, visibility = $3, updated_at = $4 \
         WHERE upload_id = $5 AND upload_id IN (SELECT id FROM uploads WHERE owner = $6) \
           AND ($3 = 'private' OR scan <> 'infected')",
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
    let mut tx = pool.writer().begin_holding(&[owner]).await?;
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
/// files are left out, and so are infected ones and, with `require_clean`, any not scanned
/// clean: in the query, so that a page of `limit` is full whenever that many may be listed.
pub async fn public(pool: &Pool, limit: i64, require_clean: bool) -> DbResult<Vec<String>> {
    let ids: Vec<(String,)> = sqlx::query_as(
        "SELECT f.upload_id FROM files f JOIN uploads u ON u.id = f.upload_id \
         WHERE f.visibility = 'public' AND u.status = 'uploaded' \
           AND f.scan <> 'infected' AND ($2 = 0 OR f.scan = 'clean') \
           AND NOT EXISTS (SELECT 1 FROM accounts a \
             WHERE 'account:' || a.id = u.owner AND a.disabled = 1) \
         ORDER BY f.updated_at DESC LIMIT $1",
    )
    .bind(limit)
    .bind(i64::from(require_clean))
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
    require_clean: bool,
) -> DbResult<bool> {
    const SOURCE: &str = "SELECT u.id, u.object_key, u.content_type, u.guest_net
         FROM files f JOIN uploads u ON u.id = f.upload_id
         WHERE f.sha256 = $1 AND u.owner = $2 AND u.size = $3 AND u.status = 'uploaded'
           AND u.reap_claim IS NULL AND f.processing IN ('ready', 'failed')
           AND f.scan IN ('off', 'clean', 'unscanned') AND ($4 = 0 OR f.scan = 'clean')
         LIMIT 1";
    type Source = (String, String, String, Option<String>);
    let find = || {
        sqlx::query_as::<_, Source>(SOURCE)
            .bind(sha256)
            .bind(&row.owner)
            .bind(row.size)
            .bind(i64::from(require_clean))
    };
    // A plain read first: a file the owner does not hold costs no write lock.
    let Some((_, _, _, seen_net)) = find().fetch_optional(pool).await? else {
        return Ok(false);
    };
    // The copy counts against the source's guest network (its `guest_net` goes with it) as
    // well as the caller's.
    let nets: Vec<String> = [
        allowance.network.as_ref().map(|n| n.key.as_str()),
        seen_net.as_deref(),
    ]
    .into_iter()
    .flatten()
    .map(uploads::network_key)
    .collect();
    let mut holds = vec![row.owner.as_str()];
    holds.extend(nets.iter().map(String::as_str));
    let mut tx = pool.writer().begin_holding(&holds).await?;
    let Some((source, key, content_type, guest_net)) = find().fetch_optional(&mut *tx).await?
    else {
        return Ok(false);
    };
    if guest_net != seen_net {
        // Moved to another network meanwhile (a sign-in adopted it): start afresh instead.
        return Ok(false);
    }
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
             codecs, thumbnail_key, title, share_key, updated_at, scan, scan_detail)
         SELECT $1, processing, error, sha256, width, height, duration_ms, codecs, thumbnail_key,
             $2, $3, $4, scan, scan_detail FROM files WHERE upload_id = $5",
    )
    .bind(&row.id)
    .bind(&row.name)
    .bind(uuid::Uuid::new_v4().simple().to_string())
    .bind(now)
    .bind(&source)
    .execute(&mut *tx)
    .await?;
    super::renditions::copy(&mut tx, &source, &row.id, now).await?;
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
/// with both uploads unclaimed (see [`super::outbox::delete_upload`]). Never for an infected
/// file; with `require_clean` (`HOIST_SCAN=required`) only once both were scanned clean.
pub async fn fold_into_twin(
    pool: &Pool,
    upload_id: &str,
    now: i64,
    require_clean: bool,
) -> DbResult<Option<Unused>> {
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
           AND uf.scan <> 'infected' AND tf.scan <> 'infected'
           AND ($2 = 0 OR (uf.scan = 'clean' AND tf.scan = 'clean'))
         ORDER BY t.created_at, t.id LIMIT 1";
    type Twin = (String, String, Option<String>, Option<String>);
    let find = || {
        sqlx::query_as::<_, Twin>(TWIN)
            .bind(upload_id)
            .bind(i64::from(require_clean))
    };
    if find().fetch_optional(pool).await?.is_none() {
        return Ok(None);
    }
    let mut tx = pool.begin_for_upload(upload_id).await?;
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
