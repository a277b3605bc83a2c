//! `hoist upload` and its siblings, run as a person runs them: the real binary as a client,
//! against the real binary as a server, Garage and SQLite; and content stored once per
//! account.

mod common;

use common::{
    app::{form, processed, send_all, start, upload, App},
    bytes,
    client::{field, text, write, Client},
    eventually, s3_settings,
};
use hoist::{model::StartedUpload, storage::s3::S3Store, storage::ObjectStore};
use serde_json::Value;
use std::{
    io::{BufRead, BufReader},
    process::Stdio,
    time::Duration,
};

const MIB: u64 = 1024 * 1024;

#[tokio::test]
async fn a_big_file_and_a_folder_of_small_ones_arrive_whole() {
    let app = App::start(&[]).await;
    let client = Client::new(&app, "cli@example.com").await;
    let dir = tempfile::tempdir().expect("dir");
    let big = bytes(200 * MIB, 1);
    let big_path = write(dir.path(), "big.bin", &big);
    let folder = dir.path().join("photos");
    let mut small = Vec::new();
    for i in 0..50u64 {
        let data = bytes(1000 + i * 7919, 100 + i);
        write(&folder, &format!("sub{}/note-{i:02}.txt", i % 3), &data);
        small.push((format!("note-{i:02}.txt"), data));
    }

    let (out, lines) = client.upload(&[&big_path, &folder]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(lines.len(), 51, "{}", text(&out));
    assert!(lines.iter().all(|l| field(l, "status") == "uploaded"));

    let fetched = dir.path().join("fetched");
    let big_line = lines
        .iter()
        .find(|l| field(l, "name") == "big.bin")
        .expect("big");
    assert_eq!(big_line["sent"].as_u64(), Some(200 * MIB));
    assert!(
        client.download(field(big_line, "id"), &fetched) == big,
        "big.bin changed on its way"
    );
    for (name, data) in &small {
        let line = lines.iter().find(|l| field(l, "name") == name).expect(name);
        assert_eq!(
            &client.download(field(line, "id"), &fetched),
            data,
            "{name}"
        );
    }

    let listed = client.run(&["ls"]);
    assert!(listed.status.success(), "{}", text(&listed));
    let table = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(table.lines().count(), 52, "{table}");
    assert!(
        table.contains("big.bin") && table.contains("note-49.txt"),
        "{table}"
    );
}

#[tokio::test]
async fn an_upload_killed_halfway_continues_with_only_the_missing_parts() {
    let app = App::start(&[]).await;
    let client = Client::new(&app, "resume@example.com").await;
    let dir = tempfile::tempdir().expect("dir");
    let size = 200 * MIB;
    let data = bytes(size, 7);
    let path = write(dir.path(), "video.bin", &data);

    // Not a terminal: plain progress lines, one every tenth of the file.
    let mut first = client
        .command(&["upload", "--parallel", "2", path.to_str().expect("utf-8")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("hoist upload starts");
    let stdout = first.stdout.take().expect("stdout");
    let mut seen = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("a line");
        let half = line.contains("50%");
        seen.push(line);
        if half {
            break;
        }
    }
    first.kill().expect("kill");
    let killed = first.wait().expect("wait");
    assert!(
        !killed.success(),
        "the upload ended before it was killed: {seen:?}"
    );

    // What the store holds now, as the server tells it.
    let id = client.remembered_upload();
    let account = client.browser().await;
    let state = app
        .call(
            &account,
            "resume_upload",
            &form(&[
                ("upload_id", &id),
                ("size", &size.to_string()),
                ("content_type", "application/octet-stream"),
            ]),
        )
        .await;
    assert_eq!(state.status, 200, "{state:?}");
    let state: hoist::model::ResumeState = state.json();
    let held: u64 = state
        .done
        .iter()
        .filter_map(|n| state.plan.part_len(*n))
        .sum();
    assert!(held > 0 && held < size, "held {held} of {size}");

    let (out, lines) = client.upload(&[&path]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(field(&lines[0], "id"), id, "the same upload went on");
    let sent = lines[0]["sent"].as_u64().expect("sent");
    println!(
        "resume: killed at {held} of {size} bytes held by the store; sent {sent} after the restart ({} missing)",
        size - held
    );
    assert!(
        sent <= size - held && sent > 0,
        "sent {sent} after the restart; {} were missing",
        size - held
    );
    let fetched = dir.path().join("fetched");
    assert!(
        client.download(&id, &fetched) == data,
        "the file changed on its way"
    );
}

#[tokio::test]
async fn a_bad_token_is_a_usage_error_and_a_refused_file_fails_alone() {
    let app = App::start(&[("HOIST_ALLOWED_TYPES", "image/*,text/plain")]).await;
    let client = Client::new(&app, "refused@example.com").await;
    let dir = tempfile::tempdir().expect("dir");
    let note = write(dir.path(), "note.txt", b"hello");

    let mut stranger = client.command(&["upload", note.to_str().expect("utf-8")]);
    stranger.env("HOIST_TOKEN", "hoist_not-a-token");
    let out = stranger.output().expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("token"),
        "{}",
        text(&out)
    );
    let mut anonymous = client.command(&["upload", note.to_str().expect("utf-8")]);
    anonymous.env_remove("HOIST_TOKEN");
    let out = anonymous.output().expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    let made = app.admin(&["users", "set-quota", "refused@example.com", "10MiB"], "");
    assert!(made.status.success(), "{made:?}");
    let archive = write(dir.path(), "archive.bin", &bytes(1000, 3));
    let huge = write(dir.path(), "huge.txt", &bytes(11 * MIB, 4));
    let (out, lines) = client.upload(&[&archive, &note, &huge]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(lines.len(), 1, "{}", text(&out));
    assert_eq!(field(&lines[0], "name"), "note.txt");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("archive.bin") && stderr.contains("not accepted"),
        "{stderr}"
    );
    assert!(
        stderr.contains("huge.txt") && stderr.contains("does not fit"),
        "{stderr}"
    );
}

/// The object an upload names, as the server's database says.
async fn object_key(db: &hoist::db::Pool, id: &str) -> String {
    sqlx::query_scalar("SELECT object_key FROM uploads WHERE id = $1")
        .bind(id)
        .fetch_one(db)
        .await
        .expect("row")
}

/// Both uploads name one object.
async fn one_object(app: &App, first: &str, second: &str) -> String {
    let db = app.database().await;
    let (a, b) = (object_key(&db, first).await, object_key(&db, second).await);
    assert_eq!(a, b, "two objects for one content");
    a
}

async fn used(app: &App, account: &reqwest::Client) -> u64 {
    let page: hoist::model::LibraryPage = app.call(account, "list_uploads", "").await.json();
    page.used.expect("used")
}

#[tokio::test]
async fn the_same_content_is_stored_once_per_account_and_never_across_accounts() {
    let app = App::start(&[]).await;
    let ann = Client::new(&app, "ann@example.com").await;
    let bob = Client::new(&app, "bob@example.com").await;
    let store = S3Store::new(&s3_settings());
    let dir = tempfile::tempdir().expect("dir");
    let data = bytes(12 * MIB, 21);
    let first_path = write(dir.path(), "report.bin", &data);
    let again_path = write(dir.path(), "copy/report-again.bin", &data);

    let (out, first) = ann.upload(&[&first_path]);
    assert!(out.status.success(), "{}", text(&out));
    let first_id = field(&first[0], "id").to_string();
    assert_eq!(first[0]["sent"].as_u64(), Some(12 * MIB));
    let ann_account = ann.browser().await;
    processed(&app, &ann_account, &first_id, Duration::from_secs(60)).await;

    let (out, again) = ann.upload(&[&again_path]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(again[0]["already_stored"], Value::Bool(true), "{again:?}");
    assert_eq!(again[0]["sent"].as_u64(), Some(0), "bytes were sent again");
    assert_eq!(field(&again[0], "status"), "uploaded");
    let again_id = field(&again[0], "id").to_string();
    assert_ne!(again_id, first_id);
    let key = one_object(&app, &first_id, &again_id).await;
    assert_eq!(used(&app, &ann_account).await, 12 * MIB, "counted twice");
    let fetched = dir.path().join("fetched");
    assert!(ann.download(&again_id, &fetched) == data);

    // Another account: its own object, sent in full, answered as any new file is.
    let (out, bobs) = bob.upload(&[&first_path]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(bobs[0]["already_stored"], Value::Bool(false));
    assert_eq!(bobs[0]["sent"].as_u64(), Some(12 * MIB));
    let bob_account = bob.browser().await;
    let sha = field(&first[0], "sha256").to_string();
    let offered = |sha: String| {
        let app = &app;
        let bob_account = &bob_account;
        async move {
            let answer = app
                .call(
                    bob_account,
                    "start_uploads",
                    &form(&[
                        ("files[0][name]", "probe.bin"),
                        ("files[0][size]", &(12 * MIB).to_string()),
                        ("files[0][content_type]", "application/octet-stream"),
                        ("files[0][sha256]", &sha),
                    ]),
                )
                .await;
            assert_eq!(answer.status, 200, "{answer:?}");
            let mut started: Vec<Result<StartedUpload, hoist::error::ApiError>> = answer.json();
            let started = started.remove(0).expect("started");
            (
                started.already_stored,
                started.plan,
                started.signed.len(),
                started.checksum,
            )
        }
    };
    assert_eq!(
        offered(sha.clone()).await,
        offered("0".repeat(64)).await,
        "another account's content shows through"
    );

    // A hash must look like one: refused with a sentence, before anything is looked up.
    let bad = app
        .call(
            &bob_account,
            "start_uploads",
            &form(&[
                ("files[0][name]", "probe.bin"),
                ("files[0][size]", "10"),
                ("files[0][content_type]", "application/octet-stream"),
                ("files[0][sha256]", "../../etc/passwd"),
            ]),
        )
        .await;
    let mut answers: Vec<Result<StartedUpload, hoist::error::ApiError>> = bad.json();
    assert_eq!(
        answers.remove(0).expect_err("refused").to_string(),
        "That is not a SHA-256 (64 hexadecimal digits)."
    );

    // Deleting one of Ann's two keeps the object; deleting the other removes it.
    let out = ann.run(&["rm", &first_id]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        store.head(&key).await.expect("head").is_some(),
        "the shared object went"
    );
    assert!(ann.download(&again_id, &fetched) == data);
    let out = ann.run(&["rm", &again_id]);
    assert!(out.status.success(), "{}", text(&out));
    eventually(Duration::from_secs(10), "the object is deleted", || {
        let (store, key) = (&store, &key);
        async move { store.head(key).await.expect("head").is_none() }
    })
    .await;
    assert_eq!(used(&app, &ann_account).await, 0);
}

#[tokio::test]
async fn content_sent_again_is_kept_once_after_processing() {
    let app = App::start(&[]).await;
    let ann = Client::new(&app, "twice@example.com").await;
    let account = ann.browser().await;
    let store = S3Store::new(&s3_settings());
    let data = bytes(6 * MIB, 31);
    // Sent in full both times, as a browser sends a file past HOIST_BROWSER_HASH_MAX.
    let first = upload(&app, &account, "a.bin", "application/octet-stream", &data).await;
    processed(&app, &account, &first, Duration::from_secs(60)).await;
    // Its own key is read before it completes: its hash and the fold may take milliseconds.
    let db = app.database().await;
    let started = start(
        &app,
        &account,
        "b.bin",
        data.len() as u64,
        "application/octet-stream",
    )
    .await;
    let own_key = object_key(&db, &started.upload_id).await;
    let second = send_all(&app, &account, started, &data).await;
    let kept = object_key(&db, &first).await;
    assert_ne!(own_key, kept);
    eventually(
        Duration::from_secs(60),
        "the second copy folded into the first",
        || {
            let (db, second, kept) = (&db, &second, &kept);
            async move { &object_key(db, second).await == kept }
        },
    )
    .await;
    eventually(Duration::from_secs(10), "the second object goes", || {
        let (store, own_key) = (&store, &own_key);
        async move { store.head(own_key).await.expect("head").is_none() }
    })
    .await;
    assert_eq!(used(&app, &account).await, 6 * MIB);
    let dir = tempfile::tempdir().expect("dir");
    assert!(ann.download(&second, &dir.path().join("b")) == data);
}
