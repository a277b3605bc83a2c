//! A video's poster: one frame, scaled to thumbnail size, made by ffmpeg reading the object
//! through a presigned GET (it asks for the ranges it needs, not the whole file). Without
//! ffmpeg the job is skipped, not failed: the file is still ready.
//!
//! ffmpeg parses whatever a stranger uploaded, so it is fenced in: the demuxer is the one the
//! verified type names (no guessing, no playlist or concat formats that open other inputs),
//! only the protocols the presigned URL needs, small probe sizes, its threads, an empty
//! environment, and rlimits on memory, CPU time and file writes. Past the job's deadline it is
//! killed and the job fails for good.

use super::{
    ffmpeg::{demuxer, judge, protocols, tail},
    thumbnail::SIDE,
    thumbnail_key, Finished, JobError, ProcessingSettings,
};
use crate::{db::jobs::Findings, storage::s3::S3Store};
use std::{process::Stdio, time::Duration};
use tokio::{
    io::{AsyncRead, AsyncReadExt},
    process::Command,
};

/// A poster is a ≤ 320 px JPEG of a few KiB; ffmpeg writing more is not making one.
const MAX_JPEG: usize = 4 << 20;
/// Enough for the mov and matroska demuxers to find a video stream's parameters in any sane
/// file; the default (5 MB, 5 s) lets a crafted one make ffmpeg read and decode much more.
const PROBE_BYTES: &str = "1048576";
const ANALYZE_MICROSECONDS: &str = "2000000";

/// How an ffmpeg is fenced in, as the settings say; handed to the decoding child as it is.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fence {
    pub ffmpeg: String,
    pub threads: u32,
    pub memory: u64,
    pub time_limit_ms: u64,
}

impl Fence {
    pub fn of(settings: &ProcessingSettings) -> Self {
        Self {
            ffmpeg: settings.ffmpeg.clone(),
            threads: settings.ffmpeg_threads,
            memory: settings.ffmpeg_memory,
            time_limit_ms: u64::try_from(settings.ffmpeg_time_limit.as_millis())
                .unwrap_or(u64::MAX),
        }
    }

    fn time_limit(&self) -> Duration {
        Duration::from_millis(self.time_limit_ms)
    }
}

/// What came of asking ffmpeg for a poster.
pub(super) enum Poster {
    Jpeg(Vec<u8>),
    /// No poster is made (no ffmpeg, a type it is not given): the file is still ready.
    Skipped(String),
}

pub async fn run(
    store: &S3Store,
    object_key: &str,
    content_type: &str,
    settings: &ProcessingSettings,
) -> Result<Finished, JobError> {
    let fence = Fence::of(settings);
    if demuxer(&content_type.to_ascii_lowercase()).is_none() {
        return Ok(Finished::Skipped(format!(
            "no poster is made from {content_type}"
        )));
    }
    let url = store
        .presign_internal_get(object_key, fence.time_limit() + Duration::from_secs(60))
        .await?;
    let jpeg = match poster_of(&fence, content_type, &url).await? {
        Poster::Jpeg(jpeg) => jpeg,
        Poster::Skipped(why) => return Ok(Finished::Skipped(why)),
    };
    let key = thumbnail_key(object_key);
    store.put_small(&key, jpeg, "image/jpeg").await?;
    Ok(Finished::Found(Findings {
        thumbnail_key: Some(key),
        ..Findings::default()
    }))
}

/// One frame of the video at `url` (of the verified `content_type`) as a JPEG, by an ffmpeg
/// fenced as `fence` says and killed at its time limit. The server calls it with a presigned
/// GET it made; the decoding child with the one it was given.
pub(super) async fn poster_of(
    fence: &Fence,
    content_type: &str,
    url: &str,
) -> Result<Poster, JobError> {
    let Some(format) = demuxer(&content_type.to_ascii_lowercase()) else {
        return Ok(Poster::Skipped(format!(
            "no poster is made from {content_type}"
        )));
    };
    let Some(protocols) = protocols(url) else {
        return Err(JobError::Tool(
            "the store's URL is neither http nor https".into(),
        ));
    };
    let limit = fence.time_limit();
    let run = Run {
        ffmpeg: &fence.ffmpeg,
        url,
        format,
        protocols,
        threads: fence.threads.to_string(),
        limits: Limits::for_fence(fence),
    };
    match tokio::time::timeout(limit, run.poster()).await {
        Ok(Ok(Some(jpeg))) => Ok(Poster::Jpeg(jpeg)),
        Ok(Ok(None)) => Ok(Poster::Skipped(format!("{} is not installed", run.ffmpeg))),
        Ok(Err(e)) => Err(e),
        // The running ffmpeg was dropped with the future, and kill_on_drop killed it.
        Err(_) => Err(JobError::TooSlow {
            what: "ffmpeg",
            limit,
        }),
    }
}

/// The rlimits an ffmpeg runs under.
#[derive(Clone, Copy)]
struct Limits {
    memory: u64,
    cpu_seconds: u64,
}

impl Limits {
    fn for_fence(fence: &Fence) -> Self {
        // CPU time is a backstop for an ffmpeg the deadline did not end (its server died):
        // every thread busy for the whole deadline, and a second more.
        let seconds = fence.time_limit().as_secs().saturating_add(1);
        Self {
            memory: fence.memory,
            cpu_seconds: seconds.saturating_mul(u64::from(fence.threads)),
        }
    }
}

struct Run<'a> {
    ffmpeg: &'a str,
    url: &'a str,
    format: &'static str,
    protocols: &'static str,
    threads: String,
    limits: Limits,
}

enum FrameError {
    Missing,
    Failed(String),
}

impl Run<'_> {
    /// The poster's JPEG, or `None` when there is no ffmpeg.
    async fn poster(&self) -> Result<Option<Vec<u8>>, JobError> {
        // A second in shows more than a black first frame; a shorter video gets its first.
        for at in ["1", "0"] {
            match self.frame(at).await {
                Ok(bytes) if !bytes.is_empty() => return Ok(Some(bytes)),
                Ok(_) => continue,
                Err(FrameError::Missing) => return Ok(None),
                Err(FrameError::Failed(why)) if at == "0" => return Err(judge(why)),
                Err(FrameError::Failed(_)) => continue,
            }
        }
        Err(JobError::Unreadable {
            what: "the video",
            why: "ffmpeg found no frame in it".into(),
        })
    }

    fn command(&self, at: &str) -> Command {
        let scale = format!("scale='min({SIDE},iw)':-2");
        let mut command = Command::new(self.ffmpeg);
        command
            .args(["-nostdin", "-hide_banner", "-loglevel", "error"])
            .args(["-threads", &self.threads, "-filter_threads", &self.threads])
            .args(["-protocol_whitelist", self.protocols])
            .args([
                "-probesize",
                PROBE_BYTES,
                "-analyzeduration",
                ANALYZE_MICROSECONDS,
            ])
            .args(["-f", self.format, "-ss", at, "-i", self.url])
            .args(["-frames:v", "1", "-vf", &scale, "-threads", &self.threads])
            .args(["-f", "image2", "-c:v", "mjpeg", "pipe:1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        super::ffmpeg::limit(&mut command, self.limits.memory, self.limits.cpu_seconds, 0);
        command
    }

    async fn frame(&self, at: &str) -> Result<Vec<u8>, FrameError> {
        let mut child = self.command(at).spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => FrameError::Missing,
            _ => FrameError::Failed(e.to_string()),
        })?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(FrameError::Failed("ffmpeg's pipes were not opened".into()));
        };
        let failed = |e: std::io::Error| FrameError::Failed(e.to_string());
        // On an error the others are dropped, and `child` with them: kill_on_drop kills it.
        let (status, jpeg, said) = tokio::try_join!(
            async { child.wait().await.map_err(failed) },
            bounded(stdout),
            async { Ok::<_, FrameError>(tail(stderr).await) },
        )?;
        if !status.success() {
            let said = String::from_utf8_lossy(&said);
            // The URL's signature must not reach the logs or the page.
            let said = said
                .lines()
                .last()
                .unwrap_or("")
                .replace(self.url, "<object>");
            return Err(FrameError::Failed(format!("{} ({status})", said.trim())));
        }
        Ok(jpeg)
    }
}

/// All of `from`, unless it passes [`MAX_JPEG`].
async fn bounded(from: impl AsyncRead + Unpin) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::new();
    let read = from.take(MAX_JPEG as u64 + 1).read_to_end(&mut out).await;
    read.map_err(|e| FrameError::Failed(e.to_string()))?;
    if out.len() > MAX_JPEG {
        return Err(FrameError::Failed(format!(
            "ffmpeg wrote more than {MAX_JPEG} bytes for one frame"
        )));
    }
    Ok(out)
}
