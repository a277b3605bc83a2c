use super::{naming, policy, sniff, UploadError, UploadResult};
use crate::{
    checksum::ChecksumAlgorithm,
    db::{self, uploads::UploadRow},
    format,
    model::{
        PartPlan, PartToSign, ResumeState, SignedPart, StartedUpload, Transfer, UploadStatus,
        UploadView,
    },
    server::config::UploadRules,
    storage::{Checksum, ObjectStore, StorageError, StoredPart},
};
use sqlx::SqlitePool;
use std::time::Duration;

/// At most this many part URLs per `sign_parts` call: URLs are signed shortly before use.
pub const MAX_SIGN_BATCH: usize = 100;
/// How long a download link stays valid.
const DOWNLOAD_TTL: Duration = Duration::from_secs(300);
/// The library shows this many uploads, newest first.
const LIBRARY_LIMIT: i64 = 1000;

/// What a browser asks to upload.
#[derive(Clone, Debug)]
pub struct NewUpload {
    pub name: String,
    pub size: u64,
    pub content_type: String,
}

pub struct UploadService<S> {
    db: SqlitePool,
    store: S,
    rules: UploadRules,
}

impl<S: ObjectStore> UploadService<S> {
    pub fn new(db: SqlitePool, store: S, rules: UploadRules) -> Self {
        Self { db, store, rules }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn db(&self) -> &SqlitePool {
        &self.db
    }

    pub fn rules(&self) -> &UploadRules {
        &self.rules
    }

    /// Validates the request, records the upload (on death row from its first moment: it
    /// expires unless completed) and prepares the store to receive it.
    pub async fn start(&self, owner: &str, request: NewUpload) -> UploadResult<StartedUpload> {
        let name = naming::sanitize_name(&request.name)
            .map_err(|e| UploadError::Invalid(e.to_string()))?;
        if request.size == 0 {
            return Err(UploadError::Invalid(format!(
                "{name} is empty; there is nothing to upload."
            )));
        }
        if request.size > self.rules.max_file_size {
            return Err(UploadError::Invalid(format!(
                "{name} is {}, larger than the {} allowed.",
                format::bytes(request.size),
                format::bytes(self.rules.max_file_size)
            )));
        }
        let content_type =
            policy::normalize_type(&request.content_type).map_err(UploadError::Invalid)?;
        if !policy::type_allowed(&content_type, &self.rules.allowed_types) {
            return Err(UploadError::Invalid(format!(
                "Files of type {content_type} are not accepted here (allowed: {}).",
                self.rules.allowed_types.join(", ")
            )));
        }
        let part_size =
            policy::choose_part_size(request.size, self.rules.part_size, self.rules.max_part_size)
                .ok_or_else(|| {
                    UploadError::Invalid(format!("{name} is too large for any S3 upload."))
                })?;
        let plan = PartPlan::new(request.size, part_size);

        let id = uuid::Uuid::new_v4().to_string();
        let now = db::now_ms();
        let row = UploadRow {
            id: id.clone(),
            owner: owner.to_string(),
            name: name.clone(),
            object_key: naming::object_key(&id, &name),
            content_type: content_type.clone(),
            size: to_i64(request.size)?,
            part_size: to_i64(part_size)?,
            s3_upload_id: None,
            status: UploadStatus::Uploading.as_str().to_string(),
            reason: None,
            created_at: now,
            completed_at: None,
            expires_at: Some(now + ttl_ms(self.rules.upload_ttl)),
            checksum: self.rules.part_checksum.map(|a| a.as_str().to_string()),
        };
        // The row comes first: if we die before the store has heard of the upload, the row
        // still names the key, so nothing the store might hold is unknown to us.
        db::uploads::insert(&self.db, &row).await?;

        let checksum = self.rules.part_checksum;
        let transfer = if plan.part_count() > 1 {
            match self
                .store
                .create_multipart(&row.object_key, &content_type, checksum)
                .await
            {
                Ok(s3_id) => db::uploads::set_s3_upload_id(&self.db, &id, &s3_id).await?,
                Err(e) => {
                    let reason = "The storage service could not start the upload.";
                    db::uploads::mark_closed(
                        &self.db,
                        &id,
                        UploadStatus::Aborted,
                        Some(reason),
                        db::now_ms(),
                    )
                    .await?;
                    return Err(e.into());
                }
            }
            Transfer::Multipart
        } else if checksum.is_some() {
            Transfer::SingleAfterChecksum
        } else {
            let request = self
                .store
                .presign_put(
                    &row.object_key,
                    &content_type,
                    request.size,
                    None,
                    self.rules.url_ttl,
                )
                .await?;
            Transfer::Single(request)
        };
        Ok(StartedUpload {
            upload_id: id,
            name,
            plan,
            transfer,
            checksum,
        })
    }

    /// Presigned URLs for a batch of parts. Signing is activity: it keeps the upload alive.
    /// A file sent in one PUT has one part, number 1: asking for it again gives a fresh URL
    /// (the first one may have expired while the browser waited, paused or was offline).
    /// When the upload requires checksums, each part must bring its own: it is signed into
    /// the URL, so the store takes only those exact bytes.
    pub async fn sign_parts(
        &self,
        owner: &str,
        id: &str,
        parts: &[PartToSign],
    ) -> UploadResult<Vec<SignedPart>> {
        let row = self.open_upload(owner, id).await?;
        if parts.is_empty() || parts.len() > MAX_SIGN_BATCH {
            return Err(UploadError::Invalid(format!(
                "Ask for 1 to {MAX_SIGN_BATCH} parts at a time."
            )));
        }
        let plan = plan_of(&row);
        let s3_id = match row.s3_upload_id.as_deref() {
            Some(s3_id) => Some(s3_id),
            None if plan.part_count() == 1 => None,
            // Recorded, but the store never confirmed the multipart upload: nothing to sign for.
            None => return Err(UploadError::Closed(UploadStatus::Aborted)),
        };
        let required = checksum_of(&row)?;
        self.extend(&row).await?;

        let mut signed = Vec::with_capacity(parts.len());
        for part in parts {
            let part_number = part.part_number;
            let len = plan.part_len(part_number).ok_or_else(|| {
                UploadError::Invalid(format!(
                    "Part {part_number} does not exist; this upload has {} parts.",
                    plan.part_count()
                ))
            })?;
            let checksum = match (required, &part.checksum) {
                (None, _) => None,
                (Some(algorithm), Some(value)) if algorithm.accepts(value) => Some(Checksum {
                    algorithm,
                    value: value.clone(),
                }),
                (Some(algorithm), _) => {
                    return Err(UploadError::Invalid(format!(
                        "Part {part_number} needs its {algorithm} checksum (base64) to be signed."
                    )))
                }
            };
            let ttl = self.rules.url_ttl;
            let request = match s3_id {
                Some(s3_id) => {
                    self.store
                        .presign_part(
                            &row.object_key,
                            s3_id,
                            part_number,
                            len,
                            checksum.as_ref(),
                            ttl,
                        )
                        .await?
                }
                None => {
                    self.store
                        .presign_put(
                            &row.object_key,
                            &row.content_type,
                            len,
                            checksum.as_ref(),
                            ttl,
                        )
                        .await?
                }
            };
            signed.push(SignedPart {
                part_number,
                request,
            });
        }
        Ok(signed)
    }

    /// Where an unfinished upload stands, so a browser can send only what is missing (after a
    /// pause, a lost connection or a reload). The file offered must be the one announced.
    pub async fn resume(
        &self,
        owner: &str,
        id: &str,
        size: u64,
        content_type: &str,
    ) -> UploadResult<ResumeState> {
        let row = self.open_upload(owner, id).await?;
        let content_type = policy::normalize_type(content_type).map_err(UploadError::Invalid)?;
        if size != row.size() || content_type != row.content_type {
            return Err(UploadError::Invalid(format!(
                "This is not the file being uploaded as {}: that one is {} of type {}, this one {} of type {}.",
                row.name,
                format::bytes(row.size()),
                row.content_type,
                format::bytes(size),
                content_type
            )));
        }
        let plan = plan_of(&row);
        self.extend(&row).await?;
        let done = match row.s3_upload_id.as_deref() {
            Some(s3_id) => self
                .store
                .list_parts(&row.object_key, s3_id)
                .await?
                .into_iter()
                // A part of the wrong size is sent again; the new one replaces it.
                .filter(|p| plan.part_len(p.part_number) == Some(p.size))
                .map(|p| p.part_number)
                .collect(),
            None => match self.store.head(&row.object_key).await? {
                Some(object) if object.size == row.size() => vec![1],
                _ => Vec::new(),
            },
        };
        Ok(ResumeState {
            upload_id: row.id.clone(),
            name: row.name.clone(),
            plan,
            done,
            checksum: checksum_of(&row)?,
        })
    }

    /// Asks the store what arrived, never the browser, and accepts the upload only if it is
    /// exactly what was announced. Completing twice gives the same answer twice.
    pub async fn complete(&self, owner: &str, id: &str) -> UploadResult<UploadView> {
        let row = self.find(owner, id).await?;
        if let Some(answer) = completion_answer(&row)? {
            return answer;
        }
        // Completing is activity too: the reaper must not take the upload from under us.
        if let Err(e) = self.extend(&row).await {
            return match completion_answer(&self.find(owner, id).await?)? {
                Some(answer) => answer,
                None => Err(e),
            };
        }
        let plan = plan_of(&row);

        if plan.part_count() > 1 {
            let s3_id = row
                .s3_upload_id
                .as_deref()
                .ok_or_else(|| UploadError::Incomplete((1..=plan.part_count()).collect()))?;
            match self.store.list_parts(&row.object_key, s3_id).await {
                Ok(stored) => {
                    let parts = self.check_parts(&row, &plan, stored).await?;
                    match self
                        .store
                        .complete_multipart(&row.object_key, s3_id, &parts)
                        .await
                    {
                        // A concurrent call completed it first; the object below tells the truth.
                        Ok(()) | Err(StorageError::NoSuchUpload) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                // Completed (or aborted) by a concurrent call: the row or the object tells which.
                Err(StorageError::NoSuchUpload) => {}
                Err(e) => return Err(e.into()),
            }
        }

        let Some(object) = self.store.head(&row.object_key).await? else {
            // A concurrent call may have settled the upload meanwhile.
            if let Some(answer) = completion_answer(&self.find(owner, id).await?)? {
                return answer;
            }
            return Err(UploadError::NotArrived);
        };
        if object.size != row.size() {
            let reason = format!(
                "{} arrived, but {} was announced.",
                format::bytes(object.size),
                format::bytes(row.size())
            );
            return Err(self.reject(&row, reason).await);
        }
        let stored_type = object.content_type.unwrap_or_default();
        if stored_type != row.content_type {
            let reason = format!(
                "it was stored as {stored_type:?}, but {} was announced.",
                row.content_type
            );
            return Err(self.reject(&row, reason).await);
        }
        // The declared type was checked against the rules; now the bytes must agree with it.
        let head = self
            .store
            .read_start(&row.object_key, sniff::HEAD_LEN)
            .await?;
        if let Err(reason) = sniff::check(&row.content_type, &head) {
            return Err(self.reject(&row, reason).await);
        }

        db::uploads::mark_uploaded(&self.db, id, db::now_ms()).await?;
        // Whether this call or a concurrent one got there first, the row now has the answer.
        self.find(owner, id).await?.view().map_err(Into::into)
    }

    /// Stops an upload and removes whatever the store holds of it. Aborting twice is fine.
    pub async fn abort(&self, owner: &str, id: &str) -> UploadResult<UploadView> {
        let row = self.find(owner, id).await?;
        match row.status()? {
            UploadStatus::Uploading => {}
            UploadStatus::Aborted => return Ok(row.view()?),
            closed => return Err(UploadError::Closed(closed)),
        }
        match row.s3_upload_id.as_deref() {
            Some(s3_id) => {
                self.store.abort_multipart(&row.object_key, s3_id).await?;
            }
            None => self.store.delete(&row.object_key).await?,
        }
        db::uploads::mark_closed(&self.db, id, UploadStatus::Aborted, None, db::now_ms()).await?;
        self.find(owner, id).await?.view().map_err(Into::into)
    }

    pub async fn list(&self, owner: &str) -> UploadResult<Vec<UploadView>> {
        db::uploads::list_owned(&self.db, owner, LIBRARY_LIMIT)
            .await?
            .iter()
            .map(|row| row.view().map_err(Into::into))
            .collect()
    }

    /// A short-lived link that downloads the file under its name.
    pub async fn download_url(&self, owner: &str, id: &str) -> UploadResult<String> {
        let row = self.find(owner, id).await?;
        match row.status()? {
            UploadStatus::Uploaded => {}
            other => return Err(UploadError::Closed(other)),
        }
        Ok(self
            .store
            .presign_get(&row.object_key, &row.name, DOWNLOAD_TTL)
            .await?)
    }

    async fn find(&self, owner: &str, id: &str) -> UploadResult<UploadRow> {
        db::uploads::find_owned(&self.db, id, owner)
            .await?
            .ok_or(UploadError::NotFound)
    }

    /// The browser says the upload is alive (parts still on their way): its expiry moves on.
    pub async fn keep_alive(&self, owner: &str, id: &str) -> UploadResult<()> {
        let row = self.open_upload(owner, id).await?;
        self.extend(&row).await
    }

    /// Pushes a living upload's expiry forward. An upload whose time ran out is expired even
    /// if the reaper has not come by yet: continuing it would race the reaper's abort.
    async fn extend(&self, row: &UploadRow) -> UploadResult<()> {
        let now = db::now_ms();
        let until = now + ttl_ms(self.rules.upload_ttl);
        if db::uploads::extend(&self.db, &row.id, now, until).await? {
            Ok(())
        } else {
            Err(UploadError::Closed(UploadStatus::Expired))
        }
    }

    async fn open_upload(&self, owner: &str, id: &str) -> UploadResult<UploadRow> {
        let row = self.find(owner, id).await?;
        match row.status()? {
            UploadStatus::Uploading => Ok(row),
            closed => Err(UploadError::Closed(closed)),
        }
    }

    /// Every announced part must be there with exactly its planned size. Parts beyond the plan
    /// are left out of the completion (the store then discards them).
    async fn check_parts(
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
            let reason = format!(
                "part {} holds {}, but {} was expected.",
                bad.part_number,
                format::bytes(bad.size),
                format::bytes(plan.part_len(bad.part_number).unwrap_or(0))
            );
            return Err(self.reject(row, reason).await);
        }
        Ok(parts)
    }

    /// Deletes what arrived and records why. Returns the error to hand back.
    async fn reject(&self, row: &UploadRow, reason: String) -> UploadError {
        let cleanup = match row.s3_upload_id.as_deref() {
            Some(s3_id) => self
                .store
                .abort_multipart(&row.object_key, s3_id)
                .await
                .map(|_| ()),
            None => Ok(()),
        };
        let cleanup = match cleanup {
            Ok(()) => self.store.delete(&row.object_key).await,
            Err(e) => Err(e),
        };
        if let Err(e) = cleanup {
            // The row keeps its expiry, so the cleanup is tried again later.
            tracing::warn!(upload = %row.id, error = %e, "could not delete a rejected upload");
            return e.into();
        }
        if let Err(e) = db::uploads::mark_closed(
            &self.db,
            &row.id,
            UploadStatus::Rejected,
            Some(&reason),
            db::now_ms(),
        )
        .await
        {
            return e.into();
        }
        tracing::info!(upload = %row.id, %reason, "upload rejected");
        UploadError::Rejected(reason)
    }
}

/// What `complete` answers for an upload that is already settled; `None` while it is still
/// uploading. The same answer every time is what makes completing idempotent.
fn completion_answer(row: &UploadRow) -> UploadResult<Option<UploadResult<UploadView>>> {
    Ok(match row.status()? {
        UploadStatus::Uploading => None,
        UploadStatus::Uploaded => Some(Ok(row.view()?)),
        UploadStatus::Rejected => Some(Err(UploadError::Rejected(
            row.reason.clone().unwrap_or_default(),
        ))),
        closed => Some(Err(UploadError::Closed(closed))),
    })
}

/// The checksum the upload's parts must carry, as recorded when it started.
fn checksum_of(row: &UploadRow) -> UploadResult<Option<ChecksumAlgorithm>> {
    row.checksum
        .as_deref()
        .map(|word| {
            ChecksumAlgorithm::parse(word)
                .ok_or_else(|| db::DbError::Corrupt(format!("checksum {word:?}")).into())
        })
        .transpose()
}

fn plan_of(row: &UploadRow) -> PartPlan {
    PartPlan::new(row.size(), row.part_size())
}

fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2)
}

fn to_i64(n: u64) -> UploadResult<i64> {
    i64::try_from(n).map_err(|_| UploadError::Invalid("The size is out of range.".into()))
}
