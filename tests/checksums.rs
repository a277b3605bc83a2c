//! Per-part checksums against a real Garage: the checksum the browser computed is signed into
//! the part's URL, so the store itself refuses bytes that differ, and the server refuses to
//! sign a part without one.

mod common;

use common::{bytes, harness_with, rules, send, Harness, OWNER, PART};
use hoist::{
    checksum::{self, ChecksumAlgorithm},
    error::Invalid,
    model::{PartToSign, StartedUpload},
    protocol::retry::{judge, PutError, Verdict},
    uploads::UploadError,
    uploads::UploadRules,
};

async fn with_checksums(algorithm: ChecksumAlgorithm) -> Harness {
    harness_with(UploadRules {
        part_checksum: Some(algorithm),
        ..rules()
    })
    .await
}

fn part_of(started: &StartedUpload, data: &[u8], n: u32) -> Vec<u8> {
    let (start, end) = started.plan.range(n).expect("planned part");
    data[start as usize..end as usize].to_vec()
}

#[tokio::test]
async fn the_store_refuses_a_part_whose_bytes_differ_from_its_signed_checksum() {
    for algorithm in ChecksumAlgorithm::ALL {
        let h = with_checksums(algorithm).await;
        let size = 2 * PART + 99;
        let data = bytes(size, 41);
        let started = h
            .start("checked.bin", size, "application/octet-stream")
            .await;
        assert_eq!(started.checksum, Some(algorithm));

        let good = part_of(&started, &data, 2);
        let signed = h
            .service
            .sign_parts(
                OWNER,
                &started.upload_id,
                &[PartToSign {
                    part_number: 2,
                    checksum: Some(checksum::of(algorithm, &good)),
                }],
            )
            .await
            .expect("sign");
        let request = &signed[0].request;
        let header = format!("x-amz-checksum-{algorithm}");
        assert!(
            request
                .headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case(&header)),
            "{algorithm}: the checksum travels as a signed header: {:?}",
            request.headers
        );

        // One flipped bit, same length: the store refuses it, and the engine reads again.
        let mut damaged = good.clone();
        damaged[777] ^= 1;
        let refused = send(&h.http, request, damaged).await;
        let status = refused.status().as_u16();
        let body = refused.text().await.unwrap_or_default();
        assert_eq!(status, 400, "{algorithm}: {body}");
        assert_eq!(judge(&PutError::Status(status, body)), Verdict::Reread);

        // Without the header the signature does not hold. (The store may refuse before
        // reading the body, which the client then sees as a broken connection.)
        let mut stripped = h.http.put(&request.url).body(good.clone());
        for (name, value) in &request.headers {
            if !name.eq_ignore_ascii_case(&header) {
                stripped = stripped.header(name, value);
            }
        }
        let stripped = stripped.send().await;
        assert!(
            !stripped.is_ok_and(|r| r.status().is_success()),
            "{algorithm}"
        );

        assert!(send(&h.http, request, good).await.status().is_success());
        h.put_parts(&started, &data, &[1, 3]).await;
        h.assert_arrives_whole(&started, &data).await;
    }
}

#[tokio::test]
async fn a_one_part_file_is_signed_once_its_checksum_is_known() {
    let h = with_checksums(ChecksumAlgorithm::Crc32c).await;
    let data = bytes(4000, 42);
    let started = h
        .start("small-checked.bin", 4000, "application/octet-stream")
        .await;
    assert_eq!(started.plan.part_count(), 1);
    assert_eq!(started.checksum, Some(ChecksumAlgorithm::Crc32c));
    h.put_parts(&started, &data, &[1]).await;
    h.assert_arrives_whole(&started, &data).await;
}

#[tokio::test]
async fn a_part_without_a_valid_checksum_is_not_signed() {
    let h = with_checksums(ChecksumAlgorithm::Sha256).await;
    let started = h
        .start(
            "needs-checksums.bin",
            2 * PART + 1,
            "application/octet-stream",
        )
        .await;
    for checksum in [
        None,
        Some("not base64 at all".to_string()),
        Some("AAAAAA==".to_string()),
    ] {
        let answer = h
            .service
            .sign_parts(
                OWNER,
                &started.upload_id,
                &[PartToSign {
                    part_number: 1,
                    checksum: checksum.clone(),
                }],
            )
            .await;
        assert!(
            matches!(
                &answer,
                Err(UploadError::Invalid(Invalid::ChecksumNeeded {
                    part: 1,
                    algorithm: ChecksumAlgorithm::Sha256
                }))
            ),
            "{checksum:?}: {answer:?}"
        );
    }
}

/// A one-part file started with its SHA-256 has its URL signed for that hash: the store
/// refuses other bytes, and completing learns the hash from the store, so the file is ready at
/// once, hash known, with nothing read again to compute it.
#[tokio::test]
async fn a_one_part_file_sent_with_its_hash_is_checked_for_it_by_the_store() {
    let h = with_checksums(ChecksumAlgorithm::Crc32c).await;
    let data = bytes(4000, 43);
    let hex = hoist::format::hex(
        &checksum::unbase64(&checksum::of(ChecksumAlgorithm::Sha256, &data)).unwrap(),
    );
    let started = h
        .service
        .start(
            OWNER,
            common::ROOMY,
            hoist::uploads::NewUpload {
                name: "hashed.bin".into(),
                size: 4000,
                content_type: "application/octet-stream".into(),
                checksum: Some(checksum::of(ChecksumAlgorithm::Crc32c, &data)),
                sha256: Some(hex.clone()),
                layout: Default::default(),
            },
        )
        .await
        .expect("start");
    assert_eq!(started.checksum, Some(ChecksumAlgorithm::Sha256));
    let [signed] = &started.signed[..] else {
        panic!(
            "the only part is signed with the start: {:?}",
            started.signed
        );
    };
    assert!(signed
        .request
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("x-amz-checksum-sha256")));

    // Other bytes of the same length: the store says no.
    let other = bytes(4000, 44);
    let refused = send(&h.http, &signed.request, other).await;
    assert_eq!(refused.status(), 400, "{:?}", refused.text().await);

    let sent = send(&h.http, &signed.request, data.clone()).await;
    assert!(sent.status().is_success(), "{:?}", sent.text().await);
    h.service
        .complete(OWNER, &started.upload_id)
        .await
        .expect("complete");
    let file = hoist::db::files::find(h.service.db(), &started.upload_id)
        .await
        .expect("query")
        .expect("arrived");
    assert_eq!(file.sha256.as_deref(), Some(hex.as_str()));
    assert_eq!(
        file.processing,
        hoist::model::Processing::Ready,
        "no job is left to read it"
    );
    assert_eq!(
        h.object(&h.row(OWNER, &started.upload_id).await.object_key)
            .await,
        Some(data)
    );
}
