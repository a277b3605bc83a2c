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

/// Advisory locks held right now (`granted`), or waited for.
async fn advisory_locks(pool: &Pool, granted: bool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND granted = $1")
        .bind(granted)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_key_held_from_begin_or_midway_is_one_lock_and_other_keys_pass() {
    let (_dir, pool) = fresh().await;
    if Backend::of(&pool) != Backend::Postgres {
        return; // SQLite's one writer excludes every other already.
    }
    let mut first = pool.writer().begin().await.unwrap();
    first.hold(&["owner-a"]).await.unwrap();
    // Another owner's transaction goes on meanwhile.
    let other = pool
        .writer()
        .begin_holding(&["owner-b", "net:x"])
        .await
        .unwrap();
    other.commit().await.unwrap();
    // The same owner's, taken the other way (at BEGIN), waits for the first one's commit.
    let second = tokio::spawn({
        let pool = pool.clone();
        async move {
            let mut tx = pool
                .writer()
                .begin_holding(&["net:y", "owner-a"])
                .await
                .unwrap();
            event(&mut tx, "second").await;
            tx.commit().await.unwrap();
        }
    });
    while advisory_locks(&pool, false).await == 0 {
        assert!(
            !second.is_finished(),
            "the same owner's transaction did not wait"
        );
        tokio::task::yield_now().await;
    }
    event(&mut first, "first").await;
    first.commit().await.unwrap();
    second.await.unwrap();
    let firsts: Vec<String> = sqlx::query_scalar("SELECT owner FROM events ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(firsts, ["first", "second"]);
}

#[tokio::test]
async fn a_committed_event_wakes_every_listener_and_a_rolled_back_one_does_not() {
    let (_dir, pool) = fresh().await;
    if Backend::of(&pool) != Backend::Postgres {
        return; // SQLite's feed polls its own file.
    }
    let mut listener = sqlx::postgres::PgListener::connect(pool.url())
        .await
        .unwrap();
    listener.listen(crate::db::events::CHANNEL).await.unwrap();
    let mut dropped = pool.writer().begin().await.unwrap();
    event(&mut dropped, "dropped").await;
    drop(dropped);
    let mut tx = pool.writer().begin().await.unwrap();
    event(&mut tx, "kept").await;
    event(&mut tx, "kept").await;
    tx.commit().await.unwrap();
    let bound = std::time::Duration::from_secs(10);
    let woke = tokio::time::timeout(bound, listener.recv()).await;
    assert!(
        woke.is_ok_and(|n| n.is_ok()),
        "no notification after a commit"
    );
    // One per transaction (they come together, at its commit), and none for the dropped one.
    let more = listener.next_buffered();
    assert!(more.is_none(), "more than one notification: {more:?}");
}

#[tokio::test]
async fn a_writer_cancelled_while_it_waits_for_a_lock_leaves_no_lock_and_no_transaction() {
    let (_dir, pool) = fresh().await;
    if Backend::of(&pool) != Backend::Postgres {
        return; // SQLite's writer takes no lock of ours.
    }
    let first = pool.writer().begin_holding(&["owner-a"]).await.unwrap();
    // Boxed, so that dropping it drops the future itself (a pinned borrow would not).
    let mut cancelled = Box::pin(pool.writer().begin_holding(&["owner-a"]));
    // Dropped once it is known to wait for the lock, as a request whose client went away.
    loop {
        tokio::select! {
            _ = &mut cancelled => panic!("it did not wait for the lock"),
            n = advisory_locks(&pool, false) => if n > 0 { break },
        }
    }
    drop(cancelled);
    first.commit().await.unwrap();
    // Once the cancelled BEGIN has run its course, no connection keeps the lock, and the
    // same owner's next writer gets it. A connection left in the transaction would keep it
    // until the server's idle-in-transaction timeout (5 s) ended its session, and the next
    // request to take that connection from the pool would fail: the bound is below that.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(4);
    loop {
        if advisory_locks(&pool, true).await + advisory_locks(&pool, false).await == 0 {
            break;
        }
        if std::time::Instant::now() >= deadline {
            let who: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
                "SELECT l.mode || ' ' || l.granted::text, a.state, a.query FROM pg_locks l \
                 LEFT JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory'",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            panic!("an advisory lock is still held: {who:?}");
        }
        tokio::task::yield_now().await;
    }
    let next = pool.writer().begin_holding(&["owner-a"]).await.unwrap();
    next.commit().await.unwrap();
}
