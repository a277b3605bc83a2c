//! Live status: every change to an upload writes an event row in the same transaction
//! (`db::events`); the [`feed::Feed`] tails that table and hands each row to its owner's
//! streams, and `GET /events` ([`sse`]) streams each person's events to their page. Because
//! the feed reads the database, events written by a `hoist worker` process reach the page as
//! well as the server's own.

pub mod feed;
pub mod sse;

use crate::parse;
use std::{sync::Arc, time::Duration};
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

/// How many streams, from where, for how long (variables and defaults named once, here).
#[derive(clap::Args, Clone, Copy, Debug)]
pub struct LiveSettings {
    /// Live streams open at once from one network (an IPv4 address, or an IPv6 /64), every
    /// session behind it together.
    #[arg(long, env = "HOIST_LIVE_PER_NETWORK", default_value = "64", value_parser = parse::number_in(1..=1_000_000usize))]
    pub live_per_network: usize,
    /// Live streams open at once in this process: `auto` is a quarter of
    /// HOIST_MAX_CONNECTIONS; at most half of it.
    #[arg(long, env = "HOIST_LIVE_MAX", default_value = "auto", value_parser = cap)]
    pub live_max: Cap,
    /// A stream ends after this; the page reconnects and resumes where it was.
    #[arg(long, env = "HOIST_LIVE_MAX_AGE", default_value = "10m", value_parser = parse::duration)]
    pub live_max_age: Duration,
}

/// How many streams a process may hold in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cap {
    /// A quarter of the connection cap.
    Auto,
    Streams(usize),
}

fn cap(text: &str) -> Result<Cap, String> {
    if text.trim().eq_ignore_ascii_case("auto") {
        return Ok(Cap::Auto);
    }
    parse::number_in(1..=1_000_000usize)(text)
        .map(Cap::Streams)
        .map_err(|e| format!("{e}, or auto"))
}

/// What the feed admits, worked out from the settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeedLimits {
    pub per_network: usize,
    pub total: usize,
    pub max_age: Duration,
}

impl LiveSettings {
    /// The feed's limits beside a server that serves `max_connections` at once; `Err` holds
    /// the number asked for when it would leave pages and uploads less than half of them.
    pub fn limits(&self, max_connections: usize) -> Result<FeedLimits, usize> {
        let total = match self.live_max {
            Cap::Auto => (max_connections / 4).max(1),
            Cap::Streams(n) if n > max_connections / 2 => return Err(n),
            Cap::Streams(n) => n,
        };
        Ok(FeedLimits {
            per_network: self.live_per_network,
            total,
            max_age: self.live_max_age,
        })
    }
}
