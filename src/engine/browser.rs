//! The few browser services the engine needs besides XHR: a clock, timers, randomness, whether
//! the network is up, and a place to remember unfinished uploads across reloads.

use super::resume::Ledger;
use futures::channel::oneshot;
use std::{cell::RefCell, rc::Rc};
use wasm_bindgen::{closure::Closure, JsCast};

const LEDGER_KEY: &str = "hoist.unfinished-uploads";

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// A number in [0, 1), for jitter.
pub fn random() -> f64 {
    js_sys::Math::random()
}

pub async fn sleep(duration: std::time::Duration) {
    let ms = i32::try_from(duration.as_millis()).unwrap_or(i32::MAX);
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Calls `f` every `period`, for as long as the page lives.
pub fn every(period: std::time::Duration, f: impl Fn() + 'static) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let ms = i32::try_from(period.as_millis()).unwrap_or(i32::MAX);
    let tick = Closure::<dyn FnMut()>::new(f);
    let _ = window
        .set_interval_with_callback_and_timeout_and_arguments_0(tick.as_ref().unchecked_ref(), ms);
    tick.forget();
}

pub fn online() -> bool {
    web_sys::window().is_none_or(|w| w.navigator().on_line())
}

/// Returns at once when the browser is online, otherwise when its `online` event fires.
/// Waiting this way costs no retries: a laptop closed for an hour resumes where it was.
pub async fn until_online() {
    while !online() {
        let Some(window) = web_sys::window() else {
            return;
        };
        let (tx, rx) = oneshot::channel::<()>();
        let tx = Rc::new(RefCell::new(Some(tx)));
        let on_online = Closure::<dyn FnMut()>::new(move || {
            if let Some(tx) = tx.borrow_mut().take() {
                let _ = tx.send(());
            }
        });
        let callback = on_online.as_ref().unchecked_ref();
        let _ = window.add_event_listener_with_callback("online", callback);
        // `online` may have fired between the check and the listener.
        if !online() {
            let _ = rx.await;
        }
        let _ = window.remove_event_listener_with_callback("online", callback);
    }
}

/// Calls `f(online)` whenever the browser goes on- or offline, for as long as the page lives.
pub fn on_network_change(f: impl Fn(bool) + 'static) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let f = Rc::new(f);
    for (event, state) in [("online", true), ("offline", false)] {
        let f = f.clone();
        let listener = Closure::<dyn FnMut()>::new(move || f(state));
        let _ = window.add_event_listener_with_callback(event, listener.as_ref().unchecked_ref());
        listener.forget();
    }
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

pub fn load_ledger() -> Ledger {
    let text = storage().and_then(|s| s.get_item(LEDGER_KEY).ok().flatten());
    Ledger::from_json(text.as_deref())
}

/// Private windows and full disks may refuse; the upload goes on, it just cannot be resumed
/// after a reload.
pub fn save_ledger(ledger: &Ledger) {
    if let Some(s) = storage() {
        let _ = s.set_item(LEDGER_KEY, &ledger.to_json());
    }
}
