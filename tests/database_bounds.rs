//! What one database session may cost the others, and what a failed start-up tells the
//! terminal: the real binary on the test PostgreSQL server.

mod common;

use common::app::{form, App};
use hoist::db::{self, testing};
use std::{
    process::Command,
    time::{Duration, Instant},
};

/// An instance that froze (or lost its network) in the middle of a transaction holds that
/// transaction's locks. Before PostgreSQL sessions had an idle-in-transaction bound, every other
/// instance's admissions queued behind it until the request timed out; now the server ends the
/// stuck session within seconds and the others carry on.
#[tokio::test]
async fn a_stuck_transaction_stops_blocking_the_other_instances_within_seconds() {
    let server = testing::required_postgres_server();
    let name = format!("hoist_stuck_{}", uuid::Uuid::new_v4().simple());
    let url = testing::create_postgres_database(&server, &name).await;
    let app = App::start_in(tempfile::tempdir().expect("dir"), url.clone(), &[]).await;
    let client = app.browser();
    let body = form(&[
        ("name", "a.bin"),
        ("size", "10"),
        ("content_type", "application/octet-stream"),
    ]);
    let start = || app.call(&client, "start_upload", &body);
    assert_eq!(start().await.status, 200);

    // The frozen instance: its admission transaction for the same guest held the owner, then
    // nothing more came from it. Its connection stays open, as a partition leaves it.
    let frozen = db::connect(&url).await.expect("the database");
    let owner: String = sqlx::query_scalar("SELECT owner FROM uploads")
        .fetch_one(&frozen)
        .await
        .expect("the first upload's owner");
    let mut stuck = frozen.writer().begin().await.expect("a write transaction");
    stuck.hold(&[&owner]).await.expect("the owner held");

    let began = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(15), start())
        .await
        .expect("an upload is admitted within 15 s of another instance freezing mid-transaction");
    assert_eq!(answer.status, 200, "{answer:?}");
    eprintln!(
        "admitted {:.1} s after the other instance froze",
        began.elapsed().as_secs_f64()
    );
    // The stuck session was ended by the server: its transaction cannot commit.
    assert!(stuck.commit().await.is_err());
}

#[tokio::test]
async fn a_failed_start_never_prints_the_database_password() {
    let server = testing::required_postgres_server();
    let (scheme, rest) = server.split_once("://").expect("a URL");
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let dir = tempfile::tempdir().expect("dir");
    for url in [
        // Reachable, but no such database: the connection fails after the URL was read.
        format!("{scheme}://hoist:pa55-s3cret@{host}/no_such_database_here"),
        // Not a database this version speaks.
        "mysql://root:pa55-s3cret@127.0.0.1/hoist".to_string(),
    ] {
        let output = Command::new(common::app::hoist_binary())
            .env("HOIST_DATA_DIR", dir.path())
            .env("HOIST_DATABASE_URL", &url)
            .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
            .output()
            .expect("hoist runs");
        assert!(!output.status.success(), "{url}");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(said.contains("HOIST_DATABASE_URL"), "{said}");
        assert!(!said.contains("pa55-s3cret"), "{said}");
    }
}
