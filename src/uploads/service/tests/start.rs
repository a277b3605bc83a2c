use super::*;

#[tokio::test]
async fn each_file_of_a_batch_gets_its_own_answer_and_refused_ones_never_reach_the_store() {
    let h = harness().await;
    let batch = vec![
        request("a.bin", 10),
        request("empty.bin", 0),
        request("huge.bin", 2 << 30),
        request("b.bin", 3 * PART + 1),
    ];
    let answers = h
        .service
        .start_many(OWNER, allowance(), batch)
        .await
        .unwrap();
    assert!(answers[0].is_ok(), "{:?}", answers[0]);
    assert!(matches!(
        answers[1],
        Err(UploadError::Invalid(Invalid::EmptyFile { .. }))
    ));
    assert!(matches!(
        answers[2],
        Err(UploadError::Invalid(Invalid::TooLarge { .. }))
    ));
    let big = answers[3].as_ref().unwrap();
    assert_eq!(big.plan.part_count(), 4);
    let creates = h
        .store()
        .calls()
        .iter()
        .filter(|c| c.starts_with("create"))
        .count();
    assert_eq!(creates, 2, "{:?}", h.store().calls());
    assert_eq!(h.row(&big.upload_id).await.status, UploadStatus::Uploading);
}

#[tokio::test]
async fn a_file_past_the_quota_is_refused_before_the_store_hears_of_it() {
    let h = harness().await;
    let small = Allowance {
        quota: 100,
        ..allowance()
    };
    let refused = h.service.start(OWNER, small, request("a.bin", 101)).await;
    assert!(matches!(
        refused,
        Err(UploadError::OverQuota {
            size: 101,
            used: 0,
            quota: 100
        })
    ));
    assert!(h.store().calls().is_empty(), "{:?}", h.store().calls());
}

#[tokio::test]
async fn a_store_that_refuses_leaves_the_upload_closed_not_waiting_for_bytes() {
    let h = harness().await;
    h.store().set_down(true);
    let answer = h
        .service
        .start(OWNER, allowance(), request("a.bin", 10))
        .await;
    assert!(matches!(answer, Err(UploadError::Storage(_))), "{answer:?}");
    let page = h.service.list(OWNER, None).await.unwrap();
    assert_eq!(page.uploads.len(), 1);
    assert_ne!(page.uploads[0].status, UploadStatus::Uploading);
}

#[tokio::test]
async fn too_many_files_in_one_call_is_the_callers_mistake() {
    let h = harness().await;
    let batch = (0..=MAX_START_BATCH)
        .map(|i| request(&format!("{i}.bin"), 1))
        .collect();
    let refused = h.service.start_many(OWNER, allowance(), batch).await;
    assert!(matches!(
        refused,
        Err(UploadError::Invalid(Invalid::FileBatchSize { .. }))
    ));
    assert!(h
        .service
        .start_many(OWNER, allowance(), Vec::new())
        .await
        .is_err());
}
