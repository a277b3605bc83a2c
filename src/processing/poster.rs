//! A video's poster: one frame, scaled to thumbnail size, made by ffmpeg reading the object
//! through a presigned GET (it asks for the ranges it needs, not the whole file). Without
//! ffmpeg the job is skipped, not failed: the file is still ready.

use super::{thumbnail::SIDE, thumbnail_key, Finished, JobError};
use crate::{db::jobs::Findings, storage::s3::S3Store};
use std::{process::Stdio, time::Duration};
use tokio::process::Command;

/// ffmpeg gets this long, the URL a little longer.
const TIME_LIMIT: Duration = Duration::from_secs(120);

pub async fn run(store: &S3Store, object_key: &str, ffmpeg: &str) -> Result<Finished, JobError> {
    let url = store
        .presign_internal_get(object_key, TIME_LIMIT + Duration::from_secs(60))
        .await?;
    let Some(jpeg) = poster(ffmpeg, &url).await? else {
        return Ok(Finished::Skipped(format!("{ffmpeg} is not installed")));
    };
    let key = thumbnail_key(object_key);
    store.put_small(&key, jpeg, "image/jpeg").await?;
    Ok(Finished::Found(Findings {
        thumbnail_key: Some(key),
        ..Findings::default()
    }))
}

/// One frame of the video at `url` as a JPEG; `None` without ffmpeg. The server calls it
/// with a presigned GET it made, the decoding child with the one it was given.
pub(super) async fn poster(ffmpeg: &str, url: &str) -> Result<Option<Vec<u8>>, JobError> {
    // A second in shows more than a black first frame; a shorter video gets its first.
    let mut jpeg = Vec::new();
    for at in ["1", "0"] {
        match frame(ffmpeg, &url, at).await {
            Ok(bytes) if !bytes.is_empty() => {
                jpeg = bytes;
                break;
            }
            Ok(_) => continue,
            Err(Missing) => return Ok(None),
            Err(Failed(why)) if at == "0" => return Err(judge(why)),
            Err(Failed(_)) => continue,
        }
    }
    if jpeg.is_empty() {
        return Err(JobError::Unreadable {
            what: "the video",
            why: "ffmpeg found no frame in it".into(),
        });
    }
    Ok(Some(jpeg))
}

/// ffmpeg says why it failed only in words: trouble reaching the store is worth another try,
/// anything else (a damaged or unsupported video) would fail the same way again.
fn judge(why: String) -> JobError {
    const TRANSIENT: [&str; 6] = [
        "Connection refused",
        "Connection reset",
        "timed out",
        "Server returned 5",
        "I/O error",
        "no frame after",
    ];
    if TRANSIENT.iter().any(|t| why.contains(t)) {
        JobError::Tool(why)
    } else {
        JobError::Unreadable {
            what: "the video",
            why: format!("ffmpeg: {why}"),
        }
    }
}

enum FrameError {
    Missing,
    Failed(String),
}
use FrameError::{Failed, Missing};

async fn frame(ffmpeg: &str, url: &str, at: &str) -> Result<Vec<u8>, FrameError> {
    let scale = format!("scale='min({SIDE},iw)':-2");
    let child = Command::new(ffmpeg)
        .args([
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-ss",
            at,
            "-i",
            url,
        ])
        .args([
            "-frames:v",
            "1",
            "-vf",
            &scale,
            "-f",
            "image2",
            "-c:v",
            "mjpeg",
            "pipe:1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Missing,
            _ => Failed(e.to_string()),
        })?;
    let out = tokio::time::timeout(TIME_LIMIT, child.wait_with_output())
        .await
        .map_err(|_| Failed(format!("no frame after {}s", TIME_LIMIT.as_secs())))?
        .map_err(|e| Failed(e.to_string()))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        // The URL's signature must not reach the logs or the page.
        let said = said.lines().last().unwrap_or("").replace(url, "<object>");
        return Err(Failed(format!("{} ({})", said.trim(), out.status)));
    }
    Ok(out.stdout)
}
