//! A part's checksum, read from the file as a byte stream into one reused 1 MiB buffer: a
//! part is never held whole, and reading a 4 GiB file adds nothing to the page's memory.
//!
//! Measured (docs/benchmarks.md): reading 1 GiB with `Blob.arrayBuffer()` in 16 MiB pieces took
//! 1.8 s and left up to 370 MiB of buffers for the garbage collector; a BYOB stream reader
//! took 1.1 s and no memory.

use crate::checksum::{ChecksumAlgorithm, Hasher};
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Blob, ReadableStreamByobReader, ReadableStreamGetReaderOptions, ReadableStreamReaderMode,
};

/// The buffer each read fills (at most; the browser decides how much it delivers).
const BUFFER: u32 = 1024 * 1024;

/// The file cannot be read any more: the browser refuses once it changed on disk, was moved
/// or deleted after it was picked (Chromium: `NotReadableError`).
#[derive(Debug)]
pub struct Unreadable;

/// The checksum of `blob`, `len` bytes long.
pub async fn of(blob: &Blob, len: u64, algorithm: ChecksumAlgorithm) -> Result<String, Unreadable> {
    let mut done = read(blob, len, vec![algorithm.hasher()]).await?;
    done.pop().map(Hasher::finish).ok_or(Unreadable)
}

/// Feeds every byte of `blob` (`len` bytes: the caller knows, and asking a picked file its
/// size again costs a call to the browser's process) to each of `hashers`, in one read.
pub async fn read(
    blob: &Blob,
    len: u64,
    mut hashers: Vec<Hasher>,
) -> Result<Vec<Hasher>, Unreadable> {
    // A blob that fits in the buffer is read in one call: a stream and its reader cost more
    // than the bytes of a small file (measured over 1,000 files of 1 KiB).
    if len <= u64::from(BUFFER) {
        let bytes = JsFuture::from(blob.array_buffer())
            .await
            .map_err(|_| Unreadable)?;
        let bytes = Uint8Array::new(&bytes).to_vec();
        for hasher in &mut hashers {
            hasher.update(&bytes);
        }
        return Ok(hashers);
    }
    let options = ReadableStreamGetReaderOptions::new();
    options.set_mode(ReadableStreamReaderMode::Byob);
    let reader: ReadableStreamByobReader = blob
        .stream()
        .get_reader_with_options(&options)
        .unchecked_into();
    let result = read_all(&reader, hashers).await;
    if result.is_err() {
        let _ = reader.cancel();
    }
    reader.release_lock();
    result
}

async fn read_all(
    reader: &ReadableStreamByobReader,
    mut hashers: Vec<Hasher>,
) -> Result<Vec<Hasher>, Unreadable> {
    let mut bytes = vec![0; BUFFER as usize];
    let mut view = Uint8Array::new_with_length(BUFFER);
    loop {
        let read = JsFuture::from(reader.read_with_array_buffer_view(&view))
            .await
            .map_err(|_| Unreadable)?;
        let field = |name: &str| Reflect::get(&read, &JsValue::from_str(name));
        if field("done").ok().and_then(|d| d.as_bool()).unwrap_or(true) {
            return Ok(hashers);
        }
        let chunk: Uint8Array = field("value").map_err(|_| Unreadable)?.unchecked_into();
        let len = chunk.length() as usize;
        chunk.copy_to(&mut bytes[..len]);
        for hasher in &mut hashers {
            hasher.update(&bytes[..len]);
        }
        // Reading took our buffer over (transferred it into `chunk`): hand all of it back.
        view = Uint8Array::new(&chunk.buffer());
    }
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
