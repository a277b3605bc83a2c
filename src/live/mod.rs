//! Live status: every change to an upload writes an event row in the same transaction
//! (`db::events`); the [`feed::Feed`] tails that table into a broadcast, and `GET /events`
//! ([`sse`]) streams each person's events to their page. Because the feed reads the database,
//! events written by a `hoist worker` process reach the page as well as the server's own.

pub mod feed;
pub mod sse;

use std::sync::Arc;
use tokio::sync::Notify;

/// Rung after a transaction that wrote events commits, so the feed passes them on at once
/// instead of at its next poll.
#[derive(Clone, Debug, Default)]
pub struct Bell(Arc<Notify>);

impl Bell {
    pub fn ring(&self) {
        // A permit is kept if the feed is busy: a ring is never lost.
        self.0.notify_one();
    }

    pub async fn rung(&self) {
        self.0.notified().await;
    }
}
