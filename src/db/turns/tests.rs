use super::*;
use crate::db::{accounts, connect, testing, write};

/// A writer that must wait holds no connection meanwhile: with one transaction holding the
/// database, twice as many writers as the pool has connections queue up, a reader still
/// gets a connection, and every writer succeeds once the first commits (none gives up with
/// "database is locked").
#[tokio::test]
async fn queued_writers_leave_readers_a_connection_and_all_get_their_turn() {
    let (_dir, pool) = fresh_pool().await;
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
    let (_dir, pool) = fresh_pool().await;
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
    let statement = spawn_write(&pool);
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

async fn fresh_pool() -> (tempfile::TempDir, Pool) {
    let dir = tempfile::tempdir().unwrap();
    let pool = connect(&testing::fresh_url(dir.path()).await)
        .await
        .unwrap();
    (dir, pool)
}

/// A single-statement write of its own.
fn spawn_write(pool: &Pool) -> tokio::task::JoinHandle<DbResult<()>> {
    let pool = pool.clone();
    tokio::spawn(async move { accounts::touch_session(&pool, "nobody", 1).await })
}

/// The database of a fresh pool and, on SQLite, the lock files as another process
/// sharing the file would open them (its locks conflict with this process's).
async fn pool_and_other_process() -> (tempfile::TempDir, Pool, Option<LockFiles>) {
    let (dir, pool) = fresh_pool().await;
    let path = dir.path().join("hoist.db");
    let other = if testing::on_postgres() {
        assert!(
            !dir.path().join("hoist.db-writer").exists(),
            "PostgreSQL needs no lock files"
        );
        None
    } else {
        Some(LockFiles::open(&path.display().to_string()).unwrap())
    };
    (dir, pool, other)
}

/// On SQLite, another process (an instance, `hoist worker`, `hoist tokens`) cannot take a
/// turn while this one has it and can once it ends; this process's writers wait while
/// another has its turn, then go on.
#[tokio::test]
async fn other_processes_on_the_file_wait_for_a_turn_and_are_waited_for() {
    let (_dir, pool, Some(other)) = pool_and_other_process().await else {
        return;
    };
    let tx = write(&pool).await.unwrap();
    assert!(
        !other.try_take().unwrap(),
        "another process could write during this one's turn"
    );
    tx.commit().await.unwrap();
    assert!(
        other.try_take().unwrap(),
        "the turn ended but other processes still could not write"
    );

    let writer = spawn_write(&pool);
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(
        !writer.is_finished(),
        "a write went ahead of another process's turn"
    );
    other.give_back();
    // Well inside the patience after which a writer stops waiting for other processes.
    let done = tokio::time::timeout(Duration::from_secs(5), writer).await;
    assert!(matches!(done, Ok(Ok(Ok(())))), "{done:?}");
    assert!(
        other.try_take().unwrap(),
        "the writer kept the turn after it wrote"
    );
    other.give_back();
}

/// Two processes alternate: one that ends its turn while the other waits cannot take the
/// next turn straight back (with two instances under load, that had one instance's
/// inserts wait for the other's whole queue).
#[tokio::test]
async fn a_process_that_ends_its_turn_lets_a_waiting_one_go_first() {
    let (_dir, pool, Some(other)) = pool_and_other_process().await else {
        return;
    };
    // Which of two woken processes wins is the scheduler's call: without the way in, the
    // one letting go mostly won, sometimes not. Twenty rounds leave it no luck.
    for round in 0..20 {
        assert!(
            other.try_take().unwrap(),
            "round {round}: the writer kept the turn"
        );
        let writer = spawn_write(&pool);
        // The writer waits in line: it holds the way in, so the other process cannot ask.
        let deadline = Instant::now() + Duration::from_secs(10);
        while other.next.try_lock().is_ok() {
            let _ = other.next.unlock();
            assert!(
                Instant::now() < deadline,
                "the writer never asked for its turn"
            );
            tokio::task::yield_now().await;
        }
        other.give_back();
        assert!(
            !other.try_take().unwrap(),
            "round {round}: the process that ended its turn took the next one before the \
             waiting writer"
        );
        let done = tokio::time::timeout(Duration::from_secs(5), writer).await;
        assert!(matches!(done, Ok(Ok(Ok(())))), "round {round}: {done:?}");
    }
    assert!(other.try_take().unwrap(), "the writer kept the turn");
    other.give_back();
}

/// A writer that gives up while queued (its request dropped) does not leave the other
/// processes' turn kept for it: once the writer before it is done, they can write.
#[tokio::test]
async fn a_writer_that_gives_up_in_the_queue_leaves_no_turn_kept() {
    let (_dir, pool, Some(other)) = pool_and_other_process().await else {
        return;
    };
    let first = write(&pool).await.unwrap();
    let quitter = spawn_write(&pool);
    let deadline = Instant::now() + Duration::from_secs(10);
    while gate(&pool).waiting.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the writer never queued");
        tokio::task::yield_now().await;
    }
    quitter.abort();
    assert!(quitter.await.is_err_and(|e| e.is_cancelled()));
    first.commit().await.unwrap();
    assert!(
        other.try_take().unwrap(),
        "the turn stayed kept for a writer that had given up"
    );
    other.give_back();
}
