//! The page's live feed: one `EventSource` on `/events`, which the browser reconnects by
//! itself (sending `Last-Event-ID`, so nothing is missed). If the server refused the stream
//! outright (the browser then gives up), it is opened again after a pause, from the last event
//! seen.

use crate::model::{EventCursor, UploadEvent};

/// Follows the caller's upload events from `after` until `stop` resolves, handing each to
/// `on_event`. Browser only; on the server it does nothing.
#[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
pub fn follow(
    after: EventCursor,
    on_event: impl Fn(UploadEvent) + 'static,
    stop: futures::channel::oneshot::Receiver<()>,
) {
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(browser::run(after, on_event, stop));
}

/// Waits `ms` in the browser; on the server, where nothing follows the feed, not at all.
pub async fn pause(ms: u32) {
    #[cfg(feature = "hydrate")]
    gloo_timers::future::TimeoutFuture::new(ms).await;
    #[cfg(not(feature = "hydrate"))]
    let _ = ms;
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::*;
    use futures::{future::Either, StreamExt};
    use gloo_net::eventsource::{futures::EventSource, State};
    use std::time::Duration;

    /// After the server refused the stream (a 429, say), wait this long before asking again.
    const REOPEN_AFTER: Duration = Duration::from_secs(5);

    pub async fn run(
        mut after: EventCursor,
        on_event: impl Fn(UploadEvent) + 'static,
        stop: futures::channel::oneshot::Receiver<()>,
    ) {
        let mut stop = stop;
        loop {
            let Ok(mut source) = EventSource::new(&format!("/events?after={after}")) else {
                return;
            };
            let Ok(mut messages) = source.subscribe("message") else {
                return;
            };
            loop {
                match futures::future::select(messages.next(), &mut stop).await {
                    Either::Right(_) => {
                        source.close();
                        return;
                    }
                    Either::Left((Some(Ok((_, message))), _)) => {
                        if let Ok(id) = message.last_event_id().parse::<EventCursor>() {
                            after = after.max(id);
                        }
                        let Some(data) = message.data().as_string() else {
                            continue;
                        };
                        if let Ok(event) = serde_json::from_str::<UploadEvent>(&data) {
                            on_event(event);
                        }
                    }
                    // The browser retries a dropped connection itself; only a closed source
                    // (the server said no) needs us.
                    Either::Left((Some(Err(_)), _)) if source.state() != State::Closed => {}
                    Either::Left(_) => break,
                }
            }
            source.close();
            let pause = gloo_timers::future::sleep(REOPEN_AFTER);
            if let Either::Right(_) = futures::future::select(Box::pin(pause), &mut stop).await {
                return;
            }
        }
    }
}
