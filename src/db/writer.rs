//! The write path: every write runs on a connection from a [`Writer`], and only there. The
//! readers' connections are opened read-only (SQLite's `query_only`, PostgreSQL's
//! `default_transaction_read_only`), so a write that goes around this type fails in every
//! test on either database instead of passing unnoticed.
//!
//! SQLite lets one connection write at a time, so there is exactly one writer connection:
//! waiting writers queue for it, in order and holding nothing, instead of sleeping in SQLite's
//! busy handler with a connection each. Other processes on the same file (`hoist worker`,
//! `hoist reap --once`, `hoist users`) meet that busy handler (`busy_timeout`); several
//! instances under load is PostgreSQL's job.
//!
//! PostgreSQL serialises nothing globally. Rows lock themselves and constraints hold; a
//! transaction that reads an owner's rows to decide a write (a quota checked, then an upload
//! admitted; a file's jobs counted, then the file marked ready) first holds that owner
//! ([`WriteTx::hold`]), so it waits only for the same owner's such transactions. So does every
//! transaction that writes an upload's event, before its first write: a transaction's id
//! (which orders the live feed, see `events`) is given at its first write, so for one owner
//! the ids then follow the order of the commits, and a page never gets an upload's older
//! state after its newer one.

use super::{Backend, Conn, DbResult, Tx};
use futures::{future::BoxFuture, stream::BoxStream, StreamExt};
use sqlx::{AnyPool, Executor, SqlSafeStr};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// Seconds a writer waited: for the writer connection (`kind="transaction"`: on SQLite, the
/// queue for the one writer) and for the owners it holds (`kind="owner"`, PostgreSQL).
pub const DB_WRITE_WAIT_SECONDS: &str = "hoist_db_write_wait_seconds";
/// Seconds a write transaction was open.
pub const DB_WRITE_HELD_SECONDS: &str = "hoist_db_write_held_seconds";

/// Where writes go: SQLite's one connection, or the writers' pool on PostgreSQL.
#[derive(Clone, Debug)]
pub struct Writer {
    inner: Inner,
    backend: Backend,
}

#[derive(Clone, Debug)]
enum Inner {
    Pool(AnyPool),
    /// SQLite's writer: one connection behind a queue. Not a pool of one: a pooled
    /// connection goes back through a spawned task that pings it first, and each such
    /// handoff (about a millisecond under load, against half a millisecond of writing) was
    /// where SQLite's writers spent most of their wait (docs/benchmarks.md).
    Single(Arc<Mutex<Single>>),
}

#[derive(Debug)]
struct Single {
    conn: Conn,
    /// A transaction may be open: set before `BEGIN` is sent, cleared once `COMMIT` or
    /// `ROLLBACK` has returned.
    open: bool,
}

/// How long a writer waits for SQLite's connection before its request fails, as it would
/// wait for a pool's (sqlx's default `acquire_timeout`).
const TURN_TIMEOUT: Duration = Duration::from_secs(30);

impl Single {
    /// Rolls back a transaction cut short at any point (its future dropped). The connection
    /// runs commands in order, so this comes after whatever the cut one had sent; when the cut
    /// came before `BEGIN` ran or after `COMMIT` did, SQLite answers that no transaction is
    /// active, which is what we wanted.
    async fn settle(&mut self) -> Result<(), sqlx::Error> {
        if self.open {
            match self.conn.execute("ROLLBACK").await {
                Ok(_) => {}
                Err(e) if e.to_string().contains("no transaction is active") => {}
                Err(e) => return Err(e),
            }
            self.open = false;
        }
        Ok(())
    }
}

/// SQLite's connection while a writer has it. Given back with a transaction still open (a
/// request cancelled between its statements), it is rolled back at once by a task that keeps
/// the turn meanwhile: the write lock must not wait for the next writer of this process while
/// other processes (`hoist worker`, `hoist users`) wait for it.
struct Turn(Option<OwnedMutexGuard<Single>>);

impl Drop for Turn {
    fn drop(&mut self) {
        let Some(mut turn) = self.0.take() else {
            return;
        };
        if !turn.open {
            return;
        }
        // Without a runtime (the process is ending) the next user settles it instead.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = turn.settle().await {
                    tracing::warn!(error = %e, "could not roll back a dropped write transaction");
                }
            });
        }
    }
}

impl std::ops::Deref for Turn {
    type Target = Single;
    fn deref(&self) -> &Single {
        self.0.as_ref().expect("a turn is held until dropped")
    }
}

impl std::ops::DerefMut for Turn {
    fn deref_mut(&mut self) -> &mut Single {
        self.0.as_mut().expect("a turn is held until dropped")
    }
}

impl Writer {
    pub(super) fn pool(pool: AnyPool, backend: Backend) -> Self {
        let inner = Inner::Pool(pool);
        Self { inner, backend }
    }

    pub(super) fn single(conn: Conn) -> Self {
        let single = Single { conn, open: false };
        let inner = Inner::Single(Arc::new(Mutex::new(single)));
        let backend = Backend::Sqlite;
        Self { inner, backend }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// SQLite's one connection, its turn taken (in order of asking) and any transaction a
    /// dropped [`WriteTx`] left open rolled back.
    async fn turn(single: &Arc<Mutex<Single>>) -> Result<Turn, sqlx::Error> {
        let waiting = single.clone().lock_owned();
        let turn = tokio::time::timeout(TURN_TIMEOUT, waiting)
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?;
        let mut turn = Turn(Some(turn));
        turn.settle().await?;
        Ok(turn)
    }

    /// A write transaction. On SQLite it holds the database's write lock from its first
    /// statement (`BEGIN IMMEDIATE`), so what it reads stays true until it commits; on
    /// PostgreSQL it holds what its statements lock, and what [`WriteTx::hold`] takes.
    pub async fn begin(&self) -> DbResult<WriteTx> {
        self.begin_holding(&[]).await
    }

    /// [`Self::begin`], holding `keys` from the start as [`WriteTx::hold`] would: on
    /// PostgreSQL `BEGIN` and the locks go in one round trip.
    pub async fn begin_holding(&self, keys: &[&str]) -> DbResult<WriteTx> {
        let waited = |kind: &'static str, since: Instant| {
            metrics::histogram!(DB_WRITE_WAIT_SECONDS, "kind" => kind)
                .record(since.elapsed().as_secs_f64());
        };
        let asked = Instant::now();
        let tx = match &self.inner {
            Inner::Single(single) => {
                let mut turn = Self::turn(single).await?;
                turn.open = true;
                turn.conn.execute("BEGIN IMMEDIATE").await?;
                waited("transaction", asked);
                Open::Single(turn)
            }
            Inner::Pool(pool) => {
                let conn = pool.acquire().await?;
                waited("transaction", asked);
                let locking = Instant::now();
                let mut begin = String::from("BEGIN");
                for key in lock_order(keys) {
                    begin.push_str(&format!("; SELECT 1 FROM pg_advisory_xact_lock({key})"));
                }
                // Only integers of ours go into the text: nothing a caller sent is spliced in.
                let tx = begin_on(conn, sqlx::AssertSqlSafe(begin).into_sql_str()).await?;
                if !keys.is_empty() {
                    waited("owner", locking);
                }
                Open::Pool(tx)
            }
        };
        Ok(WriteTx {
            tx,
            backend: self.backend,
            _held: Held(Instant::now()),
        })
    }
}

/// `statement` (`BEGIN` and any locks) on a pooled PostgreSQL connection, on a task of its
/// own: sqlx counts a transaction only once its `BEGIN` has returned, so a request cancelled
/// meanwhile (while it waits for a lock, above all) would give the connection back to the pool
/// with a transaction open and the locks about to be taken. The task finishes the `BEGIN`,
/// and a transaction nobody took is rolled back as it drops.
async fn begin_on(
    conn: sqlx::pool::PoolConnection<sqlx::Any>,
    statement: sqlx::SqlStr,
) -> Result<Tx, sqlx::Error> {
    tokio::spawn(sqlx::Transaction::begin(conn, Some(statement)))
        .await
        .map_err(|_| sqlx::Error::WorkerCrashed)?
}

/// The advisory locks that stand for `keys`, in the one order every transaction takes them.
/// A 64-bit FNV-1a hash of each key (written out, being five lines, and fixed forever: every
/// instance of a cluster must agree, which std's hasher does not promise across releases).
/// Two keys share a lock once in billions, and then only wait for each other.
fn lock_order(keys: &[&str]) -> Vec<i64> {
    let hash = |key: &str| {
        let h = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        i64::from_ne_bytes(h.to_ne_bytes())
    };
    let mut locks: Vec<i64> = keys.iter().map(|k| hash(k)).collect();
    locks.sort_unstable();
    locks.dedup();
    locks
}

/// A transaction from [`Writer::begin`]. Derefs to the connection, as sqlx's own does.
pub struct WriteTx {
    tx: Open,
    backend: Backend,
    _held: Held,
}

enum Open {
    Pool(Tx),
    /// Dropped uncommitted, it leaves `open` set for the next user to roll back.
    Single(Turn),
}

/// Records how long its transaction was open when dropped (committed or not).
struct Held(Instant);

impl Drop for Held {
    fn drop(&mut self) {
        metrics::histogram!(DB_WRITE_HELD_SECONDS, "kind" => "transaction")
            .record(self.0.elapsed().as_secs_f64());
    }
}

impl WriteTx {
    /// Serialises the rest of this transaction with every other transaction that holds one of
    /// `keys` (owners, as `uploads.owner` names them, or a guest network's `net:` key) until
    /// either commits. Call it once, before the reads it protects: the keys are taken in one
    /// order everywhere, so two transactions never wait for each other. On SQLite the
    /// transaction already excludes every other writer.
    pub async fn hold(&mut self, keys: &[&str]) -> DbResult<()> {
        if self.backend == Backend::Sqlite {
            return Ok(());
        }
        let asked = Instant::now();
        for key in lock_order(keys) {
            sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1)")
                .bind(key)
                .execute(&mut **self)
                .await?;
        }
        metrics::histogram!(DB_WRITE_WAIT_SECONDS, "kind" => "owner")
            .record(asked.elapsed().as_secs_f64());
        Ok(())
    }

    /// [`Self::hold`] on the owner of upload `upload_id` (nothing if there is no such upload),
    /// in a transaction that holds `held` already. The owner is read again once held: a
    /// sign-in may have given the upload to an account meanwhile (adoption holds both), and
    /// then that owner is held too.
    pub(super) async fn hold_owner_after(
        &mut self,
        upload_id: &str,
        mut held: Option<String>,
    ) -> DbResult<()> {
        if self.backend == Backend::Sqlite {
            return Ok(());
        }
        loop {
            let owner: Option<String> =
                sqlx::query_scalar("SELECT owner FROM uploads WHERE id = $1")
                    .bind(upload_id)
                    .fetch_optional(&mut **self)
                    .await?;
            match owner {
                Some(owner) if held.as_ref() != Some(&owner) => {
                    self.hold(&[&owner]).await?;
                    held = Some(owner);
                }
                _ => return Ok(()),
            }
        }
    }

    pub async fn commit(self) -> DbResult<()> {
        match self.tx {
            Open::Pool(tx) => tx.commit().await?,
            Open::Single(mut turn) => {
                turn.conn.execute("COMMIT").await?;
                turn.open = false;
            }
        }
        Ok(())
    }
}

impl std::ops::Deref for WriteTx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        match &self.tx {
            Open::Pool(tx) => tx,
            Open::Single(turn) => &turn.conn,
        }
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Conn {
        match &mut self.tx {
            Open::Pool(tx) => tx,
            Open::Single(turn) => &mut turn.conn,
        }
    }
}

/// Implements sqlx's `Executor` for `&$ty` by handing every query to its pool `$field`, so
/// that queries run on our pools exactly as on sqlx's.
macro_rules! pool_executor {
    ($ty:ty, $field:ident) => {
        impl<'p> sqlx::Executor<'p> for &'_ $ty {
            type Database = sqlx::Any;

            fn fetch_many<'e, 'q: 'e, E>(
                self,
                query: E,
            ) -> futures::stream::BoxStream<
                'e,
                Result<sqlx::Either<sqlx::any::AnyQueryResult, sqlx::any::AnyRow>, sqlx::Error>,
            >
            where
                'p: 'e,
                E: 'q + sqlx::Execute<'q, sqlx::Any>,
            {
                sqlx::Executor::fetch_many(&self.$field, query)
            }

            fn fetch_optional<'e, 'q: 'e, E>(
                self,
                query: E,
            ) -> futures::future::BoxFuture<'e, Result<Option<sqlx::any::AnyRow>, sqlx::Error>>
            where
                'p: 'e,
                E: 'q + sqlx::Execute<'q, sqlx::Any>,
            {
                sqlx::Executor::fetch_optional(&self.$field, query)
            }

            fn prepare_with<'e>(
                self,
                sql: sqlx::SqlStr,
                parameters: &'e [sqlx::any::AnyTypeInfo],
            ) -> futures::future::BoxFuture<'e, Result<sqlx::any::AnyStatement, sqlx::Error>>
            where
                'p: 'e,
            {
                sqlx::Executor::prepare_with(&self.$field, sql, parameters)
            }

            // Required while sqlx's `offline` feature (its macros) is on; our code never
            // calls it.
            fn describe<'e>(
                self,
                sql: sqlx::SqlStr,
            ) -> futures::future::BoxFuture<'e, Result<sqlx::Describe<sqlx::Any>, sqlx::Error>>
            where
                'p: 'e,
            {
                sqlx::Executor::describe(&self.$field, sql)
            }
        }
    };
}
pub(super) use pool_executor;

// A single writing statement runs on `&Writer` as on a pool: it waits for the writer
// connection (on SQLite, behind the transaction that holds it) and commits on its own. On
// SQLite the statement's results are gathered before the turn is given back.
impl<'p> sqlx::Executor<'p> for &'_ Writer {
    type Database = sqlx::Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<
        'e,
        Result<sqlx::Either<sqlx::any::AnyQueryResult, sqlx::any::AnyRow>, sqlx::Error>,
    >
    where
        'p: 'e,
        E: 'q + sqlx::Execute<'q, sqlx::Any>,
    {
        match &self.inner {
            Inner::Pool(pool) => pool.fetch_many(query),
            Inner::Single(single) => {
                let single = single.clone();
                let gathered = async move {
                    match Writer::turn(&single).await {
                        Ok(mut turn) => turn.conn.fetch_many(query).collect::<Vec<_>>().await,
                        Err(e) => vec![Err(e)],
                    }
                };
                futures::stream::once(gathered)
                    .flat_map(futures::stream::iter)
                    .boxed()
            }
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<sqlx::any::AnyRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + sqlx::Execute<'q, sqlx::Any>,
    {
        match &self.inner {
            Inner::Pool(pool) => pool.fetch_optional(query),
            Inner::Single(single) => {
                let single = single.clone();
                Box::pin(async move {
                    Writer::turn(&single)
                        .await?
                        .conn
                        .fetch_optional(query)
                        .await
                })
            }
        }
    }

    fn prepare_with<'e>(
        self,
        sql: sqlx::SqlStr,
        parameters: &'e [sqlx::any::AnyTypeInfo],
    ) -> BoxFuture<'e, Result<sqlx::any::AnyStatement, sqlx::Error>>
    where
        'p: 'e,
    {
        match &self.inner {
            Inner::Pool(pool) => pool.prepare_with(sql, parameters),
            Inner::Single(single) => {
                let single = single.clone();
                Box::pin(async move {
                    let mut turn = Writer::turn(&single).await?;
                    turn.conn.prepare_with(sql, parameters).await
                })
            }
        }
    }

    // Required while sqlx's `offline` feature (its macros) is on; our code never calls it.
    fn describe<'e>(
        self,
        sql: sqlx::SqlStr,
    ) -> BoxFuture<'e, Result<sqlx::Describe<sqlx::Any>, sqlx::Error>>
    where
        'p: 'e,
    {
        match &self.inner {
            Inner::Pool(pool) => pool.describe(sql),
            Inner::Single(single) => {
                let single = single.clone();
                Box::pin(async move { Writer::turn(&single).await?.conn.describe(sql).await })
            }
        }
    }
}

#[cfg(test)]
mod tests;
