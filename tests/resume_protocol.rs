//! What the browser engine relies on to never give up, against a real Garage and SQLite: the
//! store is asked which parts it holds (after a pause or a reload), an expired URL is answered
//! in a way the engine recognises and a fresh one can always be had, and several app origins
//! can share a bucket.

mod common;

use common::{bytes, harness, harness_with, media, plain, rules, send, Harness, OWNER, PART};
use hoist::{
    error::Invalid,
    model::{SignedRequest, UploadStatus},
    protocol::retry::{judge, PutError, Verdict},
    uploads::UploadError,
};
use std::time::Duration;

/// PUTs `body` with `request` until the store refuses it (its URL has expired), and returns
/// the refusal as the engine sees it. Polls the condition, with a deadline.
async fn put_until_expired(h: &Harness, request: &SignedRequest, body: &[u8]) -> PutError {
    let mut poll = tokio::time::interval(Duration::from_millis(200));
    let refused = async {
        loop {
            poll.tick().await;
            let response = send(&h.http, request, body.to_vec()).await;
            let status = response.status().as_u16();
            if !response.status().is_success() {
                return PutError::Status(status, response.text().await.unwrap_or_default());
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), refused)
        .await
        .expect("the URL expires within 30 s")
}

#[tokio::test]
async fn resuming_reports_exactly_the_parts_the_store_holds() {
    let h = harness().await;
    let size = 3 * PART + 10;
    let data = media("video/x-matroska", size, 11);
    let started = h.start("film.mkv", size, "video/x-matroska").await;
    h.put_parts(&started, &data, &[1, 3]).await;

    let state = h
        .service
        .resume(OWNER, &started.upload_id, size, "video/x-matroska")
        .await
        .expect("resume");
    assert_eq!(state.done, vec![1, 3]);
    assert_eq!(state.plan, started.plan);
    assert_eq!(state.name, "film.mkv");

    // The browser sends only what is missing, and the file arrives whole.
    h.put_parts(&started, &data, &[2, 4]).await;
    h.assert_arrives_whole(&started, &data).await;
}

#[tokio::test]
async fn a_one_part_upload_resumes_as_done_once_its_part_is_there() {
    let h = harness().await;
    let data = bytes(2000, 12);
    let started = h.start("note.txt", 2000, "text/plain").await;
    let resume = || {
        h.service
            .resume(OWNER, &started.upload_id, 2000, "text/plain")
    };
    assert_eq!(resume().await.unwrap().done, Vec::<u32>::new());
    let request = &h.sign(&started, &data, 1).await;
    assert!(send(&h.http, request, data).await.status().is_success());
    assert_eq!(resume().await.unwrap().done, vec![1]);
}

#[tokio::test]
async fn another_file_cannot_take_over_an_upload_and_a_closed_one_cannot_resume() {
    let h = harness().await;
    let size = 2 * PART;
    let started = h.start("a.bin", size, "application/octet-stream").await;

    let other_size = h
        .service
        .resume(
            OWNER,
            &started.upload_id,
            size + 1,
            "application/octet-stream",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&other_size, UploadError::Invalid(Invalid::NotTheFile { name, offered_size, .. })
            if name == "a.bin" && *offered_size == size + 1),
        "{other_size:?}"
    );
    let other_type = h
        .service
        .resume(OWNER, &started.upload_id, size, "image/png")
        .await
        .unwrap_err();
    assert!(matches!(
        other_type,
        UploadError::Invalid(Invalid::NotTheFile { .. })
    ));
    let stranger = h
        .service
        .resume(
            "session-b",
            &started.upload_id,
            size,
            "application/octet-stream",
        )
        .await
        .unwrap_err();
    assert!(matches!(stranger, UploadError::NotFound));

    h.service.abort(OWNER, &started.upload_id).await.unwrap();
    let closed = h
        .service
        .resume(OWNER, &started.upload_id, size, "application/octet-stream")
        .await
        .unwrap_err();
    assert!(matches!(closed, UploadError::Closed(UploadStatus::Aborted)));
}

#[tokio::test]
async fn an_expired_part_url_is_recognised_and_a_fresh_one_works() {
    let h = harness_with(hoist::uploads::UploadRules {
        url_ttl: Duration::from_secs(1),
        ..rules()
    })
    .await;
    // The last part is small: the store answers an expired URL before reading the body, and a
    // small body is already on its way by then (a big one would meet a closed connection).
    let size = PART + 100;
    let data = bytes(size, 13);
    let started = h.start("slow.bin", size, "application/octet-stream").await;
    let first = h
        .service
        .sign_parts(OWNER, &started.upload_id, &plain(&[2]))
        .await
        .unwrap();
    assert_eq!(first[0].request.valid_for_secs, 1);
    let refusal = put_until_expired(&h, &first[0].request, &data[PART as usize..]).await;
    assert_eq!(
        judge(&refusal),
        Verdict::Resign,
        "the engine must re-sign, not fail, on this answer: {refusal:?}"
    );

    h.put_parts(&started, &data, &[1, 2]).await;
    h.assert_arrives_whole(&started, &data).await;
}

#[tokio::test]
async fn a_one_part_url_can_be_signed_again() {
    let h = harness_with(hoist::uploads::UploadRules {
        url_ttl: Duration::from_secs(1),
        ..rules()
    })
    .await;
    let data = bytes(3000, 14);
    let started = h.start("late.txt", 3000, "text/plain").await;
    let first = &h.sign(&started, &data, 1).await;
    let refusal = put_until_expired(&h, first, &data).await;
    assert_eq!(judge(&refusal), Verdict::Resign, "{refusal:?}");

    let fresh = h
        .service
        .sign_parts(OWNER, &started.upload_id, &plain(&[1]))
        .await
        .expect("a fresh URL for the one part");
    assert!(send(&h.http, &fresh[0].request, data.clone())
        .await
        .status()
        .is_success());
    h.assert_arrives_whole(&started, &data).await;
    // Its one part exists; the upload is finished, so nothing is signed for it any more.
    let again = h
        .service
        .sign_parts(OWNER, &started.upload_id, &plain(&[1]))
        .await;
    assert!(
        matches!(again, Err(UploadError::Closed(UploadStatus::Uploaded))),
        "{again:?}"
    );
}

#[tokio::test]
async fn two_app_origins_share_a_bucket_without_undoing_each_other() {
    let h = harness().await;
    let store = h.store();
    store
        .allow_browser_origin("http://one.hoist.test")
        .await
        .expect("first origin");
    store
        .allow_browser_origin("http://two.hoist.test")
        .await
        .expect("second origin");
    // Setting an origin again changes nothing.
    store
        .allow_browser_origin("http://one.hoist.test")
        .await
        .expect("again");
    let rules = store
        .client()
        .get_bucket_cors()
        .bucket(store.bucket())
        .send()
        .await
        .expect("GetBucketCors")
        .cors_rules
        .unwrap_or_default();
    let origins: Vec<&str> = rules
        .iter()
        .flat_map(|r| r.allowed_origins())
        .map(String::as_str)
        .collect();
    for origin in ["http://one.hoist.test", "http://two.hoist.test"] {
        assert_eq!(
            origins.iter().filter(|o| **o == origin).count(),
            1,
            "{origin} once in {origins:?}"
        );
    }
}
