//! Completing: the store's parts checked against the plan, the object verified, and the
//! upload settled as a file or rejected with the reason.

use super::*;

impl<S: ObjectStore> UploadService<S> {
    /// Asks the store what arrived, never the browser, and accepts the upload only if it is
    /// exactly what was announced. Completing twice gives the same answer twice; completing
    /// while an abort or the reaper is closing the upload gives their answer. An arrived
    /// file's answer carries what processing knows of it, as its event does: the page shows
    /// either, in whichever order they come.
    pub async fn complete(&self, owner: &str, id: &str) -> UploadResult<UploadView> {
        let mut view = self.settle_completion(owner, id).await?;
        if view.status == UploadStatus::Uploaded {
            view.file = db::files::find(&self.db, id)
                .await?
                .as_ref()
                .map(db::files::FileRow::info);
        }
        Ok(view)
    }

    async fn settle_completion(&self, owner: &str, id: &str) -> UploadResult<UploadView> {
        let row = self.find(owner, id).await?;
        if let Some(answer) = completion_answer(&row)? {
            return answer;
        }
        // Completing is activity too: the reaper must not take the upload from under us.
        if self.extend(&row).await.is_err() {
            return self.settled(owner, id).await;
        }
        match self.verify(&row).await {
            Ok(true) => Ok(self.find(owner, id).await?.view()),
            Ok(false) => self.settled(owner, id).await,
            // The object vanished under us: someone closing the upload deleted it.
            Err(UploadError::Storage(e)) => {
                let now = self.find(owner, id).await?;
                if now.reap_claim.is_some() || now.status != row.status {
                    self.settled(owner, id).await
                } else {
                    Err(e.into())
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Completes a batch of uploads, verifying several at once: a page that uploads many small
    /// files asks once for all that finished meanwhile, and none waits for another's checks.
    pub async fn complete_many(
        &self,
        owner: &str,
        ids: &[String],
    ) -> UploadResult<Vec<UploadResult<UploadView>>> {
        if ids.is_empty() || ids.len() > MAX_COMPLETE_BATCH {
            return Err(Invalid::FileBatchSize {
                asked: ids.len(),
                max: MAX_COMPLETE_BATCH,
            }
            .into());
        }
        let verifying = ids.iter().map(|id| self.complete(owner, id)).collect();
        Ok(in_order(verifying, VERIFYING_AT_ONCE).await)
    }

    /// Completes the multipart upload and checks the object. `Ok(false)`: someone else
    /// settled the upload (or is settling it) first.
    pub(super) async fn verify(&self, row: &UploadRow) -> UploadResult<bool> {
        let plan = plan_of(row);
        let s3_id = row
            .s3_upload_id
            .as_deref()
            .ok_or_else(|| UploadError::Incomplete((1..=plan.part_count()).collect()))?;
        // What the store verified of the whole file as it arrived, if it did (see below).
        let mut store_sha256 = None;
        match self.store.list_parts(&row.object_key, s3_id).await {
            Ok(stored) => match self.check_parts(row, &plan, stored).await {
                Ok(parts) => {
                    store_sha256 = whole_file_sha256(row, &parts);
                    match self
                        .store
                        .complete_multipart(&row.object_key, s3_id, &parts)
                        .await
                    {
                        // A concurrent call completed (or aborted) it first; the object tells
                        // which.
                        Ok(()) | Err(StorageError::NoSuchUpload) => {}
                        Err(StorageError::PartChanged) => return Err(UploadError::PartChanged),
                        Err(e) => return Err(e.into()),
                    }
                }
                // A concurrent call (a double click) may have completed it between our look
                // and its own: a store can then list a completed upload's parts as none.
                // Then the object is there, and is verified below like any other.
                Err(UploadError::Incomplete(missing)) => {
                    if self.store.head(&row.object_key).await?.is_none() {
                        return Err(UploadError::Incomplete(missing));
                    }
                }
                Err(e) => return Err(e),
            },
            Err(StorageError::NoSuchUpload) => {}
            Err(e) => return Err(e.into()),
        }

        // One ranged GET: the object's size and type, and the bytes its type is read from.
        let Some(start) = self
            .store
            .read_start(&row.object_key, sniff::HEAD_LEN)
            .await?
        else {
            return Ok(false);
        };
        let object = start.info;
        if object.size != row.size() {
            let reason = Rejection::SizeMismatch {
                arrived: object.size,
                announced: row.size(),
            };
            return Err(self.reject(row, reason).await);
        }
        let stored_type = object.content_type.unwrap_or_default();
        if stored_type != row.content_type {
            let reason = Rejection::StoredType {
                stored: stored_type,
                announced: row.content_type.clone(),
            };
            return Err(self.reject(row, reason).await);
        }
        // The declared type was checked against the rules; now the bytes must agree with it.
        if let Err(reason) = sniff::check(&row.content_type, &start.bytes) {
            return Err(self.reject(row, reason).await);
        }
        let jobs = crate::processing::jobs_for(&row.content_type, self.after.scan, self.after.hls);
        let kinds: Vec<&str> = jobs
            .iter()
            .filter(|k| store_sha256.is_none() || **k != crate::processing::JobKind::Hash)
            .map(|k| k.as_str())
            .collect();
        let now = self.clock.now_ms();
        let arrived = db::files::arrive(
            &self.db,
            &row.id,
            now,
            &kinds,
            (self.after.job_attempts, clock::millis(self.after.job_yield)),
            store_sha256.as_deref(),
        )
        .await?;
        if arrived {
            metrics::counter!(observe::UPLOADS_COMPLETED).increment(1);
            metrics::counter!(observe::UPLOADS_COMPLETED_BYTES).increment(row.size());
            self.after.queued.notify_waiters();
            self.after.bell.ring();
        }
        Ok(arrived)
    }

    /// The answer for an upload that a concurrent call has settled, or is settling.
    pub(super) async fn settled(&self, owner: &str, id: &str) -> UploadResult<UploadView> {
        let row = self.find(owner, id).await?;
        completion_answer(&row)?.unwrap_or_else(|| Err(UploadError::Closed(closing(&row))))
    }

    /// Every announced part must be there with exactly its planned size. Parts beyond the plan
    /// are left out of the completion (the store then discards them).
    pub(super) async fn check_parts(
        &self,
        row: &UploadRow,
        plan: &PartPlan,
        stored: Vec<StoredPart>,
    ) -> UploadResult<Vec<StoredPart>> {
        let wanted = plan.part_count();
        let parts: Vec<StoredPart> = stored
            .into_iter()
            .filter(|p| p.part_number <= wanted)
            .collect();
        let missing: Vec<u32> = (1..=wanted)
            .filter(|n| parts.binary_search_by_key(n, |p| p.part_number).is_err())
            .collect();
        if !missing.is_empty() {
            return Err(UploadError::Incomplete(missing));
        }
        if let Some(bad) = parts
            .iter()
            .find(|p| Some(p.size) != plan.part_len(p.part_number))
        {
            let reason = Rejection::PartSize {
                part: bad.part_number,
                holds: bad.size,
                expected: plan.part_len(bad.part_number).unwrap_or(0),
            };
            return Err(self.reject(row, reason).await);
        }
        Ok(parts)
    }

    /// Deletes what arrived and records why. Returns the error to hand back.
    pub(super) async fn reject(&self, row: &UploadRow, reason: Rejection) -> UploadError {
        if let Err(e) = self.purge(row).await {
            // The row keeps its expiry, so the cleanup is tried again later.
            tracing::warn!(upload = %row.id, error = %e, "could not delete a rejected upload");
            return e.into();
        }
        let because = ClosedBecause::Rejected(reason.clone());
        let step = db::uploads::Step::Reject {
            reason: Some(&because),
        };
        // Refused only if an abort or the reaper closed it meanwhile: it is closed either way.
        if let Err(e) = db::uploads::settle(&self.db, &row.id, step, self.clock.now_ms()).await {
            return e.into();
        }
        tracing::info!(upload = %row.id, %reason, "upload rejected");
        metrics::counter!(observe::UPLOADS_REJECTED, "stage" => "verify").increment(1);
        UploadError::Rejected(reason)
    }
}

/// The file's SHA-256 (hex) as the store verified it: a one-part upload signed for its
/// SHA-256 (see `start`) was refused by the store unless its bytes had that hash, and the
/// store lists the hash it checked. `None` for anything else (the `hash` job reads it then).
fn whole_file_sha256(row: &UploadRow, parts: &[StoredPart]) -> Option<String> {
    let [only] = parts else { return None };
    if row.checksum.as_deref() != Some(ChecksumAlgorithm::Sha256.as_str()) {
        return None;
    }
    let checksum = only.checksum.as_ref()?;
    if checksum.algorithm != ChecksumAlgorithm::Sha256 {
        return None;
    }
    let bytes = crate::checksum::unbase64(&checksum.value)?;
    (bytes.len() == 32).then(|| crate::format::hex(&bytes))
}

/// What `complete` answers for an upload that is already settled; `None` while it is still
/// uploading. The same answer every time is what makes completing idempotent.
pub(super) fn completion_answer(row: &UploadRow) -> UploadResult<Option<UploadResult<UploadView>>> {
    Ok(match row.status {
        UploadStatus::Uploading => None,
        UploadStatus::Uploaded => Some(Ok(row.view())),
        UploadStatus::Rejected => Some(Err(match row.closed_because() {
            Some(ClosedBecause::Rejected(reason)) => UploadError::Rejected(reason),
            // Rejected by a version that wrote its reasons as sentences.
            _ => UploadError::Closed(UploadStatus::Rejected),
        })),
        closed => Some(Err(UploadError::Closed(closed))),
    })
}
