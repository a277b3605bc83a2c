//! Death row against a real Garage and real SQLite files: every upload expires unless it
//! completes, the reaper cleans up what expired (through the expiry index, never by listing
//! the bucket), activity keeps a slow upload alive, and two reapers never handle one upload
//! twice. The service and the reapers share a clock the tests move forward: no test waits
//! out a TTL.

mod common;

use common::{
    bytes, harness_with, plain, plant_expired, rules, CountingStore, Harness, KEY_PREFIX, OWNER,
    PART,
};
use hoist::{
    background::reaper::Reaper,
    clock::Clock,
    db,
    model::{ClosedBecause, UploadStatus},
    storage::s3::S3Store,
    uploads::UploadError,
    uploads::UploadRules,
};
use std::{collections::BTreeSet, time::Duration};

const TTL: Duration = Duration::from_secs(3600);
/// The reaper's first wait before trying a failed cleanup again.
const RETRY: Duration = Duration::from_secs(60);

async fn short_lived() -> Harness {
    harness_with(UploadRules {
        upload_ttl: TTL,
        ..rules()
    })
    .await
}

fn reaper(h: &Harness) -> Reaper<CountingStore<S3Store>> {
    Reaper::new(
        h.service.db().clone(),
        CountingStore::new(h.store().clone()),
        TTL,
        RETRY,
    )
    .with_clock(h.clock.clone())
}

async fn status(h: &Harness, id: &str) -> String {
    h.row(OWNER, id).await.status.as_str().to_string()
}

/// Lets a TTL pass with nothing happening: every upload alive now is then expired.
fn expire_all(h: &Harness) {
    h.clock.advance(TTL + Duration::from_millis(1));
}

#[tokio::test]
async fn an_abandoned_upload_is_reaped_and_the_bucket_keeps_nothing_of_it() {
    let h = short_lived().await;
    let size = 2 * PART + 7;
    let data = bytes(size, 21);
    let multipart = h
        .start("abandoned.bin", size, "application/octet-stream")
        .await;
    h.put_parts(&multipart, &data, &[1]).await;
    // A one-part file whose part arrived but that was never completed.
    let single = h
        .start("left-behind.bin", 1000, "application/octet-stream")
        .await;
    h.put_parts(&single, &bytes(1000, 22), &[1]).await;
    let keys = [
        h.row(OWNER, &multipart.upload_id).await.object_key,
        h.row(OWNER, &single.upload_id).await.object_key,
    ];
    assert_eq!(h.pending_multipart(&keys[0]).await, 1);
    assert_eq!(h.pending_multipart(&keys[1]).await, 1);

    let reaper = reaper(&h);
    let report = reaper.run_once().await.expect("reap");
    assert_eq!(report.claimed, 0, "nothing has expired yet");

    // A moment short of the TTL they live; past it they go.
    h.clock.advance(TTL - Duration::from_secs(1));
    assert_eq!(reaper.run_once().await.expect("reap").claimed, 0);
    h.clock.advance(Duration::from_secs(2));
    let report = reaper.run_once().await.expect("reap");
    assert_eq!((report.claimed, report.reaped), (2, 2), "{report:?}");
    for id in [&multipart.upload_id, &single.upload_id] {
        assert_eq!(status(&h, id).await, "expired");
    }

    assert_eq!(
        h.pending_multipart(&keys[0]).await,
        0,
        "multipart upload aborted"
    );
    assert!(h.object(&keys[0]).await.is_none());
    assert_eq!(
        h.pending_multipart(&keys[1]).await,
        0,
        "one-part upload aborted"
    );
    assert!(h.object(&keys[1]).await.is_none());
    let row = h.row(OWNER, &multipart.upload_id).await;
    assert!(row.expires_at.is_none());
    assert_eq!(
        row.closed_because(),
        Some(ClosedBecause::Expired {
            idle_secs: TTL.as_secs()
        })
    );
    assert_eq!(reaper.store().bucket_listings(), 0);

    // The browser coming back finds it closed, with the word for why.
    let late = h
        .service
        .sign_parts(OWNER, &multipart.upload_id, &plain(&[2]))
        .await;
    assert!(
        matches!(late, Err(UploadError::Closed(UploadStatus::Expired))),
        "{late:?}"
    );
    // A second pass finds nothing to do: reaping is idempotent.
    assert_eq!(reaper.run_once().await.expect("reap").claimed, 0);
}

#[tokio::test]
async fn an_expired_upload_cannot_be_continued_even_before_the_reaper_comes() {
    let h = short_lived().await;
    let size = 2 * PART + 1;
    let data = bytes(size, 23);
    let started = h
        .start("too-late.bin", size, "application/octet-stream")
        .await;
    h.put_parts(&started, &data, &[1, 2, 3]).await;
    expire_all(&h);
    let complete = h.service.complete(OWNER, &started.upload_id).await;
    assert!(
        matches!(complete, Err(UploadError::Closed(UploadStatus::Expired))),
        "{complete:?}"
    );
    let report = reaper(&h).run_once().await.expect("reap");
    assert_eq!((report.claimed, report.reaped), (1, 1));
    assert_eq!(status(&h, &started.upload_id).await, "expired");
}

#[tokio::test]
async fn a_slow_upload_that_keeps_signing_parts_is_not_reaped() {
    let h = short_lived().await;
    let size = 3 * PART;
    let data = bytes(size, 24);
    let started = h.start("slow.bin", size, "application/octet-stream").await;
    let reaper = reaper(&h);
    // Two and a half TTLs of a crawling upload: a part every quarter of the TTL.
    for round in 0..10u32 {
        h.clock.advance(TTL / 4);
        h.put_parts(&started, &data, &[round % 3 + 1]).await;
        let report = reaper.run_once().await.expect("reap");
        assert_eq!(
            report.claimed, 0,
            "round {round}: a living upload was claimed"
        );
    }
    h.assert_arrives_whole(&started, &data).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_reapers_on_one_database_handle_every_upload_exactly_once() {
    let h = short_lived().await;
    let mut real = Vec::new();
    for n in 0..12u64 {
        let size = if n % 3 == 0 { 500 } else { 2 * PART + n };
        let started = h
            .start(&format!("twin-{n}.bin"), size, "application/octet-stream")
            .await;
        if n % 2 == 0 && size > PART {
            h.put_parts(&started, &bytes(size, n), &[1]).await;
        }
        real.push(h.row(OWNER, &started.upload_id).await.object_key);
    }
    let fake = plant_expired(h.service.db(), 3_000, h.clock.now_ms()).await;
    expire_all(&h);

    // Each on its own thread, so they really race for the rows.
    let (a, b) = (
        std::sync::Arc::new(reaper(&h)),
        std::sync::Arc::new(reaper(&h)),
    );
    let run = |r: std::sync::Arc<Reaper<CountingStore<S3Store>>>| {
        tokio::spawn(async move { r.run_once().await.expect("reaper") })
    };
    let (ra, rb) = tokio::join!(run(a.clone()), run(b.clone()));
    let (ra, rb) = (ra.expect("reaper a"), rb.expect("reaper b"));
    assert!(
        ra.claimed > 0 && rb.claimed > 0,
        "only one reaper worked (a {ra:?}, b {rb:?}): this proves nothing about two"
    );
    let total = (real.len() + fake) as u64;
    assert_eq!(ra.reaped + rb.reaped, total, "a: {ra:?}, b: {rb:?}");
    assert_eq!(
        ra.claimed + rb.claimed,
        total,
        "claimed twice: a {ra:?}, b {rb:?}"
    );

    let touched = |r: &Reaper<CountingStore<S3Store>>| -> BTreeSet<String> {
        r.store().calls().into_iter().map(|(_, key)| key).collect()
    };
    let (ka, kb) = (touched(&a), touched(&b));
    assert!(
        ka.is_disjoint(&kb),
        "{} keys cleaned by both reapers",
        ka.intersection(&kb).count()
    );
    assert_eq!(ka.len() + kb.len(), real.len() + fake);
    for key in &real {
        assert_eq!(h.pending_multipart(key).await, 0, "{key}");
        assert!(h.object(key).await.is_none(), "{key}");
    }
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM uploads WHERE status != 'expired'")
        .fetch_one(h.service.db())
        .await
        .expect("count");
    assert_eq!(left, 0);
    assert_eq!(a.store().bucket_listings() + b.store().bucket_listings(), 0);
    println!(
        "two reapers: {} and {} of {total} expired uploads, no upload handled twice",
        ra.reaped, rb.reaped
    );
}

#[tokio::test]
async fn a_claim_whose_reaper_died_is_taken_over_after_its_lease() {
    let h = short_lived().await;
    let started = h
        .start("orphaned-claim.bin", 2 * PART, "application/octet-stream")
        .await;
    expire_all(&h);
    // A reaper claims it and dies: its lease (here already over) is all that holds the row.
    let now = h.clock.now_ms();
    let claimed = db::uploads::claim_expired(h.service.db(), "dead-reaper", now, now - 1, 10)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    let report = reaper(&h).run_once().await.expect("reap");
    assert_eq!(report.reaped, 1);
    let row = h.row(OWNER, &started.upload_id).await;
    assert_eq!(row.status.as_str(), "expired");
    assert_eq!(h.pending_multipart(&row.object_key).await, 0);
}

#[tokio::test]
async fn a_hundred_thousand_expired_uploads_cost_one_or_two_store_calls_each_and_no_listing() {
    const ROWS: usize = 100_000;
    let h = short_lived().await;
    let planted = plant_expired(h.service.db(), ROWS, h.clock.now_ms()).await;
    assert_eq!(planted, ROWS);

    // The claim reads the expiry index, not the table.
    let detail = claim_plan(h.service.db(), h.clock.now_ms()).await;
    let uses_index = detail.iter().any(|d| d.contains("uploads_by_expiry"));
    let scans_table = detail
        .iter()
        .any(|d| d.trim() == "SCAN uploads" || d.contains("Seq Scan on uploads"));
    assert!(uses_index && !scans_table, "claim plan: {detail:?}");

    let reaper = reaper(&h);
    let started = std::time::Instant::now();
    let report = reaper.run_once().await.expect("reap");
    let seconds = started.elapsed().as_secs_f64();

    assert_eq!(report.reaped, ROWS as u64, "{report:?}");
    assert_eq!(report.failed, 0);
    let store = reaper.store();
    let calls = store.calls().len();
    assert!(calls <= 2 * ROWS, "{calls} store calls for {ROWS} uploads");
    assert_eq!(store.bucket_listings(), 0);
    assert_eq!(store.count("pending_uploads"), 0);
    println!(
        "reaper: {ROWS} expired uploads in {seconds:.1} s ({:.0} uploads/s); store calls: {calls} \
         ({} aborts, {} deletes, {} key lookups), bucket listings: {}",
        ROWS as f64 / seconds,
        store.count("abort_multipart"),
        store.count("delete"),
        store.count("pending_uploads"),
        store.bucket_listings(),
    );
}

#[tokio::test]
async fn the_bucket_gets_one_abort_incomplete_uploads_rule_beside_its_own() {
    let h = short_lived().await;
    let store = h.store();
    // An older rule of ours (the whole bucket, one day) is replaced, not kept beside.
    assert!(store
        .ensure_abort_incomplete_rule("", 1)
        .await
        .expect("old lifecycle"));
    assert!(store
        .ensure_abort_incomplete_rule(KEY_PREFIX, 8)
        .await
        .expect("lifecycle"));
    assert!(store
        .ensure_abort_incomplete_rule(KEY_PREFIX, 8)
        .await
        .expect("lifecycle again"));
    let rules = store
        .client()
        .get_bucket_lifecycle_configuration()
        .bucket(store.bucket())
        .send()
        .await
        .expect("GetBucketLifecycleConfiguration")
        .rules
        .unwrap_or_default();
    let ours: Vec<_> = rules
        .iter()
        .filter(|r| r.id() == Some("hoist-abort-incomplete-uploads"))
        .collect();
    assert_eq!(ours.len(), 1, "{rules:?}");
    let days = ours[0]
        .abort_incomplete_multipart_upload()
        .and_then(|a| a.days_after_initiation());
    assert_eq!(days, Some(8));
    let prefix = ours[0].filter().and_then(|f| f.prefix());
    assert_eq!(prefix, Some(KEY_PREFIX), "only Hoist's keys");
}

#[tokio::test]
async fn a_cleanup_the_store_refuses_is_kept_visible_and_tried_again() {
    let h = short_lived().await;
    let started = h
        .start("unlucky.bin", 2 * PART + 1, "application/octet-stream")
        .await;
    let key = h.row(OWNER, &started.upload_id).await.object_key;
    expire_all(&h);

    // The store is away (nothing listens on the discard port).
    let mut away = common::s3_settings();
    away.endpoint = "http://127.0.0.1:9".into();
    // A retry a whole TTL away: the row then looks like a freshly extended upload, and only
    // its failed attempt says it is dead.
    let retry = TTL;
    let offline = Reaper::new(h.service.db().clone(), S3Store::new(&away), TTL, retry)
        .with_clock(h.clock.clone());
    let report = offline.run_once().await.expect("reap");
    assert_eq!((report.claimed, report.reaped, report.failed), (1, 0, 1));
    let (attempts, error, expires_at): (i64, Option<String>, Option<i64>) =
        sqlx::query_as("SELECT reap_attempts, reap_error, expires_at FROM uploads WHERE id = $1")
            .bind(&started.upload_id)
            .fetch_one(h.service.db())
            .await
            .expect("row");
    assert_eq!(attempts, 1);
    assert!(
        error
            .as_deref()
            .unwrap_or_default()
            .contains("cannot be reached"),
        "{error:?}"
    );
    assert_eq!(
        expires_at,
        Some(h.clock.now_ms() + retry.as_millis() as i64),
        "retried later, not at once"
    );
    assert_eq!(status(&h, &started.upload_id).await, "uploading");
    assert_eq!(h.pending_multipart(&key).await, 1);
    // Its retry time lies in the future, yet it is dead: the browser cannot bring it back.
    for late in [
        h.service
            .sign_parts(OWNER, &started.upload_id, &plain(&[1]))
            .await
            .map(|_| ()),
        h.service.keep_alive(OWNER, &started.upload_id).await,
        h.service
            .complete(OWNER, &started.upload_id)
            .await
            .map(|_| ()),
    ] {
        assert!(
            matches!(late, Err(UploadError::Closed(UploadStatus::Expired))),
            "{late:?}"
        );
    }

    // Not before its retry time, even with the store back; then it goes.
    assert_eq!(reaper(&h).run_once().await.expect("reap").claimed, 0);
    h.clock.advance(retry);
    let report = reaper(&h).run_once().await.expect("reap");
    assert_eq!((report.reaped, report.failed), (1, 0));
    assert_eq!(status(&h, &started.upload_id).await, "expired");
    assert_eq!(h.pending_multipart(&key).await, 0);
}

/// However busy, an upload lives no longer than `max_upload_duration`: the bucket's lifecycle
/// rule is set a day past it, so the server must stop extending first.
#[tokio::test]
async fn no_upload_outlives_the_longest_duration_allowed_however_active() {
    let max = Duration::from_secs(8 * 86_400);
    let h = harness_with(UploadRules {
        max_upload_duration: max,
        ..rules()
    })
    .await;
    let started = h
        .start("marathon.bin", 2 * PART, "application/octet-stream")
        .await;
    // Started (nearly) the longest time ago, last extended a moment ago: one more extension
    // may reach only the limit.
    let day_ms = 86_400_000;
    sqlx::query("UPDATE uploads SET created_at = created_at - $1, expires_at = $2 WHERE id = $3")
        .bind(8 * day_ms - 60_000)
        .bind(h.clock.now_ms() + 1_000)
        .bind(&started.upload_id)
        .execute(h.service.db().writer())
        .await
        .expect("age it");
    h.service
        .sign_parts(OWNER, &started.upload_id, &plain(&[1]))
        .await
        .expect("still within its time");
    let row = h.row(OWNER, &started.upload_id).await;
    assert!(
        row.expires_at.unwrap_or(i64::MAX) <= row.created_at + 8 * day_ms,
        "extended past the limit: {row:?}"
    );
    // Past it, nothing brings it back.
    sqlx::query("UPDATE uploads SET created_at = created_at - 120000 WHERE id = $1")
        .bind(&started.upload_id)
        .execute(h.service.db().writer())
        .await
        .expect("age it more");
    let late = h
        .service
        .sign_parts(OWNER, &started.upload_id, &plain(&[2]))
        .await;
    assert!(
        matches!(late, Err(UploadError::Closed(UploadStatus::Expired))),
        "{late:?}"
    );
}

/// How the database would run the reaper's own claim statement, one line per step.
async fn claim_plan(pool: &hoist::db::Pool, now: i64) -> Vec<String> {
    let backend = hoist::db::Backend::of(pool);
    let claim = hoist::db::uploads::claim_expired_statement(backend);
    match backend {
        hoist::db::Backend::Sqlite => {
            let sql = sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {claim}"));
            let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(sql)
                .bind("plan")
                .bind(now + 600_000)
                .bind(now)
                .bind(256_i64)
                .fetch_all(pool)
                .await
                .expect("query plan");
            rows.into_iter().map(|row| row.3).collect()
        }
        hoist::db::Backend::Postgres => {
            // With fresh statistics, as autovacuum would have them.
            sqlx::query("ANALYZE uploads")
                .execute(pool.writer())
                .await
                .expect("analyze");
            let sql = sqlx::AssertSqlSafe(format!("EXPLAIN {claim}"));
            sqlx::query_scalar(sql)
                .bind("plan")
                .bind(now + 600_000)
                .bind(now)
                .bind(256_i64)
                .fetch_all(pool)
                .await
                .expect("query plan")
        }
    }
}

/// A row the reaper has claimed belongs to the reaper until it lets go: closing it behind the
/// reaper's back, then the reaper's failed cleanup giving it back with a new expiry, once
/// revived a closed row into a claim → purge → claim loop that never ended.
#[tokio::test]
async fn a_closed_row_never_returns_to_death_row_and_a_claimed_one_is_not_closed_behind_the_reaper()
{
    let h = short_lived().await;
    let pool = h.service.db();
    let now = h.clock.now_ms();
    let expire = |id: String| async move {
        sqlx::query("UPDATE uploads SET expires_at = $1 WHERE id = $2")
            .bind(now - 1)
            .bind(&id)
            .execute(pool.writer())
            .await
            .expect("expire it");
    };
    let a = h
        .start("a.bin", 10, "application/octet-stream")
        .await
        .upload_id;
    let b = h
        .start("b.bin", 10, "application/octet-stream")
        .await
        .upload_id;
    expire(a.clone()).await;
    expire(b.clone()).await;
    let claimed = db::uploads::claim_expired(pool, "reaper-1", now, now + 600_000, 10)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 2);

    // While the reaper holds `a`, a completion that rejects it may not close it.
    let because = ClosedBecause::StoreRefusedStart;
    let step = db::uploads::Step::Reject {
        reason: Some(&because),
    };
    let refused = db::uploads::settle(pool, &a, step, now)
        .await
        .expect("a transition asked for")
        .expect_err("refused while claimed");
    assert_eq!(refused.from, db::uploads::Where::Claimed);
    assert_eq!(h.row(OWNER, &a).await.status.as_str(), "uploading");

    // `b` was closed some other way meanwhile (as rows were before claims were respected);
    // the reaper's cleanup of both fails and it gives them back.
    sqlx::query("UPDATE uploads SET status = 'rejected', expires_at = NULL WHERE id = $1")
        .bind(&b)
        .execute(pool.writer())
        .await
        .expect("close b");
    for id in [&a, &b] {
        db::uploads::reap_failed(pool, "reaper-1", id, "store away", now + 1)
            .await
            .expect("give back");
    }
    // `a` is due again; `b` is closed and stays off death row for good.
    let later = h.clock.now_ms() + 3_600_000;
    let again = db::uploads::claim_expired(pool, "reaper-2", later, later + 600_000, 10)
        .await
        .expect("claim");
    let again: Vec<&str> = again.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(again, vec![a.as_str()]);
    let b_row = h.row(OWNER, &b).await;
    assert_eq!(
        (b_row.status.as_str(), b_row.expires_at),
        ("rejected", None)
    );
}
