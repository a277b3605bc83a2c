//! After the upload, through the real binary, Garage and SQLite: the processing queue's jobs
//! (hash, thumbnail, media metadata, poster), a worker killed mid-job, the live event stream,
//! and who may see a file.

mod common;

use common::{
    app::{form, processed, row, upload, App},
    bytes,
    events::Events,
    eventually, media, store_client,
};
use hoist::model::{FilePage, Processing, UploadEvent, UploadView};
use sha2::{Digest, Sha256};
use std::{process::Command, time::Duration};

/// Uploads `data`, waits until its processing fails, and returns the upload's id and the reason.
async fn failure(
    app: &App,
    client: &reqwest::Client,
    name: &str,
    kind: &str,
    data: &[u8],
) -> (String, String) {
    let id = upload(app, client, name, kind, data).await;
    let file = processed(app, client, &id, Duration::from_secs(60)).await;
    assert_eq!(file.processing, Processing::Failed, "{file:?}");
    assert!(!file.thumbnail);
    (id, file.error.expect("a reason"))
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("a PNG");
    out.into_inner()
}

/// The redirect a file link answers with (not followed).
async fn location(client: &reqwest::Client, url: &str) -> (u16, Option<String>) {
    let answer = client.get(url).send().await.expect("hoist answers");
    let to = answer
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (answer.status().as_u16(), to)
}

fn no_redirects(client_jar: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(client_jar)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn sha256_hex(data: &[u8]) -> String {
    hoist::format::hex(&Sha256::digest(data))
}

#[tokio::test]
async fn a_png_gets_its_thumbnail_and_size_and_a_damaged_one_fails_with_the_reason() {
    let app = App::start(&[]).await;
    let client = no_redirects(true);
    let picture = png(800, 600);
    let id = upload(&app, &client, "photo.png", "image/png", &picture).await;
    let file = processed(&app, &client, &id, Duration::from_secs(60)).await;
    assert_eq!(file.processing, Processing::Ready, "{file:?}");
    assert_eq!((file.width, file.height), (Some(800), Some(600)));
    assert_eq!(file.sha256.as_deref(), Some(sha256_hex(&picture).as_str()));
    assert!(file.thumbnail);
    assert_eq!((file.jobs_done, file.jobs_total), (2, 2));

    // The thumbnail link sends the browser to the store, which has a small JPEG.
    let (status, to) = location(&client, &format!("{}/files/{id}/thumbnail", app.base)).await;
    assert_eq!(status, 303);
    let jpeg = store_client()
        .get(to.expect("a URL"))
        .send()
        .await
        .expect("the store answers")
        .bytes()
        .await
        .expect("a body");
    let thumb = image::load_from_memory(&jpeg).expect("a picture");
    assert_eq!((thumb.width(), thumb.height()), (320, 240));

    // Bytes that start like a PNG and are not one.
    let damaged = media("image/png", 5000, 7);
    let (bad, reason) = failure(&app, &client, "damaged.png", "image/png", &damaged).await;
    assert!(
        reason.starts_with("thumbnail: the image could not be read"),
        "{reason}"
    );
    // The file itself is kept, and downloads.
    let (status, _) = location(&client, &format!("{}/files/{bad}/download", app.base)).await;
    assert_eq!(status, 303);
}

#[tokio::test]
async fn a_decompression_bomb_fails_cleanly_and_the_worker_carries_on() {
    let app = App::start(&[("HOIST_THUMBNAIL_MAX_SIDE", "4000")]).await;
    let client = app.browser();
    // A few KiB that claim 20,000 × 20,000 pixels (1.6 GB decoded).
    let bomb = png_claiming(20_000, 20_000);
    let (_, reason) = failure(&app, &client, "bomb.png", "image/png", &bomb).await;
    assert!(reason.contains("too large to decode"), "{reason}");
    // The next image is processed as usual.
    let next = upload(&app, &client, "fine.png", "image/png", &png(64, 64)).await;
    let file = processed(&app, &client, &next, Duration::from_secs(60)).await;
    assert_eq!(file.processing, Processing::Ready);
}

/// A valid PNG header for a `width` × `height` image, followed by a little compressed data.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut real = png(16, 16);
    // IHDR's width and height are bytes 16..24 (after the signature, length and type); its
    // CRC follows and must match.
    real[16..20].copy_from_slice(&width.to_be_bytes());
    real[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&real[12..29]);
    real[29..33].copy_from_slice(&crc.to_be_bytes());
    real
}

fn crc32(data: &[u8]) -> u32 {
    crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(data)
}

/// A short video made by ffmpeg (which the scripts install), H.264 and AAC in MP4.
fn mp4(seconds: u32, dir: &std::path::Path) -> Vec<u8> {
    let path = dir.join("clip.mp4");
    let duration = seconds.to_string();
    let made = Command::new("ffmpeg")
        .args(["-y", "-hide_banner", "-loglevel", "error"])
        .args([
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc=duration={duration}:size=320x240:rate=25"),
        ])
        .args([
            "-f",
            "lavfi",
            "-i",
            &format!("sine=frequency=440:duration={duration}"),
        ])
        .args([
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        ])
        .arg(&path)
        .status()
        .expect("ffmpeg runs (scripts/test.sh installs it)");
    assert!(made.success(), "ffmpeg made no video");
    std::fs::read(path).expect("the video")
}

#[tokio::test]
async fn an_mp4_gets_its_duration_dimensions_codecs_and_a_poster() {
    let app = App::start(&[]).await;
    let client = app.browser();
    let video = mp4(3, app.dir.path());
    let id = upload(&app, &client, "clip.mp4", "video/mp4", &video).await;
    let file = processed(&app, &client, &id, Duration::from_secs(90)).await;
    assert_eq!(file.processing, Processing::Ready, "{file:?}");
    assert_eq!((file.width, file.height), (Some(320), Some(240)));
    let ms = file.duration_ms.expect("a duration");
    assert!((2900..=3200).contains(&ms), "{ms} ms");
    let codecs = file.codecs.expect("codecs");
    assert!(
        codecs.contains("avc1") && codecs.contains("mp4a"),
        "{codecs}"
    );
    assert!(file.thumbnail, "the poster is the thumbnail");
    assert_eq!((file.jobs_done, file.jobs_total), (3, 3));
    // The boxes, not the film: the media job read a fraction of the file.
    let log = app.log();
    let line = log
        .lines()
        .find(|l| l.contains("media: read the container's boxes"))
        .expect("the media job's line");
    let fetched: u64 = field(line, "fetched=").expect("fetched");
    let size: u64 = field(line, "size=").expect("size");
    assert!(fetched <= 256 << 10 || fetched < size / 2, "{line}");
}

#[tokio::test]
async fn without_ffmpeg_the_poster_is_skipped_and_the_video_is_still_ready() {
    let app = App::start(&[("HOIST_FFMPEG", "/nonexistent/ffmpeg")]).await;
    let client = app.browser();
    let video = mp4(1, app.dir.path());
    let id = upload(&app, &client, "clip.mp4", "video/mp4", &video).await;
    let file = processed(&app, &client, &id, Duration::from_secs(60)).await;
    assert_eq!(file.processing, Processing::Ready, "{file:?}");
    assert_eq!((file.width, file.height), (Some(320), Some(240)));
    assert!(!file.thumbnail);
    assert_eq!((file.jobs_done, file.jobs_total), (3, 3));
    let db = app.database().await;
    let (state, why): (String, Option<String>) =
        sqlx::query_as("SELECT state, error FROM jobs WHERE upload_id = $1 AND kind = 'poster'")
            .bind(&id)
            .fetch_one(&db)
            .await
            .expect("the poster job");
    assert_eq!(state, "skipped");
    assert_eq!(why.as_deref(), Some("/nonexistent/ffmpeg is not installed"));
}

#[tokio::test]
async fn a_damaged_video_and_one_whose_moov_claims_too_much_fail_with_the_reason() {
    let app = App::start(&[]).await;
    let client = app.browser();
    // An ftyp box, then a moov box that claims 256 MiB, then a little noise.
    let mut crafted = media("video/mp4", 24, 1);
    crafted.extend_from_slice(&(256u32 << 20).to_be_bytes());
    crafted.extend_from_slice(b"moov");
    crafted.extend_from_slice(&bytes(1000, 2));
    let (_, reason) = failure(&app, &client, "crafted.mp4", "video/mp4", &crafted).await;
    assert!(
        reason.contains("moov box claims 268435456 bytes"),
        "{reason}"
    );

    // Noise after a valid ftyp: neither the container reader nor ffmpeg can use it, and
    // neither is retried.
    let noise = media("video/mp4", 20_000, 3);
    let (id, reason) = failure(&app, &client, "noise.mp4", "video/mp4", &noise).await;
    assert!(reason.contains("could not be read"), "{reason}");
    let db = app.database().await;
    let attempts: Vec<(String, i64)> =
        sqlx::query_as("SELECT kind, attempts FROM jobs WHERE upload_id = $1 ORDER BY kind")
            .bind(&id)
            .fetch_all(&db)
            .await
            .expect("jobs");
    assert!(
        attempts.iter().all(|(kind, n)| kind == "hash" || *n == 1),
        "a damaged file is not tried again: {attempts:?}"
    );
}

fn field<T: std::str::FromStr>(line: &str, name: &str) -> Option<T> {
    let rest = &line[line.find(name)? + name.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Resident memory of a process, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[tokio::test]
async fn a_worker_killed_mid_job_loses_nothing_and_hashing_a_gibibyte_keeps_memory_flat() {
    let settings = [("HOIST_JOB_LEASE", "2s"), ("HOIST_WORKERS", "1")];
    let app = App::start(&[("HOIST_WORKERS", "0")]).await;
    let client = app.browser();
    let data = bytes(1 << 30, 42);
    let id = upload(&app, &client, "big.bin", "application/octet-stream", &data).await;
    let expected = sha256_hex(&data);
    drop(data);
    let db = app.database().await;
    let state = |db: &hoist::db::Pool| {
        let (db, id) = (db.clone(), id.clone());
        async move {
            let row: Option<(String, i64)> = sqlx::query_as(
                "SELECT state, attempts FROM jobs WHERE upload_id = $1 AND kind = 'hash'",
            )
            .bind(&id)
            .fetch_optional(&db)
            .await
            .expect("the jobs table");
            row.expect("a hash job")
        }
    };
    assert_eq!(
        state(&db).await,
        ("queued".into(), 0),
        "no worker in the server"
    );

    let mut first = app.worker(&settings);
    eventually(
        Duration::from_secs(30),
        "the first worker takes the job",
        || {
            let s = state(&db);
            async move { s.await.0 == "running" }
        },
    )
    .await;
    first.kill().expect("kill");
    first.wait().expect("reaped");

    let mut second = app.worker(&settings);
    let pid = second.id();
    // The baseline is the worker started and idle: both workers have said they are up.
    eventually(
        Duration::from_secs(30),
        "the second worker is up",
        || async { app.log().matches("on the processing queue").count() == 2 },
    )
    .await;
    let baseline = rss(pid);
    let mut peak = baseline;
    let mut samples = 0;
    eventually(
        Duration::from_secs(300),
        "the job completes after the lease lapses",
        || {
            let now = rss(pid);
            peak = peak.max(now);
            samples += 1;
            let s = state(&db);
            async move { s.await.0 == "done" }
        },
    )
    .await;
    second.kill().expect("kill");
    let _ = second.wait();

    let (_, attempts) = state(&db).await;
    assert_eq!(attempts, 2, "the dead worker's run, then the second's");
    let file = row(&app, &client, &id).await.file.expect("a file");
    assert_eq!(file.sha256.as_deref(), Some(expected.as_str()));
    assert_eq!(file.processing, Processing::Ready);
    let growth = peak.saturating_sub(baseline);
    println!(
        "hash of 1 GiB: worker RSS {} MiB at start, {} MiB at peak (+{} MiB), {samples} samples",
        baseline >> 20,
        peak >> 20,
        growth >> 20
    );
    assert!(samples >= 5 && baseline > 0, "RSS was sampled");
    assert!(growth < 50 << 20, "the worker's memory grew {growth} bytes");
}

fn about(events: &[(hoist::model::EventCursor, UploadEvent)]) -> Vec<String> {
    events
        .iter()
        .map(|(_, e)| match e {
            UploadEvent::Changed { upload } => upload.id.clone(),
            UploadEvent::Deleted { upload_id } => upload_id.clone(),
        })
        .collect()
}

#[tokio::test]
async fn the_event_stream_resumes_from_last_event_id_and_misses_nothing() {
    let app = App::start(&[]).await;
    let client = app.browser();
    // The cookie first, so the stream and the uploads are the same guest's.
    app.call(&client, "whoami", "").await;
    let mut live = Events::open(&app, &client, None).await;
    let first = upload(&app, &client, "one.png", "image/png", &png(40, 30)).await;
    let seen = live.until_ready(&first).await;
    assert!(about(&seen).iter().all(|id| *id == first), "{seen:?}");
    let states: Vec<_> = seen
        .iter()
        .filter_map(|(_, e)| match e {
            UploadEvent::Changed { upload } => Some(upload.status_word()),
            UploadEvent::Deleted { .. } => None,
        })
        .collect();
    // Every change is an event: its start, its arrival, its processing.
    assert_eq!(states.first(), Some(&"uploading"), "{states:?}");
    assert!(states.contains(&"uploaded"), "{states:?}");
    assert!(states.contains(&"processing"), "{states:?}");
    assert_eq!(states.last(), Some(&"ready"));
    let ids: Vec<hoist::model::EventCursor> = seen.iter().map(|(n, _)| *n).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids rise: {ids:?}");
    let last = *ids.last().expect("events");
    drop(live);

    // While away: a second file arrives and is processed, the first is deleted, and someone
    // else uploads (none of which they may see).
    let second = upload(&app, &client, "two.png", "image/png", &png(40, 30)).await;
    let stranger = app.browser();
    upload(&app, &stranger, "theirs.png", "image/png", &png(8, 8)).await;
    processed(&app, &client, &second, Duration::from_secs(60)).await;
    let deleted = app
        .call(&client, "delete_upload", &form(&[("upload_id", &first)]))
        .await;
    assert_eq!(deleted.status, 200, "{deleted:?}");

    let mut back = Events::open(&app, &client, Some(last)).await;
    let mut missed = Vec::new();
    while let Some(event) = back.next(Duration::from_secs(3)).await {
        missed.push(event);
    }
    assert!(missed.iter().all(|(n, _)| *n > last), "{missed:?}");
    let second_states: Vec<_> = missed
        .iter()
        .filter_map(|(_, e)| match e {
            UploadEvent::Changed { upload } if upload.id == second => Some(upload.status_word()),
            _ => None,
        })
        .collect();
    assert_eq!(second_states.first(), Some(&"uploading"), "{missed:?}");
    assert!(second_states.contains(&"uploaded"), "{missed:?}");
    assert_eq!(second_states.last(), Some(&"ready"), "{missed:?}");
    assert!(
        missed
            .iter()
            .any(|(_, e)| matches!(e, UploadEvent::Deleted { upload_id } if *upload_id == first)),
        "{missed:?}"
    );
    assert!(
        about(&missed)
            .iter()
            .all(|id| *id == first || *id == second),
        "only their own files: {missed:?}"
    );
}

async fn live_clients(app: &App) -> usize {
    let text = reqwest::get(format!("{}/metrics", app.base))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("a body");
    text.lines()
        .find_map(|l| l.strip_prefix("hoist_live_clients "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the live clients gauge")
}

#[tokio::test]
async fn two_hundred_clients_connect_and_leave_and_nothing_is_left_behind() {
    // All from one address: the per-network cap has tests of its own (tests/live_feed_abuse.rs).
    let app = App::start(&[("HOIST_LIVE_PER_NETWORK", "1000")]).await;
    assert_eq!(live_clients(&app).await, 0);
    let mut streams = Vec::new();
    for _ in 0..200 {
        // Each its own guest: one guest may hold only a few streams. The cookie first: a
        // stream is only for a session the browser has.
        let client = app.browser();
        app.call(&client, "whoami", "").await;
        streams.push(Events::open(&app, &client, None).await);
    }
    assert_eq!(live_clients(&app).await, 200);
    drop(streams);
    eventually(
        Duration::from_secs(40),
        "every stream is dropped",
        || async { live_clients(&app).await == 0 },
    )
    .await;

    // One guest's streams are bounded; a closed one frees its place.
    let client = app.browser();
    app.call(&client, "whoami", "").await;
    let mut held = Vec::new();
    for _ in 0..16 {
        held.push(Events::open(&app, &client, None).await);
    }
    let refused = client
        .get(format!("{}/events", app.base))
        .send()
        .await
        .expect("hoist answers");
    assert_eq!(refused.status(), 429);
    held.pop();
    eventually(
        Duration::from_secs(40),
        "the place is free again",
        || async {
            client
                .get(format!("{}/events", app.base))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        },
    )
    .await;
}

async fn page(
    app: &App,
    client: &reqwest::Client,
    id: &str,
    key: Option<&str>,
) -> (u16, Option<FilePage>) {
    let mut pairs = vec![("upload_id", id)];
    if let Some(key) = key {
        pairs.push(("key", key));
    }
    let answer = app.call(client, "get_file", &form(&pairs)).await;
    let page = (answer.status == 200).then(|| answer.json());
    (answer.status, page)
}

async fn describe(
    app: &App,
    client: &reqwest::Client,
    id: &str,
    title: &str,
    description: &str,
    visibility: &str,
) -> u16 {
    app.call(
        client,
        "describe_file",
        &form(&[
            ("upload_id", id),
            ("title", title),
            ("description", description),
            ("visibility", visibility),
        ]),
    )
    .await
    .status
}

#[tokio::test]
async fn a_private_file_is_not_found_by_others_and_a_link_file_opens_only_with_its_link() {
    let app = App::start(&[]).await;
    let owner = no_redirects(true);
    let id = upload(&app, &owner, "holiday.png", "image/png", &png(50, 40)).await;
    processed(&app, &owner, &id, Duration::from_secs(60)).await;
    let stranger = no_redirects(true);
    app.call(&stranger, "whoami", "").await;

    // Private: the owner sees the page and the link to share; a stranger sees nothing.
    let (status, mine) = page(&app, &owner, &id, None).await;
    assert_eq!(status, 200);
    let mine = mine.expect("a page");
    assert!(mine.mine);
    assert_eq!(
        mine.upload.file.as_ref().map(|f| f.title.as_str()),
        Some("holiday.png")
    );
    let share = mine.share_path.expect("a share link");
    let key = share.split("key=").nth(1).expect("a key").to_owned();
    assert!(key.len() >= 32, "an unguessable key: {key}");
    assert_eq!(page(&app, &stranger, &id, None).await.0, 404);
    assert_eq!(
        page(&app, &stranger, &id, Some(&key)).await.0,
        404,
        "a private file ignores its key"
    );
    for door in ["content", "download", "thumbnail"] {
        let (status, _) = location(
            &stranger,
            &format!("{}/files/{id}/{door}?key={key}", app.base),
        )
        .await;
        assert_eq!(status, 404, "{door}");
    }
    assert_eq!(
        describe(&app, &stranger, &id, "mine now", "", "public").await,
        404
    );

    // Shared by link: with the key it opens and plays; without it, or with another, nothing.
    assert_eq!(
        describe(
            &app,
            &owner,
            &id,
            "  Summer  ",
            "By the sea.\nDay two.",
            "link"
        )
        .await,
        200
    );
    let (status, seen) = page(&app, &stranger, &id, Some(&key)).await;
    assert_eq!(status, 200);
    let seen = seen.expect("a page");
    assert!(!seen.mine && seen.share_path.is_none());
    let info = seen.upload.file.expect("a file");
    assert_eq!(
        (info.title.as_str(), info.description.as_str()),
        ("Summer", "By the sea.\nDay two.")
    );
    assert_eq!(page(&app, &stranger, &id, None).await.0, 404);
    let wrong = "0".repeat(key.len());
    assert_eq!(page(&app, &stranger, &id, Some(&wrong)).await.0, 404);
    let (status, to) = location(
        &stranger,
        &format!("{}/files/{id}/content?key={key}", app.base),
    )
    .await;
    assert_eq!(status, 303);
    let to = to.expect("a URL");
    assert!(to.contains("inline"), "shown, not downloaded: {to}");
    let got = store_client()
        .get(&to)
        .header("range", "bytes=0-7")
        .send()
        .await
        .expect("the store answers");
    assert_eq!(got.status(), 206);
    assert_eq!(&got.bytes().await.expect("bytes")[..], b"\x89PNG\r\n\x1a\n");
    let public: Vec<UploadView> = app.call(&stranger, "public_files", "").await.json();
    assert!(
        public.iter().all(|u| u.id != id),
        "a link file is not listed"
    );

    // Public: anyone, listed. Private again: gone for others.
    assert_eq!(
        describe(&app, &owner, &id, "Summer", "", "public").await,
        200
    );
    assert_eq!(page(&app, &stranger, &id, None).await.0, 200);
    let public: Vec<UploadView> = app.call(&stranger, "public_files", "").await.json();
    assert!(public.iter().any(|u| u.id == id));
    assert_eq!(
        describe(&app, &owner, &id, "Summer", "", "private").await,
        200
    );
    assert_eq!(page(&app, &stranger, &id, Some(&key)).await.0, 404);

    // The owner's words are bounded, and a control character is refused.
    assert_eq!(describe(&app, &owner, &id, "   ", "", "private").await, 400);
    assert_eq!(
        describe(&app, &owner, &id, &"t".repeat(201), "", "private").await,
        400
    );
    assert_eq!(
        describe(&app, &owner, &id, "a\u{7}b", "", "private").await,
        400
    );
    assert_eq!(
        describe(&app, &owner, &id, "ok", &"d".repeat(5001), "private").await,
        400
    );
    assert_eq!(describe(&app, &owner, &id, "ok", "", "secret").await, 400);
}
