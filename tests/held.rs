//! The bytes each owner and each guest network holds are kept up to date by the database's
//! triggers (migration 0008), so that admitting an upload reads one row instead of summing
//! every upload of the owner or network. Whatever happens to the uploads — starts, closings,
//! the same content uploaded again, folds onto an older object, deletions, a guest's uploads
//! moved to an account in one statement — the kept figure must be the full sum: the quota's
//! answer depends on it.

use hoist::db::{self, testing};
use std::collections::BTreeMap;

const HELD: &str = "('uploading', 'uploaded')";

/// The full sum, as the quota counted before the triggers: distinct objects of held uploads.
async fn summed(pool: &db::Pool) -> BTreeMap<String, i64> {
    let sql = format!(
        "SELECT 'owner:' || owner, CAST(SUM(size) AS BIGINT) FROM (SELECT DISTINCT owner, \
           object_key, size FROM uploads WHERE status IN {HELD}) d GROUP BY owner \
         UNION ALL \
         SELECT 'net:' || guest_net, CAST(SUM(size) AS BIGINT) FROM (SELECT DISTINCT guest_net, \
           object_key, size FROM uploads WHERE guest_net IS NOT NULL AND status IN {HELD}) d \
         GROUP BY guest_net"
    );
    let rows: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await
        .expect("sum the uploads");
    rows.into_iter().collect()
}

/// How many uploads, of any status, each owner and network has: counted afresh.
async fn counted(pool: &db::Pool) -> BTreeMap<String, i64> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT 'owner:' || owner, CAST(COUNT(*) AS BIGINT) FROM uploads GROUP BY owner \
         UNION ALL \
         SELECT 'net:' || guest_net, CAST(COUNT(*) AS BIGINT) FROM uploads \
         WHERE guest_net IS NOT NULL GROUP BY guest_net",
    )
    .fetch_all(pool)
    .await
    .expect("count the uploads");
    rows.into_iter().collect()
}

/// How many uploads the triggers say each owner and network has (migration 0009).
async fn kept_files(pool: &db::Pool) -> BTreeMap<String, i64> {
    let rows: Vec<(String, i64)> = sqlx::query_as("SELECT scope, files FROM held WHERE files != 0")
        .fetch_all(pool)
        .await
        .expect("read the counts");
    rows.into_iter().collect()
}

async fn kept(pool: &db::Pool) -> BTreeMap<String, i64> {
    let rows: Vec<(String, i64)> = sqlx::query_as("SELECT scope, bytes FROM held WHERE bytes != 0")
        .fetch_all(pool)
        .await
        .expect("read what is held");
    rows.into_iter().collect()
}

/// A small deterministic generator: the sequence is the same on every run and database.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (self.0 >> 33) % sides
    }
}

async fn run(pool: &db::Pool, sql: &str, binds: &[&str]) {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
    for bind in binds {
        query = query.bind(*bind);
    }
    query.execute(pool.writer()).await.expect(sql);
}

#[tokio::test]
async fn what_an_owner_and_a_network_hold_stays_the_full_sum_whatever_happens() {
    let dir = tempfile::tempdir().unwrap();
    let pool = db::connect(&testing::fresh_url(dir.path()).await)
        .await
        .unwrap();
    // Two guests behind one network, another behind a second, and an account.
    let owners = [
        ("guest:a", Some("10.0.0.1")),
        ("guest:b", Some("10.0.0.1")),
        ("guest:c", Some("10.0.0.2")),
        ("account:1", None),
    ];
    let statuses = ["uploading", "uploaded", "aborted", "expired", "rejected"];
    let mut dice = Dice(15);
    let mut rows = 0u64;
    let mut changes = 0;
    for step in 0..600 {
        let id = |dice: &mut Dice| format!("u{}", dice.roll(rows.max(1)));
        // Few objects, so that uploads often share one (the same content again).
        let key = format!("k{}", dice.roll(12));
        let size = (key.len() * 1000).to_string();
        match dice.roll(10) {
            0..=3 => {
                let (owner, net) = owners[dice.roll(4) as usize];
                let status = statuses[dice.roll(2) as usize];
                let id = format!("u{rows}");
                rows += 1;
                let mut binds = vec![id.as_str(), owner, &key, &size, status];
                let net_value = match net {
                    Some(net) => {
                        binds.push(net);
                        "$6"
                    }
                    None => "NULL",
                };
                let sql = format!(
                    "INSERT INTO uploads (id, owner, name, object_key, content_type, size, \
                       part_size, status, created_at, guest_net) \
                     VALUES ($1, $2, 'f', $3, 'a/b', CAST($4 AS BIGINT), 1, $5, 0, {net_value})"
                );
                run(&pool, &sql, &binds).await;
            }
            4..=5 => {
                let status = statuses[dice.roll(5) as usize];
                let id = id(&mut dice);
                run(
                    &pool,
                    "UPDATE uploads SET status = $1 WHERE id = $2",
                    &[status, &id],
                )
                .await;
            }
            6 => {
                // A fold: the upload now names another object (of its own size: the same
                // content).
                let id = id(&mut dice);
                run(
                    &pool,
                    "UPDATE uploads SET object_key = $1 WHERE id = $2 AND size = CAST($3 AS BIGINT)",
                    &[&key, &id, &size],
                )
                .await;
            }
            7 => {
                let id = id(&mut dice);
                run(&pool, "DELETE FROM uploads WHERE id = $1", &[&id]).await;
            }
            8 => {
                let (guest, _) = owners[dice.roll(3) as usize];
                run(
                    &pool,
                    "UPDATE uploads SET owner = 'account:1', guest_net = NULL WHERE owner = $1",
                    &[guest],
                )
                .await;
            }
            _ => continue,
        }
        changes += 1;
        assert_eq!(kept(&pool).await, summed(&pool).await, "after step {step}");
        assert_eq!(
            kept_files(&pool).await,
            counted(&pool).await,
            "files after step {step}"
        );
    }
    assert!(changes > 400, "only {changes} changes were made");
    assert!(
        summed(&pool).await.len() >= 2,
        "the run ended with too little held to compare"
    );
}
