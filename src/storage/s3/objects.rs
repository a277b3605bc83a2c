//! Whole objects, for the work that follows an upload: reading a range as a stream (never the
//! whole object at once), writing the small files Hoist derives (thumbnails), and URLs that
//! show a file in the page rather than download it.

use super::{classify, not_found, presigning, S3Store};
use crate::storage::{StorageError, StorageResult};
use aws_sdk_s3::primitives::ByteStream;
use std::time::Duration;

/// Types a browser would run or render as a document of the store's origin: never shown
/// inline, always downloaded.
const ALWAYS_ATTACHMENT: &[&str] = &["html", "xml", "svg", "javascript", "xhtml", "ecmascript"];

pub fn is_active_content(content_type: &str) -> bool {
    let t = content_type.to_ascii_lowercase();
    ALWAYS_ATTACHMENT.iter().any(|word| t.contains(word))
}

impl S3Store {
    /// Bytes `[start, start + len)` of an object as a stream of chunks; `None` if there is no
    /// such object. Dropping the stream closes the connection.
    pub async fn read_range(
        &self,
        key: &str,
        start: u64,
        len: u64,
    ) -> StorageResult<Option<ByteStream>> {
        if len == 0 {
            return Ok(Some(ByteStream::from_static(b"")));
        }
        let end = start + len - 1;
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(format!("bytes={start}-{end}"))
            .send()
            .await
        {
            Ok(out) => Ok(Some(out.body)),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(classify(e)),
        }
    }

    /// Writes a small object Hoist made itself (a thumbnail: a few dozen KiB, never a
    /// person's file).
    pub async fn put_small(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> StorageResult<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// A GET for a tool on the server's side (ffmpeg): signed for the endpoint the server
    /// reaches, which may not be the one browsers use.
    pub async fn presign_internal_get(&self, key: &str, ttl: Duration) -> StorageResult<String> {
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning(ttl)?)
            .await
            .map_err(|e| StorageError::Signing(format!("{e:?}")))?;
        Ok(request.uri().to_string())
    }

    /// A GET a page can show in `<img>`, `<video>` or `<audio>` (the store answers Range with
    /// 206, so seeking fetches only what it needs). Active content comes as a download
    /// whatever is asked.
    pub async fn presign_view(
        &self,
        key: &str,
        name: &str,
        content_type: &str,
        ttl: Duration,
    ) -> StorageResult<String> {
        let disposition = if is_active_content(content_type) {
            super::content_disposition(name)
        } else {
            super::content_disposition(name).replacen("attachment", "inline", 1)
        };
        let active = is_active_content(content_type);
        let request = self
            .signer
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(disposition)
            // Stored types come from the uploader: a document type is never trusted inline.
            .set_response_content_type(active.then(|| "application/octet-stream".to_owned()))
            .presigned(presigning(ttl)?)
            .await
            .map_err(|e| StorageError::Signing(format!("{e:?}")))?;
        Ok(request.uri().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::is_active_content;

    #[test]
    fn documents_a_browser_would_render_are_active() {
        for t in [
            "text/html",
            "image/svg+xml",
            "application/xml",
            "text/xml",
            "application/xhtml+xml",
        ] {
            assert!(is_active_content(t), "{t}");
        }
        for t in ["image/png", "video/mp4", "text/plain", "application/pdf"] {
            assert!(!is_active_content(t), "{t}");
        }
    }
}
