use super::*;
use crate::{
    db::{self, jobs, outbox},
    model::UploadEvent,
};

const T0: i64 = 1_000_000;
const OWNER: &str = "guest:g";

async fn fresh() -> (tempfile::TempDir, Pool) {
    let dir = tempfile::tempdir().unwrap();
    let url = db::testing::fresh_url(dir.path()).await;
    (dir, db::connect(&url).await.unwrap())
}

fn row(id: &str, expires_at: i64) -> UploadRow {
    UploadRow {
        id: id.into(),
        owner: OWNER.into(),
        name: format!("{id}.png"),
        object_key: format!("k/{id}.png"),
        content_type: "image/png".into(),
        size: 10,
        part_size: 10,
        s3_upload_id: Some("s3".into()),
        status: UploadStatus::Uploading,
        reason: None,
        created_at: T0,
        completed_at: None,
        expires_at: Some(expires_at),
        checksum: None,
        reap_claim: None,
        reap_attempts: 0,
    }
}

/// Starts `id` as the service does: through admission.
async fn start(pool: &Pool, id: &str, expires_at: i64) {
    let allowance = Allowance {
        quota: 1 << 30,
        max_active: 100,
        max_files: 100,
        network: None,
    };
    let row = row(id, expires_at);
    let admitted = insert_many(pool, &[(&row, None)], &allowance)
        .await
        .unwrap();
    assert_eq!(admitted, [Ok(())]);
}

/// The owner's events so far, as (upload, what its row would show), in the order written
/// (one transaction after another here). Not through the feed's horizon: on PostgreSQL it is
/// the whole cluster's, which other tests' transactions hold back for a moment.
async fn events(pool: &Pool) -> Vec<(String, String)> {
    let bodies: Vec<String> =
        sqlx::query_scalar("SELECT body FROM events WHERE owner = $1 ORDER BY id")
            .bind(OWNER)
            .fetch_all(pool)
            .await
            .unwrap();
    bodies
        .into_iter()
        .map(|body| match serde_json::from_str(&body).unwrap() {
            UploadEvent::Changed { upload } => (upload.id.clone(), upload.status_word().into()),
            UploadEvent::Deleted { upload_id } => (upload_id, "deleted".into()),
        })
        .collect()
}

fn said(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[tokio::test]
async fn every_transition_writes_its_event_in_its_order() {
    let (_dir, pool) = fresh().await;
    let later = T0 + 60_000;
    for id in ["rejected", "refused", "aborted", "expired", "arrived"] {
        let expires = if id == "expired" { T0 - 1 } else { later };
        start(&pool, id, expires).await;
    }
    let rejected = crate::model::Rejection::SizeMismatch {
        arrived: 9,
        announced: 10,
    };
    let because = ClosedBecause::Rejected(rejected);
    let reject = Step::Reject {
        reason: Some(&because),
    };
    assert_eq!(settle(&pool, "rejected", reject, T0).await.unwrap(), Ok(()));
    assert_eq!(
        settle(&pool, "refused", Step::StoreRefused, T0)
            .await
            .unwrap(),
        Ok(())
    );
    assert!(claim_for_abort(&pool, "aborted", "abort:r1", T0, later)
        .await
        .unwrap());
    let abort = Step::Abort { claim: "abort:r1" };
    assert_eq!(settle(&pool, "aborted", abort, T0).await.unwrap(), Ok(()));
    let doomed = claim_expired(&pool, "reaper", T0, later, 10).await.unwrap();
    assert_eq!(doomed.len(), 1);
    let ids = vec!["expired".to_owned()];
    let expired = ClosedBecause::Expired { idle_secs: 60 };
    assert_eq!(
        mark_reaped(&pool, "reaper", &ids, &expired, T0)
            .await
            .unwrap(),
        1
    );
    assert!(
        db::files::arrive(&pool, "arrived", T0, &["hash"], (3, 0), None)
            .await
            .unwrap()
    );
    let job = jobs::claim(&pool, "w1", T0, later).await.unwrap().unwrap();
    let done = jobs::Outcome::Done;
    let findings = jobs::Findings::default();
    assert!(jobs::finish(&pool, &job, "w1", &done, &findings, T0)
        .await
        .unwrap());
    let gone = outbox::delete_upload(&pool, "arrived", OWNER, T0)
        .await
        .unwrap();
    assert!(matches!(gone, outbox::Deletion::Deleted { .. }), "{gone:?}");

    assert_eq!(
        events(&pool).await,
        said(&[
            ("rejected", "uploading"),
            ("refused", "uploading"),
            ("aborted", "uploading"),
            ("expired", "uploading"),
            ("arrived", "uploading"),
            ("rejected", "rejected"),
            ("refused", "aborted"),
            ("aborted", "aborted"),
            ("expired", "expired"),
            ("arrived", "uploaded"),
            ("arrived", "processing"),
            ("arrived", "ready"),
            ("arrived", "deleted"),
        ])
    );
}

#[tokio::test]
async fn a_move_the_row_is_not_in_a_state_for_is_refused_and_writes_nothing() {
    let (_dir, pool) = fresh().await;
    let later = T0 + 60_000;
    start(&pool, "a", later).await;
    start(&pool, "b", later).await;
    assert!(db::files::arrive(&pool, "a", T0, &[], (3, 0), None)
        .await
        .unwrap());
    let before = events(&pool).await.len();

    let refused = |to, from| {
        Err(Impossible {
            upload_id: "a".into(),
            to,
            from,
        })
    };
    let reject = Step::Reject { reason: None };
    assert_eq!(
        settle(&pool, "a", reject, T0).await.unwrap(),
        refused(
            UploadStatus::Rejected,
            Where::Settled(UploadStatus::Uploaded)
        )
    );
    assert_eq!(
        settle(&pool, "a", Step::Abort { claim: "abort:x" }, T0)
            .await
            .unwrap(),
        refused(
            UploadStatus::Aborted,
            Where::Settled(UploadStatus::Uploaded)
        )
    );
    // Held by an abort: neither a rejection nor another claim may close it.
    assert!(claim_for_abort(&pool, "b", "abort:mine", T0, later)
        .await
        .unwrap());
    let theirs = Step::Abort {
        claim: "abort:theirs",
    };
    let moved = settle(&pool, "b", theirs, T0).await.unwrap();
    assert_eq!(moved.map_err(|e| e.from), Err(Where::Claimed));
    let moved = settle(&pool, "b", reject, T0).await.unwrap();
    assert_eq!(moved.map_err(|e| e.from), Err(Where::Claimed));
    let moved = settle(&pool, "nobody", Step::StoreRefused, T0)
        .await
        .unwrap();
    assert_eq!(moved.map_err(|e| e.from), Err(Where::Gone));

    assert_eq!(
        events(&pool).await.len(),
        before,
        "a refused move said something"
    );
    let b = find(&pool, "b").await.unwrap().unwrap();
    assert_eq!(b.status, UploadStatus::Uploading);
}

/// The tables' CHECKs keep out words no version knows; a newer version's word (a rolling
/// upgrade) must still read as a named fault, not a guess or a panic.
#[tokio::test]
async fn a_stored_word_this_version_does_not_know_is_named_not_guessed() {
    let (_dir, pool) = fresh().await;
    start(&pool, "a", T0 + 1_000).await;
    let newer = "SELECT id, owner, name, object_key, content_type, size, part_size, s3_upload_id, \
                 'lost' AS status, reason, created_at, completed_at, expires_at, checksum, \
                 reap_claim, reap_attempts FROM uploads WHERE id = 'a'";
    let read: Result<UploadRow, db::DbError> = sqlx::query_as(newer)
        .fetch_one(&pool)
        .await
        .map_err(Into::into);
    match read {
        Err(db::DbError::Corrupt(why)) => assert!(why.contains("\"lost\""), "{why}"),
        other => panic!("a row with status 'lost' read as {other:?}"),
    }
}
