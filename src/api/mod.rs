//! The API: server functions the browser calls. Each one is thin: find the caller (guest
//! session, signed-in account or API token), call the upload service, turn its error into
//! words for people. Account functions are in [`account`].

pub mod account;
pub mod account_settings;
#[cfg(feature = "ssr")]
pub mod companion;
pub mod files;

use crate::{
    error::ApiError,
    model::{
        EngineSettings, FileToStart, LibraryPage, LibrarySort, PartToSign, ResumeState, SignedPart,
        StartedUpload, UploadView,
    },
};
use leptos::prelude::*;

#[server(endpoint = "start_upload")]
pub async fn start_upload(
    name: String,
    size: u64,
    content_type: String,
) -> Result<StartedUpload, ApiError> {
    let (uploads, owner, allowance) = ssr::starter(1)?;
    let request = crate::uploads::NewUpload {
        name,
        size,
        content_type,
        checksum: None,
        sha256: None,
        layout: Default::default(),
    };
    uploads
        .start(&owner, allowance, request)
        .await
        .map_err(ssr::failed)
}

/// Starts many files in one request (each gets its own answer, so one refused file does not
/// hold back the others). A file that fits in one part and brings its checksum gets its URL
/// in the answer.
#[server(endpoint = "start_uploads")]
pub async fn start_uploads(
    files: Vec<FileToStart>,
) -> Result<Vec<Result<StartedUpload, ApiError>>, ApiError> {
    let (uploads, owner, allowance) = ssr::starter(files.len())?;
    let requests = files
        .into_iter()
        .map(|f| crate::uploads::NewUpload {
            name: f.name,
            size: f.size,
            content_type: f.content_type,
            checksum: f.checksum,
            sha256: f.sha256,
            layout: Default::default(),
        })
        .collect();
    let answers = uploads.start_many(&owner, allowance, requests).await;
    ssr::each_failed(answers)
}

#[server(endpoint = "sign_parts")]
pub async fn sign_parts(
    upload_id: String,
    parts: Vec<PartToSign>,
) -> Result<Vec<SignedPart>, ApiError> {
    let (uploads, owner) = ssr::caller()?;
    uploads
        .sign_parts(&owner, &upload_id, &parts)
        .await
        .map_err(ssr::failed)
}

/// Where an unfinished upload stands (which parts the store holds), for a browser that paused,
/// lost its connection or was reloaded. `size` and `content_type` are the file offered for it.
#[server(endpoint = "resume_upload")]
pub async fn resume_upload(
    upload_id: String,
    size: u64,
    content_type: String,
) -> Result<ResumeState, ApiError> {
    let (uploads, owner) = ssr::caller()?;
    uploads
        .resume(&owner, &upload_id, size, &content_type)
        .await
        .map_err(ssr::failed)
}

/// Activity without a request for URLs: parts sent over a slow link can take longer than the
/// upload's TTL, and an upload whose parts are on their way must not expire.
#[server(endpoint = "keep_upload_alive")]
pub async fn keep_upload_alive(upload_id: String) -> Result<(), ApiError> {
    let (uploads, owner) = ssr::caller()?;
    uploads
        .keep_alive(&owner, &upload_id)
        .await
        .map_err(ssr::failed)
}

#[server(endpoint = "complete_upload")]
pub async fn complete_upload(upload_id: String) -> Result<UploadView, ApiError> {
    let (uploads, owner) = ssr::caller()?;
    uploads
        .complete(&owner, &upload_id)
        .await
        .map_err(ssr::failed)
}

/// Completes many uploads in one request, each verified as `complete_upload` does and
/// answered on its own.
#[server(endpoint = "complete_uploads")]
pub async fn complete_uploads(
    upload_ids: Vec<String>,
) -> Result<Vec<Result<UploadView, ApiError>>, ApiError> {
    let (uploads, owner) = ssr::caller()?;
    let answers = uploads.complete_many(&owner, &upload_ids).await;
    ssr::each_failed(answers)
}

#[server(endpoint = "abort_upload")]
pub async fn abort_upload(upload_id: String) -> Result<UploadView, ApiError> {
    let (uploads, owner) = ssr::caller()?;
    uploads.abort(&owner, &upload_id).await.map_err(ssr::failed)
}

/// Deletes a file for good: the object goes and its bytes stop counting against the quota.
/// An upload still on its way is cancelled first.
#[server(endpoint = "delete_upload")]
pub async fn delete_upload(upload_id: String) -> Result<(), ApiError> {
    let (uploads, owner) = ssr::caller()?;
    uploads
        .delete(&owner, &upload_id)
        .await
        .map_err(ssr::failed)
}

/// Deletes up to [`crate::model::MAX_DELETE_BATCH`] of the caller's uploads, each as `delete_upload` would;
/// each file counts as a call against the network's rate limit. The answer lists the ones
/// that could not be deleted, with why.
#[server(endpoint = "delete_uploads")]
pub async fn delete_uploads(upload_ids: Vec<String>) -> Result<Vec<NotDeleted>, ApiError> {
    let max = crate::model::MAX_DELETE_BATCH;
    if upload_ids.is_empty() || upload_ids.len() > max {
        return Err(ApiError::Invalid(crate::error::Invalid::FileBatchSize {
            asked: upload_ids.len(),
            max,
        }));
    }
    let (uploads, owner) = ssr::caller_charged(upload_ids.len())?;
    let mut refused = Vec::new();
    let mut ids = upload_ids.into_iter();
    while let Some(upload_id) = ids.next() {
        let Err(e) = uploads.delete(&owner, &upload_id).await else {
            continue;
        };
        let error = ssr::failed(e);
        // The store or the database is failing: the rest would fail alike, and each try
        // would wait on it. They are answered untried.
        let stop = matches!(
            error,
            ApiError::StorageUnavailable { .. } | ApiError::Internal { .. }
        );
        refused.push(NotDeleted { upload_id, error });
        if stop {
            let error = refused[refused.len() - 1].error.clone();
            refused.extend(ids.map(|upload_id| NotDeleted {
                upload_id,
                error: error.clone(),
            }));
            break;
        }
    }
    Ok(refused)
}

/// An upload `delete_uploads` left, and why.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NotDeleted {
    pub upload_id: String,
    pub error: ApiError,
}

/// A page of the caller's library; `cursor` is the `next` of the page before, in the same
/// `sort` and `search` (both optional: newest first, every name).
#[server(endpoint = "list_uploads")]
pub async fn list_uploads(
    cursor: Option<String>,
    #[server(default)] search: Option<String>,
    #[server(default)] sort: Option<LibrarySort>,
) -> Result<LibraryPage, ApiError> {
    let (state, caller) = ssr::context()?;
    let owner = caller.owner();
    // Read before the page: an event written while it is read is sent again, never missed.
    let events_after = match cursor {
        None => Some(state.feed.newest().await.map_err(|e| {
            tracing::error!(error = %e, "cannot read the newest event");
            ApiError::internal()
        })?),
        Some(_) => None,
    };
    let mut page = state
        .uploads
        .list_in(
            &owner,
            sort.unwrap_or_default(),
            search.as_deref().unwrap_or_default(),
            cursor.as_deref(),
        )
        .await
        .map_err(ssr::failed)?;
    page.events_after = events_after;
    if cursor.is_none() {
        page.used = Some(state.accounts.usage(&owner).await.map_err(|e| {
            tracing::error!(error = %e, "cannot sum an owner's storage");
            ApiError::internal()
        })?);
    }
    Ok(page)
}

#[server(endpoint = "engine_settings")]
pub async fn get_engine_settings() -> Result<EngineSettings, ApiError> {
    let state = use_context::<crate::server::state::AppState>().ok_or_else(ApiError::internal)?;
    Ok(EngineSettings {
        parallel_parts: state.config.rules.parallel_parts,
        upload_ttl_secs: state.config.rules.upload_ttl.as_secs(),
        part_size: state.config.rules.part_size,
        max_part_size: state.config.rules.max_part_size,
        checksum: state.config.rules.part_checksum,
        hash_first_max: state.config.rules.browser_hash_max,
    })
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::ApiError;
    use crate::{
        accounts::Caller,
        server::{limits::ClientIp, state::AppState, Uploads},
        storage::StorageError,
        uploads::{Allowance, UploadError},
    };
    use leptos::prelude::*;
    use std::sync::Arc;

    /// The app's state and the caller, as the session middleware named it.
    pub fn context() -> Result<(AppState, Caller), ApiError> {
        let state = use_context::<AppState>().ok_or_else(ApiError::internal)?;
        let parts = use_context::<http::request::Parts>().ok_or_else(ApiError::internal)?;
        let caller = parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(ApiError::internal)?;
        Ok((state, caller))
    }

    /// The upload service and the caller's owner key.
    pub fn caller() -> Result<(Arc<Uploads>, String), ApiError> {
        let (state, caller) = context()?;
        Ok((state.uploads.clone(), caller.owner()))
    }

    /// As [`caller`], for a call about `files` files: each counts as a call against the
    /// network's rate limit.
    pub fn caller_charged(files: usize) -> Result<(Arc<Uploads>, String), ApiError> {
        let (state, caller) = context()?;
        charge_extra(&state, files)?;
        Ok((state.uploads.clone(), caller.owner()))
    }

    fn charge_extra(state: &AppState, files: usize) -> Result<(), ApiError> {
        let ip = client_ip().ok_or_else(ApiError::internal)?;
        // The call itself was charged already.
        let extra = u32::try_from(files.saturating_sub(1)).unwrap_or(u32::MAX);
        if extra > 0 {
            if let Err(wait) = state.limits.charge_ip(ip, extra) {
                return Err(rate_limited(wait));
            }
        }
        Ok(())
    }

    /// As [`caller`], for starting `files` uploads: guests must be allowed to upload, and each
    /// file counts as a call against the IP's rate limit (one request may start fifty).
    pub fn starter(files: usize) -> Result<(Arc<Uploads>, String, Allowance), ApiError> {
        let (state, caller) = context()?;
        if caller.account().is_none() && !state.accounts.settings.guest_uploads {
            return Err(ApiError::SignInRequired);
        }
        charge_extra(&state, files)?;
        let ip = client_ip().ok_or_else(ApiError::internal)?;
        let allowance = caller.allowance(&state.accounts.settings, ip);
        Ok((state.uploads.clone(), caller.owner(), allowance))
    }

    pub fn client_ip() -> Option<std::net::IpAddr> {
        let parts = use_context::<http::request::Parts>()?;
        parts.extensions.get::<ClientIp>().map(|ip| ip.0)
    }

    /// A 429 from inside a server function: the status comes from the error, the
    /// `Retry-After` header is set here.
    pub fn rate_limited(wait: std::time::Duration) -> ApiError {
        let retry_after_secs = crate::server::limits::retry_after_secs(wait);
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(value) = http::HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.insert_header(http::header::RETRY_AFTER, value);
            }
        }
        ApiError::RateLimited { retry_after_secs }
    }

    /// The one place a failed request is logged: here the cause is still known, while the
    /// caller is told only what they can act on.
    pub fn failed(e: UploadError) -> ApiError {
        let answer = ApiError::from(&e);
        match answer {
            ApiError::StorageUnavailable { .. } => {
                tracing::warn!(error = %e, "object store unreachable")
            }
            ApiError::Internal { .. } => tracing::error!(error = %e, "upload request failed"),
            _ => tracing::debug!(error = %e, "request refused"),
        }
        answer
    }

    /// A batch's answers: the whole call refused, or each file's answer on its own.
    pub fn each_failed<T>(
        answers: Result<Vec<Result<T, UploadError>>, UploadError>,
    ) -> Result<Vec<Result<T, ApiError>>, ApiError> {
        Ok(answers
            .map_err(failed)?
            .into_iter()
            .map(|a| a.map_err(failed))
            .collect())
    }

    impl From<&UploadError> for ApiError {
        fn from(e: &UploadError) -> Self {
            match e {
                UploadError::Invalid(invalid) => Self::Invalid(invalid.clone()),
                UploadError::NotFound => Self::NotFound,
                UploadError::Incomplete(missing) => Self::Incomplete {
                    missing: missing.clone(),
                },
                UploadError::PartAlreadyStored { part } => Self::PartAlreadyStored { part: *part },
                UploadError::PartChanged => Self::PartChanged,
                UploadError::Rejected(reason) => Self::Rejected(reason.clone()),
                UploadError::Closed(status) => Self::Closed(*status),
                UploadError::OverQuota { size, used, quota } => Self::OverQuota {
                    size: *size,
                    left: quota.saturating_sub(*used),
                    quota: *quota,
                },
                UploadError::TooManyActive { max } => Self::TooManyActive { max: *max },
                UploadError::TooManyFiles => Self::TooManyFiles,
                UploadError::NetworkFull { size, .. } => Self::GuestNetworkFull { size: *size },
                UploadError::Storage(StorageError::Unreachable(_)) => Self::storage_unavailable(),
                UploadError::Db(_) if e.unstorable() => Self::unstorable(),
                UploadError::Storage(_) | UploadError::Db(_) => Self::internal(),
            }
        }
    }
}
