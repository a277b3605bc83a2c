//! Whole objects, for the work that follows an upload: reading a range as a stream (never the
//! whole object at once), writing the small files Hoist derives (thumbnails), and URLs that
//! show a file in the page rather than download it.

use super::{classify, not_found, presigning, S3Store};
use crate::storage::{StorageError, StorageResult};
use aws_sdk_s3::primitives::ByteStream;
use std::time::Duration;

/// The only types a page may show inline. Everything else — HTML, SVG, XML and XSLT, and
/// whatever type a browser learns to render as a document next year — is downloaded: a list
/// of what is dangerous is never complete, a list of what is harmless can be.
const SHOWN_INLINE: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/bmp",
    "text/plain",
    "application/pdf",
];

/// The type a store URL may serve `content_type` as inline (its essence, lower case, without
/// parameters), or `None` when it must be downloaded as bytes.
pub fn inline_type(content_type: &str) -> Option<String> {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let (kind, sub) = essence.split_once('/')?;
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    if !token(kind) || !token(sub) {
        return None;
    }
    let shown = SHOWN_INLINE.contains(&essence.as_str()) || kind == "audio" || kind == "video";
    shown.then_some(essence)
}

/// A type a page never shows inline: it is downloaded as bytes.
pub fn is_active_content(content_type: &str) -> bool {
    inline_type(content_type).is_none()
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
    /// 206, so seeking fetches only what it needs). Only the types of [`SHOWN_INLINE`] (and
    /// sound and video) come inline; any other comes as a download of bytes whatever is asked.
    pub async fn presign_view(
        &self,
        key: &str,
        name: &str,
        content_type: &str,
        ttl: Duration,
    ) -> StorageResult<String> {
        let attachment = super::content_disposition(name);
        // Stored types come from the uploader: the store is told what to answer in both
        // headers, so neither the stored type nor its parameters reach the browser.
        let (disposition, served) = match inline_type(content_type) {
            Some(shown) => (attachment.replacen("attachment", "inline", 1), shown),
            None => (attachment, "application/octet-stream".to_owned()),
        };
        let request = self
            .signer
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(disposition)
            .response_content_type(served)
            .presigned(presigning(ttl)?)
            .await
            .map_err(|e| StorageError::Signing(format!("{e:?}")))?;
        Ok(request.uri().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::{inline_type, is_active_content};

    #[test]
    fn only_listed_types_are_shown_inline() {
        for t in [
            "text/html",
            "image/svg+xml",
            "application/xml",
            "text/xml",
            "text/xsl",
            "application/xslt+xml",
            "application/xhtml+xml",
            "text/vtt",
            "application/octet-stream",
            "image/x-icon",
            "image/png/../../html",
            "image/png, text/html",
            "",
            "garbage",
        ] {
            assert!(is_active_content(t), "{t}");
        }
        for (t, shown) in [
            ("image/png", "image/png"),
            ("IMAGE/JPEG", "image/jpeg"),
            ("video/mp4", "video/mp4"),
            ("audio/mpeg", "audio/mpeg"),
            ("text/plain; charset=utf-8", "text/plain"),
            ("application/pdf", "application/pdf"),
        ] {
            assert_eq!(inline_type(t).as_deref(), Some(shown), "{t}");
        }
    }
}
