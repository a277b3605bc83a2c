//! Objects Hoist makes from a file on its own disk (a video's renditions), streamed to the
//! store by a multipart upload a part at a time: the file is never read into memory whole,
//! however large. An upload that fails is aborted, so it leaves no parts behind.

use super::{classify, S3Store};
use crate::storage::{StorageError, StorageResult};
use aws_sdk_s3::{
    primitives::{ByteStream, Length},
    types::{CompletedMultipartUpload, CompletedPart},
};
use std::path::Path;

/// Parts of this size: a rendition of a two-hour film is a few dozen, and a failed part costs
/// at most this much again.
const PART: u64 = 64 << 20;

impl S3Store {
    /// Writes the file at `path` to `key`, replacing what is there.
    pub async fn put_file(&self, key: &str, path: &Path, content_type: &str) -> StorageResult<()> {
        let size = tokio::fs::metadata(path)
            .await
            .map_err(|e| StorageError::Refused(format!("{}: {e}", path.display())))?
            .len();
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(classify)?;
        let Some(upload_id) = created.upload_id else {
            return Err(StorageError::Refused("the store gave no upload id".into()));
        };
        match self.put_parts(key, &upload_id, path, size).await {
            Ok(parts) => {
                self.client
                    .complete_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder()
                            .set_parts(Some(parts))
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(classify)?;
                Ok(())
            }
            Err(error) => {
                let _ = self
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .send()
                    .await;
                Err(error)
            }
        }
    }

    async fn put_parts(
        &self,
        key: &str,
        upload_id: &str,
        path: &Path,
        size: u64,
    ) -> StorageResult<Vec<CompletedPart>> {
        let mut parts = Vec::new();
        let mut offset = 0;
        let mut number = 1;
        // An empty file is still one (empty) part.
        while offset < size || number == 1 {
            let length = PART.min(size - offset);
            let body = ByteStream::read_from()
                .path(path)
                .offset(offset)
                .length(Length::Exact(length))
                .build()
                .await
                .map_err(|e| StorageError::Refused(format!("{}: {e}", path.display())))?;
            let sent = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .content_length(i64::try_from(length).unwrap_or(i64::MAX))
                .body(body)
                .send()
                .await
                .map_err(classify)?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(sent.e_tag)
                    .build(),
            );
            offset += length;
            number += 1;
        }
        Ok(parts)
    }
}
