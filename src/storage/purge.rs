//! The one way Hoist leaves nothing of an upload in the store. Aborting, rejecting and reaping
//! all end here, so they cannot disagree about what "cleaned" means.

use super::{ObjectStore, StorageResult};

/// The store requests a purge made, for the reaper's report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeCalls {
    pub aborts: u64,
    pub deletes: u64,
    pub key_lookups: u64,
}

/// Aborts the upload's multipart upload and deletes its object if one may exist. Already gone
/// counts as done, so purging twice, or after someone else did, is fine.
///
/// `upload_id` is `None` when the upload was recorded but the store's answer to
/// CreateMultipartUpload never was (a crash in between): the store may then hold an upload
/// under this key that no row names, so it is asked about this one key — never the bucket.
/// `calls` counts what was asked even when a request fails.
pub async fn purge<S: ObjectStore>(
    store: &S,
    key: &str,
    upload_id: Option<&str>,
    calls: &mut PurgeCalls,
) -> StorageResult<()> {
    let upload_ids = match upload_id {
        Some(id) => vec![id.to_string()],
        None => {
            calls.key_lookups += 1;
            store
                .pending_uploads(key)
                .await?
                .into_iter()
                .filter(|p| p.key == key)
                .map(|p| p.upload_id)
                .collect()
        }
    };
    let mut all_aborted = !upload_ids.is_empty();
    for upload_id in &upload_ids {
        calls.aborts += 1;
        all_aborted &= store.abort_multipart(key, upload_id).await?;
    }
    // A multipart upload that was still there was never completed, so no object exists (keys
    // are never reused). Otherwise it may have been completed just before — by a completion
    // racing this purge, or before a crash — and its object must go.
    if !all_aborted {
        calls.deletes += 1;
        store.delete(key).await?;
    }
    Ok(())
}
