//! Duration, dimensions and codecs of an MP4, MOV or M4A, from the container's boxes. The
//! decoder reads box headers and seeks past the media data, so only the headers and the
//! `moov` box are fetched, wherever in the file they are.

use super::{reader::ObjectReader, Finished, JobError};
use crate::{db::jobs::Findings, storage::s3::S3Store};
use mp4::{Mp4Reader, TrackType};
use std::io::BufReader;
use tokio::runtime::Handle;

/// Fetched from the store at a time: a box header and usually the whole `moov` in one go.
pub(super) const WINDOW: usize = 256 << 10;
/// The decoder parses the `moov` box in memory; a real one is a few MiB even for hours of
/// video, a crafted one could claim the whole file.
const MAX_MOOV: u64 = 64 << 20;

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

/// The size of the top-level `moov` box, read from box headers alone (seeking past the others).
fn moov_size(reader: &mut BufReader<ObjectReader>, size: u64) -> std::io::Result<Option<u64>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut at = 0u64;
    while at + 8 <= size {
        reader.seek(SeekFrom::Start(at))?;
        let mut header = [0u8; 16];
        reader.read_exact(&mut header[..8])?;
        let mut len = u64::from(u32::from_be_bytes([
            header[0], header[1], header[2], header[3],
        ]));
        if len == 1 {
            reader.read_exact(&mut header[8..16])?;
            len = u64::from_be_bytes([
                header[8], header[9], header[10], header[11], header[12], header[13], header[14],
                header[15],
            ]);
        } else if len == 0 {
            len = size - at;
        }
        if &header[4..8] == b"moov" {
            return Ok(Some(len));
        }
        if len < 8 {
            return Ok(None);
        }
        at = at.saturating_add(len);
    }
    Ok(None)
}

pub(super) fn read(reader: ObjectReader, size: u64) -> Result<Findings, JobError> {
    let mut reader = BufReader::new(reader);
    let unreadable = |why: String| JobError::Unreadable {
        what: "the media container",
        why,
    };
    match moov_size(&mut reader, size) {
        Ok(Some(len)) if len > MAX_MOOV => {
            return Err(unreadable(format!("its moov box claims {len} bytes")))
        }
        Ok(Some(_)) => {}
        Ok(None) => return Err(unreadable("it has no moov box".into())),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(unreadable("it ends inside a box header".into()))
        }
        Err(e) => {
            return Err(JobError::Storage(
                crate::storage::StorageError::Unreachable(e.to_string()),
            ))
        }
    }
    std::io::Seek::rewind(&mut reader).map_err(|e| unreadable(e.to_string()))?;
    let media = Mp4Reader::read_header(reader, size).map_err(|e| match e {
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
