use super::*;

#[tokio::test]
async fn parts_are_signed_in_batches_only_for_their_owner_and_within_the_plan() {
    let h = harness().await;
    let started = h.start("a.bin", 2 * PART + 1).await;
    let id = &started.upload_id;
    let signed = h
        .service
        .sign_parts(OWNER, id, &plain(&[1, 3]))
        .await
        .unwrap();
    let numbers: Vec<u32> = signed.iter().map(|p| p.part_number).collect();
    assert_eq!(numbers, [1, 3]);
    let last = &signed[1].request.headers;
    assert!(
        last.contains(&("content-length".into(), "1".into())),
        "{last:?}"
    );

    let stranger = h.service.sign_parts(STRANGER, id, &plain(&[1])).await;
    assert!(matches!(stranger, Err(UploadError::NotFound)));
    let beyond = h.service.sign_parts(OWNER, id, &plain(&[4])).await;
    assert!(matches!(
        beyond,
        Err(UploadError::Invalid(Invalid::NoSuchPart {
            part: 4,
            parts: 3
        }))
    ));
    let twice = h.service.sign_parts(OWNER, id, &plain(&[2, 2])).await;
    assert!(matches!(
        twice,
        Err(UploadError::Invalid(Invalid::PartTwice { part: 2 }))
    ));
    let too_many: Vec<u32> = (1..=MAX_SIGN_BATCH as u32 + 1).collect();
    let batch = h.service.sign_parts(OWNER, id, &plain(&too_many)).await;
    assert!(matches!(
        batch,
        Err(UploadError::Invalid(Invalid::BatchSize { .. }))
    ));
}

#[tokio::test]
async fn a_closed_upload_gets_no_more_urls() {
    let h = harness().await;
    let started = h.start("a.bin", 10).await;
    h.service.abort(OWNER, &started.upload_id).await.unwrap();
    let refused = h
        .service
        .sign_parts(OWNER, &started.upload_id, &plain(&[1]))
        .await;
    assert!(matches!(
        refused,
        Err(UploadError::Closed(UploadStatus::Aborted))
    ));
}

#[tokio::test]
async fn with_checksums_required_every_part_brings_its_own() {
    let h = harness_with(UploadRules {
        part_checksum: Some(ChecksumAlgorithm::Crc32c),
        ..rules()
    })
    .await;
    let started = h.start("a.bin", 10).await;
    let bare = h
        .service
        .sign_parts(OWNER, &started.upload_id, &plain(&[1]))
        .await;
    assert!(matches!(
        bare,
        Err(UploadError::Invalid(Invalid::ChecksumNeeded {
            part: 1,
            ..
        }))
    ));
    let value = crate::checksum::of(ChecksumAlgorithm::Crc32c, b"0123456789");
    let part = PartToSign {
        part_number: 1,
        checksum: Some(value),
    };
    assert_eq!(
        h.service
            .sign_parts(OWNER, &started.upload_id, &[part])
            .await
            .unwrap()
            .len(),
        1
    );
}

fn plain(parts: &[u32]) -> Vec<PartToSign> {
    parts.iter().copied().map(PartToSign::plain).collect()
}
