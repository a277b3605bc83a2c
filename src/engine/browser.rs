//! The few browser services the engine needs besides XHR: a clock, timers, randomness, whether
//! the network is up, and a place to remember unfinished uploads across reloads.

use super::resume::Ledger;
use futures::channel::oneshot;
use gloo_events::EventListener;
use gloo_timers::callback::Interval;
use std::time::Duration;

const LEDGER_KEY: &str = "hoist.unfinished-uploads";

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// A number in [0, 1), for jitter.
pub fn random() -> f64 {
    js_sys::Math::random()
}

pub async fn sleep(duration: Duration) {
    gloo_timers::future::sleep(duration).await;
}

/// Calls `f` every `period`, for as long as the page lives.
pub fn every(period: Duration, f: impl FnMut() + 'static) {
    let ms = u32::try_from(period.as_millis()).unwrap_or(u32::MAX);
    Interval::new(ms, f).forget();
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
        let mut tx = Some(tx);
        // Removed when dropped, at the end of this turn of the loop.
        let _listener = EventListener::new(&window, "online", move |_| {
            if let Some(tx) = tx.take() {
                let _ = tx.send(());
            }
        });
        // `online` may have fired between the check and the listener.
        if !online() {
            let _ = rx.await;
        }
    }
}

/// Calls `f(online)` whenever the browser goes on- or offline, for as long as the page lives.
pub fn on_network_change(f: impl Fn(bool) + 'static) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let f = std::rc::Rc::new(f);
    for (event, state) in [("online", true), ("offline", false)] {
        let f = f.clone();
        EventListener::new(&window, event, move |_| f(state)).forget();
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
