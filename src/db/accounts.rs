//! Queries on `accounts`, `sessions` and `api_tokens`.

use super::DbResult;
use super::Pool;

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AccountRow {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub quota: i64,
    /// 0 or 1 (an integer in both databases, as `Any` reads no SQLite boolean).
    pub disabled: i64,
    pub created_at: i64,
}

impl AccountRow {
    pub fn quota(&self) -> u64 {
        u64::try_from(self.quota).unwrap_or(0)
    }

    pub fn is_disabled(&self) -> bool {
        self.disabled != 0
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
pub async fn insert(pool: &Pool, row: &AccountRow) -> DbResult<bool> {
    let done = super::alone(
        pool,
        sqlx::query(
            "INSERT INTO accounts (id, email, password_hash, quota, disabled, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (email) DO NOTHING",
        )
        .bind(&row.id)
        .bind(&row.email)
        .bind(&row.password_hash)
        .bind(row.quota)
        .bind(row.disabled)
        .bind(row.created_at)
        .execute(pool),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn by_email(pool: &Pool, email: &str) -> DbResult<Option<AccountRow>> {
    let sql = concat!("SELECT ", account!(), " FROM accounts a WHERE a.email = $1");
    Ok(sqlx::query_as(sql).bind(email).fetch_optional(pool).await?)
}

pub async fn all(pool: &Pool) -> DbResult<Vec<AccountRow>> {
    let sql = concat!("SELECT ", account!(), " FROM accounts a ORDER BY a.email");
    Ok(sqlx::query_as(sql).fetch_all(pool).await?)
}

/// `false` when there is no such account.
pub async fn set_quota(pool: &Pool, email: &str, quota: i64) -> DbResult<bool> {
    let done = super::alone(
        pool,
        sqlx::query("UPDATE accounts SET quota = $1 WHERE email = $2")
            .bind(quota)
            .bind(email)
            .execute(pool),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Changes the password and ends every session of the account, in one transaction.
pub async fn set_password(pool: &Pool, email: &str, password_hash: &str) -> DbResult<bool> {
    let update =
        sqlx::query_scalar("UPDATE accounts SET password_hash = $1 WHERE email = $2 RETURNING id")
            .bind(password_hash)
            .bind(email);
    update_ending_sessions(pool, update).await
}

/// Disables the account and ends every session it has, in one transaction (its tokens stop
/// working too: a token of a disabled account is not looked up).
pub async fn disable(pool: &Pool, email: &str) -> DbResult<bool> {
    let update =
        sqlx::query_scalar("UPDATE accounts SET disabled = 1 WHERE email = $1 RETURNING id")
            .bind(email);
    update_ending_sessions(pool, update).await
}

/// Runs `update` (an `UPDATE accounts … RETURNING id`) and deletes every session of the account
/// it changed, in one write transaction; `false` when it changed none.
async fn update_ending_sessions(
    pool: &Pool,
    update: sqlx::query::QueryScalar<'_, sqlx::Any, String, sqlx::any::AnyArguments>,
) -> DbResult<bool> {
    let mut tx = super::write(pool).await?;
    let Some(id) = update.fetch_optional(&mut *tx).await? else {
        return Ok(false);
    };
    sqlx::query("DELETE FROM sessions WHERE account_id = $1")
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// Bytes an owner keeps or has on its way: what its quota is checked against.
pub async fn usage(pool: &Pool, owner: &str) -> DbResult<u64> {
    let used: i64 = sqlx::query_scalar(concat!(
        "SELECT ",
        super::uploads::held_bytes!("owner", "$1")
    ))
    .bind(owner)
    .fetch_one(pool)
    .await?;
    Ok(u64::try_from(used).unwrap_or(0))
}

/// A new signed-in session; the guest's uploads, if any, become the account's in the same
/// transaction.
pub async fn insert_session(
    pool: &Pool,
    id: &str,
    account_id: &str,
    now: i64,
    adopt_from: Option<&str>,
) -> DbResult<()> {
    let mut tx = super::write(pool).await?;
    sqlx::query(
        "INSERT INTO sessions (id, account_id, created_at, last_seen_at) VALUES ($1, $2, $3, $3)",
    )
    .bind(id)
    .bind(account_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if let Some(guest) = adopt_from {
        // No longer a guest's: they stop counting against the guests of its network.
        sqlx::query("UPDATE uploads SET owner = $1, guest_net = NULL WHERE owner = $2")
            .bind(format!("account:{account_id}"))
            .bind(guest)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn session(pool: &Pool, id: &str) -> DbResult<Option<SessionRow>> {
    let sql = concat!(
        "SELECT s.created_at, s.last_seen_at, ",
        account!(),
        " FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.id = $1"
    );
    Ok(sqlx::query_as(sql).bind(id).fetch_optional(pool).await?)
}

pub async fn touch_session(pool: &Pool, id: &str, now: i64) -> DbResult<()> {
    super::alone(
        pool,
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(pool),
    )
    .await?;
    Ok(())
}

pub async fn delete_session(pool: &Pool, id: &str) -> DbResult<()> {
    super::alone(
        pool,
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id)
            .execute(pool),
    )
    .await?;
    Ok(())
}

/// Sessions idle since `idle_before` or begun before `begun_before`.
pub async fn delete_stale_sessions(
    pool: &Pool,
    idle_before: i64,
    begun_before: i64,
) -> DbResult<u64> {
    let done = super::alone(
        pool,
        sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2")
            .bind(idle_before)
            .bind(begun_before)
            .execute(pool),
    )
    .await?;
    Ok(done.rows_affected())
}

pub async fn insert_token(
    pool: &Pool,
    account_id: &str,
    token: &TokenRow,
    token_hash: &str,
) -> DbResult<()> {
    super::alone(
        pool,
        sqlx::query(
            "INSERT INTO api_tokens (id, account_id, name, token_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&token.id)
        .bind(account_id)
        .bind(&token.name)
        .bind(token_hash)
        .bind(token.created_at)
        .execute(pool),
    )
    .await?;
    Ok(())
}

pub async fn count_tokens(pool: &Pool, account_id: &str) -> DbResult<u64> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens WHERE account_id = $1")
        .bind(account_id)
        .fetch_one(pool)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub async fn tokens(pool: &Pool, account_id: &str) -> DbResult<Vec<TokenRow>> {
    Ok(sqlx::query_as(
        "SELECT id, name, created_at, last_used_at FROM api_tokens
         WHERE account_id = $1 ORDER BY created_at, id",
    )
    .bind(account_id)
    .fetch_all(pool)
    .await?)
}

/// `false` when the account has no such token.
pub async fn delete_token(pool: &Pool, account_id: &str, id: &str) -> DbResult<bool> {
    let done = super::alone(
        pool,
        sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND account_id = $2")
            .bind(id)
            .bind(account_id)
            .execute(pool),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The account a token belongs to. Its last use is written at most once a minute, so a
/// program calling often does not write on every request.
pub async fn by_token(pool: &Pool, token_hash: &str, now: i64) -> DbResult<Option<AccountRow>> {
    let sql = concat!(
        "SELECT t.id AS token_id, t.last_used_at, ",
        account!(),
        " FROM api_tokens t JOIN accounts a ON a.id = t.account_id WHERE t.token_hash = $1"
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
        super::alone(
            pool,
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(&found.token_id)
                .execute(pool),
        )
        .await?;
    }
    Ok(Some(found.account))
}

/// What became of a sign-up with an invitation code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invited {
    /// The account exists and the code is spent.
    Created,
    /// The email was taken: nothing changed, the code is still good.
    Taken,
    /// The code is unknown, used or expired: nothing changed.
    BadCode,
}

/// A new invitation, known by the hash of its code; `expires_at` in Unix milliseconds.
pub async fn insert_invite(
    pool: &Pool,
    code_hash: &str,
    created_at: i64,
    expires_at: Option<i64>,
) -> DbResult<()> {
    super::alone(
        pool,
        sqlx::query("INSERT INTO invites (code_hash, created_at, expires_at) VALUES ($1, $2, $3)")
            .bind(code_hash)
            .bind(created_at)
            .bind(expires_at)
            .execute(pool),
    )
    .await?;
    Ok(())
}

/// Whether the code is unused and unexpired at `now`.
pub async fn invite_usable(pool: &Pool, code_hash: &str, now: i64) -> DbResult<bool> {
    let found: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM invites WHERE code_hash = $1 AND used_at IS NULL
           AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(code_hash)
    .bind(now)
    .fetch_one(pool)
    .await?;
    Ok(found > 0)
}

/// Creates the account and spends the code in one transaction: both or neither (two sign-ups
/// racing with one code make one account).
pub async fn insert_invited(
    pool: &Pool,
    row: &AccountRow,
    code_hash: &str,
    now: i64,
) -> DbResult<Invited> {
    let mut tx = super::write(pool).await?;
    let inserted = sqlx::query(
        "INSERT INTO accounts (id, email, password_hash, quota, disabled, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (email) DO NOTHING",
    )
    .bind(&row.id)
    .bind(&row.email)
    .bind(&row.password_hash)
    .bind(row.quota)
    .bind(row.disabled)
    .bind(row.created_at)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() != 1 {
        return Ok(Invited::Taken);
    }
    let spent = sqlx::query(
        "UPDATE invites SET used_at = $1, account_id = $2
         WHERE code_hash = $3 AND used_at IS NULL AND (expires_at IS NULL OR expires_at > $1)",
    )
    .bind(now)
    .bind(&row.id)
    .bind(code_hash)
    .execute(&mut *tx)
    .await?;
    if spent.rows_affected() != 1 {
        return Ok(Invited::BadCode);
    }
    tx.commit().await?;
    Ok(Invited::Created)
}
