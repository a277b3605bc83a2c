//! `GET /events`: the caller's upload events as Server-Sent Events. Each carries its `id:` (its
//! `EventCursor`); a
//! client that reconnects sends `Last-Event-ID` (or a page its `?after=`, the cursor that came
//! with its library) and first gets everything it missed from the database, then the live
//! feed. A comment every 15 s keeps proxies from closing a quiet stream. A stream ends by
//! itself after the feed's `max_age` (the browser reconnects with `Last-Event-ID`, so nothing
//! is missed), and when the client goes; its receiver and place are dropped with it. (A client
//! that stops reading is cut off by the connection's write timeout, `server::serve`.)

use super::feed::{Admitted, Feed};
use crate::{
    db::{self, events::EventRow},
    error::ApiError,
    model::EventCursor,
};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use std::{collections::VecDeque, convert::Infallible, net::IpAddr, sync::Arc, time::Duration};
use tokio::sync::broadcast::error::RecvError;

/// Rows read from the database at a time when catching up.
const CATCH_UP: i64 = 500;
const HEARTBEAT: Duration = Duration::from_secs(15);

/// The stream for `owner` calling from `ip`, starting after event `after` (`None`: from now
/// on); refused when a cap binds (see [`Feed::admit`]).
pub async fn stream(
    feed: &Arc<Feed>,
    owner: String,
    ip: IpAddr,
    after: Option<EventCursor>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // Subscribed on admission, before reading the backlog: an event written in between is in
    // one or both, and ids weed out the repeats.
    let place = feed.admit(&owner, ip)?;
    let last = match after {
        Some(id) => id,
        None => feed.newest().await.map_err(|error| {
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
        place,
    };
    let events = futures::stream::unfold(state, |mut state| async move {
        let row = state.next().await?;
        Some((Ok(event(&row)), state))
    });
    let events = events.take_until(tokio::time::sleep(lifetime(feed.limits().max_age)));
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat")))
}

/// `max_age`, shortened by up to a tenth at random, so that streams opened together (after a
/// restart) do not all come back in the same second.
fn lifetime(max_age: Duration) -> Duration {
    let thousandths = (uuid::Uuid::new_v4().as_u128() % 100) as u32;
    max_age.saturating_sub(max_age / 1000 * thousandths)
}

fn event(row: &EventRow) -> Event {
    Event::default()
        .id(row.cursor().to_string())
        .data(&row.body)
}

struct Follow {
    feed: Arc<Feed>,
    owner: String,
    last: EventCursor,
    backlog: VecDeque<EventRow>,
    /// The database may hold more after the backlog.
    catching_up: bool,
    place: Admitted,
}

impl Follow {
    /// The next event for this owner; `None` ends the stream.
    async fn next(&mut self) -> Option<EventRow> {
        loop {
            if let Some(row) = self.backlog.pop_front() {
                self.last = row.cursor();
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
            match self.place.recv().await {
                // Only the owner's events come here; a repeat of the backlog is skipped.
                Ok(row) if row.cursor() > self.last => {
                    self.last = row.cursor();
                    return Some(EventRow::clone(&row));
                }
                Ok(_) => {}
                // Fell behind the feed: the database still has it all.
                Err(RecvError::Lagged(_)) => self.catching_up = true,
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lifetime_is_at_most_a_tenth_short() {
        let max = Duration::from_secs(600);
        for _ in 0..1000 {
            let life = lifetime(max);
            assert!(life <= max && life >= max - max / 10, "{life:?}");
        }
    }
}
