//! Files crafted to hurt the processing jobs, uploaded as a guest through the real binary and
//! Garage: an MP4 whose fragment tables would fill the server's memory, boxes after the movie
//! box that must never be read, and an ffmpeg that outlives its deadline.

mod common;

use common::{
    app::{processed, upload, App},
    eventually,
};
use hoist::model::Processing;
use std::{
    process::Command,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

const MIB: usize = 1 << 20;

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

/// Samples a process's resident memory every 20 ms until dropped; keeps the peak.
struct Peak {
    peak: Arc<AtomicU64>,
    samples: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Peak {
    fn watch(pid: u32) -> Self {
        let (peak, samples): (Arc<AtomicU64>, Arc<AtomicU64>) = (Arc::default(), Arc::default());
        let stop: Arc<AtomicBool> = Arc::default();
        let (p, n, s) = (Arc::clone(&peak), Arc::clone(&samples), Arc::clone(&stop));
        tokio::spawn(async move {
            // A sampling period, not a wait for anything: the test ends the watch.
            let mut every = tokio::time::interval(Duration::from_millis(20));
            while !s.load(Ordering::Relaxed) {
                every.tick().await;
                let now: u64 = rss(pid);
                p.fetch_max(now, Ordering::Relaxed);
                n.fetch_add(1, Ordering::Relaxed);
            }
        });
        Self {
            peak,
            samples,
            stop,
        }
    }

    fn peak(&self) -> (u64, u64) {
        (
            self.peak.load(Ordering::Relaxed),
            self.samples.load(Ordering::Relaxed),
        )
    }
}

impl Drop for Peak {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(8 + body.len())
        .expect("a small box")
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}

/// A movie fragment for track 1 whose run lists `table` bytes of sample durations: what the
/// container reader of 39c0c74 parsed into memory, then copied once more.
fn fragment(table: usize) -> Vec<u8> {
    let mfhd = boxed(b"mfhd", &[0, 0, 0, 0, 0, 0, 0, 1]);
    let tfhd = boxed(b"tfhd", &[0, 0, 0, 0, 0, 0, 0, 1]);
    // Version 0, flags 0x000100 (each sample has a duration), then the sample count.
    let mut trun = vec![0, 0, 1, 0];
    trun.extend_from_slice(&u32::try_from(table / 4).expect("count").to_be_bytes());
    trun.resize(4 + 4 + table, 0);
    let traf = boxed(b"traf", &[tfhd, boxed(b"trun", &trun)].concat());
    boxed(b"moof", &[mfhd, traf].concat())
}

/// The top-level boxes of a real MP4, made by ffmpeg: (kind, whole box).
fn real_boxes(dir: &std::path::Path) -> Vec<([u8; 4], Vec<u8>)> {
    let path = dir.join("real.mp4");
    let made = Command::new("ffmpeg")
        .args(["-y", "-hide_banner", "-loglevel", "error"])
        .args([
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=2:size=320x240:rate=25",
        ])
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p"])
        .arg(&path)
        .status()
        .expect("ffmpeg runs (scripts/test.sh installs it)");
    assert!(made.success(), "ffmpeg made no video");
    let data = std::fs::read(path).expect("the video");
    let mut boxes = Vec::new();
    let mut at = 0;
    while at + 8 <= data.len() {
        let len = u32::from_be_bytes(data[at..at + 4].try_into().expect("4 bytes")) as usize;
        let kind: [u8; 4] = data[at + 4..at + 8].try_into().expect("4 bytes");
        boxes.push((kind, data[at..at + len].to_vec()));
        at += len;
    }
    boxes
}

fn pick(boxes: &[([u8; 4], Vec<u8>)], kind: &[u8; 4]) -> Vec<u8> {
    boxes
        .iter()
        .find(|(k, _)| k == kind)
        .map(|(_, b)| b.clone())
        .expect("the box")
}

/// A media data box padding `data` out to `total` bytes.
fn pad_to(data: &mut Vec<u8>, total: usize, tail: usize) {
    let len = total - data.len() - tail;
    let mut header = 1u32.to_be_bytes().to_vec();
    header.extend_from_slice(b"mdat");
    header.extend_from_slice(&(len as u64).to_be_bytes());
    data.extend_from_slice(&header);
    data.resize(data.len() + len - header.len(), 0);
}

async fn job(app: &App, id: &str, kind: &str) -> Option<(String, i64, Option<String>)> {
    let db = app.database().await;
    sqlx::query_as("SELECT state, attempts, error FROM jobs WHERE upload_id = $1 AND kind = $2")
        .bind(id)
        .bind(kind)
        .fetch_optional(&db)
        .await
        .expect("the jobs table")
}

/// The reproducer, grown to 2 GiB: two movie fragments with 256 MiB run tables each,
/// placed before the movie box (as an encoder that writes the `moov` last would), media data,
/// then a real `moov`. The job must refuse the file from its box headers, without parsing any
/// table, and the server's memory must stay where it was.
#[tokio::test]
async fn a_crafted_two_gib_mp4_from_a_guest_fails_as_unreadable_and_memory_stays_flat() {
    let app = App::start(&[("HOIST_GUEST_QUOTA", "4GiB")]).await;
    let guest = app.browser();
    let real = real_boxes(app.dir.path());
    let moov = pick(&real, b"moov");
    let mut crafted = pick(&real, b"ftyp");
    crafted.extend(fragment(256 * MIB));
    crafted.extend(fragment(256 * MIB));
    pad_to(&mut crafted, 2 << 30, moov.len());
    crafted.extend_from_slice(&moov);
    assert_eq!(crafted.len(), 2 << 30);

    let pid = app.pid();
    let baseline = rss(pid);
    let peak = Peak::watch(pid);
    let id = upload(&app, &guest, "crafted.mp4", "video/mp4", &crafted).await;
    drop(crafted);
    let completed = Instant::now();
    eventually(Duration::from_secs(60), "the media job ends", || async {
        job(&app, &id, "media")
            .await
            .is_some_and(|(state, ..)| state == "failed" || state == "done")
    })
    .await;
    let took = completed.elapsed();
    let media = job(&app, &id, "media").await;
    let file = processed(&app, &guest, &id, Duration::from_secs(300)).await;
    let (top, samples) = peak.peak();
    drop(peak);
    let growth = top.saturating_sub(baseline);
    println!(
        "crafted 2 GiB MP4: server RSS {} MiB before, {} MiB at peak (+{} MiB, {samples} \
         samples); media job ended after {took:?}: {media:?}",
        baseline >> 20,
        top >> 20,
        growth >> 20,
    );
    assert!(baseline > 0 && samples > 10, "RSS was sampled");
    assert!(growth < 64 << 20, "the server grew {} MiB", growth >> 20);
    let (state, attempts, error) = media.expect("the media job");
    assert_eq!((state.as_str(), attempts), ("failed", 1), "{error:?}");
    let error = error.expect("a reason");
    assert!(
        error.starts_with("media: the media container could not be read"),
        "{error}"
    );
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert_eq!(file.processing, Processing::Failed, "{file:?}");
}

/// A real movie first, then what the reader of 39c0c74 parsed whole after it: movie fragments
/// with 256 MiB run tables and a second movie box. Only the first movie box is read: the file
/// is ready with its facts, the later boxes are never fetched, and memory stays flat.
#[tokio::test]
async fn boxes_after_the_first_movie_box_are_never_read() {
    let app = App::start(&[("HOIST_GUEST_QUOTA", "4GiB")]).await;
    let guest = app.browser();
    let real = real_boxes(app.dir.path());
    let mut crafted = pick(&real, b"ftyp");
    crafted.extend(pick(&real, b"moov"));
    crafted.extend(fragment(256 * MIB));
    crafted.extend(fragment(256 * MIB));
    crafted.extend(pick(&real, b"mdat"));

    let pid = app.pid();
    let baseline = rss(pid);
    let peak = Peak::watch(pid);
    let id = upload(&app, &guest, "crafted.mp4", "video/mp4", &crafted).await;
    let size = crafted.len() as u64;
    drop(crafted);
    eventually(Duration::from_secs(60), "the media job ends", || async {
        job(&app, &id, "media")
            .await
            .is_some_and(|(state, ..)| state == "failed" || state == "done")
    })
    .await;
    let (top, samples) = peak.peak();
    drop(peak);
    let growth = top.saturating_sub(baseline);
    println!(
        "movie then 512 MiB of fragments: server RSS +{} MiB ({samples} samples)",
        growth >> 20
    );
    let media = job(&app, &id, "media").await.expect("the media job");
    assert_eq!(media.0, "done", "{media:?}");
    assert!(growth < 64 << 20, "the server grew {} MiB", growth >> 20);
    let log = app.log();
    let line = log
        .lines()
        .find(|l| l.contains("media: read the container's boxes"))
        .expect("the media job's line");
    let fetched: u64 = field(line, "fetched=").expect("fetched");
    assert!(fetched < 1 << 20 && fetched < size / 100, "{line}");
    let file = common::app::row(&app, &guest, &id)
        .await
        .file
        .expect("a file");
    assert_eq!((file.width, file.height), (Some(320), Some(240)));
    assert!(file.codecs.is_some_and(|c| c.contains("avc1")));
}

fn field<T: std::str::FromStr>(line: &str, name: &str) -> Option<T> {
    let rest = &line[line.find(name)? + name.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// A short real video, made by ffmpeg.
fn video(dir: &std::path::Path) -> Vec<u8> {
    let boxes = real_boxes(dir);
    boxes.into_iter().flat_map(|(_, b)| b).collect()
}

fn png(side: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(side, side, |x, y| image::Rgb([x as u8, y as u8, 7]));
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("a PNG");
    out.into_inner()
}

/// The ffmpeg processes `pid` has started that still run (a killed one that is not yet
/// reaped is a zombie: it holds nothing).
fn live_ffmpeg_children(pid: u32) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
        .filter(|stat| {
            // pid (comm) state ppid …
            let Some((comm, rest)) = stat.split_once(") ") else {
                return false;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            comm.ends_with("(ffmpeg")
                && fields.first() != Some(&"Z")
                && fields.get(1) == Some(&pid.to_string().as_str())
        })
        .count()
}

/// ffmpeg that runs past its deadline is killed and its job fails at once, with the reason,
/// without a retry; the server keeps answering and another file uploaded meanwhile is
/// processed. A deadline of 1 ms is one no real ffmpeg can meet: the path is the one a
/// crafted video that keeps ffmpeg busy takes, without waiting a minute for it.
#[tokio::test]
async fn an_ffmpeg_past_its_deadline_is_killed_and_the_job_fails_at_once_with_the_reason() {
    let app = App::start(&[("HOIST_FFMPEG_TIME_LIMIT", "1ms")]).await;
    let guest = app.browser();
    let clip = video(app.dir.path());
    let id = upload(&app, &guest, "clip.mp4", "video/mp4", &clip).await;
    let other = upload(&app, &guest, "photo.png", "image/png", &png(200)).await;
    let file = processed(&app, &guest, &id, Duration::from_secs(60)).await;
    assert_eq!(file.processing, Processing::Failed, "{file:?}");
    let poster = job(&app, &id, "poster").await.expect("the poster job");
    assert_eq!((poster.0.as_str(), poster.1), ("failed", 1), "{poster:?}");
    let why = poster.2.expect("a reason");
    assert!(
        why.starts_with("poster: ffmpeg took longer than 1ms"),
        "{why}"
    );
    assert!(!why.contains("X-Amz-Signature"), "{why}");
    // The container's facts were still read; only the poster is missing.
    assert_eq!((file.width, file.height), (Some(320), Some(240)));
    let health = reqwest::get(format!("{}/healthz", app.base))
        .await
        .expect("hoist answers");
    assert_eq!(health.status(), 200);
    let picture = processed(&app, &guest, &other, Duration::from_secs(60)).await;
    assert_eq!(picture.processing, Processing::Ready, "{picture:?}");
    let pid = app.pid();
    eventually(
        Duration::from_secs(5),
        "no ffmpeg is left running",
        || async { live_ffmpeg_children(pid) == 0 },
    )
    .await;
}

/// A movie whose `mvhd` says its time is counted in units of 1/0 s: the reader of 39c0c74
/// divided by it and its thread panicked (retried as a transient failure, five times).
#[tokio::test]
async fn a_movie_with_a_timescale_of_zero_is_read_without_a_duration() {
    let app = App::start(&[]).await;
    let guest = app.browser();
    let mut clip = video(app.dir.path());
    let at = clip
        .windows(4)
        .position(|w| w == b"mvhd")
        .expect("an mvhd box");
    // Version 0: flags, two times, then the timescale.
    clip[at + 4 + 12..at + 4 + 16].copy_from_slice(&[0, 0, 0, 0]);
    let id = upload(&app, &guest, "zero.mp4", "video/mp4", &clip).await;
    eventually(Duration::from_secs(30), "the media job ends", || async {
        job(&app, &id, "media")
            .await
            .is_some_and(|(state, ..)| state == "failed" || state == "done")
    })
    .await;
    let media = job(&app, &id, "media").await.expect("the media job");
    assert_eq!((media.0.as_str(), media.1), ("done", 1), "{media:?}");
    let file = common::app::row(&app, &guest, &id)
        .await
        .file
        .expect("a file");
    assert_eq!(file.duration_ms, None);
    assert_eq!((file.width, file.height), (Some(320), Some(240)));
}
