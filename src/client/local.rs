//! Files on this machine: found under the paths given, typed, hashed, and read part by part
//! as a stream (a part is never held whole in memory, so memory stays flat whatever the size).

use super::ClientError;
use crate::{
    checksum::{ChecksumAlgorithm, Hasher},
    format,
    model::PartPlan,
};
use std::{
    io::{Read, Seek, SeekFrom},
    path::{Path, PathBuf},
    time::UNIX_EPOCH,
};

/// Bytes read at a time, for hashing and for sending.
const CHUNK: usize = 1 << 20;

/// A file to upload, as it was when it was found.
#[derive(Clone, Debug)]
pub struct LocalFile {
    /// Absolute, so the state file knows it from any folder.
    pub path: PathBuf,
    pub name: String,
    pub size: u64,
    /// Nanoseconds since the epoch: a file changed since an unfinished upload is sent anew.
    pub modified_ns: i128,
    pub content_type: String,
}

/// Every file under `paths` (folders recursively, in name order; symbolic links to folders
/// are not followed, so a loop cannot trap us). A path that cannot be read is its own error.
pub fn discover(paths: &[PathBuf]) -> Vec<Result<LocalFile, ClientError>> {
    let mut found = Vec::new();
    for path in paths {
        walk(path, &mut found);
    }
    found
}

fn walk(path: &Path, found: &mut Vec<Result<LocalFile, ClientError>>) {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) => return found.push(Err(ClientError::local(path, e))),
    };
    if meta.is_file() {
        return found.push(LocalFile::at(path, &meta));
    }
    if !meta.is_dir() {
        return found.push(Err(ClientError::local(path, "not a file or a folder")));
    }
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) => return found.push(Err(ClientError::local(path, e))),
    };
    let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    children.sort();
    for child in children {
        let is_link_to_dir = std::fs::symlink_metadata(&child)
            .is_ok_and(|m| m.file_type().is_symlink())
            && child.is_dir();
        if !is_link_to_dir {
            walk(&child, found);
        }
    }
}

impl LocalFile {
    fn at(path: &Path, meta: &std::fs::Metadata) -> Result<Self, ClientError> {
        let path = std::path::absolute(path).map_err(|e| ClientError::local(path, e))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| ClientError::local(&path, "has no file name"))?;
        let modified_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i128);
        let content_type = content_type(&path)?;
        Ok(Self {
            name,
            size: meta.len(),
            modified_ns,
            content_type,
            path,
        })
    }
}

/// The type the server will find in the bytes (it checks the announced type against them),
/// else the extension's, else `application/octet-stream`.
fn content_type(path: &Path) -> Result<String, ClientError> {
    let mut head = Vec::with_capacity(8192);
    std::fs::File::open(path)
        .and_then(|f| f.take(8192).read_to_end(&mut head))
        .map_err(|e| ClientError::local(path, e))?;
    if let Some(kind) = infer::get(&head) {
        return Ok(kind.mime_type().to_string());
    }
    Ok(mime_guess::from_path(path).first().map_or_else(
        || "application/octet-stream".into(),
        |m| m.essence_str().to_string(),
    ))
}

/// What one read of a file found: its SHA-256 (hex) if asked, and each part's checksum
/// (base64) under `plan` if the server wants them.
#[derive(Clone, Debug, Default)]
pub struct Digest {
    pub sha256: Option<String>,
    pub parts: Vec<String>,
}

/// Reads the file for what is asked: its SHA-256 and its parts' checksums are two reads side
/// by side (two threads: SHA-256 is one sequential chain, and the parts' sums need not wait
/// for it), so reading first costs about one hash of the file.
pub async fn digest(
    file: &LocalFile,
    plan: PartPlan,
    algorithm: Option<ChecksumAlgorithm>,
    sha256: bool,
) -> Result<Digest, ClientError> {
    let blocking = |job: Box<dyn FnOnce() -> Result<Vec<String>, ClientError> + Send>| async {
        tokio::task::spawn_blocking(job)
            .await
            .map_err(|e| ClientError::local(&file.path, e))?
    };
    let (whole, parts) = (file.path.clone(), file.path.clone());
    let whole = blocking(Box::new(move || match sha256 {
        true => read_through(&whole, PartPlan::new(plan.size, plan.size.max(1)), || {
            ChecksumAlgorithm::Sha256.hasher()
        })
        .map(|sums| sums.into_iter().map(|bytes| format::hex(&bytes)).collect()),
        false => Ok(Vec::new()),
    }));
    let parts = blocking(Box::new(move || match algorithm {
        Some(algorithm) => read_through(&parts, plan, || algorithm.hasher()).map(|sums| {
            sums.iter()
                .map(|bytes| crate::checksum::base64(bytes))
                .collect()
        }),
        None => Ok(Vec::new()),
    }));
    let (whole, parts) = tokio::join!(whole, parts);
    Ok(Digest {
        sha256: whole?.into_iter().next(),
        parts: parts?,
    })
}

/// Reads the file from start to end, feeding each part of `plan` to a fresh hasher; returns
/// the digests' bytes in part order.
fn read_through(
    path: &Path,
    plan: PartPlan,
    hasher: impl Fn() -> Hasher,
) -> Result<Vec<Vec<u8>>, ClientError> {
    let fail = |e: std::io::Error| ClientError::local(path, e);
    let mut input = std::fs::File::open(path).map_err(fail)?;
    let mut buffer = vec![0u8; CHUNK];
    let mut sums = Vec::with_capacity(plan.part_count() as usize);
    for part in 1..=plan.part_count() {
        let (start, end) = plan.range(part).unwrap_or((0, 0));
        let mut sum = hasher();
        let mut left = end - start;
        while left > 0 {
            let want = usize::try_from(left).map_or(CHUNK, |l| l.min(CHUNK));
            input.read_exact(&mut buffer[..want]).map_err(fail)?;
            sum.update(&buffer[..want]);
            left -= want as u64;
        }
        sums.push(sum.finish_bytes());
    }
    Ok(sums)
}

/// Part `range` of the file as a stream of chunks, for a request body; `sent` hears of each
/// chunk as it is handed to the network.
pub fn part_stream(
    path: &Path,
    (start, end): (u64, u64),
    sent: impl Fn(u64) + Send + Sync + 'static,
) -> Result<reqwest::Body, ClientError> {
    let mut input = std::fs::File::open(path).map_err(|e| ClientError::local(path, e))?;
    input
        .seek(SeekFrom::Start(start))
        .map_err(|e| ClientError::local(path, e))?;
    let input = tokio::fs::File::from_std(input);
    let state = (input, end - start, sent);
    let chunks = futures::stream::unfold(state, |(mut input, left, sent)| async move {
        use tokio::io::AsyncReadExt;
        if left == 0 {
            return None;
        }
        let want = usize::try_from(left).map_or(CHUNK, |l| l.min(CHUNK));
        let mut chunk = vec![0u8; want];
        match input.read_exact(&mut chunk).await {
            Ok(_) => {
                sent(want as u64);
                Some((Ok(chunk), (input, left - want as u64, sent)))
            }
            // Shorter than when it was found: the store refuses the part for its length.
            Err(e) => Some((Err(e), (input, 0, sent))),
        }
    });
    Ok(reqwest::Body::wrap_stream(chunks))
}
