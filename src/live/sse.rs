//! `GET /events`: the caller's upload events as Server-Sent Events. Each carries its `id:`; a
//! client that reconnects sends `Last-Event-ID` (or a page its `?after=`, the cursor that came
//! with its library) and first gets everything it missed from the database, then the live
//! feed. A comment every 15 s keeps proxies from closing a quiet stream; when the client goes,
//! its stream, receiver and place are dropped with it.

use super::feed::{Admitted, Feed};
use crate::{
    db::{self, events::EventRow},
    error::ApiError,
};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use std::{collections::VecDeque, convert::Infallible, sync::Arc, time::Duration};
use tokio::sync::broadcast::{self, error::RecvError};

/// Rows read from the database at a time when catching up.
const CATCH_UP: i64 = 500;
const HEARTBEAT: Duration = Duration::from_secs(15);

/// The stream for `owner`, starting after event `after` (`None`: from now on).
pub async fn stream(
    feed: &Arc<Feed>,
    owner: String,
    after: Option<i64>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let place = feed.admit(&owner).ok_or(ApiError::TooManyLiveConnections {
        max: super::feed::PER_OWNER,
    })?;
    // Subscribed before reading the backlog: an event written in between is in one or both,
    // and ids weed out the repeats.
    let receiver = feed.subscribe();
    let last = match after {
        Some(id) => id,
        None => db::events::last_id(feed.db()).await.map_err(|error| {
            tracing::error!(%error, "live: cannot read the newest event");
            ApiError::internal()
        })?,
    };
    let state = Follow {
        feed: feed.clone(),
        owner,
        last,
        backlog: VecDeque::new(),
        catching_up: true,
        receiver,
        _place: place,
    };
    let events = futures::stream::unfold(state, |mut state| async move {
        let row = state.next().await?;
        Some((Ok(event(&row)), state))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat")))
}

fn event(row: &EventRow) -> Event {
    Event::default().id(row.id.to_string()).data(&row.body)
}

struct Follow {
    feed: Arc<Feed>,
    owner: String,
    last: i64,
    backlog: VecDeque<EventRow>,
    /// The database may hold more after the backlog.
    catching_up: bool,
    receiver: broadcast::Receiver<Arc<EventRow>>,
    _place: Admitted,
}

impl Follow {
    /// The next event for this owner; `None` ends the stream.
    async fn next(&mut self) -> Option<EventRow> {
        loop {
            if let Some(row) = self.backlog.pop_front() {
                self.last = row.id;
                return Some(row);
            }
            if self.catching_up {
                let rows =
                    db::events::for_owner_after(self.feed.db(), &self.owner, self.last, CATCH_UP)
                        .await
                        .ok()?;
                self.catching_up = rows.len() as i64 == CATCH_UP;
                self.backlog.extend(rows);
                continue;
            }
            match self.receiver.recv().await {
                Ok(row) if row.owner == self.owner && row.id > self.last => {
                    self.last = row.id;
                    return Some(EventRow::clone(&row));
                }
                Ok(_) => {}
                // Fell behind the broadcast: the database still has it all.
                Err(RecvError::Lagged(_)) => self.catching_up = true,
                Err(RecvError::Closed) => return None,
            }
        }
    }
}
