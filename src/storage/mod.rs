//! Object storage: the few S3 operations Hoist needs, behind a trait so the upload service reads
//! as the protocol and a unit test can stand in for the store. The real implementation is
//! [`s3::S3Store`]; integration tests run it against a real Garage.
//!
//! Where is a part URL signed? [`ObjectStore::presign_part`], implemented in `s3.rs`. There is
//! no presigned PutObject: a part URL dies with its multipart upload, a PutObject URL would
//! outlive the upload's verification.

#[cfg(test)]
pub mod fake;
mod purge;
pub mod s3;
mod settings;

pub use purge::{purge, PurgeCalls};
pub use settings::{S3Settings, MAX_PART_SIZE, MIN_PART_SIZE};

use crate::{checksum::ChecksumAlgorithm, model::SignedRequest};
use std::{future::Future, time::Duration};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The multipart upload is gone (completed, aborted or never created).
    #[error("no such multipart upload")]
    NoSuchUpload,
    #[error("the object store cannot be reached: {0}")]
    Unreachable(String),
    #[error("the object store refused the request: {0}")]
    Refused(String),
    #[error("a URL could not be signed: {0}")]
    Signing(String),
    /// A part listed for the completion was replaced meanwhile (its ETag no longer matches).
    #[error("a part changed while the upload was being completed")]
    PartChanged,
}

/// A part as the store reports it, never as the browser claims it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPart {
    pub part_number: u32,
    pub size: u64,
    pub etag: String,
    /// The checksum the store verified on arrival, for uploads that require one.
    pub checksum: Option<Checksum>,
}

/// A checksum and its algorithm, as signed into a URL or reported by the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checksum {
    pub algorithm: ChecksumAlgorithm,
    /// Base64, as the `x-amz-checksum-*` header carries it.
    pub value: String,
}

/// A multipart upload in progress, as ListMultipartUploads reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingUpload {
    pub key: String,
    pub upload_id: String,
    /// Unix milliseconds; `None` if the store did not say.
    pub initiated_ms: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub content_type: Option<String>,
}

/// An object's first bytes, with what the store says of the whole: one ranged GET tells all
/// that verifying an upload needs, where a HeadObject and a GET would take two calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectStart {
    pub info: ObjectInfo,
    pub bytes: Vec<u8>,
}

pub type StorageResult<T> = Result<T, StorageError>;

pub trait ObjectStore: Send + Sync + 'static {
    /// Starts a multipart upload whose parts must each carry a `checksum` if one is given.
    fn create_multipart(
        &self,
        key: &str,
        content_type: &str,
        checksum: Option<ChecksumAlgorithm>,
    ) -> impl Future<Output = StorageResult<String>> + Send;

    /// An UploadPart URL with the part's Content-Length, and its checksum if given, signed.
    fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        len: u64,
        checksum: Option<&Checksum>,
        ttl: Duration,
    ) -> impl Future<Output = StorageResult<SignedRequest>> + Send;

    /// Every part the store holds for the upload, in part-number order (all pages).
    fn list_parts(
        &self,
        key: &str,
        upload_id: &str,
    ) -> impl Future<Output = StorageResult<Vec<StoredPart>>> + Send;

    fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[StoredPart],
    ) -> impl Future<Output = StorageResult<()>> + Send;

    /// Succeeds when the upload is already gone: aborting is how cleanup ends, whoever came
    /// first. `true` if the upload was still there.
    fn abort_multipart(
        &self,
        key: &str,
        upload_id: &str,
    ) -> impl Future<Output = StorageResult<bool>> + Send;

    fn head(&self, key: &str) -> impl Future<Output = StorageResult<Option<ObjectInfo>>> + Send;

    /// At most the first `len` bytes of the object (a ranged GET), with its size and type;
    /// `None` if there is no such object. Enough to tell the type from the content without
    /// ever holding the file, even from a store that ignores Range.
    fn read_start(
        &self,
        key: &str,
        len: u64,
    ) -> impl Future<Output = StorageResult<Option<ObjectStart>>> + Send;

    /// Multipart uploads in progress under `prefix` (all pages). This lists uploads, not
    /// objects: the reaper asks it for one key only, the orphan sweep for the whole bucket.
    fn pending_uploads(
        &self,
        prefix: &str,
    ) -> impl Future<Output = StorageResult<Vec<PendingUpload>>> + Send;

    /// Succeeds when the object is already gone.
    fn delete(&self, key: &str) -> impl Future<Output = StorageResult<()>> + Send;

    /// A GET that downloads the object under `download_name`.
    fn presign_get(
        &self,
        key: &str,
        download_name: &str,
        ttl: Duration,
    ) -> impl Future<Output = StorageResult<String>> + Send;
}
