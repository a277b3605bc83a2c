//! One PUT of a Blob with XMLHttpRequest: fetch() cannot report upload progress, XHR can.
//! The Blob is a slice of the File: the browser streams it from disk, we never hold its bytes.

use super::retry::PutError;
use crate::model::SignedRequest;
use futures::channel::oneshot;
use std::{cell::RefCell, rc::Rc};
use wasm_bindgen::{closure::Closure, JsCast};
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
    let on_end = |end: End| {
        let done_tx = done_tx.clone();
        Closure::<dyn FnMut()>::new(move || {
            if let Some(tx) = done_tx.borrow_mut().take() {
                let _ = tx.send(end);
            }
        })
    };
    let on_load = on_end(End::Loaded);
    let on_error = on_end(End::Error);
    let on_abort = on_end(End::Aborted);
    let on_timeout = on_end(End::TimedOut);
    let on_upload_progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |e: ProgressEvent| {
        on_progress(e.loaded() as u64)
    });

    xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
    xhr.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    xhr.set_onabort(Some(on_abort.as_ref().unchecked_ref()));
    xhr.set_ontimeout(Some(on_timeout.as_ref().unchecked_ref()));
    if let Ok(upload) = xhr.upload() {
        upload.set_onprogress(Some(on_upload_progress.as_ref().unchecked_ref()));
    }
    xhr.send_with_opt_blob(Some(body))
        .map_err(|_| PutError::Network)?;
    started(&xhr);

    // The closures must live until the request ends; they are dropped with this frame.
    let end = done_rx.await.unwrap_or(End::Error);
    xhr.set_onload(None);
    xhr.set_onerror(None);
    xhr.set_onabort(None);
    xhr.set_ontimeout(None);
    if let Ok(upload) = xhr.upload() {
        upload.set_onprogress(None);
    }
    drop((on_load, on_error, on_abort, on_timeout, on_upload_progress));

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
