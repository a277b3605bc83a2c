//! What one party can make the database keep: a bound on uploads per owner and per guest
//! network (copies of content already held cost no quota, so bytes alone bound nothing), and
//! closed uploads removed after their retention. The real binary over HTTP, a real Garage.

mod common;

use common::{
    app::{by_id, form, processed, start, upload, App},
    bytes, eventually,
};
use hoist::{
    error::ApiError,
    model::{LibraryPage, StartedUpload},
};
use std::time::Duration;

async fn copy(
    app: &App,
    client: &reqwest::Client,
    sha: &str,
    size: usize,
    n: usize,
) -> (u16, String) {
    let name = format!("copy-{n}.bin");
    let answer = app
        .call(
            client,
            "start_uploads",
            &form(&[
                ("files[0][name]", &name),
                ("files[0][size]", &size.to_string()),
                ("files[0][content_type]", "application/octet-stream"),
                ("files[0][sha256]", sha),
            ]),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let mut started: Vec<Result<StartedUpload, ApiError>> = answer.json();
    match started.remove(0) {
        Ok(s) => {
            assert!(
                s.already_stored,
                "copy {n} was not answered from the stored content"
            );
            (200, s.upload_id)
        }
        Err(e) => (e.status_code(), e.to_string()),
    }
}

#[tokio::test]
async fn free_copies_and_fresh_guests_stop_at_the_row_caps() {
    let app = App::start(&[
        ("HOIST_MAX_FILES", "5"),
        ("HOIST_GUEST_NETWORK_MAX_FILES", "9"),
    ])
    .await;
    let guest = app.browser();
    let data = bytes(3000, 5);
    let first = upload(&app, &guest, "first.bin", "application/octet-stream", &data).await;
    let sha = processed(&app, &guest, &first, Duration::from_secs(60))
        .await
        .sha256
        .expect("hashed");
    // Four copies cost nothing but a row each; the fifth would make six rows.
    for n in 1..=4 {
        assert_eq!(
            copy(&app, &guest, &sha, data.len(), n).await.0,
            200,
            "copy {n}"
        );
    }
    let (status, sentence) = copy(&app, &guest, &sha, data.len(), 5).await;
    assert_eq!(status, 409, "{sentence}");
    assert!(sentence.contains("as many files"), "{sentence}");
    let fresh = app
        .call(
            &guest,
            "start_upload",
            &form(&[("name", "new.bin"), ("size", "10"), ("content_type", "")]),
        )
        .await;
    assert_eq!(fresh.status, 409, "{fresh:?}");
    assert_eq!(fresh.error(), ApiError::TooManyFiles);

    // A fresh cookie is a fresh guest, but not a fresh network: 5 rows are there, 4 more fit.
    for n in 0..4 {
        start(&app, &app.browser(), &format!("g{n}.bin"), 10, "").await;
    }
    let one_too_many = app
        .call(
            &app.browser(),
            "start_upload",
            &form(&[("name", "g.bin"), ("size", "10"), ("content_type", "")]),
        )
        .await;
    assert_eq!(one_too_many.status, 409, "{one_too_many:?}");
}

#[tokio::test]
async fn closed_uploads_leave_the_library_and_the_database_after_their_retention() {
    let app = App::start(&[
        ("HOIST_CLOSED_RETENTION", "1s"),
        ("HOIST_REAPER_INTERVAL", "1s"),
    ])
    .await;
    let guest = app.browser();
    let kept = upload(
        &app,
        &guest,
        "kept.bin",
        "application/octet-stream",
        &bytes(100, 1),
    )
    .await;
    let dropped = start(&app, &guest, "dropped.bin", 10, "").await.upload_id;
    assert_eq!(
        by_id(&app, &guest, "abort_upload", &dropped).await.status,
        200
    );
    let ids = || async {
        let page: LibraryPage = app.call(&guest, "list_uploads", "").await.json();
        page.uploads.into_iter().map(|u| u.id).collect::<Vec<_>>()
    };
    assert!(
        ids().await.contains(&dropped),
        "shown at first, with its reason"
    );
    eventually(
        Duration::from_secs(15),
        "the aborted upload is removed",
        || async { !ids().await.contains(&dropped) },
    )
    .await;
    assert_eq!(
        ids().await,
        vec![kept],
        "a file is never removed by retention"
    );
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM uploads WHERE id = $1")
        .bind(&dropped)
        .fetch_one(&app.database().await)
        .await
        .expect("count");
    assert_eq!(rows, 0);
}
