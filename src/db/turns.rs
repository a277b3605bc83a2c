//! Writers' turns: every write to the database first waits here, one at a time per database.
//!
//! SQLite lets one connection write at a time and makes the others wait in its busy handler,
//! which sleeps in steps of up to 100 ms and holds the waiter's pooled connection meanwhile:
//! under load a queue of writers both slept past their turn and left readers (signing a part
//! reads) without a connection. PostgreSQL's advisory lock in [`super::write`] likewise held a
//! connection per waiter. Queueing here first costs nothing when nobody waits.
//!
//! Within a process the turn is two tokio mutexes (which serve in order). Single statements
//! (a part's checksum as it is signed, a session touched) are what a waiting user feels most,
//! and each holds the turn a fraction of what a check-then-write transaction does. So
//! transactions first queue among themselves, and only the one at their head waits beside the
//! statements: a statement waits for at most one transaction, a transaction for at most the
//! statements that asked before it.
//!
//! On SQLite the turn also spans processes (instances, `hoist worker`, `hoist tokens` on one
//! file) through two lock files beside the database: see [`LockFiles`].

use super::{DbError, DbResult, Pool};
use std::fs::{File, TryLockError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// Waits for this process's turn to write to `pool`'s database (and, on SQLite, for other
/// processes' turns to end).
pub(super) async fn turn(pool: &Pool, lane: Lane) -> Turn {
    let gate = gate(pool);
    let asked = Instant::now();
    let head = match lane {
        Lane::Transaction => Some(gate.transactions.clone().lock_owned().await),
        Lane::Statement => None,
    };
    let waiting = Waiting::start(&gate);
    let mut writer = gate.writer.clone().lock_owned().await;
    waiting.end();
    if writer.hold.is_none() {
        writer.hold = Across::take(&gate).await;
        writer.turns = 0;
    }
    writer.turns += 1;
    metrics::histogram!(crate::observe::metrics::DB_WRITE_WAIT_SECONDS, "kind" => lane.name())
        .record(asked.elapsed().as_secs_f64());
    Turn {
        writer: Some(writer),
        _head: head,
        gate,
        lane,
        since: Instant::now(),
    }
}

#[derive(Clone, Copy)]
pub(super) enum Lane {
    Statement,
    Transaction,
}

impl Lane {
    fn name(self) -> &'static str {
        match self {
            Self::Statement => "statement",
            Self::Transaction => "transaction",
        }
    }
}

/// A writer's turn, measured from when it was given until it is given back.
pub(super) struct Turn {
    writer: Option<OwnedMutexGuard<Kept>>,
    _head: Option<OwnedMutexGuard<()>>,
    gate: Arc<Gate>,
    lane: Lane,
    since: Instant,
}

impl Drop for Turn {
    fn drop(&mut self) {
        metrics::histogram!(crate::observe::metrics::DB_WRITE_HELD_SECONDS, "kind" => self.lane.name())
            .record(self.since.elapsed().as_secs_f64());
        let Some(mut writer) = self.writer.take() else {
            return;
        };
        // Handing the other processes' turn to this process's next writer saves a trip
        // through the kernel and another process's wake-up per write; a bounded number of
        // times, so that the others still get their turns.
        let keep = writer.hold.is_some()
            && writer.turns < KEPT_TURNS
            && self.gate.waiting.load(Ordering::SeqCst) > 0;
        if !keep {
            writer.hold = None;
        }
        drop(writer);
        if keep {
            self.gate.settle();
        }
    }
}

/// How many turns in a row a process may keep the other processes' turn (see [`Turn`]'s drop).
const KEPT_TURNS: u32 = 16;

/// What the writers of one process pass from hand to hand: the other processes' turn, if
/// this process has it, and how many turns it has been kept.
#[derive(Default)]
struct Kept {
    hold: Option<Across>,
    turns: u32,
}

/// The queues of one database's writers in this process.
#[derive(Default)]
struct Gate {
    transactions: Arc<Mutex<()>>,
    writer: Arc<Mutex<Kept>>,
    /// Writers that have asked for `writer` and not got it yet.
    waiting: AtomicUsize,
    /// Set on SQLite by [`share_across_processes`].
    files: OnceLock<Arc<LockFiles>>,
}

impl Gate {
    /// Gives the other processes' turn back if it was kept for a writer that is no longer
    /// coming. Both the writer that kept it and one that gives up waiting call this after
    /// their own change, so whichever comes second sees the other's.
    fn settle(&self) {
        if self.waiting.load(Ordering::SeqCst) == 0 {
            if let Ok(mut writer) = self.writer.try_lock() {
                writer.hold = None;
            }
        }
    }
}

/// A writer counted in [`Gate::waiting`] until it gets the turn or gives up.
struct Waiting<'a>(Option<&'a Gate>);

impl<'a> Waiting<'a> {
    fn start(gate: &'a Gate) -> Self {
        gate.waiting.fetch_add(1, Ordering::SeqCst);
        Self(Some(gate))
    }

    fn end(mut self) {
        if let Some(gate) = self.0.take() {
            gate.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(gate) = self.0.take() {
            gate.waiting.fetch_sub(1, Ordering::SeqCst);
            gate.settle();
        }
    }
}

/// The queues of `pool`'s database in this process.
fn gate(pool: &Pool) -> Arc<Gate> {
    type Gates = std::collections::HashMap<String, Arc<Gate>>;
    static GATES: std::sync::LazyLock<std::sync::Mutex<Gates>> =
        std::sync::LazyLock::new(Default::default);
    let url = pool.connect_options().database_url.to_string();
    // Held for a map lookup only; a poisoned map is still a map.
    let mut gates = GATES.lock().unwrap_or_else(|e| e.into_inner());
    gates.entry(url).or_default().clone()
}

/// Makes a SQLite database's turns hold across the processes that share its file. Without
/// it, a writer of another process polled in SQLite's busy handler: with two instances under
/// load that put 0.8 s on the tail of a one-row insert.
pub(super) async fn share_across_processes(pool: &Pool) -> DbResult<()> {
    // SQLite's own answer, so the URL need not be parsed; empty for an in-memory database.
    let path: String =
        sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(pool)
            .await?;
    if path.is_empty() {
        return Ok(());
    }
    let files = LockFiles::open(&path)?;
    // A second pool on the same URL in this process shares the first one's files.
    let _ = gate(pool).files.set(Arc::new(files));
    Ok(())
}

/// Two lock files beside a SQLite database. A process holds `turn` while it writes; a writer
/// of another process waits in the kernel and is woken as it is given back. Asking for
/// `turn` goes through `next`, held until `turn` is had: so while one process writes, at
/// most one other waits, and the writer's own next turn queues behind that one. The
/// processes alternate instead of the one that lets go taking the lock straight back (which,
/// with two instances, left the other's one-row inserts waiting 80 ms).
struct LockFiles {
    turn: File,
    next: File,
}

impl LockFiles {
    /// Opens (creating if needed) the lock files of the database at `path`.
    fn open(path: &str) -> DbResult<Self> {
        let open = |suffix: &str| {
            let path = format!("{path}{suffix}");
            File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|source| DbError::LockFile { path, source })
        };
        Ok(Self {
            turn: open("-writer")?,
            next: open("-writer-next")?,
        })
    }

    /// Takes the turn if no other process has it or waits for it.
    fn try_take(&self) -> std::io::Result<bool> {
        if !free(self.next.try_lock())? {
            return Ok(false);
        }
        let taken = free(self.turn.try_lock());
        let _ = self.next.unlock();
        taken
    }

    /// Waits for the turn, blocking the thread.
    fn take(&self) -> std::io::Result<()> {
        self.next.lock()?;
        let taken = self.turn.lock();
        let _ = self.next.unlock();
        taken
    }

    fn give_back(&self) {
        let _ = self.turn.unlock();
    }
}

/// Whether a `try_lock` got the lock.
fn free(tried: Result<(), TryLockError>) -> std::io::Result<bool> {
    match tried {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// How long a writer waits for other processes' turns before it leaves the matter to
/// SQLite's busy timeout (set to the same in [`super::connect`]).
const ACROSS_PATIENCE: Duration = Duration::from_secs(10);

/// This process's hold on [`LockFiles`]' turn, given back when dropped.
struct Across(Arc<LockFiles>);

impl Across {
    async fn take(gate: &Gate) -> Option<Self> {
        let files = gate.files.get()?.clone();
        let failed = match files.try_take() {
            Ok(true) => return Some(Self(files)),
            Ok(false) => {
                // Waiting blocks a thread. Should the wait be given up (this future dropped,
                // or the deadline passed), the hold still arrives as the task's output and is
                // dropped with it: the lock is never left held by nobody.
                let waiting =
                    tokio::task::spawn_blocking(move || files.take().map(|()| Self(files)));
                // A process that never lets go (stopped, or stuck mid-transaction) meets
                // SQLite's busy timeout after this, as it would without the files.
                match tokio::time::timeout(ACROSS_PATIENCE, waiting).await {
                    Ok(Ok(Ok(hold))) => return Some(hold),
                    Ok(Ok(Err(e))) => e.to_string(),
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => "another process kept its turn too long".to_owned(),
                }
            }
            Err(e) => e.to_string(),
        };
        // SQLite's own lock still keeps the writes apart; only the waiting is worse.
        tracing::warn!(error = %failed, "the database's lock files could not be locked");
        None
    }
}

impl Drop for Across {
    fn drop(&mut self) {
        self.0.give_back();
    }
}

#[cfg(test)]
mod tests;
