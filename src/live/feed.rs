//! The feed: one task per process tails the `events` table and hands each new row to the
//! connections following its owner, and to no one else: every owner followed here has a
//! channel of its own, made when their first stream is admitted and dropped with their last,
//! so an event costs one map look-up and a wake-up per follower of its owner, whatever the
//! number of connections. Events are passed on in the order they become final
//! (`db::events::horizon`): on PostgreSQL, instances commit events out of the order of their
//! ids, and one is passed on only once no transaction that began before it can still commit,
//! so a follower's cursor never passes over a late commit. A commit in this process rings the
//! [`Bell`]; on PostgreSQL a commit in any instance or
//! worker is also announced by `NOTIFY`, so events cross instances at once; the poll catches
//! whatever else (a SQLite neighbour, a dropped listener).
//!
//! Streams are admitted under three caps, counted here: per owner (tabs, devices), per client
//! network (a fresh guest cookie is free, a fresh network is not) and in all (so streams never
//! hold the connections pages and uploads need).

use super::{Bell, FeedLimits};
use crate::{
    db::{self, events::EventRow, Pool},
    error::ApiError,
    model::EventCursor,
};
use std::{
    collections::HashMap,
    net::{IpAddr, Ipv6Addr},
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};
use tokio::sync::broadcast::{self, error::RecvError};

/// Events written by other processes arrive within this.
const POLL: Duration = Duration::from_millis(500);
/// Committed events held back behind a transaction still running are looked at again after
/// this, then twice as long each time, up to [`POLL`].
const NOT_FINAL_YET: Duration = Duration::from_millis(20);
/// Rows read per query.
const BATCH: i64 = 500;
/// Events an owner's slow connection may fall behind before it re-reads from the database.
/// Small, because a channel's buffer is allocated whole for every owner followed.
const BUFFER: usize = 64;
/// Live connections one owner may hold (tabs, devices).
pub const PER_OWNER: usize = 16;

pub struct Feed {
    db: Pool,
    limits: FeedLimits,
    followers: Mutex<Followers>,
}

impl Feed {
    /// Starts tailing after the newest event now in the database.
    pub async fn start(db: Pool, bell: Bell, limits: FeedLimits) -> Result<Arc<Self>, db::DbError> {
        let last = db::events::newest(&db).await?;
        let feed = Arc::new(Self {
            db,
            limits,
            followers: Mutex::default(),
        });
        if db::Backend::of(&feed.db) == db::Backend::Postgres {
            let url = feed.db.url().to_owned();
            tokio::spawn(listen(url, bell.clone()));
        }
        tokio::spawn(tail(feed.clone(), bell, last));
        Ok(feed)
    }

    pub fn db(&self) -> &Pool {
        &self.db
    }

    /// A cursor from which a page follows what comes next (see `db::events::newest`).
    pub async fn newest(&self) -> Result<EventCursor, db::DbError> {
        db::events::newest(&self.db).await
    }

    pub fn limits(&self) -> &FeedLimits {
        &self.limits
    }

    /// Live connections open in this process.
    pub fn clients(&self) -> usize {
        self.followers().total
    }

    fn followers(&self) -> MutexGuard<'_, Followers> {
        self.followers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for one more of `owner`'s connections, calling from `ip`, held until the guard
    /// drops; refused when the owner, the client's network or the process has its fill.
    pub fn admit(self: &Arc<Self>, owner: &str, ip: IpAddr) -> Result<Admitted, ApiError> {
        let network = network(ip);
        let receiver = self.followers().admit(owner, network, &self.limits)?;
        Ok(Admitted {
            feed: self.clone(),
            owner: owner.to_owned(),
            network,
            receiver,
        })
    }
}

/// Who is followed in this process, and from where.
#[derive(Default)]
struct Followers {
    owners: HashMap<String, Followed>,
    networks: HashMap<IpAddr, usize>,
    total: usize,
}

struct Followed {
    sender: broadcast::Sender<Arc<EventRow>>,
    open: usize,
}

impl Followers {
    fn admit(
        &mut self,
        owner: &str,
        network: IpAddr,
        limits: &FeedLimits,
    ) -> Result<broadcast::Receiver<Arc<EventRow>>, ApiError> {
        if self.total >= limits.total {
            return Err(ApiError::LiveFull);
        }
        let from_network = self.networks.get(&network).copied().unwrap_or(0);
        if from_network >= limits.per_network {
            return Err(ApiError::LiveNetworkFull {
                max: limits.per_network,
            });
        }
        if self.owners.get(owner).is_some_and(|f| f.open >= PER_OWNER) {
            return Err(ApiError::TooManyLiveConnections { max: PER_OWNER });
        }
        let followed = self
            .owners
            .entry(owner.to_owned())
            .or_insert_with(|| Followed {
                sender: broadcast::channel(BUFFER).0,
                open: 0,
            });
        followed.open += 1;
        *self.networks.entry(network).or_default() += 1;
        self.total += 1;
        Ok(followed.sender.subscribe())
    }

    /// Hands each row to its owner's followers in this process, if there are any.
    fn deliver(&self, rows: Vec<EventRow>) {
        for row in rows {
            if let Some(followed) = self.owners.get(&row.owner) {
                // No receiver is not an error: its last follower is leaving.
                let _ = followed.sender.send(Arc::new(row));
            }
        }
    }

    fn leave(&mut self, owner: &str, network: IpAddr) {
        if let Some(followed) = self.owners.get_mut(owner) {
            followed.open -= 1;
            if followed.open == 0 {
                self.owners.remove(owner);
            }
        }
        if let Some(count) = self.networks.get_mut(&network) {
            *count -= 1;
            if *count == 0 {
                self.networks.remove(&network);
            }
        }
        self.total -= 1;
    }
}

/// The network a client holds as one party: an IPv4 address, or the /64 an IPv6 host gets
/// (it may take any address in it at will).
fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
    }
}

/// One admitted connection, subscribed to its owner's events; dropping it (the client went,
/// or its stream ended) frees its place.
pub struct Admitted {
    feed: Arc<Feed>,
    owner: String,
    network: IpAddr,
    receiver: broadcast::Receiver<Arc<EventRow>>,
}

impl Admitted {
    /// The owner's next event from the feed.
    pub async fn recv(&mut self) -> Result<Arc<EventRow>, RecvError> {
        self.receiver.recv().await
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.feed.followers().leave(&self.owner, self.network);
    }
}

/// Rings the bell for every `NOTIFY` on the events channel, reconnecting when the connection
/// is lost.
async fn listen(url: String, bell: Bell) {
    loop {
        match sqlx::postgres::PgListener::connect(&url).await {
            Ok(mut listener) => match listener.listen(db::events::CHANNEL).await {
                Ok(()) => {
                    while listener.recv().await.is_ok() {
                        bell.ring();
                    }
                }
                Err(error) => tracing::warn!(%error, "live feed: cannot LISTEN"),
            },
            Err(error) => tracing::warn!(%error, "live feed: cannot connect to listen"),
        }
        tokio::time::sleep(POLL * 4).await;
    }
}

async fn tail(feed: Arc<Feed>, bell: Bell, mut last: EventCursor) {
    // While events wait behind a running transaction, looked at again after 20 ms, then 40,
    // 80…: a long transaction (a migration, another application's) costs a read every POLL,
    // not fifty a second.
    let mut held_back: Option<Duration> = None;
    loop {
        let wait = held_back.unwrap_or(POLL);
        let rung = tokio::select! {
            () = bell.rung() => true,
            () = tokio::time::sleep(wait) => false,
        };
        // With nobody following here, a commit wakes no one: its events are read at the next
        // poll, which keeps the feed near the end. Otherwise every instance would read the log
        // after every commit of every instance. A stream admitted meanwhile reads its own
        // backlog first, so it misses nothing.
        if rung && feed.clients() == 0 {
            continue;
        }
        let waited = held_back.take();
        loop {
            let read = match db::events::horizon(&feed.db).await {
                Ok(horizon) => db::events::after(&feed.db, last, horizon, BATCH).await,
                Err(error) => Err(error),
            };
            let read = match read {
                Ok(read) => read,
                Err(error) => {
                    tracing::warn!(%error, "live feed: cannot read events");
                    break;
                }
            };
            if let Some(row) = read.rows.last() {
                last = row.cursor();
            }
            feed.followers().deliver(read.rows);
            if read.waiting > 0 {
                // Committed, but a transaction that began before them has not ended: its
                // events may come first. No bell rings when it ends without events.
                held_back = Some(waited.map_or(NOT_FINAL_YET, |w| (w * 2).min(POLL)));
                break;
            }
            if !read.full {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: FeedLimits = FeedLimits {
        per_network: 20,
        total: 30,
        max_age: Duration::from_secs(600),
    };

    fn ip(text: &str) -> IpAddr {
        network(text.parse().unwrap())
    }

    #[test]
    fn a_network_is_an_ipv4_address_or_an_ipv6_64() {
        assert_eq!(ip("203.0.113.7"), ip("::ffff:203.0.113.7"));
        assert_ne!(ip("203.0.113.7"), ip("203.0.113.8"));
        assert_eq!(ip("2001:db8:1:2:aaaa::1"), ip("2001:db8:1:2:ffff::9"));
        assert_eq!(ip("2001:db8:1:2:aaaa::1"), ip("2001:db8:1:2::"));
        assert_ne!(ip("2001:db8:1:2::1"), ip("2001:db8:1:3::1"));
    }

    #[test]
    fn each_cap_binds_and_leaving_frees_the_place_everywhere() {
        let mut f = Followers::default();
        let home = ip("198.51.100.1");
        let mut held = Vec::new();
        for _ in 0..PER_OWNER {
            held.push(f.admit("a", home, &LIMITS).unwrap());
        }
        assert_eq!(
            f.admit("a", ip("198.51.100.2"), &LIMITS).unwrap_err(),
            ApiError::TooManyLiveConnections { max: PER_OWNER }
        );
        for n in 0..LIMITS.per_network - PER_OWNER {
            held.push(f.admit(&format!("b{n}"), home, &LIMITS).unwrap());
        }
        assert_eq!(
            f.admit("c", home, &LIMITS).unwrap_err(),
            ApiError::LiveNetworkFull { max: 20 }
        );
        for n in 0..LIMITS.total - LIMITS.per_network {
            held.push(
                f.admit(&format!("d{n}"), ip(&format!("2001:db8:{n}::1")), &LIMITS)
                    .unwrap(),
            );
        }
        assert_eq!(
            f.admit("e", ip("192.0.2.1"), &LIMITS).unwrap_err(),
            ApiError::LiveFull
        );
        assert_eq!(f.total, LIMITS.total);
        // A refusal leaves nothing behind.
        assert!(!f.owners.contains_key("c") && !f.owners.contains_key("e"));

        f.leave("a", home);
        assert!(f.admit("e", ip("192.0.2.1"), &LIMITS).is_ok());
        f.leave("e", ip("192.0.2.1"));
        f.leave("a", home);
        assert!(f.admit("c", home, &LIMITS).is_ok());
        f.leave("c", home);
        for _ in 0..PER_OWNER - 2 {
            f.leave("a", home);
        }
        for n in 0..LIMITS.per_network - PER_OWNER {
            f.leave(&format!("b{n}"), home);
        }
        for n in 0..LIMITS.total - LIMITS.per_network {
            f.leave(&format!("d{n}"), ip(&format!("2001:db8:{n}::1")));
        }
        assert_eq!(f.total, 0);
        assert!(f.owners.is_empty() && f.networks.is_empty());
    }

    #[test]
    fn an_event_reaches_its_owners_followers_only() {
        let mut f = Followers::default();
        let mut mine = f.admit("a", ip("192.0.2.1"), &LIMITS).unwrap();
        let mut theirs = f.admit("b", ip("192.0.2.1"), &LIMITS).unwrap();
        let row = EventRow {
            id: 1,
            tx: 0,
            owner: "a".into(),
            upload_id: "u".into(),
            body: "{}".into(),
        };
        let stranger = EventRow {
            owner: "nobody here".into(),
            ..row.clone()
        };
        f.deliver(vec![stranger, row.clone()]);
        assert_eq!(*mine.try_recv().unwrap(), row);
        assert!(theirs.try_recv().is_err());
    }
}
