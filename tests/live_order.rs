//! The live feed without a global order (issue 29): instances write events in their own
//! transactions, which may commit in any order; a follower still gets each event once.

mod common;

use common::{app::App, events::Events};
use hoist::{
    db::{self, testing},
    model::UploadEvent,
};
use std::time::Duration;

fn deleted(upload_id: &str) -> String {
    serde_json::to_string(&UploadEvent::Deleted {
        upload_id: upload_id.to_owned(),
    })
    .expect("json")
}

fn about(event: &UploadEvent) -> &str {
    match event {
        UploadEvent::Deleted { upload_id } => upload_id,
        UploadEvent::Changed { upload } => &upload.id,
    }
}

/// Two transactions of another instance write an event each; the one with the smaller id
/// commits last. On PostgreSQL the feed must not pass over it; on SQLite, whose one writer
/// cannot hold two transactions at once, they commit in order and the same must hold.
#[tokio::test]
async fn events_that_commit_in_the_reverse_order_of_their_ids_reach_a_follower_once_each() {
    let app = App::start(&[]).await;
    let page = app.account("order@example.com").await;
    let db = app.database().await;
    let id: String = sqlx::query_scalar("SELECT id FROM accounts WHERE email = $1")
        .bind("order@example.com")
        .fetch_one(&db)
        .await
        .expect("the account");
    let owner = format!("account:{id}");
    let mut live = Events::open(&app, &page, None).await;

    let mut first = db.writer().begin().await.expect("a transaction");
    let first_id = db::events::record(&mut first, &owner, "first", &deleted("first"), 0)
        .await
        .expect("an event");
    if testing::on_postgres() {
        let mut second = db.writer().begin().await.expect("a second transaction");
        let second_id = db::events::record(&mut second, &owner, "second", &deleted("second"), 0)
            .await
            .expect("an event");
        assert!(first_id < second_id);
        second.commit().await.expect("the second commits first");
        // Its commit woke the feed, which reads it within this: it must hold it back behind
        // the first, still to commit, rather than move its cursor past it.
        let early = live.next(Duration::from_secs(1)).await;
        assert_eq!(
            early, None,
            "an event passed on before an older one could commit"
        );
        first.commit().await.expect("then the first");
    } else {
        first.commit().await.expect("the first commits");
        let mut second = db.writer().begin().await.expect("a second transaction");
        db::events::record(&mut second, &owner, "second", &deleted("second"), 0)
            .await
            .expect("an event");
        second.commit().await.expect("then the second");
    }

    let mut seen = Vec::new();
    while let Some((cursor, event)) = live.next(Duration::from_secs(3)).await {
        seen.push((cursor, about(&event).to_owned()));
    }
    let ids: Vec<&str> = seen.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(ids, ["first", "second"], "{seen:?}");

    // A page that reconnects from the last event seen gets neither again.
    let last = seen.last().expect("events").0;
    let mut back = Events::open(&app, &page, Some(last)).await;
    assert_eq!(back.next(Duration::from_secs(2)).await, None);
}
