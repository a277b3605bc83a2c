//! What a video is, as ffprobe reads it through the presigned GET: its first video and audio
//! streams and its duration. ffprobe is fenced in as ffmpeg is (the demuxer of the verified
//! type, the URL's protocols only, bounded probing, rlimits, an empty environment) and its
//! output is read to a bound.

use super::super::{ffmpeg, JobError};
use serde::Deserialize;
use std::{process::Stdio, time::Duration};
use tokio::{io::AsyncReadExt, process::Command};

/// ffprobe's JSON for one file is a few KiB; more is not ffprobe answering.
const MAX_OUTPUT: u64 = 256 << 10;
const PROBE_BYTES: &str = "5000000";
const ANALYZE_MICROSECONDS: &str = "5000000";

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Source {
    pub video: Option<Video>,
    pub audio: Option<Audio>,
    pub seconds: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Video {
    pub codec: String,
    pub profile: String,
    /// `level` as ffprobe gives it for H.264 (40 for 4.0).
    pub level: i64,
    /// The stored picture's size, before the display matrix turns it.
    pub width: u32,
    pub height: u32,
    pub pix_fmt: String,
    /// Degrees the display matrix turns the picture by (a phone held upright records a
    /// landscape picture turned by 90), 0 when it has none.
    pub rotation: i32,
}

impl Video {
    /// The picture as people see it: width and height swapped when it is shown turned a
    /// quarter.
    pub fn shown(&self) -> (u32, u32) {
        // ffprobe cuts the matrix's angle to whole degrees where ffmpeg rounds it: a hostile
        // 89.7 reads as 89 here and turns a quarter there.
        if (self.rotation.rem_euclid(180) - 90).abs() <= 1 {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Audio {
    pub codec: String,
    pub profile: String,
}

#[derive(Deserialize)]
struct Probed {
    #[serde(default)]
    streams: Vec<Stream>,
    format: Option<Format>,
}

#[derive(Deserialize)]
struct Stream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    profile: Option<String>,
    level: Option<i64>,
    width: Option<u32>,
    height: Option<u32>,
    pix_fmt: Option<String>,
    #[serde(default)]
    side_data_list: Vec<SideData>,
}

#[derive(Deserialize)]
struct SideData {
    rotation: Option<f64>,
}

#[derive(Deserialize)]
struct Format {
    duration: Option<String>,
}

/// Reads ffprobe's JSON into a [`Source`].
pub fn parse(json: &[u8]) -> Result<Source, JobError> {
    let probed: Probed = serde_json::from_slice(json).map_err(|e| JobError::Unreadable {
        what: "the video",
        why: format!("ffprobe's answer could not be read: {e}"),
    })?;
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    let video = probed
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("video"))
        .map(|s| Video {
            codec: text(&s.codec_name),
            profile: text(&s.profile),
            level: s.level.unwrap_or(0),
            width: s.width.unwrap_or(0),
            height: s.height.unwrap_or(0),
            pix_fmt: text(&s.pix_fmt),
            rotation: s
                .side_data_list
                .iter()
                .find_map(|d| d.rotation)
                .filter(|r| r.is_finite())
                .map_or(0, |r| (r.round() as i64).rem_euclid(360) as i32),
        });
    let audio = probed
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("audio"))
        .map(|s| Audio {
            codec: text(&s.codec_name),
            profile: text(&s.profile),
        });
    let seconds = probed
        .format
        .and_then(|f| f.duration)
        .and_then(|d| d.parse::<f64>().ok())
        .filter(|d| d.is_finite() && *d >= 0.0)
        .unwrap_or(0.0);
    Ok(Source {
        video,
        audio,
        seconds,
    })
}

/// How one ffprobe runs.
pub struct Probe<'a> {
    pub ffprobe: &'a str,
    pub url: &'a str,
    pub format: &'static str,
    pub memory: u64,
    pub limit: Duration,
}

impl Probe<'_> {
    pub async fn run(&self) -> Result<Source, JobError> {
        let Some(protocols) = ffmpeg::protocols(self.url) else {
            return Err(JobError::Tool(
                "the store's URL is neither http nor https".into(),
            ));
        };
        let mut command = Command::new(self.ffprobe);
        command
            .args(["-v", "error", "-protocol_whitelist", protocols])
            .args([
                "-probesize",
                PROBE_BYTES,
                "-analyzeduration",
                ANALYZE_MICROSECONDS,
            ])
            .args(["-f", self.format])
            .args([
                "-show_entries",
                "stream=codec_type,codec_name,profile,level,width,height,pix_fmt\
                 :stream_side_data=rotation:format=duration",
            ])
            .args(["-of", "json", self.url])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let cpu = self.limit.as_secs().saturating_add(1);
        ffmpeg::limit(&mut command, self.memory, cpu, 0);
        let run = async {
            let mut child = command.spawn().map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    JobError::Tool(format!("{} is not installed", self.ffprobe))
                }
                _ => JobError::Tool(e.to_string()),
            })?;
            let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
                return Err(JobError::Tool("ffprobe's pipes were not opened".into()));
            };
            let mut json = Vec::new();
            let mut stdout = stdout.take(MAX_OUTPUT);
            let (status, read, said) = tokio::join!(
                child.wait(),
                stdout.read_to_end(&mut json),
                ffmpeg::tail(stderr),
            );
            let status = status.map_err(|e| JobError::Tool(e.to_string()))?;
            read.map_err(|e| JobError::Tool(e.to_string()))?;
            if !status.success() {
                return Err(ffmpeg::failed(&said, status, self.url));
            }
            parse(&json)
        };
        match tokio::time::timeout(self.limit, run).await {
            Ok(result) => result,
            Err(_) => Err(JobError::Stalled {
                what: "ffprobe",
                limit: self.limit,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ffprobe_json_becomes_a_source() {
        let json = br#"{"programs": [], "streams": [
            {"codec_name": "h264", "profile": "High", "codec_type": "video", "width": 1920,
             "height": 1080, "pix_fmt": "yuv420p", "level": 40},
            {"codec_name": "aac", "profile": "LC", "codec_type": "audio"}],
            "format": {"duration": "60.024000"}}"#;
        let source = parse(json).unwrap();
        let video = source.video.unwrap();
        assert_eq!(
            (video.codec.as_str(), video.height, video.level),
            ("h264", 1080, 40)
        );
        assert_eq!((video.rotation, video.shown()), (0, (1920, 1080)));
        assert_eq!(source.audio.unwrap().codec, "aac");
        let turned = parse(
            br#"{"streams": [{"codec_type": "video", "width": 1920, "height": 1080,
                "side_data_list": [{"side_data_type": "Display Matrix", "rotation": -90}]}]}"#,
        )
        .unwrap()
        .video
        .unwrap();
        assert_eq!((turned.rotation, turned.shown()), (270, (1080, 1920)));
        let nearly = Video {
            rotation: 271,
            ..turned.clone()
        };
        assert_eq!(nearly.shown(), (1080, 1920));
        let slanted = Video {
            rotation: 45,
            ..turned
        };
        assert_eq!(slanted.shown(), (1920, 1080));
        assert!((source.seconds - 60.024).abs() < 1e-9);
        let silent = parse(br#"{"streams": [], "format": {"duration": "N/A"}}"#).unwrap();
        assert_eq!((silent.video, silent.seconds), (None, 0.0));
        assert!(parse(b"not json").is_err());
    }
}
