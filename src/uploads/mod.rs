//! The upload service: the protocol between a browser, the database and the object store.
//! Server functions call it; integration tests drive it directly against a real store.

pub mod naming;
pub mod policy;
mod rules;
mod service;
pub mod sniff;

pub use crate::db::uploads::Allowance;
pub use rules::{RulesError, UploadRules, MAX_PARALLEL_PARTS};
pub use service::{Arrival, Layout, NewUpload, UploadService};

use crate::{
    db::DbError,
    error::Invalid,
    model::{Rejection, UploadStatus},
    storage::StorageError,
};

/// What can go wrong with an upload, as facts; [`crate::error`] turns them into sentences.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("upload not found")]
    NotFound,
    #[error("parts missing: {0:?}")]
    Incomplete(Vec<u32>),
    #[error("rejected: {0}")]
    Rejected(Rejection),
    #[error("upload is {0}")]
    Closed(UploadStatus),
    /// The part is in the store already and was signed for other content: a second URL
    /// could replace what is there.
    #[error("part {part} is already stored with another checksum")]
    PartAlreadyStored { part: u32 },
    /// A part was sent again (other bytes, same length) between the store's list and the
    /// completion: completing again takes the new one.
    #[error("a part changed while the upload was being completed")]
    PartChanged,
    /// `size` on top of the `used` bytes (kept and on their way) would pass the quota.
    #[error("{size} bytes do not fit: {used} of {quota} used")]
    OverQuota { size: u64, used: u64, quota: u64 },
    /// The guests of the caller's network together would pass their quota.
    #[error("{size} bytes do not fit the guests of this network: {used} of {quota} used")]
    NetworkFull { size: u64, used: u64, quota: u64 },
    #[error("{max} uploads in progress already")]
    TooManyActive { max: u64 },
    /// The owner (or the guests of its network) have as many uploads, of any status, as
    /// they may keep.
    #[error("as many uploads as allowed already")]
    TooManyFiles,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for UploadError {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(DbError::from(e))
    }
}

impl UploadError {
    /// The caller's text holds a character the database cannot keep: their mistake.
    pub fn unstorable(&self) -> bool {
        matches!(self, Self::Db(DbError::Unstorable))
    }
}

pub type UploadResult<T> = Result<T, UploadError>;
