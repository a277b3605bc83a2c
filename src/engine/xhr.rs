//! One PUT of a Blob with XMLHttpRequest: fetch() cannot report upload progress, XHR can.
//! The Blob is a slice of the File: the browser streams it from disk, we never hold its bytes.

use crate::model::SignedRequest;
use futures::channel::oneshot;
use wasm_bindgen::{closure::Closure, JsCast};
use web_sys::{Blob, ProgressEvent, XmlHttpRequest};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutError {
    /// No answer: offline, connection reset, CORS refusal, timeout.
    Network,
    /// The store answered with an error status.
    Status(u16, String),
}

impl PutError {
    /// Worth trying again: the network, the store being busy, or a URL that may have expired
    /// (AWS answers 403, Garage 400 to an expired signature; the retry gets a fresh URL).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Network => true,
            Self::Status(code, _) => matches!(code, 400 | 403 | 408 | 429) || *code >= 500,
        }
    }
}

impl std::fmt::Display for PutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Network => f.write_str("the storage service could not be reached"),
            Self::Status(code, body) => {
                let code_word = body
                    .split("<Code>")
                    .nth(1)
                    .and_then(|rest| rest.split("</Code>").next())
                    .unwrap_or("error");
                write!(f, "the storage service answered {code} ({code_word})")
            }
        }
    }
}

/// Sends `body` as `request` says, calling `on_progress(bytes_sent)` as it goes.
pub async fn put(
    request: &SignedRequest,
    body: &Blob,
    on_progress: impl Fn(u64) + 'static,
) -> Result<(), PutError> {
    let xhr = XmlHttpRequest::new().map_err(|_| PutError::Network)?;
    xhr.open_with_async(&request.method, &request.url, true)
        .map_err(|_| PutError::Network)?;
    for (name, value) in &request.headers {
        xhr.set_request_header(name, value)
            .map_err(|_| PutError::Network)?;
    }

    let (done_tx, done_rx) = oneshot::channel::<bool>();
    let done_tx = std::rc::Rc::new(std::cell::RefCell::new(Some(done_tx)));
    let finish = move |ok: bool| {
        if let Some(tx) = done_tx.borrow_mut().take() {
            let _ = tx.send(ok);
        }
    };
    let on_load = Closure::<dyn FnMut()>::new({
        let finish = finish.clone();
        move || finish(true)
    });
    let on_error = Closure::<dyn FnMut()>::new(move || finish(false));
    let on_upload_progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |e: ProgressEvent| {
        on_progress(e.loaded() as u64)
    });

    xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
    xhr.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    xhr.set_onabort(Some(on_error.as_ref().unchecked_ref()));
    xhr.set_ontimeout(Some(on_error.as_ref().unchecked_ref()));
    if let Ok(upload) = xhr.upload() {
        upload.set_onprogress(Some(on_upload_progress.as_ref().unchecked_ref()));
    }
    xhr.send_with_opt_blob(Some(body))
        .map_err(|_| PutError::Network)?;

    // The closures must live until the request ends; they are dropped with this frame.
    let loaded = done_rx.await.unwrap_or(false);
    xhr.set_onload(None);
    xhr.set_onerror(None);
    xhr.set_onabort(None);
    xhr.set_ontimeout(None);
    drop((on_load, on_error, on_upload_progress));

    if !loaded {
        return Err(PutError::Network);
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
