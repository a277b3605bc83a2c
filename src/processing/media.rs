//! Duration, dimensions and codecs of an MP4, MOV or M4A, from the container's boxes. The
//! decoder reads box headers and seeks past the media data, so only the headers and the
//! `moov` box are fetched, wherever in the file they are.

use super::{reader::ObjectReader, Finished, JobError};
use crate::{db::jobs::Findings, storage::s3::S3Store};
use mp4::{Mp4Reader, TrackType};
use std::io::BufReader;
use tokio::runtime::Handle;

/// Fetched from the store at a time: a box header and usually the whole `moov` in one go.
const WINDOW: usize = 256 << 10;

pub fn can_read(content_type: &str) -> bool {
    matches!(
        content_type,
        "video/mp4" | "video/quicktime" | "audio/mp4" | "audio/x-m4a" | "audio/m4a"
    )
}

pub async fn run(store: &S3Store, key: &str, size: u64) -> Result<Finished, JobError> {
    let reader = ObjectReader::new(store.clone(), key, size, WINDOW, Handle::current());
    let fetched = reader.fetched();
    let findings = tokio::task::spawn_blocking(move || read(reader, size))
        .await
        .map_err(|e| JobError::Thread(e.to_string()))??;
    let fetched = fetched.load(std::sync::atomic::Ordering::Relaxed);
    tracing::info!(key, size, fetched, "media: read the container's boxes");
    Ok(Finished::Found(findings))
}

fn read(reader: ObjectReader, size: u64) -> Result<Findings, JobError> {
    let media = Mp4Reader::read_header(BufReader::new(reader), size).map_err(|e| match e {
        mp4::Error::IoError(io) if io.kind() != std::io::ErrorKind::UnexpectedEof => {
            JobError::Storage(crate::storage::StorageError::Unreachable(io.to_string()))
        }
        other => JobError::Unreadable {
            what: "the media container",
            why: other.to_string(),
        },
    })?;
    let mut tracks: Vec<_> = media.tracks().values().collect();
    tracks.sort_by_key(|t| t.track_id());
    let video = tracks
        .iter()
        .find(|t| matches!(t.track_type(), Ok(TrackType::Video)));
    let codecs: Vec<String> = tracks
        .iter()
        .filter_map(|t| t.box_type().ok())
        .map(|fourcc| fourcc.to_string())
        .collect();
    let duration = media.duration();
    Ok(Findings {
        duration_ms: u64::try_from(duration.as_millis()).ok(),
        width: video.map(|t| u32::from(t.width())),
        height: video.map(|t| u32::from(t.height())),
        codecs: (!codecs.is_empty()).then(|| codecs.join(", ")),
        ..Findings::default()
    })
}
