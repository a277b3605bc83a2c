//! A video's HLS ladder through the real binary, Garage and Debian's ffmpeg: the fast path that
//! copies an H.264 source, the lower rungs cut at the same instants, a HEVC source encoded,
//! playlists and ranged bytes for whoever may see the file, renditions deleted with it, and
//! hostile sources that end with a reason.

mod common;

use common::{
    app::{form, no_redirects, processed, row, upload, App},
    eventually, object_exists,
    proxy::{path_of, HoldingProxy},
};
use hoist::{model::Processing, processing::hls::playlist};
use std::{process::Command, time::Duration};

/// A video made by ffmpeg from noise (not a flat pattern: encoders treat those as free), with
/// a keyframe every 1.5 s: the top rung, copied, is cut at keyframes that fall off the 4 s grid
/// (4.5 s, 9 s), which the encoded rungs must follow.
/// Quick H.264, as a phone's clip is.
const H264: &[&str] = &["-c:v", "libx264", "-preset", "ultrafast"];

fn video(dir: &std::path::Path, name: &str, seconds: u32, size: &str, codec: &[&str]) -> Vec<u8> {
    let path = dir.join(name);
    let made = Command::new("ffmpeg")
        .args(["-y", "-hide_banner", "-loglevel", "error"])
        .args(["-f", "lavfi", "-i"])
        .arg(format!(
            "testsrc2=duration={seconds}:size={size}:rate=30,noise=alls=8:allf=t"
        ))
        .args(["-f", "lavfi", "-i"])
        .arg(format!("sine=frequency=440:duration={seconds}"))
        .args(codec)
        .args([
            "-g",
            "45",
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

async fn get(client: &reqwest::Client, url: &str) -> (u16, String) {
    let answer = client.get(url).send().await.expect("an answer");
    (
        answer.status().as_u16(),
        answer.text().await.unwrap_or_default(),
    )
}

/// Waits until `id` has `rungs` renditions ready and its processing has ended.
async fn laddered(app: &App, client: &reqwest::Client, id: &str, rungs: u32) {
    eventually(Duration::from_secs(240), "the ladder is made", || async {
        row(app, client, id).await.file.is_some_and(|f| {
            f.rungs == rungs && matches!(f.processing, Processing::Ready | Processing::Failed)
        })
    })
    .await;
}

/// The renditions' rows as the database has them: (height, remuxed, object key, playlist).
async fn renditions(app: &App, id: &str) -> Vec<(i64, bool, String, String)> {
    hoist::db::renditions::of_upload(&app.database().await, id)
        .await
        .expect("the database answers")
        .into_iter()
        .map(|r| {
            (
                r.height,
                r.remuxed,
                r.object_key,
                r.playlist.unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_h264_video_is_copied_into_its_top_rung_and_every_rung_cuts_at_the_same_instants() {
    let app = App::start(&[("HOIST_HLS", "on")]).await;
    let owner = no_redirects();
    let clip = video(app.dir.path(), "phone.mp4", 12, "1920x1080", H264);
    let id = upload(&app, &owner, "phone.mp4", "video/mp4", &clip).await;
    laddered(&app, &owner, &id, 3).await;
    let file = processed(&app, &owner, &id, Duration::from_secs(10)).await;
    assert_eq!(file.processing, Processing::Ready, "{file:?}");

    let rows = renditions(&app, &id).await;
    let heights: Vec<i64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(heights, [1080, 720, 360]);
    // The fast path: the top rung is the source's own streams, copied.
    assert_eq!(
        rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        [true, false, false]
    );
    // Every rung is cut at the same instants (± a frame), in segments of about 4 s.
    let cuts: Vec<Vec<f64>> = rows.iter().map(|r| playlist::boundaries(&r.3)).collect();
    assert!(cuts[0].len() >= 2, "{:?}", cuts[0]);
    assert!(
        (cuts[0][0] - 4.5).abs() < 0.04,
        "the source's keyframes: {:?}",
        cuts[0]
    );
    for other in &cuts[1..] {
        assert_eq!(other.len(), cuts[0].len(), "{cuts:?}");
        for (a, b) in cuts[0].iter().zip(other) {
            assert!((a - b).abs() < 0.04, "{cuts:?}");
        }
    }
    for r in &rows {
        let longest = playlist::longest(&r.3);
        assert!((3.0..=5.0).contains(&longest), "{}p: {longest}", r.0);
    }

    // The master playlist lists the rungs with their sizes; each media playlist names the
    // rendition's stable address; its bytes come by Range from the store.
    let base = format!("{}/files/{id}/hls", app.base);
    let (status, master) = get(&owner, &format!("{base}/index.m3u8")).await;
    assert_eq!(status, 200, "{master}");
    for line in [
        "RESOLUTION=1920x1080",
        "RESOLUTION=1280x720",
        "RESOLUTION=640x360",
        "1080.m3u8",
        "360.m3u8",
    ] {
        assert!(master.contains(line), "{line}: {master}");
    }
    let (status, media) = get(&owner, &format!("{base}/720.m3u8")).await;
    assert_eq!(status, 200);
    assert!(media.contains("#EXT-X-MAP:URI=\"720.mp4\""), "{media}");
    assert!(media.contains("#EXT-X-BYTERANGE:"), "{media}");
    // Nothing a player holds can expire: the playlists name only our stable addresses, each
    // signed afresh when fetched.
    assert!(
        !master.contains("X-Amz") && !media.contains("X-Amz") && !media.contains("://"),
        "{media}"
    );
    let answer = owner
        .get(format!("{base}/720.mp4"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 303);
    let to = answer.headers()["location"]
        .to_str()
        .expect("a URL")
        .to_string();
    let part = common::store_client()
        .get(&to)
        .header("Range", "bytes=0-1023")
        .send()
        .await
        .expect("the store answers");
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.expect("bytes").len(), 1024);

    // A stranger learns nothing; the rungs go with the file.
    let stranger = no_redirects();
    for name in ["index.m3u8", "720.m3u8", "720.mp4", "../720.mp4", "720.ts"] {
        let (status, _) = get(&stranger, &format!("{base}/{name}")).await;
        assert_eq!(status, 404, "{name}");
    }
    // Shared by link, the same ladder plays for whoever holds the link, whose key every
    // address in the playlists carries on.
    let shared = app
        .call(
            &owner,
            "describe_file",
            &form(&[
                ("upload_id", &id),
                ("title", "t"),
                ("description", ""),
                ("visibility", "link"),
            ]),
        )
        .await;
    assert_eq!(shared.status, 200, "{shared:?}");
    let page: hoist::model::FilePage = app
        .call(&owner, "get_file", &form(&[("upload_id", &id)]))
        .await
        .json();
    let key = page
        .share_path
        .expect("a link")
        .rsplit_once("key=")
        .expect("a key")
        .1
        .to_string();
    let (status, master) = get(&stranger, &format!("{base}/index.m3u8?key={key}")).await;
    assert_eq!(status, 200);
    assert!(master.contains(&format!("720.m3u8?key={key}")), "{master}");
    let (status, media) = get(&stranger, &format!("{base}/720.m3u8?key={key}")).await;
    assert_eq!(status, 200);
    assert!(media.contains(&format!("720.mp4?key={key}")), "{media}");
    let answer = stranger
        .get(format!("{base}/720.mp4?key={key}"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 303);
    // The caller's own text never reaches a playlist: a key that smuggles in a line of its own
    // (here from the owner, whose key is not checked) leaves the playlist as it was.
    let smuggled = "x%0A%23EXT-X-STREAM-INF:BANDWIDTH=1%0Ahttps://evil.example/a.m3u8";
    let (status, master) = get(&owner, &format!("{base}/index.m3u8?key={smuggled}")).await;
    assert_eq!(status, 200);
    assert!(
        !master.contains("evil") && !master.contains("key="),
        "{master}"
    );
    let (_, media) = get(&owner, &format!("{base}/720.m3u8?key=%22,x=%22")).await;
    assert!(
        !media.contains("x=") && media.contains("URI=\"720.mp4\""),
        "{media}"
    );
    let deleted = app
        .call(&owner, "delete_upload", &form(&[("upload_id", &id)]))
        .await;
    assert_eq!(deleted.status, 200, "{deleted:?}");
    for (height, _, key, _) in &rows {
        let key = key.clone();
        eventually(Duration::from_secs(30), "the rendition is deleted", || {
            let key = key.clone();
            async move { !object_exists(&key).await }
        })
        .await;
        let _ = height;
    }
}

#[tokio::test]
async fn a_hevc_video_is_encoded_and_plays_through_its_ladder() {
    let app = App::start(&[("HOIST_HLS", "on")]).await;
    let owner = app.browser();
    let clip = video(
        app.dir.path(),
        "screen.mov",
        6,
        "854x480",
        &["-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1"],
    );
    let id = upload(&app, &owner, "screen.mov", "video/quicktime", &clip).await;
    laddered(&app, &owner, &id, 2).await;
    let rows = renditions(&app, &id).await;
    assert_eq!(
        rows.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(),
        [(480, false), (360, false)]
    );
    let (status, master) = get(&owner, &format!("{}/files/{id}/hls/index.m3u8", app.base)).await;
    assert_eq!(status, 200);
    assert!(
        master.contains("RESOLUTION=854x480") && master.contains("avc1."),
        "{master}"
    );
}

/// A phone held upright records a landscape picture and a display matrix that turns it. The
/// ladder is made upright (WebKit's HLS ignores the matrix) and named by the shorter side, as
/// people name rungs: 720p is 720 × 1280 here, never a sideways 1280 × 720 nor a 406-wide one.
#[tokio::test]
async fn a_portrait_phone_video_turned_by_its_display_matrix_is_laddered_upright() {
    let app = App::start(&[("HOIST_HLS", "on")]).await;
    let owner = app.browser();
    video(app.dir.path(), "landscape.mp4", 4, "1280x720", H264);
    let turned = app.dir.path().join("portrait.mp4");
    let made = Command::new("ffmpeg")
        .args(["-y", "-hide_banner", "-loglevel", "error", "-i"])
        .arg(app.dir.path().join("landscape.mp4"))
        .args(["-c", "copy", "-metadata:s:v:0", "rotate=90"])
        .arg(&turned)
        .status()
        .expect("ffmpeg runs");
    assert!(made.success());
    let clip = std::fs::read(&turned).expect("the video");
    let id = upload(&app, &owner, "portrait.mp4", "video/mp4", &clip).await;
    laddered(&app, &owner, &id, 2).await;
    let rows = renditions(&app, &id).await;
    // H.264 as it is, but turned: encoded, not copied.
    assert_eq!(
        rows.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(),
        [(720, false), (360, false)]
    );
    let base = format!("{}/files/{id}/hls", app.base);
    let (status, master) = get(&owner, &format!("{base}/index.m3u8")).await;
    assert_eq!(status, 200);
    for line in ["RESOLUTION=720x1280", "RESOLUTION=360x640"] {
        assert!(master.contains(line), "{line}: {master}");
    }
    // The rendition's own picture is upright, with no matrix left to turn it again.
    for rung in ["720", "360"] {
        let bytes = owner
            .get(format!("{base}/{rung}.mp4"))
            .send()
            .await
            .expect("an answer")
            .bytes()
            .await
            .expect("the rendition");
        let path = app.dir.path().join(format!("{rung}.mp4"));
        std::fs::write(&path, &bytes).expect("written");
        let probed = Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
            .args([
                "stream=width,height:stream_side_data=rotation",
                "-of",
                "csv=p=0",
            ])
            .arg(&path)
            .output()
            .expect("ffprobe runs");
        let said = String::from_utf8_lossy(&probed.stdout).trim().to_string();
        let want = if rung == "720" { "720,1280" } else { "360,640" };
        assert_eq!(said, want, "{rung}p");
    }
}

/// Sources that cannot be transcoded end with a reason, and a good video uploaded beside
/// them still gets its ladder.
#[tokio::test]
async fn a_source_that_is_not_a_video_or_is_too_large_ends_with_a_reason_and_others_carry_on() {
    let app = App::start(&[("HOIST_HLS", "on"), ("HOIST_TRANSCODE_MAX_SIDE", "1000")]).await;
    let owner = app.browser();
    let wide = video(app.dir.path(), "wide.mp4", 2, "1280x720", H264);
    let small = video(app.dir.path(), "small.mp4", 2, "640x360", H264);
    // The start of an MP4 (its type checks out) and then nothing a demuxer can read.
    let mut junk = small[..64].to_vec();
    junk.extend(std::iter::repeat_n(0x5a, 200_000));
    let too_wide = upload(&app, &owner, "wide.mp4", "video/mp4", &wide).await;
    let broken = upload(&app, &owner, "junk.mp4", "video/mp4", &junk).await;
    let fine = upload(&app, &owner, "small.mp4", "video/mp4", &small).await;

    laddered(&app, &owner, &fine, 1).await;
    let file = processed(&app, &owner, &too_wide, Duration::from_secs(120)).await;
    assert_eq!(
        (file.processing, file.rungs),
        (Processing::Ready, 0),
        "{file:?}"
    );
    let jobs = hoist::db::jobs::of_upload(&app.database().await, &too_wide)
        .await
        .expect("jobs");
    let hls = jobs
        .iter()
        .find(|j| j.kind == "hls")
        .expect("the ladder's job");
    assert_eq!(hls.state, "skipped");
    assert_eq!(
        hls.error.as_deref(),
        Some("1280 × 720 is larger than the 1000 pixels a side this server transcodes; it plays as uploaded")
    );
    let file = processed(&app, &owner, &broken, Duration::from_secs(120)).await;
    assert_eq!(
        (file.processing, file.rungs),
        (Processing::Failed, 0),
        "{file:?}"
    );
    let jobs = hoist::db::jobs::of_upload(&app.database().await, &broken)
        .await
        .expect("jobs");
    let hls = jobs
        .iter()
        .find(|j| j.kind == "hls")
        .expect("the ladder's job");
    assert_eq!(hls.state, "failed", "{hls:?}");
    assert!(
        hls.error
            .as_deref()
            .unwrap_or("")
            .starts_with("hls: the video could not be read"),
        "{hls:?}"
    );
}

/// A source whose reading hangs (here the store stops answering for it, as a crafted file can
/// make ffmpeg wait forever) ends within the stall limit with the reason, while a video
/// uploaded beside it gets its ladder.
#[tokio::test]
async fn a_transcode_that_hangs_is_stopped_with_the_reason_and_other_videos_go_on() {
    let stalled = std::sync::Mutex::new(None::<String>);
    // Holds every presigned GET of the first object ffmpeg or ffprobe opens.
    let proxy = HoldingProxy::start(Box::new(move |line| {
        line.starts_with("GET ") && line.contains("X-Amz-Signature=") && {
            let mut stalled = stalled.lock().unwrap_or_else(|e| e.into_inner());
            stalled.get_or_insert_with(|| path_of(line).to_owned()) == path_of(line)
        }
    }))
    .await;
    let app = App::start(&[
        ("HOIST_HLS", "on"),
        ("HOIST_S3_ENDPOINT", proxy.url.as_str()),
        ("HOIST_TRANSCODE_STALL", "3s"),
        // The poster and media jobs read the object too, in decoding children: theirs end at
        // this deadline, so that the held reads do not take every worker.
        ("HOIST_JOB_DEADLINE", "5s"),
        ("HOIST_WORKERS", "3"),
    ])
    .await;
    let owner = app.browser();
    let hanging = video(app.dir.path(), "hangs.mp4", 2, "320x240", H264);
    let fine = video(app.dir.path(), "fine.mp4", 3, "320x240", H264);
    let id = upload(&app, &owner, "hangs.mp4", "video/mp4", &hanging).await;
    eventually(
        Duration::from_secs(30),
        "the store holds the transcode's read",
        || async { proxy.held() > 0 },
    )
    .await;
    let other = upload(&app, &owner, "fine.mp4", "video/mp4", &fine).await;
    let db = app.database().await;
    let failed = || async {
        let jobs = hoist::db::jobs::of_upload(&db, &id).await.expect("jobs");
        jobs.into_iter()
            .find(|j| j.kind == "hls" && j.state == "failed")
    };
    eventually(
        Duration::from_secs(60),
        "the hanging transcode fails",
        || async { failed().await.is_some() },
    )
    .await;
    let job = failed().await.expect("the failed job");
    assert_eq!(
        job.error.as_deref(),
        Some("hls: ffprobe got no further for 3s; it was stopped and the file is not tried again")
    );
    laddered(&app, &owner, &other, 1).await;
}
