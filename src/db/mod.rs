//! Persistence: SQLite (the default) or PostgreSQL, their migrations, and one module of
//! queries per table. Nothing outside this folder writes SQL.
//!
//! Both databases run the same statements through sqlx's `Any` driver. They are written in
//! the dialect the two share: `$n` placeholders (SQLite reads `$1` as parameter 1 too),
//! `ON CONFLICT`, `RETURNING`, `CASE` rather than either's own functions, counts and sums
//! cast to `BIGINT` (PostgreSQL would sum into `NUMERIC`, which `Any` cannot read), and
//! integers rather than booleans in tables. Rows decode their stored words and flags into
//! enums and booleans as they are read (`#[sqlx(try_from)]`), once, here. The few statements whose best form differs (a
//! claim that skips rows another instance holds) are picked by [`Backend`].

pub mod accounts;
pub mod adoption;
pub mod events;
pub mod files;
pub mod jobs;
pub mod outbox;
pub mod quarantine;
pub mod renditions;
pub mod uploads;
pub mod views;
mod words;
pub mod writer;

use sqlx::{any::AnyPoolOptions, AnyPool, Connection, Executor};
pub use writer::{WriteTx, Writer};

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
    #[error("{0:?} is not a database this version can use: the URL must start with sqlite:// or postgres://")]
    Unsupported(String),
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        // 22021: character_not_in_repertoire, PostgreSQL's answer to a NUL in text.
        match &e {
            sqlx::Error::Database(d) if d.code().as_deref() == Some("22021") => Self::Unstorable,
            // A stored word no enum of this version names (see `model::UnknownWord`).
            sqlx::Error::ColumnDecode { index, source } => {
                Self::Corrupt(format!("column {index}: {source}"))
            }
            _ => Self::Sqlx(e),
        }
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// A boolean as the tables keep it, 0 or 1 in an integer column (`Any` reads no SQLite
/// boolean): rows read it through `#[sqlx(try_from = "Flag")]` into a `bool`.
#[derive(Clone, Copy, Debug, sqlx::Type)]
#[sqlx(transparent)]
pub struct Flag(i64);

impl From<Flag> for bool {
    fn from(flag: Flag) -> bool {
        flag.0 != 0
    }
}

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
        pool.writer.backend()
    }
}

/// The database: a pool of readers, on which queries run as on sqlx's pool (`&Pool` is an
/// `Executor`), and the [`Writer`], the only way to write. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Pool {
    read: AnyPool,
    writer: Writer,
    url: String,
}

impl Pool {
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// The URL it was opened with (a listener for PostgreSQL's `NOTIFY` opens its own).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A write transaction that holds the owner of upload `upload_id`, as
    /// [`WriteTx::hold`] on it right after `begin` would. The owner is first read on a
    /// reader, so that on PostgreSQL `BEGIN` and its lock go in one round trip; the
    /// transaction reads it again once held, and holds a new owner if a sign-in moved the
    /// upload meanwhile.
    pub async fn begin_for_upload(&self, upload_id: &str) -> DbResult<WriteTx> {
        if self.writer.backend() == Backend::Sqlite {
            return self.writer.begin().await;
        }
        let owner: Option<String> = sqlx::query_scalar("SELECT owner FROM uploads WHERE id = $1")
            .bind(upload_id)
            .fetch_optional(self)
            .await?;
        let mut tx = match &owner {
            Some(owner) => self.writer.begin_holding(&[owner]).await?,
            None => self.writer.begin().await?,
        };
        tx.hold_owner_after(upload_id, owner).await?;
        Ok(tx)
    }

    /// The readers' pool, for `/metrics`.
    pub fn readers(&self) -> &AnyPool {
        &self.read
    }
}

writer::pool_executor!(Pool, read);

/// Connections each pool may open (SQLite's writer is one connection: SQLite writes one at a
/// time).
const CONNECTIONS: u32 = 8;

/// Opens (creating if needed) the database and brings its schema up to date.
pub async fn connect(url: &str) -> DbResult<Pool> {
    sqlx::any::install_default_drivers();
    let backend =
        Backend::of_url(url).ok_or_else(|| DbError::Unsupported(without_password(url)))?;
    let url = match backend {
        // Made if missing, as the default database in the data folder must be.
        Backend::Sqlite if !url.contains("mode=") => {
            let glue = if url.contains('?') { '&' } else { '?' };
            format!("{url}{glue}mode=rwc")
        }
        _ => url.to_owned(),
    };
    let writer = match backend {
        Backend::Sqlite => {
            let mut conn = sqlx::AnyConnection::connect(&url).await?;
            prepare(&mut conn, backend, Access::ReadWrite).await?;
            sqlx::migrate!("./migrations/sqlite").run(&mut conn).await?;
            Writer::single(conn)
        }
        Backend::Postgres => {
            let write = open(&url, backend, CONNECTIONS, Access::ReadWrite).await?;
            // A migration may rewrite a large table: it runs on a connection without the
            // statement and lock bounds, which it gets back afterwards for its next user.
            let mut conn = write.acquire().await?;
            conn.execute("SET statement_timeout = 0; SET lock_timeout = 0")
                .await?;
            let migrated = sqlx::migrate!("./migrations/postgres")
                .run(&mut *conn)
                .await;
            conn.execute(POSTGRES_SESSION).await?;
            migrated?;
            Writer::pool(write, backend)
        }
    };
    // Opened after the migrations, which make the file the readers open.
    let read = open(&url, backend, CONNECTIONS, Access::ReadOnly).await?;
    Ok(Pool { read, writer, url })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    ReadWrite,
    ReadOnly,
}

async fn open(url: &str, backend: Backend, connections: u32, access: Access) -> DbResult<AnyPool> {
    Ok(AnyPoolOptions::new()
        .max_connections(connections)
        // sqlx pings every connection as it goes back to the pool, so a broken one never
        // returns; pinging again as it comes out would add a round trip (a database request
        // on PostgreSQL, a hop to the connection's thread on SQLite) to every query, and on
        // SQLite's one writer connection it lengthens every handoff between writers.
        .test_before_acquire(false)
        .after_connect(move |conn, _| Box::pin(prepare(conn, backend, access)))
        .connect(url)
        .await?)
}

/// Sets up a new connection. WAL lets the library be read while uploads are being recorded;
/// the busy timeout is for other processes on the same file (within this one, writers queue
/// for the one writer connection).
async fn prepare(conn: &mut Conn, backend: Backend, access: Access) -> Result<(), sqlx::Error> {
    let read_only = access == Access::ReadOnly;
    match backend {
        Backend::Sqlite => {
            conn.execute(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                 PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
            )
            .await?;
            if read_only {
                conn.execute("PRAGMA query_only = ON").await?;
            }
        }
        Backend::Postgres => {
            conn.execute(POSTGRES_SESSION).await?;
            if read_only {
                conn.execute("SET default_transaction_read_only = on")
                    .await?;
            }
        }
    }
    Ok(())
}

/// Bounds on every PostgreSQL session of ours. An instance that loses its connection in the
/// middle of a transaction (a partition, a frozen VM: no FIN reaches the server) would keep its
/// locks until TCP keepalive gives up, hours later, and every other instance's writes would
/// queue behind them. No transaction of ours waits on anything but the database while open
/// (every one begins and commits inside one `db` function, with no store call between), so
/// one idle for 5 s is dead and the server ends it. A lock not granted within 10 s — twice
/// that, so a stuck holder is ended before its waiters give up — fails its request (a 500 the
/// caller may retry) instead of holding a pool connection for the length of the request
/// timeout. A statement still running after 5 minutes is a fault (the reaper and the sweeps
/// work in small batches) and is ended; migrations, which may rewrite a large table, run
/// without these bounds.
const POSTGRES_SESSION: &str = "SET idle_in_transaction_session_timeout = '5s'; \
     SET lock_timeout = '10s'; SET statement_timeout = '300s';";

/// `url` with its password (if any) replaced, for messages a log or a terminal keeps.
pub fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((credentials, host)) if credentials.contains(':') => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{path}")
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_password_in_a_database_url_is_never_shown() {
        use super::without_password as shown;
        assert_eq!(
            shown("postgres://hoist:s3cret@db.internal:5432/hoist?sslmode=require"),
            "postgres://hoist:***@db.internal:5432/hoist?sslmode=require"
        );
        assert_eq!(shown("postgres://db/hoist"), "postgres://db/hoist");
        assert_eq!(shown("postgres://me@db/hoist"), "postgres://me@db/hoist");
        assert_eq!(
            shown("sqlite:///var/lib/hoist/hoist.db"),
            "sqlite:///var/lib/hoist/hoist.db"
        );
        assert!(!shown("postgres://u:p@ss@host/db").contains("p@ss"));
    }
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
