//! Aborting and deleting: an upload claimed before its store side is purged, so a completion
//! racing the abort cannot mark it uploaded; a delete that leaves the object to the outbox.

use super::*;

impl<S: ObjectStore> UploadService<S> {
    /// Stops an upload and removes whatever the store holds of it. Aborting twice is fine.
    /// The upload is claimed first, so a completion running at the same moment can no longer
    /// mark it uploaded: the row and the bucket end up agreeing whoever came first.
    pub async fn abort(&self, owner: &str, id: &str) -> UploadResult<UploadView> {
        let row = self.find(owner, id).await?;
        match row.status {
            UploadStatus::Uploading => {}
            UploadStatus::Aborted => return Ok(row.view()),
            closed => return Err(UploadError::Closed(closed)),
        }
        let claim = format!("{ABORT_CLAIM}{}", uuid::Uuid::new_v4());
        let now = self.clock.now_ms();
        let lease_until = now + millis(ABORT_LEASE);
        if !db::uploads::claim_for_abort(&self.db, id, &claim, now, lease_until).await? {
            let row = self.find(owner, id).await?;
            return match row.status {
                UploadStatus::Aborted => Ok(row.view()),
                UploadStatus::Uploading => Err(UploadError::Closed(closing(&row))),
                closed => Err(UploadError::Closed(closed)),
            };
        }
        // A completion that got in before the claim may have made the object: purge sees to it.
        if let Err(e) = self.purge(&row).await {
            db::uploads::release_claim(&self.db, id, &claim).await?;
            return Err(e.into());
        }
        let step = db::uploads::Step::Abort { claim: &claim };
        let moved = db::uploads::settle(&self.db, id, step, self.clock.now_ms()).await?;
        if moved.is_ok() {
            metrics::counter!(observe::UPLOADS_ABORTED).increment(1);
        }
        let row = self.find(owner, id).await?;
        match row.status {
            UploadStatus::Aborted => Ok(row.view()),
            other => Err(UploadError::Closed(other)),
        }
    }

    /// Deletes an upload for its owner: an unfinished one is aborted first; then the row
    /// goes (so its bytes no longer count against the quota) and, in the same transaction,
    /// its object and thumbnail go to the outbox unless another upload of the same content
    /// shares them. The outbox deletes them from the store, retrying until the store
    /// confirms: a crash or a store away at any moment leaves nothing half-deleted.
    /// Deleting what is already gone answers "not found".
    pub async fn delete(&self, owner: &str, id: &str) -> UploadResult<()> {
        let row = self.find(owner, id).await?;
        if row.status == UploadStatus::Uploading {
            self.abort(owner, id).await?;
        }
        match db::outbox::delete_upload(&self.db, id, owner, self.clock.now_ms()).await? {
            Deletion::NotFound => Err(UploadError::NotFound),
            Deletion::Busy { .. } => {
                let row = self.find(owner, id).await?;
                Err(UploadError::Closed(closing(&row)))
            }
            Deletion::Deleted { doomed } => {
                if doomed > 0 {
                    self.after.outbox.ring();
                }
                self.after.bell.ring();
                Ok(())
            }
        }
    }

    pub(super) async fn purge(&self, row: &UploadRow) -> Result<(), StorageError> {
        let mut calls = PurgeCalls::default();
        let upload_id = row.s3_upload_id.as_deref();
        storage::purge(&self.store, &row.object_key, upload_id, &mut calls).await
    }
}
