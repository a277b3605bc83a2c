//! An object in the store as a file a decoder can read and seek: each read past what is held
//! fetches the next window with a ranged GET. A decoder that skips a video's media data seeks
//! past it and fetches only the boxes it reads; nothing ever holds the whole object.
//!
//! Blocking: decoders are synchronous, so this runs on a blocking thread and waits on the
//! runtime for each window.
//!
//! The windows come from the store's client (in the server) or from a presigned GET (in the
//! decoding child, which holds no credentials).

use crate::storage::{s3::S3Store, StorageError};
use std::{
    io::{self, Read, Seek, SeekFrom},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};
use tokio::runtime::Handle;

/// Where the windows come from.
enum Source {
    Store {
        store: S3Store,
        key: String,
    },
    /// A presigned GET, asked for a range at a time.
    Url {
        http: reqwest::Client,
        url: String,
    },
}

pub struct ObjectReader {
    source: Source,
    size: u64,
    pos: u64,
    window: usize,
    /// Bytes held, starting at `held_at`.
    held: Vec<u8>,
    held_at: u64,
    runtime: Handle,
    /// Bytes fetched from the store so far, readable after a decoder has taken the reader.
    fetched: Arc<AtomicU64>,
}

impl ObjectReader {
    pub fn new(store: S3Store, key: &str, size: u64, window: usize, runtime: Handle) -> Self {
        let key = key.to_owned();
        Self::with(Source::Store { store, key }, size, window, runtime)
    }

    /// Reads through a presigned GET `url` (whose signature must not reach logs: errors
    /// carry no URL).
    pub fn from_url(
        http: reqwest::Client,
        url: String,
        size: u64,
        window: usize,
        runtime: Handle,
    ) -> Self {
        Self::with(Source::Url { http, url }, size, window, runtime)
    }

    fn with(source: Source, size: u64, window: usize, runtime: Handle) -> Self {
        Self {
            source,
            size,
            pos: 0,
            window: window.max(4096),
            held: Vec::new(),
            held_at: 0,
            runtime,
            fetched: Arc::default(),
        }
    }

    /// Counts the bytes fetched, also after the reader has been handed to a decoder.
    pub fn fetched(&self) -> Arc<AtomicU64> {
        self.fetched.clone()
    }

    fn fill(&mut self) -> io::Result<()> {
        let len = (self.window as u64).min(self.size - self.pos);
        let start = self.pos;
        let bytes = match &self.source {
            Source::Store { store, key } => self.runtime.block_on(async move {
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
                    bytes.extend_from_slice(&chunk);
                }
                Ok::<_, StorageError>(bytes)
            }),
            Source::Url { http, url } => self.runtime.block_on(ranged_get(http, url, start, len)),
        };
        let bytes = bytes.map_err(io::Error::other)?;
        if bytes.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the store sent nothing",
            ));
        }
        self.fetched
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.held = bytes;
        self.held_at = self.pos;
        Ok(())
    }
}

/// `len` bytes from `start` through a presigned GET. A store that sends more than asked is
/// cut off at `len`: the window bounds what a read holds.
pub(super) async fn ranged_get(
    http: &reqwest::Client,
    url: &str,
    start: u64,
    len: u64,
) -> Result<Vec<u8>, StorageError> {
    let unreachable = |e: reqwest::Error| StorageError::Unreachable(e.without_url().to_string());
    let last = start + len.saturating_sub(1);
    let mut response = http
        .get(url)
        .header(reqwest::header::RANGE, format!("bytes={start}-{last}"))
        .send()
        .await
        .map_err(unreachable)?;
    match response.status().as_u16() {
        206 => {}
        // A store that ignores Range sends the whole object: usable from the start only.
        200 if start == 0 => {}
        404 => return Err(StorageError::Refused("the object is gone".into())),
        status => {
            return Err(StorageError::Refused(format!(
                "the store answered {status}"
            )))
        }
    }
    let want = usize::try_from(len).unwrap_or(usize::MAX);
    let mut bytes = Vec::with_capacity(want.min(16 << 20));
    while bytes.len() < want {
        let Some(chunk) = response.chunk().await.map_err(unreachable)? else {
            break;
        };
        let take = chunk.len().min(want - bytes.len());
        bytes.extend_from_slice(&chunk[..take]);
    }
    Ok(bytes)
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let held_end = self.held_at + self.held.len() as u64;
        if self.pos < self.held_at || self.pos >= held_end {
            self.fill()?;
        }
        let offset = usize::try_from(self.pos - self.held_at).unwrap_or(usize::MAX);
        let available = &self.held[offset.min(self.held.len())..];
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for ObjectReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let target = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        self.pos = target;
        Ok(target)
    }
}
