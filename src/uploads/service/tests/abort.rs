use super::*;

#[tokio::test]
async fn an_abort_purges_the_store_and_aborting_again_is_fine() {
    let h = harness().await;
    let started = h.start("a.bin", 2 * PART).await;
    let view = h.service.abort(OWNER, &started.upload_id).await.unwrap();
    assert_eq!(view.status, UploadStatus::Aborted);
    assert_eq!(h.store().pending_count(), 0);
    let again = h.service.abort(OWNER, &started.upload_id).await.unwrap();
    assert_eq!(again.status, UploadStatus::Aborted);
    let stranger = h.service.abort(STRANGER, &started.upload_id).await;
    assert!(matches!(stranger, Err(UploadError::NotFound)));
}

#[tokio::test]
async fn with_the_store_away_an_abort_fails_and_can_be_asked_again() {
    let h = harness().await;
    let started = h.start("a.bin", 10).await;
    h.store().set_down(true);
    let failed = h.service.abort(OWNER, &started.upload_id).await;
    assert!(matches!(failed, Err(UploadError::Storage(_))), "{failed:?}");
    // The claim was let go: the upload is neither stuck nor settled without its purge.
    let row = h.row(&started.upload_id).await;
    assert_eq!(
        (row.status, row.reap_claim),
        (UploadStatus::Uploading, None)
    );
    h.store().set_down(false);
    let view = h.service.abort(OWNER, &started.upload_id).await.unwrap();
    assert_eq!(view.status, UploadStatus::Aborted);
    assert_eq!(h.store().pending_count(), 0);
}

#[tokio::test]
async fn a_file_that_has_arrived_cannot_be_aborted_only_deleted() {
    let h = harness().await;
    let view = h.upload("a.bin", &bytes(10)).await;
    let refused = h.service.abort(OWNER, &view.id).await;
    assert!(matches!(
        refused,
        Err(UploadError::Closed(UploadStatus::Uploaded))
    ));

    let stranger = h.service.delete(STRANGER, &view.id).await;
    assert!(matches!(stranger, Err(UploadError::NotFound)));
    h.service.delete(OWNER, &view.id).await.unwrap();
    let gone = h.service.delete(OWNER, &view.id).await;
    assert!(matches!(gone, Err(UploadError::NotFound)));
    assert!(h
        .service
        .list(OWNER, None)
        .await
        .unwrap()
        .uploads
        .is_empty());
    // The object goes through the outbox, which deletes it from the store.
    let doomed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM doomed_objects")
        .fetch_one(h.service.db())
        .await
        .unwrap();
    assert_eq!(doomed, 1);
}

#[tokio::test]
async fn deleting_an_unfinished_upload_aborts_it_first() {
    let h = harness().await;
    let started = h.start("a.bin", 2 * PART).await;
    h.service.delete(OWNER, &started.upload_id).await.unwrap();
    assert_eq!(h.store().pending_count(), 0);
    assert!(h
        .service
        .list(OWNER, None)
        .await
        .unwrap()
        .uploads
        .is_empty());
}
