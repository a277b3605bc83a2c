//! [`ObjectStore`] over any S3-compatible service, with aws-sdk-s3.

use super::S3Settings;
use super::{
    Checksum, ObjectInfo, ObjectStart, ObjectStore, PendingUpload, StorageError, StorageResult,
    StoredPart,
};
use crate::{checksum::ChecksumAlgorithm, model::SignedRequest};
use aws_sdk_s3::{
    config::{
        timeout::TimeoutConfig, BehaviorVersion, Credentials, Region, RequestChecksumCalculation,
        ResponseChecksumValidation,
    },
    error::{ProvideErrorMetadata, SdkError},
    presigning::{PresignedRequest, PresigningConfig},
    types::{
        AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ChecksumAlgorithm as S3Algo,
        CompletedMultipartUpload, CompletedPart, CorsConfiguration, CorsRule, ExpirationStatus,
        LifecycleRule, LifecycleRuleFilter,
    },
    Client,
};
use std::time::Duration;

mod bucket;
mod files;
mod objects;
pub use objects::is_active_content;

#[derive(Clone)]
pub struct S3Store {
    /// Talks to the store from the server.
    client: Client,
    /// Signs URLs for the host browsers use, which may differ from the server's view.
    signer: Client,
    bucket: String,
}

impl S3Store {
    pub fn new(settings: &S3Settings) -> Self {
        let client = Client::from_conf(client_config(settings, &settings.endpoint));
        let signer = match &settings.public_endpoint {
            Some(public) if *public != settings.endpoint => {
                Client::from_conf(client_config(settings, public))
            }
            _ => client.clone(),
        };
        Self {
            client,
            signer,
            bucket: settings.bucket.clone(),
        }
    }

    /// The SDK client, for tests that must reach past the presigned protocol (to plant a
    /// size lie, say).
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

fn client_config(settings: &S3Settings, endpoint: &str) -> aws_sdk_s3::Config {
    let credentials = Credentials::new(
        &settings.access_key_id,
        &settings.secret_access_key,
        None,
        None,
        "hoist-settings",
    );
    aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(settings.region.clone()))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .force_path_style(settings.path_style)
        // Checksums in presigned URLs are headers a browser PUT cannot satisfy, and streamed
        // bodies with checksum trailers are refused by some stores: only when S3 demands them.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(60))
                .build(),
        )
        .build()
}

fn presigning(ttl: Duration) -> StorageResult<PresigningConfig> {
    PresigningConfig::expires_in(ttl).map_err(|e| StorageError::Signing(e.to_string()))
}

fn signed(request: PresignedRequest, ttl: Duration) -> SignedRequest {
    SignedRequest {
        valid_for_secs: ttl.as_secs(),
        method: request.method().to_string(),
        url: request.uri().to_string(),
        headers: request
            .headers()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("content-length"))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn classify<E: ProvideErrorMetadata + std::fmt::Debug>(
    err: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> StorageError {
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            StorageError::Unreachable(format!("{err:?}"))
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            let status = service.raw().status().as_u16();
            if code == "NoSuchUpload" {
                StorageError::NoSuchUpload
            } else if code == "InvalidPart" {
                StorageError::PartChanged
            } else if status >= 500 {
                StorageError::Unreachable(format!("{status} {code}"))
            } else {
                let message = service.err().message().unwrap_or_default();
                StorageError::Refused(format!("{status} {code} {message}"))
            }
        }
        _ => StorageError::Refused(format!("{err:?}")),
    }
}

/// The store does not implement the operation (lifecycle rules on some S3-compatibles).
fn unsupported<E: ProvideErrorMetadata>(
    err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> bool {
    matches!(err, SdkError::ServiceError(s) if s.raw().status().as_u16() == 501
        || s.err().code() == Some("NotImplemented"))
}

/// The checksum's value if it is of `algorithm`: each algorithm has its own SDK setter.
fn value_for(checksum: Option<&Checksum>, algorithm: ChecksumAlgorithm) -> Option<String> {
    checksum
        .filter(|c| c.algorithm == algorithm)
        .map(|c| c.value.clone())
}

fn s3_algorithm(algorithm: ChecksumAlgorithm) -> S3Algo {
    match algorithm {
        ChecksumAlgorithm::Crc32c => S3Algo::Crc32C,
        ChecksumAlgorithm::Sha256 => S3Algo::Sha256,
    }
}

fn not_found<E: ProvideErrorMetadata>(
    err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> bool {
    matches!(err, SdkError::ServiceError(s) if s.raw().status().as_u16() == 404)
}

fn to_i64(n: u64) -> StorageResult<i64> {
    i64::try_from(n)
        .map_err(|_| StorageError::Signing(format!("{n} does not fit a Content-Length")))
}

impl ObjectStore for S3Store {
    async fn create_multipart(
        &self,
        key: &str,
        content_type: &str,
        checksum: Option<ChecksumAlgorithm>,
    ) -> StorageResult<String> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .set_checksum_algorithm(checksum.map(s3_algorithm))
            .send()
            .await
            .map_err(classify)?;
        out.upload_id().map(str::to_string).ok_or_else(|| {
            StorageError::Refused("CreateMultipartUpload returned no upload id".into())
        })
    }

    async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        len: u64,
        checksum: Option<&Checksum>,
        ttl: Duration,
    ) -> StorageResult<SignedRequest> {
        let part_number = i32::try_from(part_number)
            .map_err(|_| StorageError::Signing("part number too large".into()))?;
        let value = |a| value_for(checksum, a);
        let request = self
            .signer
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(part_number)
            .content_length(to_i64(len)?)
            .set_checksum_crc32_c(value(ChecksumAlgorithm::Crc32c))
            .set_checksum_sha256(value(ChecksumAlgorithm::Sha256))
            .presigned(presigning(ttl)?)
            .await
            .map_err(|e| StorageError::Signing(format!("{e:?}")))?;
        Ok(signed(request, ttl))
    }

    async fn list_parts(&self, key: &str, upload_id: &str) -> StorageResult<Vec<StoredPart>> {
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .client
                .list_parts()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .set_part_number_marker(marker.take())
                .send()
                .await
                .map_err(classify)?;
            for part in page.parts() {
                let (Some(number), Some(size), Some(etag)) =
                    (part.part_number(), part.size(), part.e_tag())
                else {
                    continue;
                };
                let (Ok(part_number), Ok(size)) = (u32::try_from(number), u64::try_from(size))
                else {
                    continue;
                };
                let checksum = [
                    (ChecksumAlgorithm::Crc32c, part.checksum_crc32_c()),
                    (ChecksumAlgorithm::Sha256, part.checksum_sha256()),
                ]
                .into_iter()
                .find_map(|(algorithm, value)| {
                    value.map(|v| Checksum {
                        algorithm,
                        value: v.to_string(),
                    })
                });
                parts.push(StoredPart {
                    part_number,
                    size,
                    etag: etag.to_string(),
                    checksum,
                });
            }
            match (page.is_truncated(), page.next_part_number_marker()) {
                (Some(true), Some(next)) if !next.is_empty() => marker = Some(next.to_string()),
                _ => break,
            }
        }
        parts.sort_by_key(|p| p.part_number);
        parts.dedup_by_key(|p| p.part_number);
        Ok(parts)
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[StoredPart],
    ) -> StorageResult<()> {
        let completed = parts
            .iter()
            .map(|p| {
                let value = |a| value_for(p.checksum.as_ref(), a);
                CompletedPart::builder()
                    .part_number(i32::try_from(p.part_number).unwrap_or(i32::MAX))
                    .e_tag(&p.etag)
                    .set_checksum_crc32_c(value(ChecksumAlgorithm::Crc32c))
                    .set_checksum_sha256(value(ChecksumAlgorithm::Sha256))
                    .build()
            })
            .collect();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> StorageResult<bool> {
        match self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map_err(classify)
        {
            Ok(_) => Ok(true),
            Err(StorageError::NoSuchUpload) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn head(&self, key: &str) -> StorageResult<Option<ObjectInfo>> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(ObjectInfo {
                size: out
                    .content_length()
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0),
                content_type: out.content_type().map(str::to_string),
            })),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(classify(e)),
        }
    }

    async fn read_start(&self, key: &str, len: u64) -> StorageResult<Option<ObjectStart>> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(format!("bytes=0-{}", len.saturating_sub(1)))
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(classify(e)),
        };
        // "bytes 0-16383/262144": the whole object's size follows the slash. A store that
        // ignores Range answers 200 with the whole length instead.
        let size = match out.content_range() {
            Some(range) => range
                .rsplit_once('/')
                .and_then(|(_, total)| total.parse().ok())
                .ok_or_else(|| {
                    StorageError::Refused(format!("unreadable Content-Range {range:?}"))
                })?,
            None => out
                .content_length()
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0),
        };
        let info = ObjectInfo {
            size,
            content_type: out.content_type().map(str::to_string),
        };
        // Read only what was asked for, chunk by chunk: a store that ignores Range sends the
        // whole object, and dropping the body then closes the connection.
        let want = usize::try_from(len).unwrap_or(usize::MAX);
        let mut body = out.body;
        let mut bytes = Vec::with_capacity(want.min(1 << 20));
        while bytes.len() < want {
            match body.try_next().await {
                Ok(Some(chunk)) => {
                    let room = want - bytes.len();
                    bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                Ok(None) => break,
                Err(e) => return Err(StorageError::Unreachable(e.to_string())),
            }
        }
        Ok(Some(ObjectStart { info, bytes }))
    }

    async fn pending_uploads(&self, prefix: &str) -> StorageResult<Vec<PendingUpload>> {
        let mut found = Vec::new();
        let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .client
                .list_multipart_uploads()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(id_marker.take())
                .send()
                .await
                .map_err(classify)?;
            for upload in page.uploads() {
                let (Some(key), Some(upload_id)) = (upload.key(), upload.upload_id()) else {
                    continue;
                };
                found.push(PendingUpload {
                    key: key.to_string(),
                    upload_id: upload_id.to_string(),
                    initiated_ms: upload.initiated().and_then(|t| t.to_millis().ok()),
                });
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_string);
            id_marker = page.next_upload_id_marker().map(str::to_string);
            if key_marker.is_none() {
                break;
            }
        }
        Ok(found)
    }

    async fn delete(&self, key: &str) -> StorageResult<()> {
        // S3 answers 204 for a key that does not exist, so a repeated delete is harmless.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn presign_get(
        &self,
        key: &str,
        download_name: &str,
        ttl: Duration,
    ) -> StorageResult<String> {
        let request = self
            .signer
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(content_disposition(download_name))
            .presigned(presigning(ttl)?)
            .await
            .map_err(|e| StorageError::Signing(format!("{e:?}")))?;
        Ok(request.uri().to_string())
    }
}

/// `attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266 / 5987).
pub fn content_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn download_names_survive_quotes_and_unicode() {
        assert_eq!(
            content_disposition("café \"x\".png"),
            "attachment; filename=\"caf_ _x_.png\"; filename*=UTF-8''caf%C3%A9%20%22x%22.png"
        );
    }
}
