//! `hoist upload`: every file through the browser's protocol. A file is read once first (its
//! SHA-256, so content the account holds already is not sent, and each part's checksum, which
//! the server signs into the part's URL); then its missing parts go straight to the store,
//! `--parallel` at once across all files, each streamed from the disk; then the server
//! checks with the store what arrived. An unfinished upload is remembered in the state file
//! and continued by the next run.

use super::{
    api::{self, Api},
    local::{self, LocalFile},
    report::{FileProgress, Finished, Report},
    state::{Entry, StateFile},
    ClientError, Remote,
};
use crate::{
    api::{CompleteUpload, GetEngineSettings, ResumeUpload, SignParts, StartUploads},
    checksum::ChecksumAlgorithm,
    error::{ApiError, Invalid},
    model::{
        EngineSettings, FileToStart, PartPlan, PartToSign, SignedPart, SignedRequest,
        StartedUpload, UploadView,
    },
    protocol::{
        plan::{self, Remaining},
        retry::{self, Attempts, Next, PutError, Verdict},
    },
};
use futures::{stream, StreamExt, TryStreamExt};
use std::{process::ExitCode, sync::Arc};
use tokio::sync::Semaphore;

pub struct Options {
    pub parallel: usize,
    pub json: bool,
    pub dedup: bool,
}

/// Uploads every file under `paths`; exit status 0 if all arrived, 1 if any failed.
pub async fn upload_all(
    remote: &Remote,
    options: Options,
    paths: &[std::path::PathBuf],
) -> Result<ExitCode, ClientError> {
    let api = Api::new(remote)?;
    let settings: EngineSettings = api.call("engine_settings", &GetEngineSettings {}).await?;
    let state = StateFile::open()?;
    let found = local::discover(paths);
    let total = found.iter().flatten().map(|f| f.size).sum();
    let report = Report::new(options.json, total);
    let sender = Sender {
        api,
        store: api::http_client()?,
        parts: Semaphore::new(options.parallel),
        parallel: options.parallel,
        settings,
        state,
        dedup: options.dedup,
    };
    let mut failed = 0usize;
    let mut files = Vec::new();
    for file in found {
        match file {
            Ok(file) => files.push(file),
            Err(e) => {
                failed += 1;
                report.failed("", &e.to_string());
            }
        }
    }
    // A few files at once, so that many small files do not wait on each other's round
    // trips; their parts share the `--parallel` permits.
    let mut running = stream::iter(files.into_iter().map(|file| {
        let progress = report.file(&file.name, file.size);
        let sender = &sender;
        async move {
            let outcome = sender.upload(&file, &progress).await;
            progress.finish();
            (file, outcome)
        }
    }))
    .buffer_unordered(options.parallel.min(8));
    while let Some((file, outcome)) = running.next().await {
        match outcome {
            Ok(done) => report.finished(&done),
            // Every other file would meet the same refusal.
            Err(e @ ClientError::BadToken(_)) => {
                report.close();
                return Err(e);
            }
            Err(e) => {
                failed += 1;
                report.failed(&file.path.display().to_string(), &e.to_string());
            }
        }
    }
    report.close();
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

struct Sender {
    api: Api,
    /// For the store: no token ever goes there.
    store: reqwest::Client,
    parts: Semaphore,
    /// The permits `parts` started with: no file sends more parts at once.
    parallel: usize,
    settings: EngineSettings,
    state: StateFile,
    dedup: bool,
}

/// An upload under way: which one, cut how, with which checksums.
struct Going<'a> {
    file: &'a LocalFile,
    id: String,
    plan: PartPlan,
    /// Part checksums by part number (index + 1), if the server wants them.
    sums: Vec<String>,
    progress: &'a FileProgress,
}

impl Sender {
    async fn upload(
        &self,
        file: &LocalFile,
        progress: &FileProgress,
    ) -> Result<Finished, ClientError> {
        let server = self.api.server().to_string();
        if let Some(entry) = self.state.find(&server, file) {
            match self.resume(file, &entry, progress).await {
                Err(ClientError::Refused(e)) if gone(&e) => {
                    self.state.forget(&server, file)?;
                }
                other => return other,
            }
        }
        self.start(file, progress).await
    }

    async fn start(
        &self,
        file: &LocalFile,
        progress: &FileProgress,
    ) -> Result<Finished, ClientError> {
        // The server cuts the file the same way (same rule, same settings): one read gives
        // the hash and every part's checksum.
        let plan = plan::plan_for(file.size, &self.settings);
        progress.message("reading");
        let digest = self
            .digest(file, plan, self.settings.checksum, self.dedup)
            .await?;
        let single = (plan.part_count() == 1)
            .then(|| digest.parts.first().cloned())
            .flatten();
        let request = FileToStart {
            name: file.name.clone(),
            size: file.size,
            content_type: file.content_type.clone(),
            checksum: single,
            sha256: digest.sha256.clone(),
        };
        let answers: Vec<Result<StartedUpload, ApiError>> = self
            .api
            .call(
                "start_uploads",
                &StartUploads {
                    files: vec![request],
                },
            )
            .await?;
        let started = answers
            .into_iter()
            .next()
            .ok_or_else(|| ClientError::Protocol("start_uploads answered nothing".into()))?
            .map_err(ClientError::Refused)?;
        if started.already_stored {
            return Ok(Finished {
                id: started.upload_id,
                name: started.name,
                size: file.size,
                status: crate::model::UploadStatus::Uploaded,
                sha256: digest.sha256,
                sent: 0,
                already_stored: true,
            });
        }
        self.state.remember(Entry {
            server: self.api.server().to_string(),
            path: file.path.clone(),
            size: file.size,
            modified_ns: file.modified_ns,
            upload_id: started.upload_id.clone(),
            sha256: digest.sha256.clone(),
        })?;
        let sums = match (started.checksum, digest.sha256.as_deref()) {
            // A one-part file sent with its hash is signed for that hash: its only checksum.
            (Some(ChecksumAlgorithm::Sha256), Some(hex)) if started.plan.part_count() == 1 => {
                crate::checksum::sha256_header(hex).into_iter().collect()
            }
            (algorithm, _) if started.plan == plan && algorithm == self.settings.checksum => {
                digest.parts
            }
            (algorithm, _) => {
                self.digest(file, started.plan, algorithm, false)
                    .await?
                    .parts
            }
        };
        let going = Going {
            file,
            id: started.upload_id.clone(),
            plan: started.plan,
            sums,
            progress,
        };
        let parts: Vec<u32> = (1..=started.plan.part_count()).collect();
        let sent = self.send(&going, &parts, started.signed).await?;
        self.finish(&going, sent, digest.sha256).await
    }

    /// Continues an upload an earlier run left: the store says which parts it holds.
    async fn resume(
        &self,
        file: &LocalFile,
        entry: &Entry,
        progress: &FileProgress,
    ) -> Result<Finished, ClientError> {
        let state: crate::model::ResumeState = self
            .api
            .call(
                "resume_upload",
                &ResumeUpload {
                    upload_id: entry.upload_id.clone(),
                    size: file.size,
                    content_type: file.content_type.clone(),
                },
            )
            .await?;
        let left = Remaining::from_done(state.plan, &state.done);
        progress.message("reading");
        let sums = match state.checksum {
            Some(algorithm) if !left.missing.is_empty() => {
                self.digest(file, state.plan, Some(algorithm), false)
                    .await?
                    .parts
            }
            _ => Vec::new(),
        };
        progress.skip(left.held_bytes);
        let going = Going {
            file,
            id: entry.upload_id.clone(),
            plan: state.plan,
            sums,
            progress,
        };
        let sent = self.send(&going, &left.missing, Vec::new()).await?;
        self.finish(&going, sent, entry.sha256.clone()).await
    }

    /// Reads the file for its hash and its parts' checksums by `algorithm` (what the server
    /// wants of them).
    async fn digest(
        &self,
        file: &LocalFile,
        plan: PartPlan,
        algorithm: Option<ChecksumAlgorithm>,
        sha256: bool,
    ) -> Result<local::Digest, ClientError> {
        if !sha256 && algorithm.is_none() {
            return Ok(local::Digest::default());
        }
        local::digest(file, plan, algorithm, sha256).await
    }

    /// Sends `parts`, signing them in batches just before they go; returns the bytes sent.
    async fn send(
        &self,
        going: &Going<'_>,
        parts: &[u32],
        presigned: Vec<SignedPart>,
    ) -> Result<u64, ClientError> {
        going.progress.message("sending");
        let (ready, rest): (Vec<u32>, Vec<u32>) = parts
            .iter()
            .partition(|n| presigned.iter().any(|p| p.part_number == **n));
        let batches = rest
            .chunks(plan::sign_batch(self.parallel))
            .map(<[u32]>::to_vec)
            .collect::<Vec<_>>();
        let signed = stream::iter(
            presigned
                .into_iter()
                .filter(|p| ready.contains(&p.part_number))
                .map(Ok),
        )
        .chain(
            stream::iter(batches)
                .then(|batch| async move { self.sign(going, &batch).await })
                .map_ok(|signed| stream::iter(signed.into_iter().map(Ok)))
                .try_flatten(),
        );
        signed
            .map_ok(|part| self.put(going, part))
            .try_buffer_unordered(self.parallel)
            .try_fold(0u64, |sum, sent| async move { Ok(sum + sent) })
            .await
    }

    async fn sign(&self, going: &Going<'_>, parts: &[u32]) -> Result<Vec<SignedPart>, ClientError> {
        let parts = parts
            .iter()
            .map(|n| PartToSign {
                part_number: *n,
                checksum: going.sums.get(*n as usize - 1).cloned(),
            })
            .collect();
        self.api
            .call(
                "sign_parts",
                &SignParts {
                    upload_id: going.id.clone(),
                    parts,
                },
            )
            .await
    }

    /// PUTs one part until the store takes it; returns the bytes handed to the network.
    async fn put(&self, going: &Going<'_>, part: SignedPart) -> Result<u64, ClientError> {
        let number = part.part_number;
        let range = going
            .plan
            .range(number)
            .ok_or_else(|| ClientError::Protocol(format!("part {number} is not in the plan")))?;
        let mut request = part.request;
        let mut attempts = Attempts::default();
        let mut sent = 0u64;
        loop {
            let permit = self
                .parts
                .acquire()
                .await
                .map_err(|e| ClientError::Protocol(e.to_string()))?;
            let counted = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let outcome = self.put_once(going, &request, range, counted.clone()).await;
            drop(permit);
            let handed = counted.load(std::sync::atomic::Ordering::Relaxed);
            sent += handed;
            let error = match outcome {
                Ok(()) => return Ok(sent),
                Err(error) => error,
            };
            going.progress.take_back(handed);
            let next = match retry::judge(&error) {
                Verdict::Resign => attempts.expired(),
                Verdict::Retry => attempts.failed(api::jitter()),
                Verdict::Reread => {
                    return Err(ClientError::Store(format!(
                        "part {number} no longer matches its checksum: the file changed while it was being sent"
                    )))
                }
                Verdict::Fatal(_) => {
                    return Err(ClientError::Store(format!("part {number}: {error}")))
                }
            };
            match next {
                Next::GiveUp => return Err(ClientError::Store(format!("part {number}: {error}"))),
                Next::RetryAfter { pause, .. } => tokio::time::sleep(pause).await,
                Next::ResignNow => {}
            }
            // A fresh URL for every new try: the old one may be what failed.
            request = self
                .sign(going, &[number])
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| ClientError::Protocol("sign_parts answered nothing".into()))?
                .request;
        }
    }

    async fn put_once(
        &self,
        going: &Going<'_>,
        request: &SignedRequest,
        range: (u64, u64),
        counted: Arc<std::sync::atomic::AtomicU64>,
    ) -> Result<(), PutError> {
        let progress = going.progress.clone();
        let body = local::part_stream(&going.file.path, range, move |n| {
            counted.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            progress.add(n);
        })
        .map_err(|_| PutError::Network)?;
        let mut builder = self
            .store
            .request(
                request.method.parse().unwrap_or(reqwest::Method::PUT),
                &request.url,
            )
            .header(reqwest::header::CONTENT_LENGTH, range.1 - range.0)
            .body(body);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        match builder.send().await {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => {
                let code = response.status().as_u16();
                Err(PutError::Status(
                    code,
                    response.text().await.unwrap_or_default(),
                ))
            }
            Err(e) if e.is_timeout() => Err(PutError::Timeout),
            Err(_) => Err(PutError::Network),
        }
    }

    /// Asks the server to check with the store and keep the file; forgets the upload.
    async fn finish(
        &self,
        going: &Going<'_>,
        sent: u64,
        sha256: Option<String>,
    ) -> Result<Finished, ClientError> {
        going.progress.message("checking");
        let answer: Result<UploadView, ClientError> = self
            .api
            .call(
                "complete_upload",
                &CompleteUpload {
                    upload_id: going.id.clone(),
                },
            )
            .await;
        let settled = match &answer {
            Ok(_) => true,
            Err(ClientError::Refused(e)) => gone(e) || matches!(e, ApiError::Rejected(_)),
            Err(_) => false,
        };
        if settled {
            self.state.forget(self.api.server(), going.file)?;
        }
        let view = answer?;
        Ok(Finished {
            id: view.id,
            name: view.name,
            size: view.size,
            status: view.status,
            sha256: view.file.and_then(|f| f.sha256).or(sha256),
            sent,
            already_stored: false,
        })
    }
}

/// The upload an earlier run left cannot be continued: start the file afresh.
fn gone(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::NotFound | ApiError::Closed(_) | ApiError::Invalid(Invalid::NotTheFile { .. })
    )
}
