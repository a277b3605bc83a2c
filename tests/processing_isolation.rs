//! Decoding runs where it cannot hurt the server: through the real binary, Garage and a
//! crafted file uploaded as a browser would, a decompression bomb, a decoder stalled on the
//! store, and what the decoding process holds.

mod common;

use common::{
    app::{processed, upload, App},
    events::Events,
    eventually, media,
    proxy::{path_of, HoldingProxy},
};
use hoist::model::Processing;
use std::time::Duration;

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

/// Every process below `pid` (children, grandchildren…), from each process's parent in /proc.
fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let child: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let after_name = &stat[stat.rfind(')')? + 1..];
            let parent = after_name.split_whitespace().nth(1)?.parse().ok()?;
            Some((child, parent))
        })
        .collect();
    let mut found = vec![pid];
    let mut at = 0;
    while at < found.len() {
        let of = found[at];
        found.extend(parents.iter().filter(|(_, p)| *p == of).map(|(c, _)| *c));
        at += 1;
    }
    found.remove(0);
    found
}

fn proc_text(pid: u32, what: &str) -> String {
    let bytes = std::fs::read(format!("/proc/{pid}/{what}")).unwrap_or_default();
    String::from_utf8_lossy(&bytes).replace('\0', " ")
}

/// A PNG of `side` × `side` black RGB pixels: a few hundred KiB that decode to side² × 3 bytes.
fn black_png(side: u32) -> Vec<u8> {
    use image::{
        codecs::png::{CompressionType, FilterType, PngEncoder},
        ExtendedColorType, ImageEncoder,
    };
    // Zeroed memory that is only read stays the kernel's zero page: this costs the test little.
    let pixels = vec![0u8; side as usize * side as usize * 3];
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Best, FilterType::NoFilter)
        .write_image(&pixels, side, side, ExtendedColorType::Rgb8)
        .expect("a PNG");
    out
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 7])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("a PNG");
    out.into_inner()
}

async fn healthy(http: &reqwest::Client, app: &App) -> bool {
    let asked = http
        .get(format!("{}/healthz", app.base))
        .timeout(Duration::from_secs(1))
        .send()
        .await;
    asked.is_ok_and(|r| r.status().is_success())
}

async fn job(app: &App, id: &str, kind: &str) -> (String, i64, Option<String>) {
    let db = app.database().await;
    sqlx::query_as("SELECT state, attempts, error FROM jobs WHERE upload_id = $1 AND kind = $2")
        .bind(id)
        .bind(kind)
        .fetch_one(&db)
        .await
        .expect("the job")
}

#[tokio::test]
async fn a_decompression_bomb_kills_only_its_decoder_and_the_server_keeps_its_memory() {
    let app = App::start(&[
        ("HOIST_DECODE_MEMORY", "256MiB"),
        // Within the decoder's own limits (side and 600 MB), beyond the child's memory.
        ("HOIST_THUMBNAIL_MAX_SIDE", "20000"),
        ("HOIST_JOB_BACKOFF", "200ms"),
    ])
    .await;
    let client = app.browser();
    let http = reqwest::Client::new();
    let pid = app.pid();
    // 12,000² RGB pixels: 432 MB decoded.
    let bomb = black_png(12_000);
    println!("the bomb: {} bytes", bomb.len());
    let baseline = rss(pid);
    let id = upload(&app, &client, "bomb.png", "image/png", &bomb).await;
    // Another file, uploaded meanwhile, is processed as usual.
    let fine = upload(&app, &client, "fine.png", "image/png", &png(300, 200)).await;

    let (mut peak, mut samples, mut answered) = (baseline, 0u32, 0u32);
    // Sampled every 50 ms until the file's processing ends, for at most two minutes.
    let ended = tokio::time::timeout(Duration::from_secs(120), async {
        let mut every = tokio::time::interval(Duration::from_millis(50));
        loop {
            every.tick().await;
            peak = peak.max(rss(pid));
            samples += 1;
            if healthy(&http, &app).await {
                answered += 1;
            }
            let row = common::app::row(&app, &client, &id).await.file;
            if let Some(file) =
                row.filter(|f| matches!(f.processing, Processing::Ready | Processing::Failed))
            {
                return file;
            }
        }
    })
    .await;
    let Ok(file) = ended else {
        panic!(
            "the bomb's processing did not end; server RSS {} MiB at start, {} MiB at peak",
            baseline >> 20,
            peak >> 20
        );
    };
    let growth = peak.saturating_sub(baseline);
    println!(
        "bomb: server RSS {} MiB at start, {} MiB at peak (+{} MiB), {samples} samples, \
         /healthz answered {answered} of them; the file ended {:?}: {:?}",
        baseline >> 20,
        peak >> 20,
        growth >> 20,
        file.processing,
        file.error
    );
    assert!(baseline > 0 && samples >= 3, "RSS was sampled");
    assert!(
        growth < 64 << 20,
        "the server's memory grew {} MiB decoding the bomb",
        growth >> 20
    );
    assert_eq!(answered, samples, "/healthz answered throughout");
    assert_eq!(file.processing, Processing::Failed, "{file:?}");
    let reason = file.error.expect("a reason");
    assert!(
        reason.starts_with(
            "thumbnail: the decoder died: it ran out of memory (its limit is 256 MiB)"
        ),
        "{reason}"
    );
    assert!(reason.contains("died twice"), "{reason}");
    let (state, attempts, _) = job(&app, &id, "thumbnail").await;
    assert_eq!(
        (state.as_str(), attempts),
        ("failed", 2),
        "killed twice, then never again"
    );

    let fine = processed(&app, &client, &fine, Duration::from_secs(60)).await;
    assert_eq!(fine.processing, Processing::Ready, "{fine:?}");
    assert_eq!((fine.width, fine.height), (Some(300), Some(200)));
    assert!(fine.thumbnail);
    assert!(healthy(&http, &app).await);
}

/// A proxy in front of the store whose presigned GETs (the decoders' reads) of one object —
/// the first one a decoder reads, keys being opaque — are never answered: a store that stops
/// sending.
async fn stalling_proxy() -> HoldingProxy {
    let stalled = std::sync::Mutex::new(None::<String>);
    HoldingProxy::start(Box::new(move |line| {
        line.starts_with("GET ") && line.contains("X-Amz-Signature=") && {
            let mut stalled = stalled.lock().unwrap_or_else(|e| e.into_inner());
            stalled.get_or_insert_with(|| path_of(line).to_owned()) == path_of(line)
        }
    }))
    .await
}

#[tokio::test]
async fn a_decoder_stalled_on_the_store_ends_at_the_deadline_holding_no_secrets_while_others_go_on()
{
    let proxy = stalling_proxy().await;
    let app = App::start(&[
        ("HOIST_S3_ENDPOINT", proxy.url.as_str()),
        ("HOIST_JOB_DEADLINE", "8s"),
    ])
    .await;
    let client = app.browser();
    let http = reqwest::Client::new();
    // A video (Matroska, by its first bytes): its poster job reads it with ffmpeg.
    let video = media("video/x-matroska", 20_000, 5);
    let id = upload(&app, &client, "stall.mkv", "video/x-matroska", &video).await;
    eventually(
        Duration::from_secs(30),
        "a decoder reads the video and the store stalls",
        || async { proxy.held() > 0 },
    )
    .await;

    // What the stalled processes hold: none of the server's secrets.
    let tree = descendants(app.pid());
    assert!(
        !tree.is_empty(),
        "the stalled reader is the server's descendant"
    );
    let mut seen = Vec::new();
    for pid in &tree {
        let (line, environ) = (proc_text(*pid, "cmdline"), proc_text(*pid, "environ"));
        for secret in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "HOIST_DATABASE_URL",
        ] {
            assert!(
                !environ.contains(secret),
                "{line:?} (pid {pid}) holds {secret} in its environment"
            );
        }
        seen.push(line);
    }
    let decoder = tree
        .iter()
        .find(|pid| proc_text(**pid, "cmdline").ends_with(" decode "))
        .unwrap_or_else(|| panic!("no `hoist decode` among {seen:?}"));
    let limits = proc_text(*decoder, "limits");
    let address_space = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))
        .expect("its address-space limit");
    assert!(
        address_space.contains(&(1u64 << 30).to_string()),
        "{address_space}"
    );

    // Another file uploaded meanwhile is processed while the video's decoder still waits.
    let fine = upload(&app, &client, "fine.png", "image/png", &png(64, 48)).await;
    let fine = processed(&app, &client, &fine, Duration::from_secs(60)).await;
    assert_eq!(fine.processing, Processing::Ready, "{fine:?}");
    assert!(fine.thumbnail);
    let (state, _, _) = job(&app, &id, "poster").await;
    assert_eq!(state, "running", "the stalled job was still waiting");

    let file = processed(&app, &client, &id, Duration::from_secs(30)).await;
    assert_eq!(file.processing, Processing::Failed, "{file:?}");
    let reason = file.error.expect("a reason");
    assert!(
        reason.starts_with("poster: the decoder did not finish within 8s"),
        "{reason}"
    );
    let (state, attempts, _) = job(&app, &id, "poster").await;
    assert_eq!((state.as_str(), attempts), ("failed", 1), "not tried again");
    // The decoder went, and the ffmpeg it had started with it.
    eventually(
        Duration::from_secs(5),
        "no process of the job is left",
        || async { descendants(app.pid()).is_empty() },
    )
    .await;
    assert!(healthy(&http, &app).await);
}

/// The poster job's row: (state, attempts).
async fn poster_job(app: &App, id: &str) -> (String, i64) {
    let db = app.database().await;
    sqlx::query_as("SELECT state, attempts FROM jobs WHERE upload_id = $1 AND kind = 'poster'")
        .bind(id)
        .fetch_one(&db)
        .await
        .expect("the poster job")
}

/// A worker process that dies holding a job (SIGKILL: the kernel's OOM killer, a crash, a lost
/// machine) hands it on through the lapsed lease; after the job's second such death it fails
/// for good and no worker runs it again. A worker stopped cleanly (SIGTERM, a deploy) hands
/// its job back at once, and that is no death.
#[tokio::test]
async fn a_job_that_killed_its_worker_twice_is_not_handed_out_again() {
    let proxy = stalling_proxy().await;
    let app = App::start(&[
        ("HOIST_S3_ENDPOINT", proxy.url.as_str()),
        ("HOIST_WORKERS", "0"),
    ])
    .await;
    // The poster job's decoder waits on the store for as long as its worker lives.
    let worker = [
        ("HOIST_S3_ENDPOINT", proxy.url.as_str()),
        ("HOIST_WORKERS", "1"),
        ("HOIST_JOB_LEASE", "1s"),
        ("HOIST_JOB_DEADLINE", "10m"),
    ];
    let client = app.browser();
    let video = media("video/x-matroska", 20_000, 6);
    let id = upload(&app, &client, "killer.mkv", "video/x-matroska", &video).await;

    let mut deployed = app.worker(&worker);
    eventually(
        Duration::from_secs(60),
        "the first worker runs the poster job",
        || async { proxy.held() == 1 },
    )
    .await;
    let term = std::process::Command::new("kill")
        .args(["-TERM", &deployed.id().to_string()])
        .status()
        .expect("kill");
    assert!(term.success());
    deployed.wait().expect("the worker stops");
    assert_eq!(
        poster_job(&app, &id).await,
        ("queued".to_owned(), 0),
        "a clean stop hands the job back at once, no attempt spent"
    );

    for death in 1..=2 {
        let mut doomed = app.worker(&worker);
        eventually(
            Duration::from_secs(60),
            "another worker runs the job again",
            || async { proxy.held() == 1 + death },
        )
        .await;
        doomed.kill().expect("kill");
        doomed.wait().expect("reaped");
    }

    let mut last = app.worker(&worker);
    let file = processed(&app, &client, &id, Duration::from_secs(60)).await;
    last.kill().expect("kill");
    let _ = last.wait();
    assert_eq!(file.processing, Processing::Failed, "{file:?}");
    let reason = file.error.expect("a reason");
    assert_eq!(
        reason,
        "poster: the process running it died twice (killed, crashed or lost), \
         so it is not tried again"
    );
    assert_eq!(
        proxy.held(),
        3,
        "no worker read the file after its second death"
    );
    assert_eq!(poster_job(&app, &id).await, ("failed".to_owned(), 2));
}

/// A server told to stop (SIGTERM) hands its running jobs back at the signal, while its open
/// requests drain: a page's live stream keeps the drain going for its full 10 s, longer than a
/// supervisor may wait (Docker's default grace period is 10 s) before it kills the process.
#[tokio::test]
async fn a_server_told_to_stop_hands_its_jobs_back_at_once() {
    let proxy = stalling_proxy().await;
    let app = App::start(&[("HOIST_S3_ENDPOINT", proxy.url.as_str())]).await;
    let client = app.browser();
    let video = media("video/x-matroska", 20_000, 7);
    let id = upload(&app, &client, "deployed.mkv", "video/x-matroska", &video).await;
    eventually(
        Duration::from_secs(60),
        "the poster job's decoder waits on the store",
        || async { proxy.held() == 1 },
    )
    .await;
    let _page = Events::open(&app, &client, None).await;
    let term = std::process::Command::new("kill")
        .args(["-TERM", &app.pid().to_string()])
        .status()
        .expect("kill");
    assert!(term.success());
    eventually(
        Duration::from_secs(5),
        "the job is handed back within 5 s of the signal",
        || async { poster_job(&app, &id).await == ("queued".to_owned(), 0) },
    )
    .await;
}
