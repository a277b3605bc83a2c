//! The server killed at the worst moments, then started again: the reaper and the orphan sweep
//! still leave nothing behind in the bucket. Runs the real `hoist` binary (SIGKILL, no
//! goodbye) against a real Garage and its own SQLite file.

mod common;

use common::{
    app::{free_port, until_healthy},
    bytes, database_url, eventually, pending_at, plant_expired, s3_settings, KEY_PREFIX, MIB,
};
use hoist::{
    clock::{Clock, SystemClock},
    db::{self, uploads::UploadRow},
    model::StartedUpload,
    storage::{s3::S3Store, ObjectStore},
};
use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

const PART: u64 = 5 * MIB;

/// `hoist` with a 2 s upload TTL, a reaper every second and an orphan sweep every second.
fn hoist(data_dir: &Path, database_url: &str) -> Command {
    let mut command = Command::new(common::app::hoist_binary());
    command
        .env("HOIST_DATA_DIR", data_dir)
        .env("HOIST_DATABASE_URL", database_url)
        .env("HOIST_UPLOAD_TTL", "2s")
        .env("HOIST_URL_TTL", "1s")
        .env("HOIST_REAPER_INTERVAL", "1s")
        .env("HOIST_ORPHAN_SWEEP_INTERVAL", "1s")
        .env("HOIST_S3_SET_CORS", "false")
        .env("HOIST_S3_LIFECYCLE_RULE", "false")
        .env("HOIST_PART_SIZE", "5MiB")
        .env("HOIST_PART_CHECKSUM", "off");
    command
}

struct Server {
    child: Child,
    base: String,
}

impl Server {
    async fn start(data_dir: &Path) -> Self {
        let port = free_port();
        let log = std::fs::File::create(data_dir.join(format!("server-{port}.log"))).expect("log");
        let database_url = database_url(data_dir).await;
        let child = hoist(data_dir, &database_url)
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("hoist starts");
        let base = format!("http://127.0.0.1:{port}");
        until_healthy(&base).await;
        Self { child, base }
    }

    async fn start_upload(&self, name: &str, size: u64) -> StartedUpload {
        let response = reqwest::Client::new()
            .post(format!("{}/api/start_upload", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "name={name}&size={size}&content_type=application%2Foctet-stream"
            ))
            .send()
            .await
            .expect("start_upload answers");
        assert!(response.status().is_success(), "{}", response.status());
        serde_json::from_slice(&response.bytes().await.expect("body")).expect("StartedUpload")
    }

    /// SIGKILL: no shutdown, no cleanup, exactly as a crash or an OOM kill.
    fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn row(pool: &db::Pool, id: &str) -> UploadRow {
    sqlx::query_as("SELECT * FROM uploads WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("row")
}

/// An uploading row for a two-part upload of `key`, as `start_upload` writes it.
async fn record(
    pool: &db::Pool,
    id: &str,
    key: &str,
    s3_upload_id: Option<String>,
    expires_at: i64,
) {
    let now = SystemClock.now_ms();
    let row = UploadRow {
        id: id.to_string(),
        owner: "crashed-session".into(),
        name: key.rsplit('/').next().unwrap_or_default().to_string(),
        object_key: key.to_string(),
        content_type: "application/octet-stream".into(),
        size: (2 * PART) as i64,
        part_size: PART as i64,
        s3_upload_id,
        status: hoist::model::UploadStatus::Uploading,
        reason: None,
        created_at: now,
        completed_at: None,
        expires_at: Some(expires_at),
        checksum: None,
        reap_claim: None,
        reap_attempts: 0,
    };
    db::uploads::insert(pool.writer(), &row).await.expect("row");
}

#[tokio::test]
async fn a_server_killed_mid_upload_leaves_nothing_behind_once_restarted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = S3Store::new(&s3_settings());
    let server = Server::start(dir.path()).await;

    // Started, nothing sent yet.
    let idle = server.start_upload("crash-idle.bin", 2 * PART + 1).await;
    // Started, one part in the store.
    let half = server.start_upload("crash-half.bin", 2 * PART + 1).await;
    let pool = db::connect(&database_url(dir.path()).await)
        .await
        .expect("the server's database");
    let half_row = row(&pool, &half.upload_id).await;
    let half_s3 = half_row.s3_upload_id.clone().expect("multipart created");
    store
        .client()
        .upload_part()
        .bucket(store.bucket())
        .key(&half_row.object_key)
        .upload_id(&half_s3)
        .part_number(1)
        .body(bytes(PART, 31).into())
        .send()
        .await
        .expect("part 1 stored");
    server.kill();

    // Died between recording an upload and hearing the store's answer to
    // CreateMultipartUpload: the row has no upload id, the store has an upload.
    let unconfirmed_id = uuid::Uuid::new_v4().to_string();
    let unconfirmed_key = format!("{KEY_PREFIX}{unconfirmed_id}/crash-unconfirmed.bin");
    let now = SystemClock.now_ms();
    // Recorded as start_upload records it, before the store's answer.
    record(&pool, &unconfirmed_id, &unconfirmed_key, None, now + 2_000).await;
    store
        .create_multipart(&unconfirmed_key, "application/octet-stream", None)
        .await
        .expect("the store created it");
    // A multipart upload no row knows at all (a database restored from an older backup).
    let orphan_key = format!("{KEY_PREFIX}{}/crash-orphan.bin", uuid::Uuid::new_v4());
    store
        .create_multipart(&orphan_key, "application/octet-stream", None)
        .await
        .expect("orphan");

    let keys = [
        row(&pool, &idle.upload_id).await.object_key,
        half_row.object_key.clone(),
        unconfirmed_key.clone(),
        orphan_key.clone(),
    ];
    for key in &keys {
        assert_eq!(
            pending_at(&store, key).await,
            1,
            "{key} is in the store before the restart"
        );
    }

    let _server = Server::start(dir.path()).await;
    let ids = [
        idle.upload_id.clone(),
        half.upload_id.clone(),
        unconfirmed_id,
    ];
    let (pool, store, ids, keys) = (&pool, &store, &ids, &keys);
    eventually(
        Duration::from_secs(30),
        "everything cleaned up after the restart",
        move || async move {
            for id in ids {
                if row(pool, id).await.status != hoist::model::UploadStatus::Expired {
                    return false;
                }
            }
            for key in keys {
                if pending_at(store, key).await != 0
                    || store.head(key).await.ok().flatten().is_some()
                {
                    return false;
                }
            }
            true
        },
    )
    .await;
}

#[tokio::test]
async fn hoist_reap_once_cleans_up_and_says_how_much() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = S3Store::new(&s3_settings());
    let pool = db::connect(&database_url(dir.path()).await)
        .await
        .expect("database");
    let id = uuid::Uuid::new_v4().to_string();
    let key = format!("{KEY_PREFIX}{id}/expired-long-ago.bin");
    let s3_id = store
        .create_multipart(&key, "application/octet-stream", None)
        .await
        .expect("multipart");
    record(
        &pool,
        &id,
        &key,
        Some(s3_id),
        SystemClock.now_ms() - 3_600_000,
    )
    .await;

    let out = hoist(dir.path(), &database_url(dir.path()).await)
        .args(["reap", "--once"])
        .output()
        .expect("hoist reap --once runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("reaped 1 expired uploads (0 failed"),
        "{stdout}"
    );
    assert_eq!(
        row(&pool, &id).await.status,
        hoist::model::UploadStatus::Expired
    );
    assert_eq!(pending_at(&store, &key).await, 0);
}

#[tokio::test]
async fn two_reaper_processes_on_one_database_reap_every_upload_exactly_once() {
    // Enough that the second process is up before the first has finished: both must take part.
    const ROWS: usize = 12_000;
    let dir = tempfile::tempdir().expect("temp dir");
    let url = database_url(dir.path()).await;
    let pool = db::connect(&url).await.expect("database");
    assert_eq!(plant_expired(&pool, ROWS, SystemClock.now_ms()).await, ROWS);

    let reap = || {
        hoist(dir.path(), &url)
            .args(["reap", "--once"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("hoist reap --once starts")
    };
    let (a, b) = (reap(), reap());
    let reaped = |child: Child| -> u64 {
        let out = child.wait_with_output().expect("hoist reap --once ends");
        assert!(out.status.success());
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        stdout
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count in {stdout:?}"))
    };
    let (ra, rb) = (reaped(a), reaped(b));
    println!("two reaper processes: {ra} + {rb} of {ROWS} expired uploads");
    assert_eq!(
        ra + rb,
        ROWS as u64,
        "an upload reaped twice, or not at all"
    );
    assert!(
        ra > 0 && rb > 0,
        "only one reaper worked ({ra} + {rb}): this proves nothing about two"
    );
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM uploads WHERE status != 'expired'")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(left, 0);
}
