//! The upload protocol against a real S3-compatible store (Garage, over HTTP, SigV4) and a real
//! SQLite file. The test plays the browser: it PUTs to the presigned URLs the service hands out.

mod common;

use common::{
    bytes, harness, harness_on, harness_with, media, plain, rules, s3_settings, send,
    CountingStore, Harness, KEY_PREFIX, MIB, OWNER, PART, ROOMY,
};
use hoist::{
    error::{ApiError, Invalid},
    model::{ClosedBecause, Detected, Rejection, StartedUpload, UploadStatus},
    uploads::{NewUpload, UploadError, UploadService},
};

/// Completing is refused `because`, the row keeps why, and nothing of the file is kept.
async fn assert_rejected(h: &Harness, started: &StartedUpload, because: Rejection) {
    let err = h
        .service
        .complete(OWNER, &started.upload_id)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, UploadError::Rejected(reason) if *reason == because),
        "{err:?}"
    );
    let row = h.row(OWNER, &started.upload_id).await;
    assert_eq!(row.status.as_str(), "rejected");
    assert_eq!(row.closed_because(), Some(ClosedBecause::Rejected(because)));
    assert!(
        h.object(&row.object_key).await.is_none(),
        "the rejected object is deleted"
    );
}

#[tokio::test]
async fn a_three_part_upload_arrives_whole() {
    let h = harness().await;
    let size = 2 * PART + 123;
    let data = media("video/mp4", size, 1);
    let started = h.start("video.mp4", size, "video/mp4").await;
    assert_eq!(started.plan.part_count(), 3);

    // Out of order, as parallel PUTs finish.
    h.put_parts(&started, &data, &[3, 1, 2]).await;
    let view = h
        .service
        .complete(OWNER, &started.upload_id)
        .await
        .expect("complete");

    assert_eq!(view.status, UploadStatus::Uploaded);
    assert_eq!(view.size, size);
    let row = h.row(OWNER, &started.upload_id).await;
    assert_eq!(row.expires_at, None, "a verified upload is off death row");
    assert!(row.completed_at.is_some());
    assert_eq!(
        h.object(&row.object_key).await.expect("object exists"),
        data
    );
    let library = h.service.list(OWNER, None).await.unwrap().uploads;
    assert_eq!(library.len(), 1);
    assert_eq!(library[0].status, UploadStatus::Uploaded);
}

#[tokio::test]
async fn a_small_file_goes_in_one_part() {
    let h = harness().await;
    let data = media("image/png", 1000, 2);
    let started = h.start("avatar.png", 1000, "image/png").await;
    assert_eq!(started.plan.part_count(), 1);
    let request = &h.sign(&started, &data, 1).await;
    assert!(send(&h.http, request, data.clone())
        .await
        .status()
        .is_success());

    let view = h
        .service
        .complete(OWNER, &started.upload_id)
        .await
        .expect("complete");
    assert_eq!(view.status, UploadStatus::Uploaded);
    assert_eq!(view.content_type, "image/png");
    let row = h.row(OWNER, &started.upload_id).await;
    assert_eq!(h.object(&row.object_key).await.unwrap(), data);
}

#[tokio::test]
async fn the_store_refuses_tampered_or_mismatched_requests() {
    let h = harness().await;
    let data = media("image/png", 1000, 3);
    let started = h.start("photo.png", 1000, "image/png").await;
    let request = &h.sign(&started, &data, 1).await;

    let mut tampered = request.clone();
    let signature_at =
        tampered.url.find("X-Amz-Signature=").expect("signature") + "X-Amz-Signature=".len();
    let flipped = if &tampered.url[signature_at..signature_at + 1] == "0" {
        "1"
    } else {
        "0"
    };
    tampered
        .url
        .replace_range(signature_at..signature_at + 1, flipped);
    assert_eq!(send(&h.http, &tampered, data.clone()).await.status(), 403);

    let mut other_part = request.clone();
    other_part.url = other_part.url.replace("partNumber=1", "partNumber=2");
    assert_eq!(send(&h.http, &other_part, data.clone()).await.status(), 403);

    let mut longer = data.clone();
    longer.push(0);
    assert!(
        send(&h.http, request, longer)
            .await
            .status()
            .is_client_error(),
        "a longer body than signed"
    );

    // None of it landed, so completing says the part has not arrived; the real PUT still works.
    assert!(matches!(
        h.service.complete(OWNER, &started.upload_id).await,
        Err(UploadError::Incomplete(missing)) if missing == vec![1]
    ));
    assert!(send(&h.http, request, data).await.status().is_success());
    h.service
        .complete(OWNER, &started.upload_id)
        .await
        .expect("complete after the real PUT");
}

#[tokio::test]
async fn a_part_url_is_bound_to_its_length() {
    let h = harness().await;
    let size = PART + 10;
    let data = bytes(size, 4);
    let started = h.start("big.bin", size, "application/octet-stream").await;
    let signed = h
        .service
        .sign_parts(OWNER, &started.upload_id, &plain(&[2]))
        .await
        .unwrap();
    let mut too_long = data[PART as usize..].to_vec();
    too_long.extend_from_slice(&[0; 100]);
    assert_eq!(
        send(&h.http, &signed[0].request, too_long).await.status(),
        403
    );
}

#[tokio::test]
async fn completing_with_a_missing_part_names_it_and_loses_nothing() {
    let h = harness().await;
    let size = 2 * PART + 1;
    let data = media("application/pdf", size, 5);
    let started = h.start("report.pdf", size, "application/pdf").await;
    h.put_parts(&started, &data, &[1, 3]).await;

    let err = h
        .service
        .complete(OWNER, &started.upload_id)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, UploadError::Incomplete(missing) if missing == &vec![2]),
        "{err:?}"
    );
    assert_eq!(
        ApiError::from(&err),
        ApiError::Incomplete { missing: vec![2] }
    );
    assert_eq!(
        h.row(OWNER, &started.upload_id).await.status.as_str(),
        "uploading"
    );

    h.put_parts(&started, &data, &[2]).await;
    let view = h
        .service
        .complete(OWNER, &started.upload_id)
        .await
        .expect("complete");
    assert_eq!(view.status, UploadStatus::Uploaded);
    let row = h.row(OWNER, &started.upload_id).await;
    assert_eq!(h.object(&row.object_key).await.unwrap(), data);
}

#[tokio::test]
async fn a_single_put_size_lie_is_rejected_and_deleted() {
    let h = harness().await;
    let started = h.start("small.txt", 1000, "text/plain").await;
    let row = h.row(OWNER, &started.upload_id).await;
    // Someone with write access to the bucket writes more than was announced at the key.
    h.store()
        .client()
        .put_object()
        .bucket(h.store().bucket())
        .key(&row.object_key)
        .content_type("text/plain")
        .body(bytes(2000, 6).into())
        .send()
        .await
        .unwrap();

    assert_rejected(
        &h,
        &started,
        Rejection::SizeMismatch {
            arrived: 2000,
            announced: 1000,
        },
    )
    .await;
    // Asking again gives the same answer.
    assert!(matches!(
        h.service.complete(OWNER, &started.upload_id).await,
        Err(UploadError::Rejected(_))
    ));
}

#[tokio::test]
async fn content_that_is_not_its_declared_type_is_rejected_and_deleted() {
    let h = harness().await;
    // An executable renamed holiday.png: the browser says image/png, from the name.
    let mut elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0\x01".to_vec();
    elf.resize(64, 0);
    elf.extend(bytes(2 * PART, 7));
    let size = elf.len() as u64;
    let started = h.start("holiday.png", size, "image/png").await;
    h.put_parts(&started, &elf, &[1, 2, 3]).await;
    let posing_as_png = |media_type: &str, extension: &str| Rejection::ContentMismatch {
        declared: "image/png".into(),
        found: Some(Detected {
            media_type: media_type.into(),
            extension: extension.into(),
        }),
    };
    assert_rejected(
        &h,
        &started,
        posing_as_png("application/x-executable", "elf"),
    )
    .await;

    // A ZIP posing as a PNG, sent in one PUT.
    let mut zip = b"PK\x03\x04\x14\0\0\0\x08\0".to_vec();
    zip.extend(bytes(3000, 8));
    let started = h.start("photo.png", zip.len() as u64, "image/png").await;
    let request = &h.sign(&started, &zip, 1).await;
    assert!(send(&h.http, request, zip).await.status().is_success());
    assert_rejected(&h, &started, posing_as_png("application/zip", "zip")).await;

    // The real thing passes.
    let png = media("image/png", 3000, 9);
    let started = h.start("real.png", 3000, "image/png").await;
    h.put_parts(&started, &png, &[1]).await;
    h.assert_arrives_whole(&started, &png).await;
}

#[tokio::test]
async fn a_part_of_the_wrong_size_is_rejected_and_nothing_is_left() {
    let h = harness().await;
    let size = 2 * PART;
    let data = bytes(size, 7);
    let started = h.start("clip.mov", size, "video/quicktime").await;
    let row = h.row(OWNER, &started.upload_id).await;
    h.put_parts(&started, &data, &[1]).await;
    // Part 2 uploaded past the signed URLs, with fewer bytes than planned.
    h.store()
        .client()
        .upload_part()
        .bucket(h.store().bucket())
        .key(&row.object_key)
        .upload_id(row.s3_upload_id.clone().unwrap())
        .part_number(2)
        .body(bytes(10, 8).into())
        .send()
        .await
        .unwrap();

    assert_rejected(
        &h,
        &started,
        Rejection::PartSize {
            part: 2,
            holds: 10,
            expected: PART,
        },
    )
    .await;
    assert_eq!(
        h.pending_multipart(&row.object_key).await,
        0,
        "the multipart upload is aborted"
    );
}

#[tokio::test]
async fn another_sessions_upload_is_not_found() {
    let h = harness().await;
    let started = h.start("secret.txt", 2 * PART, "text/plain").await;
    let id = &started.upload_id;
    let other = "session-b";
    assert!(matches!(
        h.service.sign_parts(other, id, &plain(&[1])).await,
        Err(UploadError::NotFound)
    ));
    assert!(matches!(
        h.service.complete(other, id).await,
        Err(UploadError::NotFound)
    ));
    assert!(matches!(
        h.service.abort(other, id).await,
        Err(UploadError::NotFound)
    ));
    assert!(matches!(
        h.service.download_url(other, id).await,
        Err(UploadError::NotFound)
    ));
    assert!(h
        .service
        .list(other, None)
        .await
        .unwrap()
        .uploads
        .is_empty());
    // And the owner's upload is untouched by the attempts.
    assert_eq!(h.row(OWNER, id).await.status.as_str(), "uploading");
}

#[tokio::test]
async fn completing_twice_gives_the_same_answer() {
    let h = harness().await;
    let size = PART + 1;
    let data = bytes(size, 9);
    let started = h.start("twice.bin", size, "application/octet-stream").await;
    h.put_parts(&started, &data, &[1, 2]).await;

    // Two racing calls (a double click), then a late third one.
    let (a, b) = tokio::join!(
        h.service.complete(OWNER, &started.upload_id),
        h.service.complete(OWNER, &started.upload_id)
    );
    let (a, b) = (a.expect("first"), b.expect("second"));
    assert_eq!(a, b);
    assert_eq!(
        h.service.complete(OWNER, &started.upload_id).await.unwrap(),
        a
    );
    let row = h.row(OWNER, &started.upload_id).await;
    assert_eq!(h.object(&row.object_key).await.unwrap(), data);
}

#[tokio::test]
async fn names_are_sanitised_before_they_reach_the_store() {
    let h = harness().await;
    let traversal = h.start("../../etc/passwd", 10, "text/plain").await;
    assert_eq!(traversal.name, "passwd");
    let row = h.row(OWNER, &traversal.upload_id).await;
    // The name is the row's; the key never carries one.
    assert_eq!(
        row.object_key,
        format!("{KEY_PREFIX}{}/object", traversal.upload_id)
    );

    let long_name = format!("{}.txt", "ü".repeat(150));
    assert_eq!(long_name.len(), 304);
    let long = h.start(&long_name, 10, "text/plain").await;
    assert!(
        long.name.len() <= 255 && long.name.ends_with(".txt"),
        "{}",
        long.name
    );

    assert!(matches!(
        h.service
            .start(
                OWNER,
                ROOMY,
                NewUpload {
                    name: "/..".into(),
                    size: 10,
                    content_type: "text/plain".into(),
                    checksum: None,
                    sha256: None,
                    layout: Default::default(),
                }
            )
            .await,
        Err(UploadError::Invalid(Invalid::EmptyName))
    ));

    // A unicode name makes the whole trip: stored, listed, and downloaded under its own name.
    let name = "Über café 日本語 🎉.txt";
    let data = bytes(10, 10);
    let started = h.start(name, 10, "text/plain").await;
    let request = &h.sign(&started, &data, 1).await;
    assert!(send(&h.http, request, data.clone())
        .await
        .status()
        .is_success());
    h.service.complete(OWNER, &started.upload_id).await.unwrap();
    let url = h
        .service
        .download_url(OWNER, &started.upload_id)
        .await
        .unwrap();
    let response = h.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.contains("%C3%9Cber%20caf%C3%A9"),
        "{disposition}"
    );
    assert_eq!(response.bytes().await.unwrap().to_vec(), data);
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let mut limited = rules();
    limited.max_file_size = 10 * MIB;
    limited.allowed_types = vec!["image/*".into()];
    let h = harness_with(limited).await;
    let request = |name: &str, size: u64, content_type: &str| NewUpload {
        name: name.into(),
        size,
        content_type: content_type.into(),
        checksum: None,
        sha256: None,
        layout: Default::default(),
    };

    let too_big = h
        .service
        .start(OWNER, ROOMY, request("huge.png", 11 * MIB, "image/png"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &too_big,
            UploadError::Invalid(Invalid::TooLarge { size, max, .. })
                if *size == 11 * MIB && *max == 10 * MIB
        ),
        "{too_big:?}"
    );
    let wrong_type = h
        .service
        .start(
            OWNER,
            ROOMY,
            request("tool.exe", 10, "application/x-msdownload"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&wrong_type, UploadError::Invalid(Invalid::TypeNotAllowed { kind, .. })
            if kind == "application/x-msdownload"),
        "{wrong_type:?}"
    );
    let empty = h
        .service
        .start(OWNER, ROOMY, request("empty.png", 0, "image/png"))
        .await
        .unwrap_err();
    assert!(
        matches!(&empty, UploadError::Invalid(Invalid::EmptyFile { name }) if name == "empty.png"),
        "{empty:?}"
    );
    assert!(
        h.service
            .list(OWNER, None)
            .await
            .unwrap()
            .uploads
            .is_empty(),
        "refused uploads leave no row"
    );

    let ok = h
        .service
        .start(OWNER, ROOMY, request("fine.png", 2 * PART, "image/png"))
        .await
        .unwrap();
    let beyond = h
        .service
        .sign_parts(OWNER, &ok.upload_id, &plain(&[3]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            beyond,
            UploadError::Invalid(Invalid::NoSuchPart { part: 3, parts: 2 })
        ),
        "{beyond:?}"
    );
}

#[tokio::test]
async fn aborting_leaves_nothing_in_the_bucket() {
    let h = harness().await;
    let size = 2 * PART;
    let data = bytes(size, 11);
    let started = h
        .start("cancel-me.bin", size, "application/octet-stream")
        .await;
    h.put_parts(&started, &data, &[1]).await;
    let row = h.row(OWNER, &started.upload_id).await;
    assert_eq!(h.pending_multipart(&row.object_key).await, 1);

    let view = h.service.abort(OWNER, &started.upload_id).await.unwrap();
    assert_eq!(view.status, UploadStatus::Aborted);
    assert_eq!(h.pending_multipart(&row.object_key).await, 0);
    assert!(h.object(&row.object_key).await.is_none());
    // Aborting again is harmless; continuing is refused with a reason.
    assert_eq!(
        h.service
            .abort(OWNER, &started.upload_id)
            .await
            .unwrap()
            .status,
        UploadStatus::Aborted
    );
    let err = h
        .service
        .sign_parts(OWNER, &started.upload_id, &plain(&[2]))
        .await
        .unwrap_err();
    assert!(matches!(err, UploadError::Closed(UploadStatus::Aborted)));
}

/// The row was recorded but the store's answer to CreateMultipartUpload never was (a crash in
/// between): aborting must still find and abort the upload the store holds under its key,
/// since the row leaves death row and nothing would look at it again.
#[tokio::test]
async fn aborting_an_upload_whose_store_id_was_never_recorded_still_cleans_its_key() {
    let h = harness().await;
    let started = h
        .start("half-recorded.bin", 2 * PART, "application/octet-stream")
        .await;
    h.put_parts(&started, &bytes(2 * PART, 12), &[1]).await;
    sqlx::query("UPDATE uploads SET s3_upload_id = NULL WHERE id = $1")
        .bind(&started.upload_id)
        .execute(h.service.db().writer())
        .await
        .expect("forget the store's id");
    let row = h.row(OWNER, &started.upload_id).await;
    assert_eq!(h.pending_multipart(&row.object_key).await, 1);

    // Watched, because Garage's DeleteObject happens to drop a key's unfinished uploads too;
    // S3's does not, so the upload itself must be found and aborted.
    let watched = UploadService::new(
        h.service.db().clone(),
        CountingStore::new(h.store().clone()),
        rules(),
    )
    .with_clock(h.clock.clone());
    let view = watched.abort(OWNER, &started.upload_id).await.unwrap();
    assert_eq!(view.status, UploadStatus::Aborted);
    let store = watched.store();
    assert_eq!(store.count("pending_uploads"), 1, "{:?}", store.calls());
    assert_eq!(store.count("abort_multipart"), 1, "{:?}", store.calls());
    assert_eq!(h.pending_multipart(&row.object_key).await, 0);
    assert!(h.object(&row.object_key).await.is_none());
}

#[tokio::test]
async fn an_unreachable_store_gets_a_clear_message() {
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut settings = s3_settings();
    settings.endpoint = format!("http://127.0.0.1:{port}");
    settings.public_endpoint = None;
    let h = harness_on(settings, rules()).await;

    let request = NewUpload {
        name: "big.bin".into(),
        size: 3 * PART,
        content_type: "application/octet-stream".into(),
        checksum: None,
        sha256: None,
        layout: Default::default(),
    };
    let err = h.service.start(OWNER, ROOMY, request).await.unwrap_err();
    assert_eq!(
        ApiError::from(&err),
        ApiError::storage_unavailable(),
        "{err:?}"
    );
    // The attempt is on record, not silently dropped: the library says it was aborted.
    let library = h.service.list(OWNER, None).await.unwrap().uploads;
    assert_eq!(library.len(), 1);
    assert_eq!(library[0].status, UploadStatus::Aborted);
}

/// A store that ignores `Range` and sends the whole object: the type check takes what it needs
/// and hangs up, instead of reading (and holding) a file of any size.
#[tokio::test]
async fn a_store_that_ignores_range_is_not_read_to_the_end() {
    use hoist::storage::ObjectStore;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const WHOLE: u64 = 256 * MIB;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client hung up before asking");
            request.extend_from_slice(&buf[..n]);
        }
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {WHOLE}\r\nContent-Type: application/octet-stream\r\n\r\n"
        );
        socket.write_all(head.as_bytes()).await.unwrap();
        let chunk = vec![7u8; 64 * 1024];
        let mut sent = 0u64;
        while sent < WHOLE {
            if socket.write_all(&chunk).await.is_err() {
                break;
            }
            sent += chunk.len() as u64;
        }
        sent
    });
    let mut settings = s3_settings();
    settings.endpoint = format!("http://{address}");
    settings.public_endpoint = None;
    let store = hoist::storage::s3::S3Store::new(&settings);
    let head = store
        .read_start("hoist/any/key.bin", 16 * 1024)
        .await
        .expect("read")
        .expect("an object");
    assert_eq!(head.info.size, WHOLE);
    assert_eq!(head.bytes.len(), 16 * 1024);
    assert!(head.bytes.iter().all(|b| *b == 7));
    drop(store);
    let sent = tokio::time::timeout(std::time::Duration::from_secs(30), server)
        .await
        .expect("the client hung up")
        .unwrap();
    assert!(
        sent < 32 * MIB,
        "{} MiB of a {} MiB object were sent",
        sent / MIB,
        WHOLE / MIB
    );
}

/// Many files in one call: each gets its own answer (a refused one holds back no other), the
/// library keeps the order they were picked in, a small file that brought its checksum gets its
/// URL with the answer (the store takes only those bytes through it), and verifying a batch
/// asks the store what arrived without a HeadObject per file.
#[tokio::test]
async fn a_batch_of_small_files_starts_in_one_call_and_completes_in_another() {
    use hoist::checksum::{self, ChecksumAlgorithm};
    let mut rules = rules();
    rules.part_checksum = Some(ChecksumAlgorithm::Crc32c);
    let h = harness_with(rules.clone()).await;
    let watched = UploadService::new(
        h.service.db().clone(),
        CountingStore::new(h.store().clone()),
        rules,
    )
    .with_clock(h.clock.clone());
    let files: Vec<Vec<u8>> = (0..5).map(|i| bytes(1000 + i, i)).collect();
    let file = |name: String, data: &[u8]| NewUpload {
        name,
        size: data.len() as u64,
        content_type: "application/octet-stream".into(),
        checksum: Some(checksum::of(ChecksumAlgorithm::Crc32c, data)),
        sha256: None,
        layout: Default::default(),
    };
    let mut requests: Vec<NewUpload> = files
        .iter()
        .enumerate()
        .map(|(i, data)| file(format!("photo-{i}.bin"), data))
        .collect();
    requests.insert(2, file("empty.bin".into(), &[]));

    let answers = watched.start_many(OWNER, ROOMY, requests).await.unwrap();
    assert_eq!(answers.len(), 6);
    assert!(
        matches!(
            answers[2],
            Err(UploadError::Invalid(Invalid::EmptyFile { .. }))
        ),
        "{:?}",
        answers[2]
    );
    let started: Vec<StartedUpload> = answers.into_iter().filter_map(Result::ok).collect();
    assert_eq!(started.len(), 5);
    let other = bytes(1000, 99);
    let refused = send(&h.http, &started[0].signed[0].request, other).await;
    assert_eq!(
        refused.status(),
        400,
        "other bytes through a URL signed for these"
    );
    for (s, data) in started.iter().zip(&files) {
        assert_eq!(s.signed.len(), 1, "{s:?}");
        let sent = send(&h.http, &s.signed[0].request, data.clone()).await;
        assert!(sent.status().is_success(), "{}", sent.status());
    }

    let ids: Vec<String> = started.iter().map(|s| s.upload_id.clone()).collect();
    let store = watched.store();
    let before = store.calls().len();
    let done = watched.complete_many(OWNER, &ids).await.unwrap();
    for answer in &done {
        assert_eq!(
            answer.as_ref().expect("verified").status,
            UploadStatus::Uploaded
        );
    }
    let calls: Vec<&str> = store.calls()[before..].iter().map(|(op, _)| *op).collect();
    let count = |op: &str| calls.iter().filter(|c| **c == op).count();
    assert_eq!(
        (
            count("list_parts"),
            count("complete_multipart"),
            count("read_start"),
            count("head")
        ),
        (5, 5, 5, 0),
        "{calls:?}"
    );
    for (s, data) in started.iter().zip(&files) {
        let key = h.row(OWNER, &s.upload_id).await.object_key;
        assert_eq!(h.object(&key).await.as_deref(), Some(data.as_slice()));
    }
    let names: Vec<String> = h
        .service
        .list(OWNER, None)
        .await
        .unwrap()
        .uploads
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(
        names,
        [
            "photo-4.bin",
            "photo-3.bin",
            "photo-2.bin",
            "photo-1.bin",
            "photo-0.bin"
        ]
    );

    let too_many = (0..51)
        .map(|i| file(format!("{i}.bin"), &files[0]))
        .collect();
    assert!(matches!(
        h.service.start_many(OWNER, ROOMY, too_many).await,
        Err(UploadError::Invalid(Invalid::FileBatchSize {
            asked: 51,
            max: 50
        }))
    ));
}
