use super::*;
use crate::db::{self, uploads::UploadRow};

const T0: i64 = 1_000_000;

/// A database with one upload that has arrived, with a `hash` and a `thumbnail` job tried
/// at most `attempts` times.
async fn arrived(attempts: u32) -> (tempfile::TempDir, Pool) {
    let dir = tempfile::tempdir().unwrap();
    let url = db::testing::fresh_url(dir.path()).await;
    let pool = db::connect(&url).await.unwrap();
    db::uploads::insert(pool.writer(), &uploading("u1", "guest:g"))
        .await
        .unwrap();
    assert!(
        db::files::arrive(&pool, "u1", T0, &["hash", "thumbnail"], (attempts, 0), None)
            .await
            .unwrap()
    );
    (dir, pool)
}

fn uploading(id: &str, owner: &str) -> UploadRow {
    UploadRow {
        id: id.into(),
        owner: owner.into(),
        name: format!("{id}.png"),
        object_key: format!("k/{id}.png"),
        content_type: "image/png".into(),
        size: 10,
        part_size: 10,
        s3_upload_id: Some("s3".into()),
        status: crate::model::UploadStatus::Uploading,
        reason: None,
        created_at: T0,
        completed_at: None,
        expires_at: Some(T0 + 60_000),
        checksum: None,
        reap_claim: None,
        reap_attempts: 0,
    }
}

async fn processing(pool: &Pool) -> (String, Option<String>) {
    let file = db::files::find(pool, "u1").await.unwrap().unwrap();
    (file.processing.as_str().to_string(), file.error)
}

/// Every event written, final or not: on PostgreSQL the feed's horizon is the whole
/// cluster's, which other tests' transactions hold back for a moment.
async fn events(pool: &Pool) -> usize {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE owner = $1")
        .bind("guest:g")
        .fetch_one(pool)
        .await
        .unwrap();
    count as usize
}

#[tokio::test]
async fn jobs_run_once_each_and_the_file_is_ready_when_all_are_done() {
    let (_dir, pool) = arrived(3).await;
    assert_eq!(processing(&pool).await.0, "queued");
    assert_eq!(events(&pool).await, 1, "arrival writes its event");
    let a = claim(&pool, "w1", T0, T0 + 1000).await.unwrap().unwrap();
    let b = claim(&pool, "w2", T0, T0 + 1000).await.unwrap().unwrap();
    assert_ne!(a.id, b.id);
    assert_eq!((a.attempts, b.attempts), (1, 1));
    assert!(claim(&pool, "w3", T0, T0 + 1000).await.unwrap().is_none());
    assert_eq!(processing(&pool).await.0, "processing");

    let found = Findings {
        sha256: Some("ab".into()),
        ..Findings::default()
    };
    assert!(finish(&pool, &a, "w1", &Outcome::Done, &found, T0 + 10)
        .await
        .unwrap());
    assert_eq!(processing(&pool).await.0, "processing");
    let skipped = Outcome::Skipped("no ffmpeg".into());
    assert!(
        finish(&pool, &b, "w2", &skipped, &Findings::default(), T0 + 20)
            .await
            .unwrap()
    );
    assert_eq!(processing(&pool).await, ("ready".into(), None));
    let file = db::files::find(&pool, "u1").await.unwrap().unwrap();
    assert_eq!(file.sha256.as_deref(), Some("ab"));
    assert_eq!((file.jobs_done, file.jobs_total), (2, 2));
    // Arrival, processing, and each job's end.
    assert_eq!(events(&pool).await, 4);
    // Finishing again changes nothing: the job is no longer this worker's.
    assert!(!finish(&pool, &a, "w1", &Outcome::Done, &found, T0 + 30)
        .await
        .unwrap());
}

#[tokio::test]
async fn a_failed_job_waits_out_its_backoff_then_fails_the_file_at_its_last_attempt() {
    let (_dir, pool) = arrived(2).await;
    let job = claim(&pool, "w", T0, T0 + 1000).await.unwrap().unwrap();
    let retry = Outcome::Retry {
        error: "hash: the store failed".into(),
        run_at: T0 + 5000,
        died: false,
    };
    assert!(finish(&pool, &job, "w", &retry, &Findings::default(), T0)
        .await
        .unwrap());
    // The other job is due; this one is not until its backoff has passed.
    let other = claim(&pool, "w", T0 + 4999, T0 + 9999)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(other.id, job.id);
    assert!(claim(&pool, "w", T0 + 4999, T0 + 9999)
        .await
        .unwrap()
        .is_none());
    let again = claim(&pool, "w", T0 + 5000, T0 + 9999)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id, again.attempts), (job.id, 2));
    let failed = Outcome::Failed("hash: the store failed".into());
    assert!(
        finish(&pool, &again, "w", &failed, &Findings::default(), T0 + 5001)
            .await
            .unwrap()
    );
    assert!(finish(
        &pool,
        &other,
        "w",
        &Outcome::Done,
        &Findings::default(),
        T0 + 5002
    )
    .await
    .unwrap());
    assert_eq!(
        processing(&pool).await,
        ("failed".into(), Some("hash: the store failed".into()))
    );
}

#[tokio::test]
async fn a_lapsed_lease_hands_the_job_to_another_worker_and_the_first_cannot_finish_it() {
    let (_dir, pool) = arrived(3).await;
    let first = claim(&pool, "dead", T0, T0 + 1000).await.unwrap().unwrap();
    let _other = claim(&pool, "busy", T0, T0 + 1_000_000)
        .await
        .unwrap()
        .unwrap();
    assert!(renew(&pool, first.id, "dead", T0 + 1000).await.unwrap());
    assert!(claim(&pool, "new", T0 + 999, T0 + 5000)
        .await
        .unwrap()
        .is_none());
    let taken = claim(&pool, "new", T0 + 1001, T0 + 5000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((taken.id, taken.attempts), (first.id, 2));
    assert_eq!(taken.error.as_deref(), Some("its worker stopped answering"));
    assert!(!renew(&pool, first.id, "dead", T0 + 9000).await.unwrap());
    assert!(!finish(
        &pool,
        &first,
        "dead",
        &Outcome::Done,
        &Findings::default(),
        T0 + 1002
    )
    .await
    .unwrap());
    assert!(finish(
        &pool,
        &taken,
        "new",
        &Outcome::Done,
        &Findings::default(),
        T0 + 1003
    )
    .await
    .unwrap());
}

#[tokio::test]
async fn a_job_whose_runner_dies_twice_is_not_handed_out_again() {
    let (_dir, pool) = arrived(10).await;
    let mut now = T0;
    // Both jobs are claimed by workers that die holding them, twice.
    for deaths in 0..2 {
        for _ in 0..2 {
            let job = claim(&pool, "dies", now, now + 10).await.unwrap().unwrap();
            assert_eq!(job.deaths, deaths);
        }
        now += 11;
    }
    assert!(claim(&pool, "next", now, now + 10).await.unwrap().is_none());
    let (state, error) = processing(&pool).await;
    assert_eq!(state, "failed");
    assert!(error.unwrap().contains("died twice"));
    let jobs = of_upload(&pool, "u1").await.unwrap();
    assert!(
        jobs.iter().all(|j| j.state == "failed" && j.attempts == 2),
        "{jobs:?}"
    );
}

#[tokio::test]
async fn a_killed_decoder_counts_as_a_death_and_a_clean_shutdown_does_not() {
    let (_dir, pool) = arrived(10).await;
    let job = claim(&pool, "p1/0", T0, T0 + 1000).await.unwrap().unwrap();
    // The other job is busy elsewhere for the whole test.
    claim(&pool, "busy/0", T0, T0 + 1_000_000)
        .await
        .unwrap()
        .unwrap();
    let died = Outcome::Retry {
        error: "thumbnail: the decoder died: it was killed by signal 9".into(),
        run_at: T0,
        died: true,
    };
    assert!(finish(&pool, &job, "p1/0", &died, &Findings::default(), T0)
        .await
        .unwrap());
    let again = claim(&pool, "p1/0", T0, T0 + 1000).await.unwrap().unwrap();
    assert_eq!((again.id, again.deaths), (job.id, 1));
    // Shut down cleanly: handed back at once, no attempt spent, no death counted.
    assert_eq!(release(&pool, "p2", T0 + 1).await.unwrap(), 0, "not p2's");
    assert_eq!(release(&pool, "p1", T0 + 1).await.unwrap(), 1);
    let resumed = claim(&pool, "p3/0", T0 + 1, T0 + 1000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (resumed.id, resumed.attempts, resumed.deaths),
        (job.id, again.attempts, 1)
    );
    assert!(!finish(
        &pool,
        &again,
        "p1/0",
        &Outcome::Done,
        &Findings::default(),
        T0 + 2
    )
    .await
    .unwrap());
}

#[tokio::test]
async fn queueing_a_files_jobs_twice_queues_them_once() {
    let (_dir, pool) = arrived(3).await;
    let mut tx = pool.writer().begin().await.unwrap();
    enqueue(&mut tx, "u1", &["hash", "thumbnail"], 3, T0, T0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(of_upload(&pool, "u1").await.unwrap().len(), 2);
}

/// A database where `ids` are uploading, each its owner's (`owner/id`).
async fn sending(ids: &[(&str, &str)]) -> (tempfile::TempDir, Pool) {
    let dir = tempfile::tempdir().unwrap();
    let url = db::testing::fresh_url(dir.path()).await;
    let pool = db::connect(&url).await.unwrap();
    for (owner, id) in ids {
        db::uploads::insert(pool.writer(), &uploading(id, owner))
            .await
            .unwrap();
    }
    (dir, pool)
}

const HOLD: i64 = 30_000;

async fn arrives(pool: &Pool, id: &str, now: i64) {
    let queue = (3, HOLD);
    assert!(
        db::files::arrive(pool, id, now, &["thumbnail"], queue, None)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_new_job_waits_while_its_owner_is_still_sending_and_runs_when_the_last_arrives() {
    let (_dir, pool) = sending(&[("guest:g", "first"), ("guest:g", "last")]).await;
    arrives(&pool, "first", T0).await;
    let now = T0 + 1_000;
    assert_eq!(claim(&pool, "w1", now, now + 1000).await.unwrap(), None);
    // The owner's last upload arrives: both files' jobs may run.
    arrives(&pool, "last", now).await;
    let a = claim(&pool, "w1", now, now + 1000).await.unwrap().unwrap();
    let b = claim(&pool, "w1", now, now + 1000).await.unwrap().unwrap();
    let mut ran = [a.upload_id, b.upload_id];
    ran.sort();
    assert_eq!(ran, ["first", "last"]);
}

#[tokio::test]
async fn another_owners_uploads_hold_nothing_back() {
    let (_dir, pool) = sending(&[("guest:g", "mine"), ("guest:other", "theirs")]).await;
    arrives(&pool, "mine", T0).await;
    let job = claim(&pool, "w1", T0, T0 + 1000).await.unwrap();
    assert_eq!(job.map(|j| j.upload_id).as_deref(), Some("mine"));
}

#[tokio::test]
async fn a_job_waits_no_longer_than_its_hold() {
    let (_dir, pool) = sending(&[("guest:g", "sent"), ("guest:g", "left-open")]).await;
    arrives(&pool, "sent", T0).await;
    assert_eq!(
        claim(&pool, "w1", T0 + HOLD - 1, T0 + HOLD).await.unwrap(),
        None
    );
    // "left-open" never finishes; the thumbnail runs anyway.
    let job = claim(&pool, "w1", T0 + HOLD, T0 + HOLD + 1000)
        .await
        .unwrap();
    assert_eq!(job.map(|j| j.upload_id).as_deref(), Some("sent"));
}
