//! What happens after an upload: a durable queue of jobs in the database (`db::jobs`), run by
//! workers inside the server or in `hoist worker`. Each job kind is a small module; each reads
//! the object from the store a range at a time, never the whole file at once, and each can run
//! twice with the same result (a worker that dies mid-job has its job run again).
//!
//! Decoding (images, containers, ffmpeg) runs by default in a child process per job
//! (`isolation`, `decode`); hashing parses nothing and stays in the worker.

mod boxes;
pub mod decode;
mod ffmpeg;
mod hash;
pub mod hls;
pub mod isolation;
mod media;
mod poster;
pub mod reader;
pub mod scan;
mod settings;
mod thumbnail;
pub mod worker;

pub use hls::TranscodeSettings;
pub use scan::{Clamd, ScanSettings};
pub use settings::{Isolation, ProcessingSettings};
pub use worker::Workers;

use crate::{db::DbError, model::ScanMode, storage::StorageError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// SHA-256 of the whole object.
    Hash,
    /// A small JPEG of an image, and its dimensions.
    Thumbnail,
    /// Duration, dimensions and codecs from an MP4/MOV/M4A container's boxes.
    Media,
    /// A frame of a video as its thumbnail, made by ffmpeg.
    Poster,
    /// A malware scan by ClamAV (`HOIST_SCAN`).
    Scan,
    /// A video's HLS ladder: its top rung, then the lower rungs queued.
    Hls,
    /// The ladder's 720p and 360p rungs, cut where its top is.
    Hls720,
    Hls360,
}

impl JobKind {
    pub const ALL: [Self; 8] = [
        Self::Hash,
        Self::Thumbnail,
        Self::Media,
        Self::Poster,
        Self::Scan,
        Self::Hls,
        Self::Hls720,
        Self::Hls360,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Hash => "hash",
            Self::Thumbnail => "thumbnail",
            Self::Media => "media",
            Self::Poster => "poster",
            Self::Scan => crate::db::jobs::SCAN,
            Self::Hls => hls::TOP,
            Self::Hls720 => "hls-720",
            Self::Hls360 => "hls-360",
        }
    }

    /// Whether the job writes a rendition of the ladder.
    pub const fn makes_rendition(self) -> bool {
        matches!(self, Self::Hls | Self::Hls720 | Self::Hls360)
    }

    /// The ladder's rung a lower-rung job makes.
    pub const fn rung(self) -> Option<u32> {
        match self {
            Self::Hls720 => Some(720),
            Self::Hls360 => Some(360),
            _ => None,
        }
    }

    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == word)
    }
}

/// The jobs a file of this (verified) type gets, in the order they are queued.
pub fn jobs_for(content_type: &str, scan: ScanMode, hls: bool) -> Vec<JobKind> {
    let t = content_type.to_ascii_lowercase();
    let mut jobs = vec![JobKind::Hash];
    // First after the hash: a file found infected early has nothing made from it.
    if scan.scans() {
        jobs.push(JobKind::Scan);
    }
    if thumbnail::can_read(&t) {
        jobs.push(JobKind::Thumbnail);
    }
    if media::can_read(&t) {
        jobs.push(JobKind::Media);
    }
    if t.starts_with("video/") {
        jobs.push(JobKind::Poster);
        if hls {
            jobs.push(JobKind::Hls);
        }
    }
    jobs
}

/// Where a file's thumbnail is kept: beside its object, so the key says whose it is.
pub fn thumbnail_key(object_key: &str) -> String {
    format!("{object_key}.thumbnail.jpg")
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("the store failed: {0}")]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Db(#[from] DbError),
    /// The bytes are not what their type says, or are damaged: trying again cannot help.
    #[error("{what} could not be read: {why}")]
    Unreadable { what: &'static str, why: String },
    /// Decoding would pass the limits (a decompression bomb, or simply too large).
    #[error("the image is too large to decode ({why})")]
    TooLarge { why: String },
    #[error("ffmpeg failed: {0}")]
    Tool(String),
    /// clamd could not be reached, or failed: trying again later may help.
    #[error("the scanner is not answering ({0})")]
    Scanner(String),
    /// The job passed its deadline: the same file would take as long again.
    #[error("{what} took longer than {}", humantime::format_duration(*.limit))]
    TooSlow {
        what: &'static str,
        limit: std::time::Duration,
    },
    #[error("the job's thread stopped: {0}")]
    Thread(String),
    /// The decoding child's own failure, in its words.
    #[error("{why}")]
    Decoded { why: String, permanent: bool },
    /// The decoding child ended without an answer (killed by the kernel or a limit, or
    /// crashed).
    #[error("the decoder died: {0}")]
    Died(isolation::Death),
    /// An ffmpeg or ffprobe got no further for this long (a file, or a store, that makes it
    /// hang) and was killed.
    #[error("{what} got no further for {}; it was stopped and the file is not tried again", humantime::format_duration(*.limit))]
    Stalled {
        what: &'static str,
        limit: std::time::Duration,
    },
    /// The file was deleted, or found infected, while the job ran: nothing more is made.
    #[error("the file was deleted, or found infected, while it was processed")]
    Gone,
    /// The decoding child did not answer in time and was killed.
    #[error("the decoder did not finish within {}; the file is not tried again", humantime::format_duration(*.0))]
    Deadline(std::time::Duration),
}

impl JobError {
    /// Failures that would fail the same way again: the file shows `failed` at once instead
    /// of after every retry.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Unreadable { .. }
            | Self::TooLarge { .. }
            | Self::TooSlow { .. }
            | Self::Stalled { .. }
            | Self::Gone
            | Self::Deadline(_) => true,
            Self::Decoded { permanent, .. } => *permanent,
            Self::Died(death) => death.is_permanent(),
            Self::Storage(_) | Self::Db(_) | Self::Tool(_) | Self::Scanner(_) | Self::Thread(_) => {
                false
            }
        }
    }

    /// The decoder died: killed by the kernel, crashed, or gone without an answer. One asked to
    /// stop (SIGTERM or SIGINT, as a supervisor stopping the whole service sends to every
    /// process of it) did not die of its job.
    pub fn died(&self) -> bool {
        match self {
            Self::Died(isolation::Death::Killed(signal)) => {
                *signal != libc::SIGTERM && *signal != libc::SIGINT
            }
            Self::Died(_) => true,
            _ => false,
        }
    }
}

/// What a job ended with when it did not fail.
#[derive(Debug)]
pub enum Finished {
    Found(crate::db::jobs::Findings),
    /// Nothing to do here (no ffmpeg, say): the file can still be ready.
    Skipped(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_type_gets_its_jobs() {
        use JobKind::*;
        let off = ScanMode::Off;
        assert_eq!(jobs_for("image/png", off, true), [Hash, Thumbnail]);
        assert_eq!(jobs_for("image/svg+xml", off, false), [Hash]);
        assert_eq!(jobs_for("video/mp4", off, false), [Hash, Media, Poster]);
        assert_eq!(jobs_for("video/mp4", off, true), [Hash, Media, Poster, Hls]);
        assert_eq!(jobs_for("video/webm", off, false), [Hash, Poster]);
        assert_eq!(jobs_for("audio/mp4", off, false), [Hash, Media]);
        assert_eq!(jobs_for("application/octet-stream", off, false), [Hash]);
        assert_eq!(
            jobs_for("image/svg+xml", ScanMode::BestEffort, false),
            [Hash, Scan]
        );
        assert_eq!(
            jobs_for("text/plain", ScanMode::Required, false),
            [Hash, Scan]
        );
        for kind in JobKind::ALL {
            assert_eq!(JobKind::parse(kind.as_str()), Some(kind));
        }
    }
}
