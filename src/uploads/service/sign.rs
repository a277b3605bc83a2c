//! Signing parts (each URL bound to its length and checksum) and resuming an upload from
//! what the store holds.

use super::*;

impl<S: ObjectStore> UploadService<S> {
    /// Presigned URLs for a batch of parts. Signing is activity: it keeps the upload alive.
    /// Asking for a part again gives a fresh URL (the first may have expired while the browser
    /// waited, paused or was offline). When the upload requires checksums, each part must
    /// bring its own: it is signed into the URL, so the store takes only those exact bytes,
    /// and a part the store holds is never signed again for other bytes.
    pub async fn sign_parts(
        &self,
        owner: &str,
        id: &str,
        parts: &[PartToSign],
    ) -> UploadResult<Vec<SignedPart>> {
        let row = self.open_upload(owner, id).await?;
        if parts.is_empty() || parts.len() > MAX_SIGN_BATCH {
            return Err(Invalid::BatchSize {
                asked: parts.len(),
                max: MAX_SIGN_BATCH,
            }
            .into());
        }
        let plan = plan_of(&row);
        // Recorded, but the store never confirmed the multipart upload: nothing to sign for.
        let s3_id = row
            .s3_upload_id
            .as_deref()
            .ok_or(UploadError::Closed(UploadStatus::Aborted))?;
        let required = checksum_of(&row)?;

        let mut wanted: Vec<(u32, u64, Option<Checksum>)> = Vec::with_capacity(parts.len());
        for part in parts {
            let part_number = part.part_number;
            let len = plan.part_len(part_number).ok_or(Invalid::NoSuchPart {
                part: part_number,
                parts: plan.part_count(),
            })?;
            if wanted.iter().any(|(n, _, _)| *n == part_number) {
                return Err(Invalid::PartTwice { part: part_number }.into());
            }
            let checksum = match (required, &part.checksum) {
                (None, _) => None,
                (Some(algorithm), Some(value)) if algorithm.accepts(value) => Some(Checksum {
                    algorithm,
                    value: value.clone(),
                }),
                (Some(algorithm), _) => {
                    return Err(Invalid::ChecksumNeeded {
                        part: part_number,
                        algorithm,
                    }
                    .into())
                }
            };
            wanted.push((part_number, len, checksum));
        }
        self.extend_when_due(&row).await?;
        if required.is_some() {
            self.record_checksums(&row, s3_id, &wanted).await?;
        }

        let mut signed = Vec::with_capacity(wanted.len());
        for (part_number, len, checksum) in wanted {
            let request = self
                .store
                .presign_part(
                    &row.object_key,
                    s3_id,
                    part_number,
                    len,
                    checksum.as_ref(),
                    self.rules.url_ttl,
                )
                .await?;
            signed.push(SignedPart {
                part_number,
                request,
            });
        }
        Ok(signed)
    }

    /// Writes down which checksum each part is signed for. A part signed before for other
    /// content may be signed anew only if the store does not hold it (the first was refused,
    /// or never sent): otherwise two live URLs could put two different files in one place.
    pub(super) async fn record_checksums(
        &self,
        row: &UploadRow,
        s3_id: &str,
        wanted: &[(u32, u64, Option<Checksum>)],
    ) -> UploadResult<()> {
        let entries: Vec<(u32, &str)> = wanted
            .iter()
            .filter_map(|(n, _, c)| c.as_ref().map(|c| (*n, c.value.as_str())))
            .collect();
        let conflicts = db::uploads::record_part_checksums(&self.db, &row.id, &entries).await?;
        if conflicts.is_empty() {
            return Ok(());
        }
        let stored = self.store.list_parts(&row.object_key, s3_id).await?;
        for part in conflicts {
            if stored.iter().any(|p| p.part_number == part) {
                return Err(UploadError::PartAlreadyStored { part });
            }
            if let Some((_, value)) = entries.iter().find(|(n, _)| *n == part) {
                db::uploads::replace_part_checksum(&self.db, &row.id, part, value).await?;
            }
        }
        Ok(())
    }

    /// The parts the store holds for an unfinished upload, each of the plan's length, in
    /// order: what a Companion client lists to resume. Listing is activity: it keeps the
    /// upload alive.
    pub async fn stored_parts(&self, owner: &str, id: &str) -> UploadResult<Vec<StoredPart>> {
        let row = self.open_upload(owner, id).await?;
        let plan = plan_of(&row);
        self.extend_when_due(&row).await?;
        let Some(s3_id) = row.s3_upload_id.as_deref() else {
            return Ok(Vec::new());
        };
        Ok(self
            .store
            .list_parts(&row.object_key, s3_id)
            .await?
            .into_iter()
            .filter(|p| plan.part_len(p.part_number) == Some(p.size))
            .collect())
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
        let content_type = policy::normalize_type(content_type)?;
        if size != row.size() || content_type != row.content_type {
            return Err(Invalid::NotTheFile {
                name: row.name.clone(),
                size: row.size(),
                content_type: row.content_type.clone(),
                offered_size: size,
                offered_type: content_type,
            }
            .into());
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
            None => Vec::new(),
        };
        Ok(ResumeState {
            upload_id: row.id.clone(),
            name: row.name.clone(),
            plan,
            done,
            checksum: checksum_of(&row)?,
        })
    }
}
