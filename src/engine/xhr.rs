//! One PUT of a Blob with XMLHttpRequest: fetch() cannot report upload progress, XHR can.
//! The Blob is a slice of the File: the browser streams it from disk, we never hold its bytes.

use crate::model::SignedRequest;
use crate::protocol::retry::PutError;
use futures::channel::oneshot;
use gloo_events::EventListener;
use gloo_timers::callback::Interval;
use std::{
    cell::{Cell, RefCell},
    rc::Rc,
};
use wasm_bindgen::JsCast;
use web_sys::{Blob, ProgressEvent, XmlHttpRequest};

/// A request that has sent no byte and heard no answer for this long is stalled — a
/// connection lost without the browser noticing, a store that never answers — and is aborted,
/// so the part is sent again, however long the whole request may take on a slow link.
const STALL_MS: f64 = 60_000.0;
/// How often a request in flight is checked for a stall.
const STALL_CHECK_MS: u32 = 5_000;

#[derive(Clone, Copy)]
enum End {
    Loaded,
    Error,
    Aborted,
    TimedOut,
}

/// Sends `body` as `request` says, calling `on_progress(bytes_sent)` as it goes. `started`
/// receives the request so its owner can abort it (pause, cancel); an aborted PUT ends with
/// [`PutError::Aborted`]. Gives up after `timeout_ms` without an answer, or sooner
/// ([`PutError::Stalled`]) once nothing has moved for [`STALL_MS`].
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
    let heard = Rc::new(Cell::new(js_sys::Date::now()));
    let _progress = xhr.upload().ok().map(|upload| {
        let heard = heard.clone();
        EventListener::new(&upload, "progress", move |event| {
            heard.set(js_sys::Date::now());
            if let Some(event) = event.dyn_ref::<ProgressEvent>() {
                on_progress(event.loaded() as u64);
            }
        })
    });
    let stalled = Rc::new(Cell::new(false));
    let _watch = {
        let (xhr, stalled) = (xhr.clone(), stalled.clone());
        Interval::new(STALL_CHECK_MS, move || {
            if js_sys::Date::now() - heard.get() > STALL_MS {
                stalled.set(true);
                let _ = xhr.abort();
            }
        })
    };
    xhr.send_with_opt_blob(Some(body))
        .map_err(|_| PutError::Network)?;
    started(&xhr);
    let end = done_rx.await.unwrap_or(End::Error);

    match end {
        End::Loaded => {}
        End::Error => return Err(PutError::Network),
        End::Aborted if stalled.get() => return Err(PutError::Stalled),
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
