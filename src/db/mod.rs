//! Persistence: the SQLite database, its migrations, and one module of queries per table.
//! Nothing outside this folder writes SQL.

pub mod accounts;
pub mod events;
pub mod files;
pub mod jobs;
pub mod uploads;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::{str::FromStr, time::Duration};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the database holds a value this version does not understand: {0}")]
    Corrupt(String),
}

pub type DbResult<T> = Result<T, DbError>;

/// Opens (creating if needed) the database and brings its schema up to date.
pub async fn connect(url: &str) -> DbResult<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        // WAL lets the library be read while uploads are being recorded.
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    Ok(pool)
}
