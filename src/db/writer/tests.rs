//! The write path's own promises, on either database: a transaction dropped without a commit
//! (its request cancelled, an error returned early) leaves nothing behind and blocks nobody,
//! and writers that ask at once all get their turn.

use super::*;
use crate::db::{self, Pool};

async fn fresh() -> (tempfile::TempDir, Pool) {
    let dir = tempfile::tempdir().unwrap();
    let url = db::testing::fresh_url(dir.path()).await;
    (dir, db::connect(&url).await.unwrap())
}

async fn event(conn: &mut Conn, owner: &str) {
    sqlx::query("INSERT INTO events (owner, upload_id, body, at) VALUES ($1, 'u', '{}', 0)")
        .bind(owner)
        .execute(conn)
        .await
        .unwrap();
}

async fn count(pool: &Pool, owner: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE owner = $1")
        .bind(owner)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_transaction_dropped_uncommitted_leaves_nothing_and_blocks_nobody() {
    let (_dir, pool) = fresh().await;
    let mut dropped = pool.writer().begin().await.unwrap();
    event(&mut dropped, "dropped").await;
    drop(dropped);
    // A cancelled one: its future dropped between two statements.
    let cancelled = async {
        let mut tx = pool.writer().begin().await.unwrap();
        event(&mut tx, "cancelled").await;
        std::future::pending::<()>().await;
    };
    let stopped = tokio::time::timeout(std::time::Duration::from_millis(50), cancelled).await;
    assert!(stopped.is_err());

    // Another process on the same SQLite file (`hoist worker`, `hoist users`) gets the write
    // lock at once: the dropped transactions did not keep it until this process wrote again.
    if Backend::of(&pool) == Backend::Sqlite {
        use sqlx::Connection;
        let mut other = sqlx::AnyConnection::connect(pool.url()).await.unwrap();
        other.execute("PRAGMA busy_timeout = 2000").await.unwrap();
        event(&mut other, "other process").await;
    }

    // The next writers, a single statement and a transaction, go on and keep what they wrote.
    sqlx::query("INSERT INTO events (owner, upload_id, body, at) VALUES ('next', 'u', '{}', 0)")
        .execute(pool.writer())
        .await
        .unwrap();
    let mut tx = pool.writer().begin().await.unwrap();
    event(&mut tx, "next").await;
    tx.commit().await.unwrap();
    assert_eq!(count(&pool, "dropped").await, 0);
    assert_eq!(count(&pool, "cancelled").await, 0);
    assert_eq!(count(&pool, "next").await, 2);
    let other = i64::from(Backend::of(&pool) == Backend::Sqlite);
    assert_eq!(count(&pool, "other process").await, other);
}

#[tokio::test]
async fn writers_that_ask_at_once_all_get_their_turn() {
    let (_dir, pool) = fresh().await;
    let writers = (0..50).map(|i| {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut tx = pool.writer().begin().await.unwrap();
            event(&mut tx, "many").await;
            if i % 2 == 0 {
                tx.commit().await.unwrap();
            }
        })
    });
    for writer in writers.collect::<Vec<_>>() {
        writer.await.unwrap();
    }
    assert_eq!(count(&pool, "many").await, 25);
}
