//! Object storage: the few S3 operations Hoist needs, behind a trait so the upload service reads
//! as the protocol and a unit test can stand in for the store. The real implementation is
//! [`s3::S3Store`]; integration tests run it against a real Garage.
//!
//! Where is a part URL signed? [`ObjectStore::presign_part`], implemented in `s3.rs`.

pub mod s3;

use crate::model::SignedRequest;
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
}

/// A part as the store reports it, never as the browser claims it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPart {
    pub part_number: u32,
    pub size: u64,
    pub etag: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub content_type: Option<String>,
}

pub type StorageResult<T> = Result<T, StorageError>;

pub trait ObjectStore: Send + Sync + 'static {
    /// A PUT of the whole object; its Content-Type and Content-Length are signed, so the
    /// browser can neither send more bytes nor another type than announced.
    fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        len: u64,
        ttl: Duration,
    ) -> impl Future<Output = StorageResult<SignedRequest>> + Send;

    fn create_multipart(
        &self,
        key: &str,
        content_type: &str,
    ) -> impl Future<Output = StorageResult<String>> + Send;

    /// An UploadPart URL with the part's Content-Length signed.
    fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        len: u64,
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

    /// Succeeds when the upload is already gone: aborting is how cleanup ends, whoever came first.
    fn abort_multipart(
        &self,
        key: &str,
        upload_id: &str,
    ) -> impl Future<Output = StorageResult<()>> + Send;

    fn head(&self, key: &str) -> impl Future<Output = StorageResult<Option<ObjectInfo>>> + Send;

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
