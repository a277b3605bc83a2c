//! Queries on `accounts`, `sessions` and `api_tokens`.

use super::DbResult;
use sqlx::SqlitePool;

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AccountRow {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub quota: i64,
    pub disabled: bool,
    pub created_at: i64,
}

impl AccountRow {
    pub fn quota(&self) -> u64 {
        u64::try_from(self.quota).unwrap_or(0)
    }
}

/// A signed-in session and the account it belongs to.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SessionRow {
    pub created_at: i64,
    pub last_seen_at: i64,
    #[sqlx(flatten)]
    pub account: AccountRow,
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// The columns of [`AccountRow`] from `accounts a`, as a literal so queries stay `&'static str`.
macro_rules! account {
    () => {
        "a.id, a.email, a.password_hash, a.quota, a.disabled, a.created_at"
    };
}

/// `false` when the email is taken.
pub async fn insert(pool: &SqlitePool, row: &AccountRow) -> DbResult<bool> {
    let done = sqlx::query(
        "INSERT INTO accounts (id, email, password_hash, quota, disabled, created_at)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING",
    )
    .bind(&row.id)
    .bind(&row.email)
    .bind(&row.password_hash)
    .bind(row.quota)
    .bind(row.disabled)
    .bind(row.created_at)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn by_email(pool: &SqlitePool, email: &str) -> DbResult<Option<AccountRow>> {
    let sql = concat!("SELECT ", account!(), " FROM accounts a WHERE a.email = ?");
    Ok(sqlx::query_as(sql).bind(email).fetch_optional(pool).await?)
}

pub async fn all(pool: &SqlitePool) -> DbResult<Vec<AccountRow>> {
    let sql = concat!("SELECT ", account!(), " FROM accounts a ORDER BY a.email");
    Ok(sqlx::query_as(sql).fetch_all(pool).await?)
}

/// `false` when there is no such account.
pub async fn set_quota(pool: &SqlitePool, email: &str, quota: i64) -> DbResult<bool> {
    let done = sqlx::query("UPDATE accounts SET quota = ? WHERE email = ?")
        .bind(quota)
        .bind(email)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Changes the password and ends every session of the account, in one transaction.
pub async fn set_password(pool: &SqlitePool, email: &str, password_hash: &str) -> DbResult<bool> {
    let update =
        sqlx::query_scalar("UPDATE accounts SET password_hash = ? WHERE email = ? RETURNING id")
            .bind(password_hash)
            .bind(email);
    update_ending_sessions(pool, update).await
}

/// Disables the account and ends every session it has, in one transaction (its tokens stop
/// working too: a token of a disabled account is not looked up).
pub async fn disable(pool: &SqlitePool, email: &str) -> DbResult<bool> {
    let update =
        sqlx::query_scalar("UPDATE accounts SET disabled = 1 WHERE email = ? RETURNING id")
            .bind(email);
    update_ending_sessions(pool, update).await
}

/// Runs `update` (an `UPDATE accounts … RETURNING id`) and deletes every session of the account
/// it changed, in one write transaction; `false` when it changed none.
async fn update_ending_sessions(
    pool: &SqlitePool,
    update: sqlx::query::QueryScalar<'_, sqlx::Sqlite, String, sqlx::sqlite::SqliteArguments>,
) -> DbResult<bool> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let Some(id) = update.fetch_optional(&mut *tx).await? else {
        return Ok(false);
    };
    sqlx::query("DELETE FROM sessions WHERE account_id = ?")
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// Bytes an owner keeps or has on its way: what its quota is checked against.
pub async fn usage(pool: &SqlitePool, owner: &str) -> DbResult<u64> {
    let used: i64 = sqlx::query_scalar(concat!("SELECT ", super::uploads::held_bytes!("owner")))
        .bind(owner)
        .fetch_one(pool)
        .await?;
    Ok(u64::try_from(used).unwrap_or(0))
}

/// A new signed-in session; the guest's uploads, if any, become the account's in the same
/// transaction.
pub async fn insert_session(
    pool: &SqlitePool,
    id: &str,
    account_id: &str,
    now: i64,
    adopt_from: Option<&str>,
) -> DbResult<()> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query(
        "INSERT INTO sessions (id, account_id, created_at, last_seen_at) VALUES (?, ?, ?, ?)",
    )
    .bind(id)
    .bind(account_id)
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if let Some(guest) = adopt_from {
        // No longer a guest's: they stop counting against the guests of its network.
        sqlx::query("UPDATE uploads SET owner = ?, guest_net = NULL WHERE owner = ?")
            .bind(format!("account:{account_id}"))
            .bind(guest)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn session(pool: &SqlitePool, id: &str) -> DbResult<Option<SessionRow>> {
    let sql = concat!(
        "SELECT s.created_at, s.last_seen_at, ",
        account!(),
        " FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.id = ?"
    );
    Ok(sqlx::query_as(sql).bind(id).fetch_optional(pool).await?)
}

pub async fn touch_session(pool: &SqlitePool, id: &str, now: i64) -> DbResult<()> {
    sqlx::query("UPDATE sessions SET last_seen_at = ? WHERE id = ?")
        .bind(now)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn delete_session(pool: &SqlitePool, id: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM sessions WHERE id = ?")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Sessions idle since `idle_before` or begun before `begun_before`.
pub async fn delete_stale_sessions(
    pool: &SqlitePool,
    idle_before: i64,
    begun_before: i64,
) -> DbResult<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE last_seen_at < ? OR created_at < ?")
        .bind(idle_before)
        .bind(begun_before)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

pub async fn insert_token(
    pool: &SqlitePool,
    account_id: &str,
    token: &TokenRow,
    token_hash: &str,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO api_tokens (id, account_id, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&token.id)
    .bind(account_id)
    .bind(&token.name)
    .bind(token_hash)
    .bind(token.created_at)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn count_tokens(pool: &SqlitePool, account_id: &str) -> DbResult<u64> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens WHERE account_id = ?")
        .bind(account_id)
        .fetch_one(pool)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub async fn tokens(pool: &SqlitePool, account_id: &str) -> DbResult<Vec<TokenRow>> {
    Ok(sqlx::query_as(
        "SELECT id, name, created_at, last_used_at FROM api_tokens
         WHERE account_id = ? ORDER BY created_at, id",
    )
    .bind(account_id)
    .fetch_all(pool)
    .await?)
}

/// `false` when the account has no such token.
pub async fn delete_token(pool: &SqlitePool, account_id: &str, id: &str) -> DbResult<bool> {
    let done = sqlx::query("DELETE FROM api_tokens WHERE id = ? AND account_id = ?")
        .bind(id)
        .bind(account_id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The account a token belongs to. Its last use is written at most once a minute, so a
/// program calling often does not write on every request.
pub async fn by_token(
    pool: &SqlitePool,
    token_hash: &str,
    now: i64,
) -> DbResult<Option<AccountRow>> {
    let sql = concat!(
        "SELECT t.id AS token_id, t.last_used_at, ",
        account!(),
        " FROM api_tokens t JOIN accounts a ON a.id = t.account_id WHERE t.token_hash = ?"
    );
    #[derive(sqlx::FromRow)]
    struct Found {
        token_id: String,
        last_used_at: Option<i64>,
        #[sqlx(flatten)]
        account: AccountRow,
    }
    let found: Option<Found> = sqlx::query_as(sql)
        .bind(token_hash)
        .fetch_optional(pool)
        .await?;
    let Some(found) = found else {
        return Ok(None);
    };
    if found.last_used_at.is_none_or(|at| now - at > 60_000) {
        sqlx::query("UPDATE api_tokens SET last_used_at = ? WHERE id = ?")
            .bind(now)
            .bind(&found.token_id)
            .execute(pool)
            .await?;
    }
    Ok(Some(found.account))
}
