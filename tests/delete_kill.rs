//! Deletes that a crash interrupts: the real `hoist` binary is SIGKILLed while dozens of
//! deletes (some of objects shared by copies of the same content) are in flight and its store
//! deletes are held unanswered, then started again on the same database and the store. No row
//! may be left that nobody can delete, no row may name an object that is gone, and no object
//! may be left that no row names.

mod common;

use common::{
    app::{form, processed, upload, App},
    bytes, eventually,
    proxy::HoldingProxy,
    s3_settings,
};
use futures::StreamExt;
use hoist::{
    error::ApiError,
    model::StartedUpload,
    storage::{s3::S3Store, ObjectStore},
};
use std::time::Duration;

async fn keys_and_rows(app: &App) -> (Vec<String>, Vec<(String, String)>) {
    let db = app.database_as_is().await;
    let keys = sqlx::query_scalar("SELECT DISTINCT object_key FROM uploads")
        .fetch_all(&db)
        .await
        .expect("keys");
    let rows = sqlx::query_as("SELECT id, object_key FROM uploads WHERE status = 'uploaded'")
        .fetch_all(&db)
        .await
        .expect("rows");
    (keys, rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_cut_short_by_a_crash_leave_no_stuck_row_no_dangling_row_and_no_orphan_object() {
    // The first server's store deletes reach the store never: it dies in the middle of them.
    let proxy = HoldingProxy::start(Box::new(|line| line.starts_with("DELETE "))).await;
    let mut app = App::start(&[("HOIST_S3_ENDPOINT", proxy.url.as_str())]).await;
    let guest = app.browser();
    let store = S3Store::new(&s3_settings());
    let mut ids = Vec::new();
    for n in 0..24u64 {
        let data = bytes(2000 + n, 100 + n);
        let id = upload(&app, &guest, &format!("f{n}.bin"), "", &data).await;
        // A third of the files get two copies sharing their object.
        if n % 3 == 0 {
            let sha = processed(&app, &guest, &id, Duration::from_secs(60))
                .await
                .sha256
                .expect("hashed");
            for copy in 0..2 {
                let answer = app
                    .call(
                        &guest,
                        "start_uploads",
                        &form(&[
                            ("files[0][name]", &format!("f{n}-copy{copy}.bin")),
                            ("files[0][size]", &data.len().to_string()),
                            ("files[0][content_type]", ""),
                            ("files[0][sha256]", &sha),
                        ]),
                    )
                    .await;
                let started: Vec<Result<StartedUpload, ApiError>> = answer.json();
                let started = started.into_iter().next().expect("one").expect("started");
                assert!(started.already_stored);
                ids.push(started.upload_id);
            }
        }
        ids.push(id);
    }
    let (keys, _) = keys_and_rows(&app).await;
    assert_eq!(keys.len(), 24);

    // Every delete at once, 16 in flight; the server dies once one of its store deletes is
    // waiting on the store.
    let base = app.base.clone();
    let deletes = {
        let (guest, ids) = (guest.clone(), ids.clone());
        tokio::spawn(async move {
            futures::stream::iter(ids)
                .map(|id| {
                    let (guest, base) = (guest.clone(), base.clone());
                    async move {
                        let _ = guest
                            .post(format!("{base}/api/delete_upload"))
                            .header("content-type", "application/x-www-form-urlencoded")
                            .body(form(&[("upload_id", &id)]))
                            .send()
                            .await;
                    }
                })
                .buffer_unordered(16)
                .collect::<Vec<()>>()
                .await
        })
    };
    eventually(
        Duration::from_secs(30),
        "a store delete is under way",
        || async { proxy.held() > 0 },
    )
    .await;
    app.kill();
    deletes.await.expect("the deletes end");
    println!("killed with {} store deletes held unanswered", proxy.held());

    let dir = std::mem::replace(&mut app.dir, tempfile::tempdir().expect("dir"));
    let app = App::start_in(dir, app.database_url.clone(), &[]).await;
    // No row names an object that is gone.
    let (_, rows) = keys_and_rows(&app).await;
    for (id, key) in &rows {
        assert!(
            store.head(key).await.expect("head").is_some(),
            "{id} names {key}, which is gone"
        );
    }
    // Every row left can still be deleted: none is stuck in a claim.
    for id in &ids {
        let answer = app
            .call(&guest, "delete_upload", &form(&[("upload_id", id)]))
            .await;
        assert!(
            answer.status == 200 || answer.status == 404,
            "{id} cannot be deleted: {answer:?}"
        );
    }
    // And once the outbox has drained, nothing of theirs is left in the store.
    let db = app.database().await;
    // Keys the killed server had claimed wait out its lease (20 s) first.
    eventually(Duration::from_secs(60), "the outbox drains", || async {
        hoist::db::outbox::waiting(&db).await.expect("count") == 0
    })
    .await;
    for key in &keys {
        assert!(
            store.head(key).await.expect("head").is_none(),
            "{key} was left in the store with no row naming it"
        );
    }
}
