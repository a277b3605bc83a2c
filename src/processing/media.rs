//! Duration, dimensions and codecs of an MP4, MOV or M4A, from its first `moov` box.
//!
//! The top-level boxes are walked from their headers alone, with small ranged GETs, skipping
//! the media data by its length. The walk stops at the first `moov`: that one box, if no
//! larger than [`MAX_MOOV`], is fetched into memory and read by `boxes::facts`. Nothing after
//! it is ever fetched, so fragments, event messages or a second movie box cost nothing,
//! whatever they claim; what one job holds is at most one `moov` and one header window.

use super::{boxes, Finished, JobError};
use crate::{
    db::jobs::Findings,
    storage::{s3::S3Store, StorageError},
};

/// Header windows are fetched this large: a file's leading small boxes (ftyp, free, wide…)
/// and often the whole `moov` of a short clip arrive in one GET.
const WINDOW: u64 = 64 << 10;
/// The largest `moov` read. Its sample tables take some 16–20 bytes per video frame or
/// audio packet: two hours of 30 fps video with AAC sound is about 5 MiB, so 16 MiB covers
/// six hours, and a job never holds more than this.
pub const MAX_MOOV: u64 = 16 << 20;
/// Top-level boxes looked at before the `moov`. A real file has a handful (ftyp, free,
/// mdat…); each costs at most one small GET, so this bounds the walk's requests.
const MAX_BOXES: u32 = 64;

pub fn can_read(content_type: &str) -> bool {
    matches!(
        content_type,
        "video/mp4" | "video/quicktime" | "audio/mp4" | "audio/x-m4a" | "audio/m4a"
    )
}

fn unreadable(why: String) -> JobError {
    JobError::Unreadable {
        what: "the media container",
        why,
    }
}

pub async fn run(store: &S3Store, key: &str, size: u64) -> Result<Finished, JobError> {
    let mut fetcher = Fetcher::new(Source::Store { store, key });
    let findings = facts(&mut fetcher, size).await;
    tracing::info!(
        key,
        size,
        fetched = fetcher.fetched,
        "media: read the container's boxes"
    );
    Ok(Finished::Found(findings?))
}

/// What the container says, from its first `moov` alone. The server calls it with its store;
/// the decoding child with the presigned GET it was given.
pub(super) async fn facts(fetcher: &mut Fetcher<'_>, size: u64) -> Result<Findings, JobError> {
    let moov = first_moov(fetcher, size).await?;
    let facts = boxes::facts(&moov).map_err(unreadable)?;
    Ok(Findings {
        duration_ms: facts.duration_ms,
        width: facts.width,
        height: facts.height,
        codecs: (!facts.codecs.is_empty()).then(|| facts.codecs.join(", ")),
        ..Findings::default()
    })
}

/// Where the bytes come from.
pub(super) enum Source<'a> {
    Store {
        store: &'a S3Store,
        key: &'a str,
    },
    Url {
        http: &'a reqwest::Client,
        url: &'a str,
    },
}

pub(super) struct Fetcher<'a> {
    source: Source<'a>,
    /// Bytes fetched so far, for the log.
    pub(super) fetched: u64,
}

impl<'a> Fetcher<'a> {
    pub(super) fn new(source: Source<'a>) -> Self {
        Self { source, fetched: 0 }
    }

    /// Exactly `len` bytes at `start` (the caller keeps them within the object).
    async fn range(&mut self, start: u64, len: u64) -> Result<Vec<u8>, JobError> {
        let bytes = match &self.source {
            Source::Store { store, key } => {
                let mut body = store
                    .read_range(key, start, len)
                    .await?
                    .ok_or_else(|| StorageError::Refused("the object is gone".into()))?;
                let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
                while let Some(chunk) = body
                    .try_next()
                    .await
                    .map_err(|e| StorageError::Unreachable(e.to_string()))?
                {
                    // A store that sends more than was asked must not make us hold it.
                    if bytes.len() as u64 + chunk.len() as u64 > len {
                        return Err(StorageError::Unreachable(
                            "the store sent more than asked".into(),
                        )
                        .into());
                    }
                    bytes.extend_from_slice(&chunk);
                }
                bytes
            }
            // Cut off at `len` by the reader, whatever the store sends.
            Source::Url { http, url } => super::reader::ranged_get(http, url, start, len).await?,
        };
        self.fetched += bytes.len() as u64;
        if (bytes.len() as u64) < len {
            return Err(StorageError::Unreachable("the store sent less than asked".into()).into());
        }
        Ok(bytes)
    }
}

/// The bytes from `at` on, if the window starting at `window_at` holds `at`.
fn held(window: &[u8], window_at: u64, at: u64) -> Option<&[u8]> {
    window.get(usize::try_from(at.checked_sub(window_at)?).ok()?..)
}

/// The body of the first top-level `moov` box, found from box headers alone.
async fn first_moov(fetcher: &mut Fetcher<'_>, size: u64) -> Result<Vec<u8>, JobError> {
    let (mut window, mut window_at) = (Vec::new(), 0u64);
    let mut at = 0u64;
    for _ in 0..MAX_BOXES {
        if at >= size {
            return Err(unreadable("it has no moov box".into()));
        }
        // The header at `at`, from the window held or a new one fetched there.
        let mut head =
            held(&window, window_at, at).and_then(|h| boxes::header(h, size - at).transpose());
        if head.is_none() {
            window = fetcher.range(at, WINDOW.min(size - at)).await?;
            window_at = at;
            head = boxes::header(&window, size - at).transpose();
        }
        let header = match head {
            Some(header) => header.map_err(unreadable)?,
            None => return Err(unreadable("it ends inside a box header".into())),
        };
        match &header.kind {
            b"moov" if header.len > MAX_MOOV => {
                return Err(unreadable(format!(
                    "its moov box claims {} bytes; at most {MAX_MOOV} are read",
                    header.len
                )))
            }
            b"moov" => {
                let (start, len) = (at + header.header_len, header.len - header.header_len);
                let end_in_window = usize::try_from(start + len - window_at).ok();
                let in_window =
                    at >= window_at && end_in_window.is_some_and(|end| end <= window.len());
                if in_window {
                    let from = usize::try_from(start - window_at).unwrap_or(usize::MAX);
                    window.truncate(end_in_window.unwrap_or(0));
                    return Ok(window.split_off(from.min(window.len())));
                }
                drop(window);
                return fetcher.range(start, len).await;
            }
            // A movie fragment belongs after its movie box; before it, it is no file a
            // player reads, and the only reason to write one is to be parsed.
            b"moof" | b"emsg" => {
                return Err(unreadable(format!(
                    "a {} box comes before its moov box",
                    String::from_utf8_lossy(&header.kind)
                )))
            }
            _ => at += header.len,
        }
    }
    Err(unreadable(format!(
        "more than {MAX_BOXES} boxes come before its moov box"
    )))
}
