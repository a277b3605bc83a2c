//! A part's checksum, read from the file a few MiB at a time: the part is never held whole
//! in memory, and the bytes hashed are the file's, not a copy that could differ from what is
//! sent.

use crate::checksum::ChecksumAlgorithm;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::Blob;

/// Bytes read (and copied into the engine's memory) per step.
const CHUNK: f64 = 4.0 * 1024.0 * 1024.0;

/// The file cannot be read any more: the browser refuses once it changed on disk, was moved
/// or deleted after it was picked (Chromium: `NotReadableError`).
#[derive(Debug)]
pub struct Unreadable;

pub async fn of(blob: &Blob, algorithm: ChecksumAlgorithm) -> Result<String, Unreadable> {
    let mut hasher = algorithm.hasher();
    let mut buffer = Vec::new();
    let size = blob.size();
    let mut at = 0.0;
    while at < size {
        let end = (at + CHUNK).min(size);
        let chunk = blob
            .slice_with_f64_and_f64(at, end)
            .map_err(|_| Unreadable)?;
        let read = JsFuture::from(chunk.array_buffer())
            .await
            .map_err(|_| Unreadable)?;
        let bytes = js_sys::Uint8Array::new(read.unchecked_ref());
        buffer.resize(bytes.length() as usize, 0);
        bytes.copy_to(&mut buffer);
        hasher.update(&buffer);
        at = end;
    }
    Ok(hasher.finish())
}

/// Can the browser still read the file behind `blob`? A request that failed at the network
/// level may have failed because the file changed on disk (Chromium:
/// `ERR_UPLOAD_FILE_CHANGED`); one byte tells, and retrying would not help.
pub async fn readable(blob: &Blob) -> bool {
    let Ok(first) = blob.slice_with_f64_and_f64(0.0, 1.0) else {
        return false;
    };
    JsFuture::from(first.array_buffer()).await.is_ok()
}
