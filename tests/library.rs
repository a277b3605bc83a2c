//! The library as a person uses it: in the order they choose, searched by name, and many
//! files deleted at once. The real binary over HTTP, a real Garage.
//!
//! `list_uploads` (search, sort) and `delete_uploads` are open to anyone with a session, a
//! guest included; each sees only their own uploads. A search is bound to 100 characters and
//! matched literally (no wildcards of the caller's); a deletion takes at most 100 ids, each
//! charged as a call against the network's rate limit, and ids that are not the caller's are
//! answered "not found", one by one, with nothing of anyone else's touched.

mod common;

use common::app::{form, row, start, Answer, App};
use hoist::{
    api::NotDeleted,
    error::ApiError,
    model::{LibraryPage, UploadStatus},
};

async fn names(app: &App, client: &reqwest::Client, fields: &[(&str, &str)]) -> Vec<String> {
    let answer = app.call(client, "list_uploads", &form(fields)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let page: LibraryPage = answer.json();
    page.uploads.into_iter().map(|u| u.name).collect()
}

/// `delete_uploads` of `ids`, as a form.
async fn delete(app: &App, client: &reqwest::Client, ids: &[String]) -> Answer {
    let keys: Vec<String> = (0..ids.len()).map(|i| format!("upload_ids[{i}]")).collect();
    let pairs: Vec<(&str, &str)> = keys
        .iter()
        .zip(ids)
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    app.call(client, "delete_uploads", &form(&pairs)).await
}

#[tokio::test]
async fn the_library_comes_in_the_order_asked_and_finds_names_literally() {
    let app = App::start(&[]).await;
    let me = app.browser();
    for (name, size) in [
        ("Beach.jpg", 30),
        ("apple.png", 10),
        ("100%_done.txt", 20),
        ("1000_done.txt", 40),
    ] {
        start(&app, &me, name, size, "").await;
    }
    let stranger = app.browser();
    start(&app, &stranger, "beach-theirs.jpg", 5, "").await;

    let by_name = names(&app, &me, &[("sort", "name")]).await;
    assert_eq!(
        by_name,
        ["100%_done.txt", "1000_done.txt", "apple.png", "Beach.jpg"]
    );
    let largest = names(&app, &me, &[("sort", "largest")]).await;
    assert_eq!(
        largest,
        ["1000_done.txt", "Beach.jpg", "100%_done.txt", "apple.png"]
    );
    let oldest = names(&app, &me, &[("sort", "oldest")]).await;
    assert_eq!(oldest[0], "Beach.jpg");

    // Either case, and only the caller's own.
    assert_eq!(
        names(&app, &me, &[("search", "BEACH")]).await,
        ["Beach.jpg"]
    );
    // `%` and `_` are letters here, not wildcards.
    assert_eq!(
        names(&app, &me, &[("search", "%_")]).await,
        ["100%_done.txt"]
    );
    assert!(names(&app, &me, &[("search", "_done%")]).await.is_empty());

    let long = "x".repeat(101);
    let refused = app
        .call(&me, "list_uploads", &form(&[("search", &long)]))
        .await;
    assert_eq!(refused.status, 400, "{refused:?}");
    assert!(
        refused.error().to_string().contains("at most 100"),
        "{refused:?}"
    );
    let nonsense = app
        .call(&me, "list_uploads", &form(&[("sort", "random()")]))
        .await;
    assert_eq!(nonsense.status, 400, "{nonsense:?}");
}

#[tokio::test]
async fn many_files_are_deleted_at_once_and_nobody_elses() {
    let app = App::start(&[]).await;
    let me = app.browser();
    let mut mine = Vec::new();
    for n in 0..3 {
        mine.push(
            start(&app, &me, &format!("{n}.bin"), 10, "")
                .await
                .upload_id,
        );
    }
    let stranger = app.browser();
    let theirs = start(&app, &stranger, "theirs.bin", 10, "").await.upload_id;

    let ids: Vec<String> = mine.iter().chain([&theirs]).cloned().collect();
    let answer = delete(&app, &me, &ids).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let left: Vec<NotDeleted> = answer.json();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].upload_id, theirs);
    assert!(matches!(left[0].error, ApiError::NotFound), "{left:?}");
    assert!(names(&app, &me, &[]).await.is_empty());
    assert_eq!(
        row(&app, &stranger, &theirs).await.status,
        UploadStatus::Uploading
    );

    let none = app.call(&me, "delete_uploads", "").await;
    assert_eq!(none.status, 400, "{none:?}");
    let too_many: Vec<String> = (0..101).map(|i| format!("id-{i}")).collect();
    let refused = delete(&app, &me, &too_many).await;
    assert_eq!(refused.status, 400, "{refused:?}");
    assert!(refused.error().to_string().contains("100"), "{refused:?}");
}

#[tokio::test]
async fn each_file_of_a_deletion_counts_against_the_networks_rate() {
    let app = App::start(&[("HOIST_IP_RATE_LIMIT", "1"), ("HOIST_IP_RATE_BURST", "20")]).await;
    let me = app.browser();
    let ids: Vec<String> = (0..50).map(|i| format!("no-such-{i}")).collect();
    let answer = delete(&app, &me, &ids).await;
    assert_eq!(answer.status, 429, "{answer:?}");
}
