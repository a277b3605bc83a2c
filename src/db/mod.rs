//! Persistence: SQLite (the default) or PostgreSQL, their migrations, and one module of
//! queries per table. Nothing outside this folder writes SQL.
//!
//! Both databases run the same statements through sqlx's `Any` driver. They are written in
//! the dialect the two share: `$n` placeholders (SQLite reads `$1` as parameter 1 too),
//! `ON CONFLICT`, `RETURNING`, `CASE` rather than either's own functions, counts and sums
//! cast to `BIGINT` (PostgreSQL would sum into `NUMERIC`, which `Any` cannot read), and
//! integers rather than booleans in rows. The few statements whose best form differs (a
//! claim that skips rows another instance holds) are picked by [`Backend`].

pub mod accounts;
pub mod events;
pub mod files;
pub mod jobs;
pub mod uploads;

use sqlx::{any::AnyPoolOptions, Connection, Executor};
use std::sync::Arc;
use tokio::sync::{Mutex, OwnedMutexGuard};

pub type Pool = sqlx::AnyPool;
pub type Conn = sqlx::AnyConnection;
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlx(sqlx::Error),
    /// A caller's text holds a character the database cannot keep (PostgreSQL refuses NUL;
    /// SQLite takes it and finds nothing). Nothing stored can match it: the request is bad.
    #[error("a value holds a character the database cannot store")]
    Unstorable,
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the database holds a value this version does not understand: {0}")]
    Corrupt(String),
    #[error("the lock file {path} beside the database could not be opened: {source}")]
    LockFile {
        path: String,
        source: std::io::Error,
    },
    #[error("{0:?} is not a database this version can use: the URL must start with sqlite:// or postgres://")]
    Unsupported(String),
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        // 22021: character_not_in_repertoire, PostgreSQL's answer to a NUL in text.
        match &e {
            sqlx::Error::Database(d) if d.code().as_deref() == Some("22021") => Self::Unstorable,
            _ => Self::Sqlx(e),
        }
    }
}

impl DbError {
    /// What a caller is told when their text cannot be stored (see [`DbError::Unstorable`]).
    pub const UNSTORABLE: &'static str = "a value holds a NUL character";
}

pub type DbResult<T> = Result<T, DbError>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Option<Self> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Some(Self::Sqlite),
            "postgres" | "postgresql" => Some(Self::Postgres),
            _ => None,
        }
    }

    pub fn of(pool: &Pool) -> Self {
        Self::of_url(pool.connect_options().database_url.as_str()).unwrap_or(Self::Sqlite)
    }

    fn of_conn(conn: &Conn) -> Self {
        if conn.backend_name() == "PostgreSQL" {
            Self::Postgres
        } else {
            Self::Sqlite
        }
    }
}

/// Opens (creating if needed) the database and brings its schema up to date.
pub async fn connect(url: &str) -> DbResult<Pool> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of_url(url).ok_or_else(|| DbError::Unsupported(url.to_owned()))?;
    let url = match backend {
        // Made if missing, as the default database in the data folder must be.
        Backend::Sqlite if !url.contains("mode=") => {
            let glue = if url.contains('?') { '&' } else { '?' };
            format!("{url}{glue}mode=rwc")
        }
        _ => url.to_owned(),
    };
    let pool = AnyPoolOptions::new()
        .max_connections(8)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // WAL lets the library be read while uploads are being recorded.
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .connect(&url)
        .await?;
    match backend {
        Backend::Sqlite => {
            sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
            share_turns(&pool).await?;
        }
        Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
    }
    Ok(pool)
}

/// A transaction whose reads must not go stale before its writes (a quota checked, then an
/// upload admitted; a job's siblings counted, then the file marked ready). SQLite gives that
/// by taking its one write lock at `BEGIN IMMEDIATE`; on PostgreSQL the same transactions
/// queue on one advisory lock, held until commit. Events are written only inside these, so
/// their ids are also committed in order, which the live feed's cursor relies on.
///
/// Either way a writer first waits for this process's turn (see [`turn`]), holding no
/// connection while it waits.
pub async fn write(pool: &Pool) -> DbResult<WriteTx> {
    let turn = turn(pool, Lane::Transaction).await;
    let tx = match Backend::of(pool) {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
        Backend::Postgres => {
            let mut tx = pool.begin().await?;
            sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1)")
                .bind(WRITER_LOCK)
                .execute(&mut *tx)
                .await?;
            tx
        }
    };
    Ok(WriteTx {
        tx,
        _turn: Some(turn),
    })
}

/// A transaction of writes that need no reads to stay fresh (several rows updated at once).
/// On SQLite it still takes the process's turn, as every write there does; on PostgreSQL it
/// is a plain transaction, its rows locked by its own statements.
pub async fn batch(pool: &Pool) -> DbResult<WriteTx> {
    Ok(match Backend::of(pool) {
        Backend::Sqlite => {
            let turn = turn(pool, Lane::Transaction).await;
            WriteTx {
                tx: pool.begin_with("BEGIN IMMEDIATE").await?,
                _turn: Some(turn),
            }
        }
        Backend::Postgres => WriteTx {
            tx: pool.begin().await?,
            _turn: None,
        },
    })
}

/// Runs one writing statement (`statement` is the unstarted future of its `execute` or
/// `fetch`) in this process's turn on SQLite, at once on PostgreSQL.
pub async fn alone<T>(pool: &Pool, statement: impl std::future::Future<Output = T>) -> T {
    match Backend::of(pool) {
        Backend::Sqlite => {
            let _turn = turn(pool, Lane::Statement).await;
            statement.await
        }
        Backend::Postgres => statement.await,
    }
}

/// A transaction from [`write`] or [`batch`], with its place in the writers' queue, given up
/// when the transaction ends. Derefs to the connection, as sqlx's own transaction does.
pub struct WriteTx {
    tx: Tx,
    _turn: Option<Turn>,
}

impl WriteTx {
    pub async fn commit(self) -> DbResult<()> {
        Ok(self.tx.commit().await?)
    }
}

impl std::ops::Deref for WriteTx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.tx
    }
}

/// This process's writers to one database, one at a time.
///
/// SQLite lets one connection write at a time and makes the others wait in its busy handler,
/// which sleeps in steps of up to 100 ms and holds the waiter's pooled connection meanwhile:
/// under load a queue of writers both slept past their turn and left readers (signing a
/// part reads) without a connection. PostgreSQL's advisory lock in [`write`] likewise held a
/// connection per waiter. Queueing here first costs nothing when nobody waits, and leaves the
/// database's own lock to settle only what other processes do.
///
/// Single statements (a part's checksum as it is signed, a session touched) are what a
/// waiting user feels most, and each holds the turn a fraction of what a check-then-write
/// transaction does. So transactions first queue among themselves, and only the one at
/// their head waits in the writers' queue beside the statements: a statement waits for at
/// most one transaction, and a transaction for at most the statements that asked before it.
async fn turn(pool: &Pool, lane: Lane) -> Turn {
    let gate = gate(pool);
    let asked = std::time::Instant::now();
    let head = match lane {
        Lane::Transaction => Some(gate.transactions.clone().lock_owned().await),
        Lane::Statement => None,
    };
    let writer = gate.writer.clone().lock_owned().await;
    let across = Across::take(&gate).await;
    metrics::histogram!(crate::observe::metrics::DB_WRITE_WAIT_SECONDS, "kind" => lane.name())
        .record(asked.elapsed().as_secs_f64());
    Turn {
        _across: across,
        _writer: writer,
        _head: head,
        lane,
        since: std::time::Instant::now(),
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

/// Makes a SQLite database's turns good across processes too: the instances, `hoist worker`
/// and `hoist tokens` on one file. Each process's turn holder also locks a file beside the
/// database, so a writer of another process waits in the kernel, woken as the lock is given
/// back, instead of polling in SQLite's busy handler (which sleeps up to 100 ms a time and,
/// with two instances under load, put 0.8 s on the tail of a one-row insert).
async fn share_turns(pool: &Pool) -> DbResult<()> {
    // SQLite's own answer, so the URL need not be parsed; empty for an in-memory database.
    let path: String =
        sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(pool)
            .await?;
    if path.is_empty() {
        return Ok(());
    }
    let path = format!("{path}-writer");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| DbError::LockFile { path, source })?;
    // A second pool on the same URL in this process shares the first one's file.
    let _ = gate(pool).across.set(file);
    Ok(())
}

/// The queues of one database's writers in this process (see [`turn`]); tokio's mutex
/// serves in order.
#[derive(Default)]
struct Gate {
    transactions: Arc<Mutex<()>>,
    writer: Arc<Mutex<()>>,
    /// SQLite's lock file for other processes (see [`share_turns`]); unset on PostgreSQL.
    across: std::sync::OnceLock<std::fs::File>,
}

/// This process's hold on the lock file of [`share_turns`], given back when dropped.
struct Across(Arc<Gate>);

/// How long a writer waits for another process's turn to end before it leaves the matter
/// to SQLite's busy timeout (set to the same in [`connect`]).
const ACROSS_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

impl Across {
    async fn take(gate: &Arc<Gate>) -> Option<Self> {
        let file = gate.across.get()?;
        let failed = match file.try_lock() {
            Ok(()) => return Some(Self(gate.clone())),
            Err(std::fs::TryLockError::WouldBlock) => {
                // Another process writes. Waiting blocks a thread. Should the wait be given
                // up (this future dropped, or the deadline passed), the hold still arrives
                // as the task's output and is dropped with it: the lock is never left held.
                let gate = gate.clone();
                let waiting = tokio::task::spawn_blocking(move || match gate.across.get() {
                    Some(file) => file.lock().map(|()| Self(gate.clone())),
                    None => Err(std::io::Error::other("no lock file")),
                });
                // A process that never lets go (stopped, or stuck mid-transaction) meets
                // SQLite's busy timeout after this, as it would without the file.
                match tokio::time::timeout(ACROSS_PATIENCE, waiting).await {
                    Ok(Ok(Ok(hold))) => return Some(hold),
                    Ok(Ok(Err(e))) => e.to_string(),
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => "another process held it too long".to_owned(),
                }
            }
            Err(std::fs::TryLockError::Error(e)) => e.to_string(),
        };
        // SQLite's own lock still keeps the writes apart; only the waiting is worse.
        tracing::warn!(error = %failed, "the database's lock file could not be locked");
        None
    }
}

impl Drop for Across {
    fn drop(&mut self) {
        if let Some(file) = self.0.across.get() {
            let _ = file.unlock();
        }
    }
}

#[derive(Clone, Copy)]
enum Lane {
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

/// A writer's turn (see [`turn`]), measured from when it was given until it is given back.
struct Turn {
    _across: Option<Across>,
    _writer: OwnedMutexGuard<()>,
    _head: Option<OwnedMutexGuard<()>>,
    lane: Lane,
    since: std::time::Instant,
}

impl Drop for Turn {
    fn drop(&mut self) {
        metrics::histogram!(crate::observe::metrics::DB_WRITE_HELD_SECONDS, "kind" => self.lane.name())
            .record(self.since.elapsed().as_secs_f64());
    }
}

/// The advisory lock of [`write`]: a number no other program on the database is likely to use.
const WRITER_LOCK: i64 = 0x486f_6973_7400;

/// True if `conn` (inside [`write`]) is on PostgreSQL, where statements may add row locks.
pub fn on_postgres(conn: &Conn) -> bool {
    Backend::of_conn(conn) == Backend::Postgres
}

/// Support for tests: a fresh database each.
#[doc(hidden)]
pub mod testing {
    use super::*;

    /// Makes the empty database `name` on `server` (a `postgres://` URL without a database
    /// name) unless it is there already, and returns its URL.
    pub async fn create_postgres_database(server: &str, name: &str) -> String {
        let server = server.trim_end_matches('/');
        let mut admin = sqlx::postgres::PgConnection::connect(&format!("{server}/postgres"))
            .await
            .expect("the test PostgreSQL server");
        let exists: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                .bind(name)
                .fetch_optional(&mut admin)
                .await
                .expect("list databases");
        if exists.is_none() {
            (&mut admin)
                .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .await
                .expect("create database");
        }
        format!("{server}/{name}")
    }

    /// The test command's PostgreSQL server (`HOIST_TEST_POSTGRES`, a URL without a database).
    pub fn postgres_server() -> Option<String> {
        std::env::var("HOIST_TEST_POSTGRES")
            .ok()
            .filter(|s| !s.is_empty())
    }

    /// True on the test command's second pass, which runs every test on PostgreSQL
    /// (`HOIST_TEST_DATABASE=postgres`).
    pub fn on_postgres() -> bool {
        std::env::var("HOIST_TEST_DATABASE").is_ok_and(|d| d == "postgres")
    }

    /// The PostgreSQL server, which the PostgreSQL pass cannot do without.
    pub fn required_postgres_server() -> String {
        postgres_server().expect(
            "HOIST_TEST_POSTGRES names no PostgreSQL server: run scripts/test.sh, or start one \
             with scripts/local-pg.sh and source its pg.env",
        )
    }

    /// The URL of a new, empty database: on the test PostgreSQL server on the PostgreSQL
    /// pass, else SQLite in `dir`.
    pub async fn fresh_url(dir: &std::path::Path) -> String {
        if on_postgres() {
            let name = format!("hoist_{}", uuid::Uuid::new_v4().simple());
            create_postgres_database(&required_postgres_server(), &name).await
        } else {
            format!("sqlite://{}", dir.join("hoist.db").display())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A writer that must wait holds no connection meanwhile: with one transaction holding the
    /// database, twice as many writers as the pool has connections queue up, a reader still
    /// gets a connection, and every writer succeeds once the first commits (none gives up with
    /// "database is locked").
    #[tokio::test]
    async fn queued_writers_leave_readers_a_connection_and_all_get_their_turn() {
        let dir = tempfile::tempdir().unwrap();
        let pool = connect(&testing::fresh_url(dir.path()).await)
            .await
            .unwrap();
        let first = write(&pool).await.unwrap();
        let queued = Arc::new(AtomicUsize::new(0));
        let writers: Vec<_> = (0..16i64)
            .map(|i| {
                let (pool, queued) = (pool.clone(), queued.clone());
                tokio::spawn(async move {
                    queued.fetch_add(1, Ordering::SeqCst);
                    if i % 2 == 0 {
                        write(&pool).await?.commit().await
                    } else {
                        accounts::touch_session(&pool, "nobody", i).await
                    }
                })
            })
            .collect();
        // Every writer has reached its wait (this test runs on one thread: a writer runs until
        // it must wait), and had the chance to take a connection if waiting took one.
        while queued.load(Ordering::SeqCst) < writers.len() {
            tokio::task::yield_now().await;
        }
        for _ in 0..100 {
            if pool.num_idle() == 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
        let read = accounts::all(&pool).await;
        assert!(read.is_ok(), "a reader waited on queued writers: {read:?}");
        first.commit().await.unwrap();
        for writer in writers {
            writer.await.unwrap().expect("a queued writer got its turn");
        }
    }

    /// A single statement (a part's checksum as it is signed) does not wait behind every
    /// queued transaction: with one transaction holding the database and two more queued,
    /// each keeping its turn until told, a statement still gets through as the first ends.
    #[tokio::test]
    async fn a_statement_waits_for_one_transaction_at_most() {
        let dir = tempfile::tempdir().unwrap();
        let pool = connect(&testing::fresh_url(dir.path()).await)
            .await
            .unwrap();
        let first = write(&pool).await.unwrap();
        let queued = Arc::new(AtomicUsize::new(0));
        let mut releases = Vec::new();
        let mut holders = Vec::new();
        for _ in 0..2 {
            let (release, released) = tokio::sync::oneshot::channel::<()>();
            let (pool, queued) = (pool.clone(), queued.clone());
            holders.push(tokio::spawn(async move {
                queued.fetch_add(1, Ordering::SeqCst);
                let tx = write(&pool).await?;
                let _ = released.await;
                tx.commit().await
            }));
            releases.push(release);
        }
        while queued.load(Ordering::SeqCst) < holders.len() {
            tokio::task::yield_now().await;
        }
        let statement = {
            let pool = pool.clone();
            tokio::spawn(async move { accounts::touch_session(&pool, "nobody", 1).await })
        };
        tokio::task::yield_now().await;
        first.commit().await.unwrap();
        let done = tokio::time::timeout(std::time::Duration::from_secs(10), statement).await;
        assert!(
            matches!(done, Ok(Ok(Ok(())))),
            "the statement waited behind the queued transactions: {done:?}"
        );
        for release in releases {
            let _ = release.send(());
        }
        for holder in holders {
            holder
                .await
                .unwrap()
                .expect("a queued transaction got its turn");
        }
    }

    /// On SQLite, another process (an instance, `hoist worker`, `hoist tokens`) finds the
    /// lock file beside the database held while this one has its turn and free after it,
    /// and this process's writers wait while another holds it, then go on.
    #[tokio::test]
    async fn other_processes_on_the_file_wait_for_a_turn_and_are_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let pool = connect(&testing::fresh_url(dir.path()).await)
            .await
            .unwrap();
        let lock_file = dir.path().join("hoist.db-writer");
        if testing::on_postgres() {
            assert!(!lock_file.exists(), "PostgreSQL needs no lock file");
            return;
        }
        // What another process would open: a lock on it conflicts with this process's.
        let other = std::fs::File::options()
            .write(true)
            .open(&lock_file)
            .expect("the lock file beside the database");
        let tx = write(&pool).await.unwrap();
        assert!(
            matches!(other.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
            "another process could write during this one's turn"
        );
        tx.commit().await.unwrap();
        other
            .try_lock()
            .expect("the turn ended but the lock file stayed held");

        let writer = {
            let pool = pool.clone();
            tokio::spawn(async move { accounts::touch_session(&pool, "nobody", 1).await })
        };
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(
            !writer.is_finished(),
            "a write went ahead of another process's turn"
        );
        other.unlock().unwrap();
        // Well inside the patience after which a writer stops waiting for the file.
        let done = tokio::time::timeout(std::time::Duration::from_secs(5), writer).await;
        assert!(matches!(done, Ok(Ok(Ok(())))), "{done:?}");
        other
            .try_lock()
            .expect("the writer kept the lock file after its turn");
    }
}
