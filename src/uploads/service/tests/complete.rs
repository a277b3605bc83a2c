use super::*;

#[tokio::test]
async fn what_arrived_as_announced_becomes_a_file_and_completing_again_says_the_same() {
    let h = harness().await;
    let data = bytes(2 * PART as usize + 7);
    let view = h.upload("a.bin", &data).await;
    assert_eq!(view.status, UploadStatus::Uploaded);
    let row = h.row(&view.id).await;
    assert_eq!(h.store().object(&row.object_key), Some(data));
    let again = h.service.complete(OWNER, &view.id).await.unwrap();
    assert_eq!(again.status, UploadStatus::Uploaded);
    let stranger = h.service.complete(STRANGER, &view.id).await;
    assert!(matches!(stranger, Err(UploadError::NotFound)));
}

#[tokio::test]
async fn missing_parts_are_named_and_the_upload_stays_open() {
    let h = harness().await;
    let started = h.start("a.bin", 3 * PART).await;
    let s3_id = h.row(&started.upload_id).await.s3_upload_id.unwrap();
    h.store().put_part(&s3_id, 2, &bytes(PART as usize));
    let answer = h.service.complete(OWNER, &started.upload_id).await;
    assert!(
        matches!(answer, Err(UploadError::Incomplete(ref m)) if m == &[1, 3]),
        "{answer:?}"
    );
    assert_eq!(
        h.row(&started.upload_id).await.status,
        UploadStatus::Uploading
    );
}

#[tokio::test]
async fn a_part_of_the_wrong_size_rejects_the_upload_and_leaves_nothing_stored() {
    let h = harness().await;
    let started = h.start("a.bin", 2 * PART).await;
    let s3_id = h.row(&started.upload_id).await.s3_upload_id.unwrap();
    h.store().put_part(&s3_id, 1, &bytes(PART as usize - 1));
    h.store().put_part(&s3_id, 2, &bytes(PART as usize));
    let answer = h.service.complete(OWNER, &started.upload_id).await;
    let expected = Rejection::PartSize {
        part: 1,
        holds: PART - 1,
        expected: PART,
    };
    assert!(
        matches!(answer, Err(UploadError::Rejected(ref r)) if *r == expected),
        "{answer:?}"
    );
    assert_eq!(
        h.row(&started.upload_id).await.status,
        UploadStatus::Rejected
    );
    assert_eq!(h.store().pending_count(), 0);
}

#[tokio::test]
async fn bytes_that_contradict_the_declared_type_are_rejected() {
    let h = harness().await;
    let started = h
        .service
        .start(
            OWNER,
            allowance(),
            NewUpload {
                content_type: "image/png".into(),
                ..request("photo.png", 64)
            },
        )
        .await
        .unwrap();
    h.send(&started, &[b'x'; 64]).await;
    let answer = h.service.complete(OWNER, &started.upload_id).await;
    assert!(
        matches!(answer, Err(UploadError::Rejected(_))),
        "{answer:?}"
    );
    let row = h.row(&started.upload_id).await;
    assert_eq!(row.status, UploadStatus::Rejected);
    assert_eq!(h.store().object(&row.object_key), None);
}
