//! Runs one file's upload in the browser: start it, send its parts straight to the store
//! (several at a time, URLs signed in small batches just before use), then ask the server to
//! verify it.

use super::{
    progress::Progress,
    task::{Phase, UploadTask},
    xhr::{self, PutError},
};
use crate::{
    api::{complete_upload, sign_parts, start_upload},
    error::ApiError,
    model::{PartPlan, SignedPart, SignedRequest, Transfer},
};
use futures::{stream, StreamExt, TryStreamExt};
use leptos::prelude::*;
use std::{cell::RefCell, rc::Rc};
use wasm_bindgen::JsCast;
use web_sys::{Blob, File};

/// Parts in flight at once for one file.
const PARALLEL_PARTS: usize = 4;
/// Part URLs asked for per `sign_parts` call.
const SIGN_BATCH: usize = 8;
/// Attempts per part before the file fails.
const ATTEMPTS: u32 = 4;

#[derive(Debug)]
enum Failure {
    Api(ApiError),
    Put(PutError),
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl Failure {
    fn message(&self) -> String {
        match self {
            Self::Api(e) => e.to_string(),
            Self::Put(e) => format!("Upload failed: {e}."),
        }
    }
}

/// Uploads `file`, reporting into `task`, until the server has verified it.
pub async fn upload(file: File, task: UploadTask) -> Result<(), String> {
    run(file, task).await.map_err(|e| e.message())
}

async fn run(file: File, task: UploadTask) -> Result<(), Failure> {
    let size = file.size() as u64;
    let started = start_upload(file.name(), size, file.type_()).await?;
    task.phase.set(Phase::Uploading);

    let progress = Rc::new(RefCell::new(Progress::new(size)));
    let blob: &Blob = file.unchecked_ref();
    match &started.transfer {
        Transfer::Single(request) => {
            // The single URL lives for HOIST_URL_TTL; a retry within it reuses the URL.
            send_part(request, blob, 1, &progress, task, || async {
                Ok(request.clone())
            })
            .await?
        }
        Transfer::Multipart => {
            send_parts(&started.upload_id, started.plan, blob, &progress, task).await?
        }
    }

    task.phase.set(Phase::Verifying);
    complete_upload(started.upload_id).await?;
    Ok(())
}

async fn send_parts(
    upload_id: &str,
    plan: PartPlan,
    file: &Blob,
    progress: &Rc<RefCell<Progress>>,
    task: UploadTask,
) -> Result<(), Failure> {
    let numbers: Vec<u32> = (1..=plan.part_count()).collect();
    // Pulled lazily: the next batch is signed only when the pool has room for its first part.
    let signed = stream::iter(numbers.chunks(SIGN_BATCH).map(<[u32]>::to_vec))
        .then(|batch| sign_parts(upload_id.to_string(), batch))
        .map_ok(|parts| stream::iter(parts.into_iter().map(Ok::<SignedPart, ApiError>)))
        .try_flatten()
        .map_err(Failure::from);
    signed
        .map_ok(|part| async move {
            let (start, end) = plan.range(part.part_number).unwrap_or((0, 0));
            let slice = file
                .slice_with_f64_and_f64(start as f64, end as f64)
                .map_err(|_| Failure::Put(PutError::Network))?;
            let number = part.part_number;
            send_part(
                &part.request,
                &slice,
                number,
                progress,
                task,
                || async move {
                    let mut fresh = sign_parts(upload_id.to_string(), vec![number]).await?;
                    fresh
                        .pop()
                        .map(|p| p.request)
                        .ok_or(Failure::Api(ApiError::Internal))
                },
            )
            .await?;
            let mut p = progress.borrow_mut();
            p.finished(number, end - start);
            task.show(&p);
            Ok(())
        })
        .try_buffer_unordered(PARALLEL_PARTS)
        .try_collect::<()>()
        .await
}

/// PUTs one part, retrying transient failures with a fresh URL and a growing pause.
async fn send_part<F, Fut>(
    first: &SignedRequest,
    body: &Blob,
    number: u32,
    progress: &Rc<RefCell<Progress>>,
    task: UploadTask,
    resign: F,
) -> Result<(), Failure>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<SignedRequest, Failure>>,
{
    let mut request = first.clone();
    let mut attempt = 1;
    loop {
        let report = {
            let progress = progress.clone();
            move |loaded: u64| {
                let mut p = progress.borrow_mut();
                p.sending(number, loaded);
                task.show(&p);
            }
        };
        match xhr::put(&request, body, report).await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                progress.borrow_mut().failed(number);
                sleep_ms(500 * 2u32.pow(attempt - 1)).await;
                request = resign().await?;
                attempt += 1;
            }
            Err(e) => return Err(Failure::Put(e)),
        }
    }
}

async fn sleep_ms(ms: u32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ =
                window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms as i32);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
