//! Starting uploads, many at once: a page that picked two hundred photos asks once per batch,
//! the rows go in one transaction, the store hears of the files concurrently, and a file that
//! fits in one part gets its URL in the same answer — one round trip where there were two.

use super::{in_order, plan_of, Layout, NewUpload, UploadService};
use crate::{
    checksum::{self, ChecksumAlgorithm},
    clock::millis,
    db::{
        self,
        uploads::{Allowance, Refused, UploadRow},
    },
    error::Invalid,
    model::{SignedPart, StartedUpload, UploadStatus, MAX_START_BATCH},
    protocol::plan,
    storage::{Checksum, ObjectStore, StorageResult},
    uploads::{naming, policy, UploadError, UploadResult},
};

/// CreateMultipartUpload calls in flight at once for one batch.
const CREATES_AT_ONCE: usize = 8;

/// A request that passed every rule: its row, the checksum its only part is signed for, and
/// the whole file's SHA-256 when the client read it first.
struct Prepared {
    row: UploadRow,
    first_part: Option<Checksum>,
    sha256: Option<String>,
}

impl<S: ObjectStore> UploadService<S> {
    /// Starts every file of a batch that passes the rules; each file gets its own answer.
    /// Every upload is on death row from its first moment: it expires unless completed.
    pub async fn start_many(
        &self,
        owner: &str,
        allowance: Allowance,
        requests: Vec<NewUpload>,
    ) -> UploadResult<Vec<UploadResult<StartedUpload>>> {
        if requests.is_empty() || requests.len() > MAX_START_BATCH {
            return Err(Invalid::FileBatchSize {
                asked: requests.len(),
                max: MAX_START_BATCH,
            }
            .into());
        }
        let now = self.clock.now_ms();
        // Consecutive milliseconds keep the library in the order the files were picked.
        let prepared: Vec<UploadResult<Prepared>> = requests
            .into_iter()
            .zip(now..)
            .map(|(request, at)| self.prepare(owner, request, at))
            .collect();

        // Content the owner holds already is answered at once; the rest go to the store.
        let mut answers: Vec<Option<UploadResult<StartedUpload>>> = Vec::new();
        let mut fresh = Vec::new();
        for (i, p) in prepared.into_iter().enumerate() {
            answers.push(None);
            match p {
                Ok(p) if p.sha256.is_some() && self.share_stored(&p, &allowance).await? => {
                    answers[i] = Some(Ok(already_stored(p)));
                }
                other => fresh.push((i, other)),
            }
        }
        let (indices, fresh): (Vec<usize>, Vec<_>) = fresh.into_iter().unzip();
        if !fresh.is_empty() {
            let started = self.start_fresh(&allowance, fresh).await?;
            for (i, answer) in indices.into_iter().zip(started) {
                answers[i] = Some(answer);
            }
        }
        let answers: Vec<_> = answers
            .into_iter()
            .map(|a| a.unwrap_or(Err(UploadError::NotFound)))
            .collect();
        count_started(&answers);
        Ok(answers)
    }

    /// The owner's earlier upload of this content, if any, now shared by `p`'s row as
    /// `uploaded`. Only the owner's own files are looked at, so whether anyone else holds the
    /// content cannot be learnt from the answer (nor from its time: the look is the same
    /// indexed read either way).
    async fn share_stored(&self, p: &Prepared, allowance: &Allowance) -> UploadResult<bool> {
        let Some(sha256) = p.sha256.as_deref() else {
            return Ok(false);
        };
        // With HOIST_SCAN=required only content scanned clean is stored once.
        let require_clean = self.after.scan == crate::model::ScanMode::Required;
        let shared =
            db::files::share_stored(&self.db, &p.row, sha256, allowance, require_clean).await?;
        if shared {
            self.after.bell.ring();
        }
        Ok(shared)
    }

    /// Records the fresh uploads of a batch and opens them in the store.
    async fn start_fresh(
        &self,
        allowance: &Allowance,
        prepared: Vec<UploadResult<Prepared>>,
    ) -> UploadResult<Vec<UploadResult<StartedUpload>>> {
        // The rows come first: if we die before the store has heard of an upload, its row
        // still names the key, so nothing the store might hold is unknown to us.
        // Each file is admitted against the owner's quota as its row goes in, so refused
        // files never reach the store.
        let rows: Vec<(&UploadRow, Option<&str>)> = prepared
            .iter()
            .flatten()
            .map(|p| (&p.row, p.first_part.as_ref().map(|c| c.value.as_str())))
            .collect();
        let mut admitted = db::uploads::insert_many(&self.db, &rows, allowance)
            .await?
            .into_iter();
        let prepared: Vec<UploadResult<Prepared>> = prepared
            .into_iter()
            .map(|p| {
                let p = p?;
                match admitted.next() {
                    Some(Ok(())) => Ok(p),
                    Some(Err(refused)) => Err(over_allowance(refused, p.row.size(), allowance)),
                    None => Err(UploadError::NotFound),
                }
            })
            .collect();

        // Every file, even a one-part one, is a multipart upload: a part URL dies when its
        // upload is completed or aborted, while a PutObject URL would stay valid for its
        // whole TTL and could replace the object after it was verified.
        let opening = prepared
            .iter()
            .map(|p| self.open(p.as_ref().ok()))
            .collect();
        let created = in_order(opening, CREATES_AT_ONCE).await;
        let opened: Vec<(&str, &str)> = prepared
            .iter()
            .zip(&created)
            .filter_map(|(p, c)| {
                Some((
                    p.as_ref().ok()?.row.id.as_str(),
                    c.as_ref()?.as_ref().ok()?.as_str(),
                ))
            })
            .collect();
        db::uploads::set_s3_upload_ids(&self.db, &opened).await?;

        let mut answers = Vec::with_capacity(prepared.len());
        for (prepared, created) in prepared.into_iter().zip(created) {
            answers.push(match (prepared, created) {
                (Err(e), _) => Err(e),
                (Ok(p), Some(Ok(s3_id))) => self.started(p, &s3_id).await,
                (Ok(p), Some(Err(e))) => {
                    let step = db::uploads::Step::StoreRefused;
                    // Nobody else knows of it yet: nothing can have moved it.
                    let _ =
                        db::uploads::settle(&self.db, &p.row.id, step, self.clock.now_ms()).await?;
                    Err(e.into())
                }
                (Ok(_), None) => Err(UploadError::NotFound),
            });
        }
        Ok(answers)
    }

    /// The store's id for a new upload; `None` for a request that was refused.
    async fn open(&self, prepared: Option<&Prepared>) -> Option<StorageResult<String>> {
        let row = &prepared?.row;
        let checksum = row.checksum.as_deref().and_then(ChecksumAlgorithm::parse);
        Some(
            self.store
                .create_multipart(&row.object_key, &row.content_type, checksum)
                .await,
        )
    }

    /// Checks a request against the rules and writes its row (not yet stored).
    fn prepare(&self, owner: &str, request: NewUpload, now: i64) -> UploadResult<Prepared> {
        let name = naming::sanitize_name(&request.name)?;
        let max = self.rules.max_file_size;
        let too_large = |name: &str| Invalid::TooLarge {
            name: name.to_string(),
            size: request.size,
            max,
        };
        if request.size == 0 {
            return Err(Invalid::EmptyFile { name }.into());
        }
        if request.size > self.rules.max_file_size {
            return Err(too_large(&name).into());
        }
        let content_type = policy::normalize_type(&request.content_type)?;
        if !policy::type_allowed(&content_type, &self.rules.allowed_types) {
            return Err(Invalid::TypeNotAllowed {
                kind: content_type,
                allowed: self.rules.allowed_types.clone(),
            }
            .into());
        }
        let part_size = match request.layout {
            Layout::Planned => {
                plan::choose_part_size(request.size, self.rules.part_size, self.rules.max_part_size)
            }
            Layout::Companion => plan::companion_part_size(request.size),
        }
        .ok_or_else(|| Invalid::BeyondS3 { name: name.clone() })?;
        // A Companion client sends no checksum: its parts are signed for their length only.
        let part_checksum = match request.layout {
            Layout::Planned => self.rules.part_checksum,
            Layout::Companion => None,
        };
        let sha256 = request
            .sha256
            .map(|hex| hex.to_ascii_lowercase())
            .map(
                |hex| match hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    true => Ok(hex),
                    false => Err(Invalid::NotASha256),
                },
            )
            .transpose()?;
        let one_part = request.size <= part_size;
        let claimed = match (part_checksum, request.checksum) {
            (Some(algorithm), Some(value)) => {
                if !algorithm.accepts(&value) {
                    return Err(Invalid::NotAChecksum { algorithm }.into());
                }
                // A file of many parts has its parts signed one batch at a time.
                one_part.then_some(Checksum { algorithm, value })
            }
            _ => None,
        };
        // A one-part file whose SHA-256 came along is signed for that SHA-256 instead: the
        // store checks the whole file's hash as the bytes arrive, and completing it learns
        // the hash from the store, so nobody reads the file again to compute it.
        let hashed = sha256
            .as_deref()
            .filter(|_| one_part && part_checksum.is_some())
            .and_then(checksum::sha256_header)
            .map(|value| Checksum {
                algorithm: ChecksumAlgorithm::Sha256,
                value,
            });
        let first_part = hashed.or(claimed);
        let algorithm = match &first_part {
            Some(signed) => Some(signed.algorithm),
            None => part_checksum,
        };
        // Sizes past `max_file_size` were refused above; this keeps the casts honest.
        let size = i64::try_from(request.size).map_err(|_| too_large(&name))?;
        let part_size = i64::try_from(part_size).map_err(|_| too_large(&name))?;
        let id = uuid::Uuid::new_v4().to_string();
        let object_key = naming::object_key(&self.rules.key_prefix, &id);
        let row = UploadRow {
            id,
            owner: owner.to_string(),
            object_key,
            name,
            content_type,
            size,
            part_size,
            s3_upload_id: None,
            status: UploadStatus::Uploading,
            reason: None,
            created_at: now,
            completed_at: None,
            expires_at: Some(now + millis(self.rules.upload_ttl)),
            checksum: algorithm.map(|a| a.as_str().to_string()),
            reap_claim: None,
            reap_attempts: 0,
        };
        Ok(Prepared {
            row,
            first_part,
            sha256,
        })
    }

    /// The answer for a file the store has started, with its only part's URL when its
    /// checksum came along.
    async fn started(&self, p: Prepared, s3_id: &str) -> UploadResult<StartedUpload> {
        let plan = plan_of(&p.row);
        let mut signed = Vec::new();
        if let Some(checksum) = &p.first_part {
            let request = self
                .store
                .presign_part(
                    &p.row.object_key,
                    s3_id,
                    1,
                    p.row.size(),
                    Some(checksum),
                    self.rules.url_ttl,
                )
                .await?;
            signed.push(SignedPart {
                part_number: 1,
                request,
            });
        }
        Ok(StartedUpload {
            upload_id: p.row.id,
            name: p.row.name,
            plan,
            checksum: p.row.checksum.as_deref().and_then(ChecksumAlgorithm::parse),
            signed,
            already_stored: false,
        })
    }
}

/// The answer for a file whose content its owner holds already: nothing to send.
fn already_stored(p: Prepared) -> StartedUpload {
    StartedUpload {
        plan: plan_of(&p.row),
        upload_id: p.row.id,
        name: p.row.name,
        checksum: None,
        signed: Vec::new(),
        already_stored: true,
    }
}

fn over_allowance(refused: Refused, size: u64, allowance: &Allowance) -> UploadError {
    match refused {
        Refused::Network { used } => UploadError::NetworkFull {
            size,
            used,
            quota: allowance.network.as_ref().map_or(0, |n| n.quota),
        },
        Refused::Quota { used } => UploadError::OverQuota {
            size,
            used,
            quota: allowance.quota,
        },
        Refused::Active { .. } => UploadError::TooManyActive {
            max: allowance.max_active,
        },
        Refused::Files => UploadError::TooManyFiles,
    }
}

fn count_started(answers: &[UploadResult<StartedUpload>]) {
    use crate::observe::metrics::{UPLOADS_ALREADY_STORED, UPLOADS_REJECTED, UPLOADS_STARTED};
    for answer in answers {
        match answer {
            Ok(started) => {
                metrics::counter!(UPLOADS_STARTED).increment(1);
                if started.already_stored {
                    metrics::counter!(UPLOADS_ALREADY_STORED).increment(1);
                }
            }
            // The store or the database failing is ours, not a refusal of the file.
            Err(UploadError::Storage(_) | UploadError::Db(_)) => {}
            Err(_) => metrics::counter!(UPLOADS_REJECTED, "stage" => "start").increment(1),
        }
    }
}
