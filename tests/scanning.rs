//! Malware scanning through the real binary, Garage and a real `clamd` (scripts/test.sh starts
//! one with the signatures in tests/clamav and names it in HOIST_TEST_CLAMD): what is found, what
//! an infected or unscanned file may no longer do, and a scanner that is down.

mod common;

use common::{
    app::{form, free_port, no_redirects, row, upload, App},
    bytes, eventually, object_exists,
};
use hoist::{
    error::ApiError,
    model::{Scan, UploadView},
};
use std::time::Duration;

fn clamd() -> String {
    std::env::var("HOIST_TEST_CLAMD").unwrap_or_else(|_| {
        panic!(
            "HOIST_TEST_CLAMD is not set: run the tests with scripts/test.sh, which starts clamd"
        )
    })
}

/// The EICAR test file, put together here so that no scanner flags this source.
fn eicar() -> Vec<u8> {
    let halves = [
        r"X5O!P%@AP[4\PZX54(P^)7CC)7}$",
        "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*",
    ];
    halves.concat().into_bytes()
}

/// `len` bytes with this repository's own test signature (tests/clamav/hoist.ndb) at `at`.
fn marked(len: usize, at: usize) -> Vec<u8> {
    let mut data = bytes(len as u64, 7);
    let marker = format!("HOIST-TEST-{}-MARKER-7f3a", "MALWARE");
    data[at..at + marker.len()].copy_from_slice(marker.as_bytes());
    data
}

/// Waits until the scan of `id` is no longer pending, and returns the library's row.
async fn scanned(app: &App, client: &reqwest::Client, id: &str) -> UploadView {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut ticks = tokio::time::interval(Duration::from_millis(100));
    loop {
        ticks.tick().await;
        let now = row(app, client, id).await;
        if now.file.as_ref().is_some_and(|f| f.scan != Scan::Pending) {
            return now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the scan of {id} did not end within a minute: {now:?}"
        );
    }
}

async fn share(
    app: &App,
    client: &reqwest::Client,
    id: &str,
    visibility: &str,
) -> common::app::Answer {
    app.call(
        client,
        "describe_file",
        &form(&[
            ("upload_id", id),
            ("title", "shared"),
            ("description", ""),
            ("visibility", visibility),
        ]),
    )
    .await
}

async fn object_key(app: &App, id: &str) -> String {
    hoist::db::uploads::find(&app.database().await, id)
        .await
        .expect("the database answers")
        .expect("the upload")
        .object_key
}

#[tokio::test]
async fn an_infected_file_is_named_deleted_from_the_store_and_can_neither_be_shared_nor_opened() {
    let app = App::start(&[("HOIST_SCAN", "required"), ("HOIST_CLAMD", &clamd())]).await;
    let owner = no_redirects();
    let id = upload(&app, &owner, "invoice.txt", "text/plain", &eicar()).await;
    let key = object_key(&app, &id).await;
    let view = scanned(&app, &owner, &id).await;
    let file = view.file.clone().expect("a file");
    assert_eq!(file.scan, Scan::Infected, "{file:?}");
    assert_eq!(
        file.scan_detail.as_deref(),
        Some("Hoist.Test.EICAR.UNOFFICIAL")
    );
    assert_eq!(view.status_word(), "infected");

    // Its bytes leave the store; the row stays so that its owner reads why.
    eventually(Duration::from_secs(30), "the object is deleted", || async {
        !object_exists(&key).await
    })
    .await;
    let refused = share(&app, &owner, &id, "link").await;
    assert_eq!(refused.status, 410, "{refused:?}");
    assert!(matches!(refused.error(), ApiError::Infected { .. }));
    assert!(
        refused
            .body
            .contains("infected (Hoist.Test.EICAR.UNOFFICIAL)"),
        "{}",
        refused.body
    );
    for door in ["download", "content", "thumbnail"] {
        let answer = owner
            .get(format!("{}/files/{id}/{door}", app.base))
            .send()
            .await
            .expect("an answer");
        assert_eq!(answer.status(), 410, "{door}");
    }

    // A clean file beside it is scanned clean and shared as usual.
    let clean = upload(
        &app,
        &owner,
        "notes.txt",
        "text/plain",
        b"nothing to see here",
    )
    .await;
    assert_eq!(
        scanned(&app, &owner, &clean)
            .await
            .file
            .expect("a file")
            .scan,
        Scan::Clean
    );
    let shared = share(&app, &owner, &clean, "public").await;
    assert_eq!(shared.status, 200, "{shared:?}");
    let stranger = no_redirects();
    let opened = stranger
        .get(format!("{}/files/{clean}/download", app.base))
        .send()
        .await
        .expect("an answer");
    assert_eq!(opened.status(), 303);
}

/// The server streams a file to clamd a range at a time: a signature 20 MiB in, past the
/// first range, is found, and the server's memory does not hold the file.
#[tokio::test]
async fn a_signature_deep_in_a_large_file_is_found_and_a_clean_large_file_is_clean() {
    const MIB: usize = 1 << 20;
    let app = App::start(&[("HOIST_SCAN", "best-effort"), ("HOIST_CLAMD", &clamd())]).await;
    let owner = app.browser();
    let bad = upload(
        &app,
        &owner,
        "deep.bin",
        "application/octet-stream",
        &marked(24 * MIB, 20 * MIB),
    )
    .await;
    let good = upload(
        &app,
        &owner,
        "fine.bin",
        "application/octet-stream",
        &bytes(24 * MIB as u64, 3),
    )
    .await;
    let bad = scanned(&app, &owner, &bad).await.file.expect("a file");
    assert_eq!(
        (bad.scan, bad.scan_detail.as_deref()),
        (Scan::Infected, Some("Hoist.Test.Marker.UNOFFICIAL"))
    );
    let good = scanned(&app, &owner, &good).await.file.expect("a file");
    assert_eq!((good.scan, good.scan_detail), (Scan::Clean, None));
}

#[tokio::test]
async fn a_file_over_the_scan_limit_is_not_scanned_and_with_required_stays_unshared() {
    let app = App::start(&[
        ("HOIST_SCAN", "required"),
        ("HOIST_CLAMD", &clamd()),
        ("HOIST_SCAN_MAX_SIZE", "1MiB"),
    ])
    .await;
    let owner = app.browser();
    let id = upload(
        &app,
        &owner,
        "big.bin",
        "application/octet-stream",
        &bytes(2 << 20, 5),
    )
    .await;
    let file = scanned(&app, &owner, &id).await.file.expect("a file");
    assert_eq!(file.scan, Scan::Unscanned);
    assert_eq!(
        file.scan_detail.as_deref(),
        Some("larger than the scanner's limit of 1.0 MiB")
    );
    let refused = share(&app, &owner, &id, "link").await;
    assert_eq!(refused.status, 409, "{refused:?}");
    assert!(
        refused
            .body
            .contains("could not be scanned: larger than the scanner's limit"),
        "{}",
        refused.body
    );
}

/// A file past clamd's own `StreamMaxLength` (200 MiB in tests/clamav's clamd) though under
/// ours: clamd stops reading and says so, and the scan ends at once as "not scanned" with
/// the reason, rather than waiting with the rest of the file for the job's time limit.
#[tokio::test]
async fn a_file_past_the_scanners_own_limit_is_not_scanned_at_once() {
    const MIB: u64 = 1 << 20;
    let app = App::start(&[
        ("HOIST_SCAN", "best-effort"),
        ("HOIST_CLAMD", &clamd()),
        ("HOIST_SCAN_MAX_SIZE", "1GiB"),
        ("HOIST_SCAN_TIME_LIMIT", "5m"),
        ("HOIST_MAX_FILE_SIZE", "1GiB"),
        ("HOIST_GUEST_QUOTA", "1GiB"),
        ("HOIST_GUEST_NETWORK_QUOTA", "1GiB"),
    ])
    .await;
    let owner = app.browser();
    let data = bytes(216 * MIB, 9);
    let id = upload(&app, &owner, "huge.bin", "application/octet-stream", &data).await;
    let file = scanned(&app, &owner, &id).await.file.expect("a file");
    assert_eq!(
        (file.scan, file.scan_detail.as_deref()),
        (
            Scan::Unscanned,
            Some("larger than the scanner's StreamMaxLength")
        )
    );
}

/// A scanner that is down: with `required` a file waits (pending, unshareable, invisible to
/// others); with `best-effort` it shows "not scanned" and is shared as usual. Both are tried
/// again, and scanned once the scanner is back.
#[tokio::test]
async fn while_the_scanner_is_down_files_wait_or_go_unscanned_and_are_scanned_once_it_is_back() {
    let port = free_port();
    let address = format!("tcp://127.0.0.1:{port}");
    let quick = [
        ("HOIST_CLAMD", address.as_str()),
        ("HOIST_JOB_BACKOFF", "1s"),
    ];
    let required = App::start(&[quick.as_slice(), &[("HOIST_SCAN", "required")]].concat()).await;
    let best = App::start(&[quick.as_slice(), &[("HOIST_SCAN", "best-effort")]].concat()).await;
    let (a, b) = (required.browser(), best.browser());
    let waiting = upload(&required, &a, "a.txt", "text/plain", b"plain words").await;
    let unscanned = upload(&best, &b, "b.txt", "text/plain", b"other words").await;

    // Best effort: "not scanned", saying why and that it will try again; shared as usual.
    let file = scanned(&best, &b, &unscanned).await.file.expect("a file");
    assert_eq!(file.scan, Scan::Unscanned, "{file:?}");
    let why = file.scan_detail.unwrap_or_default();
    assert!(
        why.contains("the scanner is not answering") && why.ends_with("trying again"),
        "{why}"
    );
    assert_eq!(share(&best, &b, &unscanned, "public").await.status, 200);

    // Required: pending, and neither shareable nor visible to others.
    let file = row(&required, &a, &waiting).await.file.expect("a file");
    assert_eq!(file.scan, Scan::Pending);
    let refused = share(&required, &a, &waiting, "link").await;
    assert_eq!(refused.status, 409, "{refused:?}");
    assert!(
        refused.body.contains("it is being scanned now"),
        "{}",
        refused.body
    );

    // The scanner comes back on that port: both files are scanned at their next try.
    let dir = tempfile::tempdir().expect("temp dir");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/local-clamd.sh");
    let started = std::process::Command::new(script)
        .args([
            "start",
            &dir.path().display().to_string(),
            &port.to_string(),
        ])
        .status()
        .expect("the script runs");
    assert!(started.success());
    let _stop = Stop(dir.path().to_path_buf());
    for (app, client, id) in [(&required, &a, &waiting), (&best, &b, &unscanned)] {
        eventually(
            Duration::from_secs(60),
            "the file is scanned clean",
            || async move {
                row(app, client, id)
                    .await
                    .file
                    .is_some_and(|f| f.scan == Scan::Clean)
            },
        )
        .await;
    }
    assert_eq!(share(&required, &a, &waiting, "link").await.status, 200);
}

/// Stops the test's own clamd however the test ends.
struct Stop(std::path::PathBuf);

impl Drop for Stop {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/local-clamd.sh");
        let _ = std::process::Command::new(script)
            .args(["stop", &self.0.display().to_string()])
            .status();
    }
}

/// A video found infected gets no ladder: whatever rung was made before the verdict goes with
/// its object, and none is made after.
#[tokio::test]
async fn an_infected_video_keeps_no_rendition() {
    let app = App::start(&[
        ("HOIST_SCAN", "best-effort"),
        ("HOIST_CLAMD", &clamd()),
        ("HOIST_HLS", "on"),
    ])
    .await;
    let owner = app.browser();
    let path = app.dir.path().join("clip.mp4");
    let made = std::process::Command::new("ffmpeg")
        .args(["-y", "-hide_banner", "-loglevel", "error", "-f", "lavfi"])
        .args(["-i", "testsrc2=duration=3:size=320x240:rate=25"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(&path)
        .status()
        .expect("ffmpeg runs (scripts/test.sh installs it)");
    assert!(made.success());
    // The signature after the movie's boxes: the video still plays, and the scanner finds it.
    let mut video = std::fs::read(&path).expect("the video");
    video.extend(marked(4096, 1000));
    let id = upload(&app, &owner, "clip.mp4", "video/mp4", &video).await;
    let key = object_key(&app, &id).await;
    let file = scanned(&app, &owner, &id).await.file.expect("a file");
    assert_eq!(file.scan, Scan::Infected, "{file:?}");
    let db = app.database().await;
    eventually(Duration::from_secs(60), "no rendition is left", || {
        let (db, id) = (db.clone(), id.clone());
        async move {
            let jobs = hoist::db::jobs::of_upload(&db, &id).await.expect("jobs");
            let settled = jobs
                .iter()
                .all(|j| !matches!(j.state.as_str(), "queued" | "running"));
            let rows = hoist::db::renditions::of_upload(&db, &id)
                .await
                .expect("rows");
            settled && rows.is_empty()
        }
    })
    .await;
    for height in [240, 360, 720, 1080] {
        let rendition = format!("{key}.hls/{height}.mp4");
        eventually(
            Duration::from_secs(30),
            "the rendition is not in the store",
            || {
                let rendition = rendition.clone();
                async move { !object_exists(&rendition).await }
            },
        )
        .await;
    }
    assert_eq!(row(&app, &owner, &id).await.file.expect("a file").rungs, 0);
}
