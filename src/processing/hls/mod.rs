//! A video's HLS ladder: renditions at 1080p, 720p and 360p (never above the source; the
//! source's own height as the top rung when it is lower), H.264 + AAC in fMP4, one object per
//! rendition beside the file's object, segments of about four seconds addressed by byte
//! ranges, keyframes at the same instants in every rung.
//!
//! The `hls` job probes the source and makes the top rung: by copying the source's streams when
//! they already play in every browser (H.264 High/Main/Baseline 4:2:0 and AAC, keyframes at
//! most ten seconds apart) — published seconds after verification — else by encoding. It then
//! queues one job per lower rung (`hls-720`, `hls-360`), each cut where the top rung is cut.
//!
//! One object per rendition rather than one per segment: a two-hour film is three objects, not
//! 5,400; a rendition is written by one streamed multipart upload and deleted by one call;
//! players fetch segments by `Range`, which every S3-compatible store answers.

mod encode;
pub mod playlist;
mod probe;

pub use encode::Fence;

use super::{ffmpeg, Finished, JobError};
use crate::{
    clock::SharedClock,
    db::{self, jobs::Findings, renditions::Made, Pool},
    parse,
    storage::s3::S3Store,
};
use encode::{Encoding, Keyframes, Make};
use std::{path::PathBuf, time::Duration};

/// The rungs of the ladder, tallest first.
pub const RUNGS: [u32; 3] = [1080, 720, 360];
/// The longer side of the top rung's largest picture (16:9 at 1080 lines): a copied source
/// may be no larger either way.
const LONGEST_SIDE: u32 = 1920;
/// A remuxed top rung whose keyframes are further apart than this is encoded instead: its
/// segments would make seeking and switching slow.
const LONGEST_COPIED_SEGMENT: f64 = 10.0;

#[derive(clap::Args, Clone, Debug)]
pub struct TranscodeSettings {
    /// Whether verified videos get an HLS ladder (`on`) or play only as uploaded (`off`).
    #[arg(id = "hls", long = "hls", env = "HOIST_HLS", default_value = "on", value_parser = parse::boolean)]
    pub enabled: bool,
    /// Videos longer than this are not transcoded: they play as uploaded, and say why.
    #[arg(id = "transcode-max-duration", long = "transcode-max-duration", env = "HOIST_TRANSCODE_MAX_DURATION", default_value = "4h", value_parser = parse::duration)]
    pub max_duration: Duration,
    /// Videos with a side longer than this many pixels are not transcoded.
    #[arg(id = "transcode-max-side", long = "transcode-max-side", env = "HOIST_TRANSCODE_MAX_SIDE", default_value = "4096", value_parser = parse::number_in(64..=16_384u32))]
    pub max_side: u32,
    /// Threads each transcoding ffmpeg encodes with.
    #[arg(id = "transcode-threads", long = "transcode-threads", env = "HOIST_TRANSCODE_THREADS", default_value = "2", value_parser = parse::number_in(1..=64u32))]
    pub threads: u32,
    /// The temporary disk one transcode may fill (its rendition, before it goes to the store).
    #[arg(id = "transcode-disk", long = "transcode-disk", env = "HOIST_TRANSCODE_DISK", default_value = "8GiB", value_parser = parse::size)]
    pub disk: u64,
    /// Where renditions are written before they go to the store: a folder per job, removed
    /// after it. Default: the system's temporary folder.
    #[arg(
        id = "transcode-dir",
        long = "transcode-dir",
        env = "HOIST_TRANSCODE_DIR"
    )]
    pub dir: Option<PathBuf>,
    /// The address space a transcoding ffmpeg may map.
    #[arg(id = "transcode-memory", long = "transcode-memory", env = "HOIST_TRANSCODE_MEMORY", default_value = "3GiB", value_parser = parse::size)]
    pub memory: u64,
    /// One rendition's time; past it ffmpeg is killed and the job fails for good.
    #[arg(id = "transcode-time-limit", long = "transcode-time-limit", env = "HOIST_TRANSCODE_TIME_LIMIT", default_value = "4h", value_parser = parse::duration)]
    pub time_limit: Duration,
    /// An ffmpeg whose output has not moved on for this long is killed (a file that makes it
    /// hang), and the job fails for good.
    #[arg(id = "transcode-stall", long = "transcode-stall", env = "HOIST_TRANSCODE_STALL", default_value = "60s", value_parser = parse::duration)]
    pub stall: Duration,
}

/// The job kinds of the ladder.
pub const TOP: &str = "hls";

/// The job kind of a lower rung.
pub fn rung_kind(height: u32) -> Option<&'static str> {
    super::JobKind::ALL
        .into_iter()
        .find(|k| k.rung() == Some(height))
        .map(super::JobKind::as_str)
}

/// The top rung for a source whose shorter side (as shown) is `source_lines`, and the rungs
/// below it. A rung is named by the shorter side, as people name them: a phone's portrait
/// 1080 × 1920 is 1080p.
pub fn ladder(source_lines: u32) -> (u32, Vec<u32>) {
    // An even size: H.264 in 4:2:0 needs one.
    let top = source_lines.min(RUNGS[0]) & !1;
    let lower = RUNGS.into_iter().filter(|r| *r < top).collect();
    (top, lower)
}

/// Whether the source's own streams play in every browser as they are.
fn plays_as_is(source: &probe::Source) -> bool {
    let Some(video) = &source.video else {
        return false;
    };
    // A picture the display matrix turns is encoded upright: WebKit's HLS ignores the matrix
    // (the video would play on its side), and every rung must agree on one orientation.
    let (short, long) = (video.width.min(video.height), video.width.max(video.height));
    let profile_ok = matches!(
        video.profile.as_str(),
        "High" | "Main" | "Baseline" | "Constrained Baseline"
    );
    let audio_ok = source
        .audio
        .as_ref()
        .is_none_or(|a| a.codec == "aac" && matches!(a.profile.as_str(), "LC" | ""));
    video.codec == "h264"
        && profile_ok
        && matches!(video.pix_fmt.as_str(), "yuv420p" | "yuvj420p")
        && video.rotation == 0
        && short <= RUNGS[0]
        && long <= LONGEST_SIDE
        && audio_ok
}

/// RFC 6381 codecs of an H.264 stream as ffprobe names its profile and level.
fn avc1(profile: &str, level: i64) -> String {
    let (idc, constraints) = match profile {
        "Constrained Baseline" => (0x42, 0xC0),
        "Baseline" => (0x42, 0x00),
        "Main" => (0x4D, 0x40),
        _ => (0x64, 0x00),
    };
    format!("avc1.{idc:02X}{constraints:02X}{:02X}", level.clamp(0, 255))
}

/// Everything a ladder job needs.
pub struct Ladder<'a> {
    pub store: &'a S3Store,
    pub db: &'a Pool,
    pub clock: &'a SharedClock,
    pub settings: &'a TranscodeSettings,
    pub ffmpeg: &'a str,
    pub upload_id: &'a str,
    pub object_key: &'a str,
    pub content_type: &'a str,
}

/// The key of a rendition: beside the file's object, so the key says whose it is.
pub fn rendition_key(object_key: &str, height: u32) -> String {
    format!("{object_key}.hls/{height}.mp4")
}

/// A folder of the job's own, removed with everything in it when dropped.
struct Scratch(PathBuf);

const SCRATCH_PREFIX: &str = "hoist-transcode-";

/// Removes the folders of transcodes whose process died without removing its own (killed):
/// those older than a transcode may last, so that no running job's folder goes. Run once
/// when workers start; returns how many went.
pub fn sweep_scratch(settings: &TranscodeSettings) -> usize {
    let root = settings.dir.clone().unwrap_or_else(std::env::temp_dir);
    let Ok(entries) = std::fs::read_dir(&root) else {
        return 0;
    };
    let old = settings.time_limit + Duration::from_secs(3600);
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(SCRATCH_PREFIX))
        .filter(|e| {
            e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|at| at.elapsed().ok())
                .is_some_and(|age| age > old)
        })
        .filter(|e| std::fs::remove_dir_all(e.path()).is_ok())
        .count()
}

impl Scratch {
    fn new(root: Option<&PathBuf>) -> Result<Self, JobError> {
        let root = root.cloned().unwrap_or_else(std::env::temp_dir);
        let dir = root.join(format!("{SCRATCH_PREFIX}{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| JobError::Tool(format!("{}: {e}", dir.display())))?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Ladder<'_> {
    fn fence(&self) -> Fence {
        Fence {
            ffmpeg: self.ffmpeg.to_string(),
            threads: self.settings.threads,
            memory: self.settings.memory,
            disk: self.settings.disk,
            stall: self.settings.stall,
            limit: self.settings.time_limit,
        }
    }

    async fn source_url(&self) -> Result<String, JobError> {
        let ttl = self.settings.time_limit + Duration::from_secs(300);
        Ok(self
            .store
            .presign_internal_get(self.object_key, ttl)
            .await?)
    }

    /// The `hls` job: probe, the top rung, and the lower rungs queued.
    pub async fn top(&self, progress: impl FnMut(u8)) -> Result<Finished, JobError> {
        let Some(format) = ffmpeg::demuxer(&self.content_type.to_ascii_lowercase()) else {
            return Ok(Finished::Skipped(format!(
                "no ladder is made from {}",
                self.content_type
            )));
        };
        // A run after one that published the top rung (and died before it was recorded) does
        // not make it again under players already fetching it.
        let rows = db::renditions::of_upload(self.db, self.upload_id).await?;
        if let Some(top) = rows.iter().find(|r| r.playlist.is_some()) {
            let (_, lower) = ladder(u32::try_from(top.height).unwrap_or(0));
            return Ok(Finished::Found(Findings {
                follow_up: lower.into_iter().filter_map(rung_kind).collect(),
                ..Findings::default()
            }));
        }
        let url = self.source_url().await?;
        let probe = probe::Probe {
            ffprobe: &ffprobe_beside(self.ffmpeg),
            url: &url,
            format,
            memory: self.settings.memory,
            // Probing reads a few MiB at most: all of it is the wait for getting further.
            limit: self.settings.stall,
        };
        let source = match probe.run().await {
            Err(JobError::Tool(why)) if why.ends_with("is not installed") => {
                return Ok(Finished::Skipped(why))
            }
            other => other?,
        };
        let Some(video) = source.video.clone() else {
            return Err(JobError::Unreadable {
                what: "the video",
                why: "it holds no video stream".into(),
            });
        };
        if video.width == 0 || video.height == 0 {
            return Err(JobError::Unreadable {
                what: "the video",
                why: "its picture has no size".into(),
            });
        }
        let limit = self.settings.max_side;
        if video.width > limit || video.height > limit {
            return Ok(Finished::Skipped(format!(
                "{} × {} is larger than the {limit} pixels a side this server transcodes; it plays as uploaded",
                video.width, video.height
            )));
        }
        if source.seconds > self.settings.max_duration.as_secs_f64() {
            return Ok(Finished::Skipped(format!(
                "it is longer than the {} this server transcodes; it plays as uploaded",
                humantime::format_duration(self.settings.max_duration)
            )));
        }
        let (shown_width, shown_height) = video.shown();
        let (top, lower) = ladder(shown_width.min(shown_height));
        if top < 2 {
            return Ok(Finished::Skipped(format!(
                "{} × {} is too small a picture for a ladder; it plays as uploaded",
                video.width, video.height
            )));
        }
        let encoding = Encoding {
            fence: &self.fence(),
            url: &url,
            format,
            seconds: source.seconds,
        };
        let copy_audio = source.audio.as_ref().is_some_and(|a| a.codec == "aac");
        let mut progress = progress;
        let made = if plays_as_is(&source) {
            let scratch = Scratch::new(self.settings.dir.as_ref())?;
            let written = encoding
                .make(&Make::Remux, &scratch.0, &mut progress)
                .await?;
            if playlist::longest(&written) <= LONGEST_COPIED_SEGMENT {
                let codecs = self.codecs(avc1(&video.profile, video.level), &source);
                Some(
                    self.store_rendition(
                        &scratch,
                        top,
                        (video.width, video.height),
                        written,
                        codecs,
                        true,
                    )
                    .await?,
                )
            } else {
                None
            }
        } else {
            None
        };
        if made.is_none() {
            let scratch = Scratch::new(self.settings.dir.as_ref())?;
            let make = Make::Encode {
                height: top,
                keyframes: Keyframes::Regular,
                copy_audio,
            };
            let written = encoding.make(&make, &scratch.0, &mut progress).await?;
            let codecs = self.codecs(avc1("High", 40), &source);
            let size = picture(shown_width, shown_height, top);
            self.store_rendition(&scratch, top, size, written, codecs, false)
                .await?;
        }
        Ok(Finished::Found(Findings {
            follow_up: lower.into_iter().filter_map(rung_kind).collect(),
            ..Findings::default()
        }))
    }

    /// A lower rung's job: encoded at `height`, cut where the published top rung is cut.
    pub async fn rung(&self, height: u32, progress: impl FnMut(u8)) -> Result<Finished, JobError> {
        let Some(format) = ffmpeg::demuxer(&self.content_type.to_ascii_lowercase()) else {
            return Ok(Finished::Skipped(format!(
                "no ladder is made from {}",
                self.content_type
            )));
        };
        let rows = db::renditions::of_upload(self.db, self.upload_id).await?;
        if rows
            .iter()
            .any(|r| r.height == i64::from(height) && r.playlist.is_some())
        {
            return Ok(Finished::Found(Findings::default()));
        }
        let Some(top) = rows.iter().find(|r| r.playlist.is_some()) else {
            return Ok(Finished::Skipped("the ladder has no top rung".into()));
        };
        let playlist = top.playlist.clone().unwrap_or_default();
        let seconds: f64 = playlist::segments(&playlist)
            .iter()
            .map(|s| s.seconds)
            .sum();
        let url = self.source_url().await?;
        let encoding = Encoding {
            fence: &self.fence(),
            url: &url,
            format,
            seconds,
        };
        let make = Make::Encode {
            height,
            keyframes: Keyframes::At(playlist::boundaries(&playlist)),
            // The source's audio may not be AAC (the top rung's is, once encoded): encoding
            // it again is cheap beside the picture.
            copy_audio: false,
        };
        let scratch = Scratch::new(self.settings.dir.as_ref())?;
        let written = encoding.make(&make, &scratch.0, progress).await?;
        let size = picture(
            u32::try_from(top.width).unwrap_or(0),
            u32::try_from(top.picture_height()).unwrap_or(0),
            height,
        );
        let codecs = if top.codecs.contains("mp4a") {
            format!("{},mp4a.40.2", avc1("High", 31))
        } else {
            avc1("High", 31)
        };
        self.store_rendition(&scratch, height, size, written, codecs, false)
            .await?;
        Ok(Finished::Found(Findings::default()))
    }

    fn codecs(&self, video: String, source: &probe::Source) -> String {
        match source.audio {
            Some(_) => format!("{video},mp4a.40.2"),
            None => video,
        }
    }

    /// Names the rendition, streams its file to the store, and publishes it.
    async fn store_rendition(
        &self,
        scratch: &Scratch,
        height: u32,
        (width, picture_height): (u32, u32),
        written: String,
        codecs: String,
        remuxed: bool,
    ) -> Result<Made, JobError> {
        let key = rendition_key(self.object_key, height);
        let now = self.clock.now_ms();
        if !db::renditions::reserve(self.db, self.upload_id, height, &key, now).await? {
            return Err(JobError::Gone);
        }
        let path = scratch.0.join(playlist::FILE_NAME);
        self.store.put_file(&key, &path, "video/mp4").await?;
        let made = Made {
            height,
            width,
            picture_height,
            object_key: key.clone(),
            bandwidth: playlist::peak_bandwidth(&written),
            playlist: written,
            codecs,
            remuxed,
        };
        if !db::renditions::publish(self.db, self.upload_id, &made, self.clock.now_ms()).await? {
            db::outbox::doom_alone(self.db, &key, self.clock.now_ms()).await?;
        }
        Ok(made)
    }
}

/// The size of the `rung` rendition of a picture shown `width` × `height`: its shorter side
/// `rung` lines, the other what ffmpeg's `scale` makes of `-2` (rounded to the nearest even).
fn picture(width: u32, height: u32, rung: u32) -> (u32, u32) {
    let other = |long: u32, short: u32| {
        let (long, short, rung) = (u64::from(long), u64::from(short.max(1)), u64::from(rung));
        u32::try_from((rung * long + short) / (2 * short) * 2)
            .unwrap_or(u32::MAX)
            .max(2)
    };
    if width >= height {
        (other(width, height), rung)
    } else {
        (rung, other(height, width))
    }
}

/// The ffprobe installed beside `ffmpeg` (the same folder, or `PATH`).
fn ffprobe_beside(ffmpeg: &str) -> String {
    match ffmpeg.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/ffprobe"),
        None => "ffprobe".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ladder_never_climbs_above_the_source() {
        assert_eq!(ladder(2160), (1080, vec![720, 360]));
        assert_eq!(ladder(1080), (1080, vec![720, 360]));
        assert_eq!(ladder(480), (480, vec![360]));
        assert_eq!(ladder(241), (240, vec![]));
        assert_eq!(rung_kind(720), Some("hls-720"));
        assert_eq!(rung_kind(1080), None);
        assert_eq!(picture(1920, 1080, 360), (640, 360));
        assert_eq!(picture(854, 480, 360), (640, 360));
        assert_eq!(picture(1080, 1920, 720), (720, 1280));
        assert_eq!(picture(720, 1280, 360), (360, 640));
        assert_eq!(picture(500, 500, 360), (360, 360));
        assert_eq!(avc1("High", 40), "avc1.640028");
        assert_eq!(avc1("Constrained Baseline", 30), "avc1.42C01E");
    }
}
