//! One rendition made by one ffmpeg: the source read through its presigned GET (ranged
//! requests; never a copy on our disk), the rendition written as one fMP4 file and its media
//! playlist into a folder of the job's own. ffmpeg reports how far it has got on a pipe
//! (`-progress`); one that stops getting further is killed, and so is one past the job's time.

use super::{
    super::{ffmpeg, JobError},
    playlist::{FILE_NAME, PLAYLIST_NAME},
};
use std::{
    os::unix::process::ExitStatusExt,
    path::Path,
    process::Stdio,
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};

/// Segments of about this many seconds (the issue's ~4 s): short enough to switch rungs and
/// seek quickly, long enough that a 2-hour film is 1,800 byte ranges.
pub const SEGMENT_SECONDS: f64 = 4.0;

/// What to make.
#[derive(Clone, Debug, PartialEq)]
pub enum Make {
    /// The source's own video and AAC audio, copied: no encoding at all (the fast path).
    Remux,
    /// H.264 at this height, with keyframes where the other rungs have them.
    Encode {
        height: u32,
        keyframes: Keyframes,
        /// The source's audio is AAC already: copied, not encoded again.
        copy_audio: bool,
    },
}

/// Where an encoded rung's keyframes go (and so its segments' edges).
#[derive(Clone, Debug, PartialEq)]
pub enum Keyframes {
    /// Every [`SEGMENT_SECONDS`]: the ladder's top when it is encoded.
    Regular,
    /// At these times (seconds): the edges of the top rung's segments, so every rung switches
    /// at the same instants.
    At(Vec<f64>),
}

/// The peak bit rate each rung is held to (x264's VBV), by height.
fn max_rate(height: u32) -> u32 {
    match height {
        0..=400 => 900_000,
        401..=576 => 1_600_000,
        577..=800 => 3_000_000,
        _ => 5_500_000,
    }
}

/// How the job's ffmpeg is fenced in.
#[derive(Clone, Debug)]
pub struct Fence {
    pub ffmpeg: String,
    pub threads: u32,
    pub memory: u64,
    /// The largest file it may write (its rendition): the job's temporary disk.
    pub disk: u64,
    /// Killed when its output has not moved on for this long.
    pub stall: Duration,
    /// Killed past this, whatever it is doing.
    pub limit: Duration,
}

pub struct Encoding<'a> {
    pub fence: &'a Fence,
    pub url: &'a str,
    pub format: &'static str,
    /// The source's duration, to turn ffmpeg's position into a percentage.
    pub seconds: f64,
}

impl Encoding<'_> {
    fn command(&self, make: &Make, dir: &Path) -> Result<Command, JobError> {
        let Some(protocols) = ffmpeg::protocols(self.url) else {
            return Err(JobError::Tool(
                "the store's URL is neither http nor https".into(),
            ));
        };
        let threads = self.fence.threads.to_string();
        let mut command = Command::new(&self.fence.ffmpeg);
        command
            .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-nostats"])
            .args(["-progress", "pipe:1"])
            .args(["-protocol_whitelist", protocols])
            // Before the input: the decoder's threads too, not only the encoder's.
            .args(["-threads", &threads])
            .args(["-f", self.format, "-i", self.url])
            .args(["-map", "0:v:0", "-map", "0:a:0?", "-sn", "-dn"])
            .args(["-threads", &threads, "-filter_threads", &threads]);
        let cut_every = match make {
            Make::Remux => {
                command.args(["-c", "copy"]);
                SEGMENT_SECONDS
            }
            Make::Encode {
                height,
                keyframes,
                copy_audio,
            } => {
                let rate = max_rate(*height);
                let forced = match keyframes {
                    Keyframes::Regular => format!("expr:gte(t,n_forced*{SEGMENT_SECONDS})"),
                    Keyframes::At(times) if times.is_empty() => "0".to_string(),
                    Keyframes::At(times) => times
                        .iter()
                        .map(|t| format!("{t:.6}"))
                        .collect::<Vec<_>>()
                        .join(","),
                };
                command
                    // `height` lines on the picture's shorter side, as it is shown: ffmpeg
                    // turns a picture its display matrix turns before the filter sees it.
                    .args([
                        "-vf",
                        &format!(
                            "scale=w='if(gte(iw,ih),-2,{height})':h='if(gte(iw,ih),{height},-2)'\
                             :flags=bicubic"
                        ),
                    ])
                    .args([
                        "-c:v",
                        "libx264",
                        "-preset",
                        "veryfast",
                        "-profile:v",
                        "high",
                    ])
                    .args(["-pix_fmt", "yuv420p", "-crf", "23"])
                    .args([
                        "-maxrate",
                        &rate.to_string(),
                        "-bufsize",
                        &(2 * rate).to_string(),
                    ])
                    // Keyframes only where forced: every rung cuts at the same instants.
                    .args([
                        "-x264-params",
                        "scenecut=0:open-gop=0:keyint=100000:min-keyint=1",
                    ])
                    .args(["-force_key_frames", &forced]);
                if *copy_audio {
                    command.args(["-c:a", "copy"]);
                } else {
                    command.args(["-c:a", "aac", "-b:a", "128k", "-ac", "2"]);
                }
                // Every keyframe is an edge already; a shorter target makes the muxer cut at
                // each of them instead of rounding a 3.9999 s segment into the next.
                1.0
            }
        };
        command
            .args([
                "-f",
                "hls",
                "-hls_segment_type",
                "fmp4",
                "-hls_flags",
                "single_file",
            ])
            .args([
                "-hls_time",
                &cut_every.to_string(),
                "-hls_playlist_type",
                "vod",
            ])
            .arg("-hls_segment_filename")
            .arg(dir.join(FILE_NAME))
            .arg(dir.join(PLAYLIST_NAME))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let cpu = self
            .fence
            .limit
            .as_secs()
            .saturating_add(1)
            .saturating_mul(u64::from(self.fence.threads));
        ffmpeg::limit(&mut command, self.fence.memory, cpu, self.fence.disk);
        Ok(command)
    }

    /// Makes the rendition in `dir`, calling `progress` with 0–99 as ffmpeg moves on, and
    /// returns the media playlist ffmpeg wrote.
    pub async fn make(
        &self,
        make: &Make,
        dir: &Path,
        mut progress: impl FnMut(u8),
    ) -> Result<String, JobError> {
        let mut child = self
            .command(make, dir)?
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    JobError::Tool(format!("{} is not installed", self.fence.ffmpeg))
                }
                _ => JobError::Tool(e.to_string()),
            })?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(JobError::Tool("ffmpeg's pipes were not opened".into()));
        };
        let said = tokio::spawn(ffmpeg::tail(stderr));
        let mut lines = BufReader::new(stdout).lines();
        let started = Instant::now();
        let mut moved = Instant::now();
        let mut at_us: i64 = -1;
        loop {
            let left = self.fence.limit.saturating_sub(started.elapsed());
            let wait = self.fence.stall.saturating_sub(moved.elapsed()).min(left);
            let line = match tokio::time::timeout(wait, lines.next_line()).await {
                Ok(Ok(Some(line))) => line,
                Ok(Ok(None)) => break,
                Ok(Err(e)) => return Err(JobError::Tool(e.to_string())),
                // kill_on_drop ends ffmpeg with `child`.
                Err(_) if left.is_zero() || wait == left => {
                    return Err(JobError::TooSlow {
                        what: "the transcode",
                        limit: self.fence.limit,
                    })
                }
                Err(_) => {
                    return Err(JobError::Stalled {
                        what: "ffmpeg",
                        limit: self.fence.stall,
                    })
                }
            };
            let Some(value) = line.strip_prefix("out_time_us=") else {
                continue;
            };
            let Ok(now_us) = value.trim().parse::<i64>() else {
                continue;
            };
            if now_us > at_us {
                at_us = now_us;
                moved = Instant::now();
                if self.seconds > 0.0 {
                    let share = now_us as f64 / 1e6 / self.seconds * 100.0;
                    progress(share.clamp(0.0, 99.0) as u8);
                }
            }
        }
        let status = child
            .wait()
            .await
            .map_err(|e| JobError::Tool(e.to_string()))?;
        let said = said.await.unwrap_or_default();
        if status.signal() == Some(libc::SIGXFSZ) {
            return Err(JobError::Decoded {
                why: format!(
                    "the rendition would pass the job's {} of temporary disk",
                    crate::format::bytes_short(self.fence.disk)
                ),
                permanent: true,
            });
        }
        if !status.success() {
            return Err(ffmpeg::failed(&said, status, self.url));
        }
        let playlist = tokio::fs::read_to_string(dir.join(PLAYLIST_NAME))
            .await
            .map_err(|e| JobError::Tool(format!("ffmpeg wrote no playlist: {e}")))?;
        Ok(playlist)
    }
}
