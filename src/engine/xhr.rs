//! One PUT of a Blob with XMLHttpRequest: fetch() cannot report upload progress, XHR can.
//! The Blob is a slice of the File: the browser streams it from disk, we never hold its bytes.

use super::retry::PutError;
use crate::model::SignedRequest;
use futures::channel::oneshot;
use gloo_events::EventListener;
use std::{cell::RefCell, rc::Rc};
use wasm_bindgen::JsCast;
use web_sys::{Blob, ProgressEvent, XmlHttpRequest};

#[derive(Clone, Copy)]
enum End {
    Loaded,
    Error,
    Aborted,
    TimedOut,
}

/// Sends `body` as `request` says, calling `on_progress(bytes_sent)` as it goes. `started`
/// receives the request so its owner can abort it (pause, cancel); an aborted PUT ends with
/// [`PutError::Aborted`]. Gives up after `timeout_ms` without an answer.
pub async fn put(
    request: &SignedRequest,
    body: &Blob,
    timeout_ms: u32,
    on_progress: impl Fn(u64) + 'static,
    started: impl FnOnce(&XmlHttpRequest),
) -> Result<(), PutError> {
    let xhr = XmlHttpRequest::new().map_err(|_| PutError::Network)?;
    xhr.open_with_async(&request.method, &request.url, true)
        .map_err(|_| PutError::Network)?;
    for (name, value) in &request.headers {
        xhr.set_request_header(name, value)
            .map_err(|_| PutError::Network)?;
    }
    xhr.set_timeout(timeout_ms);

    let (done_tx, done_rx) = oneshot::channel::<End>();
    let done_tx = Rc::new(RefCell::new(Some(done_tx)));
    let on_end = |event: &'static str, end: End| {
        let done_tx = done_tx.clone();
        EventListener::new(&xhr, event, move |_| {
            if let Some(tx) = done_tx.borrow_mut().take() {
                let _ = tx.send(end);
            }
        })
    };
    // Listening ends when these are dropped, with this frame. Upload progress must be
    // listened to before the request is sent.
    let _ends = [
        on_end("load", End::Loaded),
        on_end("error", End::Error),
        on_end("abort", End::Aborted),
        on_end("timeout", End::TimedOut),
    ];
    let _progress = xhr.upload().ok().map(|upload| {
        EventListener::new(&upload, "progress", move |event| {
            if let Some(event) = event.dyn_ref::<ProgressEvent>() {
                on_progress(event.loaded() as u64);
            }
        })
    });
    xhr.send_with_opt_blob(Some(body))
        .map_err(|_| PutError::Network)?;
    started(&xhr);
    let end = done_rx.await.unwrap_or(End::Error);

    match end {
        End::Loaded => {}
        End::Error => return Err(PutError::Network),
        End::Aborted => return Err(PutError::Aborted),
        End::TimedOut => return Err(PutError::Timeout),
    }
    match xhr.status().unwrap_or(0) {
        200..=299 => Ok(()),
        0 => Err(PutError::Network),
        code => Err(PutError::Status(
            code,
            xhr.response_text().ok().flatten().unwrap_or_default(),
        )),
    }
}
