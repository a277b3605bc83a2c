//! Server functions for a file's page: what the caller may see of it, and its owner's title,
//! description and audience. Whoever may not see a file gets "not found", as for a file that
//! does not exist.

use crate::{
    error::ApiError,
    model::{FilePage, JobView, UploadView, Visibility},
};
use leptos::prelude::*;

/// `key` is the share key from the page's address, for a file shared by link. Its owner also
/// gets its jobs and the live feed's cursor to follow it from.
#[server(endpoint = "get_file")]
pub async fn get_file(upload_id: String, key: Option<String>) -> Result<FilePage, ApiError> {
    let (state, caller) = super::ssr::context()?;
    // Read before the page: an event written while it is read is sent again, never missed.
    let after = state.feed.newest().await.map_err(|e| {
        tracing::error!(error = %e, "cannot read the newest event");
        ApiError::internal()
    })?;
    let mut page = state
        .files
        .page(&caller.owner(), &upload_id, key.as_deref())
        .await
        .map_err(ssr::failed)?;
    page.events_after = page.mine.then_some(after);
    Ok(page)
}

/// The owner's file's processing jobs and where each stands (its page refreshes them as the
/// file's events arrive). Only the owner may call it (anyone else: not found); one read.
#[server(endpoint = "file_jobs")]
pub async fn file_jobs(upload_id: String) -> Result<Vec<JobView>, ApiError> {
    let (state, caller) = super::ssr::context()?;
    state
        .files
        .jobs(&caller.owner(), &upload_id)
        .await
        .map_err(ssr::failed)
}

#[server(endpoint = "describe_file")]
pub async fn describe_file(
    upload_id: String,
    title: String,
    description: String,
    visibility: Visibility,
) -> Result<UploadView, ApiError> {
    let (state, caller) = super::ssr::context()?;
    state
        .files
        .describe(
            &caller.owner(),
            &upload_id,
            &title,
            &description,
            visibility,
        )
        .await
        .map_err(ssr::failed)
}

/// A new link key for the owner's file: links handed out before stop opening it. Only the
/// owner may call it (anyone else: not found); it costs one write.
#[server(endpoint = "new_share_link")]
pub async fn new_share_link(upload_id: String) -> Result<FilePage, ApiError> {
    let (state, caller) = super::ssr::context()?;
    state
        .files
        .new_link(&caller.owner(), &upload_id)
        .await
        .map_err(ssr::failed)
}

/// Files their owners made public, most recently changed first.
#[server(endpoint = "public_files")]
pub async fn public_files() -> Result<Vec<UploadView>, ApiError> {
    let (state, _) = super::ssr::context()?;
    state.files.public().await.map_err(ssr::failed)
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use crate::{error::ApiError, files::FileError, storage::StorageError};

    pub fn failed(e: FileError) -> ApiError {
        match e {
            FileError::NotFound | FileError::NoThumbnail | FileError::NoLadder => {
                ApiError::NotFound
            }
            FileError::BadTitle { max } => ApiError::BadTitle { max },
            FileError::BadDescription { max } => ApiError::BadDescription { max },
            FileError::Infected { signature } => ApiError::Infected { signature },
            FileError::NotClean { scan, detail } => ApiError::NotScannedClean { scan, detail },
            FileError::Storage(StorageError::Unreachable(ref why)) => {
                tracing::warn!(error = %why, "object store unreachable");
                ApiError::storage_unavailable()
            }
            FileError::Db(_) if e.unstorable() => ApiError::unstorable(),
            FileError::Storage(_) | FileError::Db(_) => {
                tracing::error!(error = %e, "file request failed");
                ApiError::internal()
            }
        }
    }
}
