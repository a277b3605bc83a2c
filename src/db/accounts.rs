//! Queries on `accounts`, `sessions` and `api_tokens`.

use super::DbResult;
use super::Pool;

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AccountRow {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub quota: i64,
    #[sqlx(try_from = "super::Flag")]
    pub disabled: bool,
    pub created_at: i64,
}

impl AccountRow {
    pub fn quota(&self) -> u64 {
        u64::try_from(self.quota).unwrap_or(0)
    }

    pub fn is_disabled(&self) -> bool {
        self.disabled
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
    /// From this instant the token is refused; `None`: until revoked.
    pub expires_at: Option<i64>,
}

/// What ending an account's other ways in ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ended {
    pub sessions: u64,
    pub tokens: u64,
}

/// The columns of [`AccountRow`] from `accounts a`, as a literal so queries stay `&'static str`.
macro_rules! account {
    () => {
        "a.id, a.email, a.password_hash, a.quota, a.disabled, a.created_at"
    };
}

/// `false` when the email is taken.
pub async fn insert(pool: &Pool, row: &AccountRow) -> DbResult<bool> {
    let done = sqlx::query(
        "INSERT INTO accounts (id, email, password_hash, quota, disabled, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (email) DO NOTHING",
    )
    .bind(&row.id)
    .bind(&row.email)
    .bind(&row.password_hash)
    .bind(row.quota)
    .bind(i64::from(row.disabled))
    .bind(row.created_at)
    .execute(pool.writer())
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn by_email(pool: &Pool, email: &str) -> DbResult<Option<AccountRow>> {
    let sql = concat!("SELECT ", account!(), " FROM accounts a WHERE a.email = $1");
    Ok(sqlx::query_as(sql).bind(email).fetch_optional(pool).await?)
}

pub async fn by_id(pool: &Pool, id: &str) -> DbResult<Option<AccountRow>> {
    let sql = concat!("SELECT ", account!(), " FROM accounts a WHERE a.id = $1");
    Ok(sqlx::query_as(sql).bind(id).fetch_optional(pool).await?)
}

pub async fn all(pool: &Pool) -> DbResult<Vec<AccountRow>> {
    let sql = concat!("SELECT ", account!(), " FROM accounts a ORDER BY a.email");
    Ok(sqlx::query_as(sql).fetch_all(pool).await?)
}

/// `false` when there is no such account.
pub async fn set_quota(pool: &Pool, email: &str, quota: i64) -> DbResult<bool> {
    let done = sqlx::query("UPDATE accounts SET quota = $1 WHERE email = $2")
        .bind(quota)
        .bind(email)
        .execute(pool.writer())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Changes the password of the account with this email and ends every session and token it
/// has, in one transaction (whoever knew the old password may have made either); `None`
/// when there is no such account.
pub async fn set_password(
    pool: &Pool,
    email: &str,
    password_hash: &str,
) -> DbResult<Option<Ended>> {
    let update =
        sqlx::query_scalar("UPDATE accounts SET password_hash = $1 WHERE email = $2 RETURNING id")
            .bind(password_hash)
            .bind(email);
    update_ending(pool, update, Ending::Tokens { keep_session: None }).await
}

/// The same for the account `id`, signed in as `keep_session`, which stays (the person who
/// changed the password is the one using it).
pub async fn set_password_by_id(
    pool: &Pool,
    id: &str,
    password_hash: &str,
    keep_session: Option<&str>,
) -> DbResult<Option<Ended>> {
    let update =
        sqlx::query_scalar("UPDATE accounts SET password_hash = $1 WHERE id = $2 RETURNING id")
            .bind(password_hash)
            .bind(id);
    update_ending(pool, update, Ending::Tokens { keep_session }).await
}

/// Disables the account and ends every session it has, in one transaction (its tokens stop
/// working too: a token of a disabled account is not looked up).
pub async fn disable(pool: &Pool, email: &str) -> DbResult<bool> {
    let update =
        sqlx::query_scalar("UPDATE accounts SET disabled = 1 WHERE email = $1 RETURNING id")
            .bind(email);
    Ok(update_ending(pool, update, Ending::Sessions)
        .await?
        .is_some())
}

/// What an update of an account ends besides.
#[derive(Clone, Copy)]
enum Ending<'a> {
    Sessions,
    /// Sessions but `keep_session`, and every token.
    Tokens {
        keep_session: Option<&'a str>,
    },
}

/// Runs `update` (an `UPDATE accounts … RETURNING id`) and ends what `ending` says for the
/// account it changed, in one write transaction; `None` when it changed none.
async fn update_ending(
    pool: &Pool,
    update: sqlx::query::QueryScalar<'_, sqlx::Any, String, sqlx::any::AnyArguments>,
    ending: Ending<'_>,
) -> DbResult<Option<Ended>> {
    let mut tx = pool.writer().begin().await?;
    let Some(id) = update.fetch_optional(&mut *tx).await? else {
        return Ok(None);
    };
    let keep = match ending {
        Ending::Sessions => None,
        Ending::Tokens { keep_session } => keep_session,
    };
    let sessions = sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND id != $2")
        .bind(&id)
        .bind(keep.unwrap_or_default())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let tokens = match ending {
        Ending::Sessions => 0,
        Ending::Tokens { .. } => sqlx::query("DELETE FROM api_tokens WHERE account_id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
    };
    tx.commit().await?;
    Ok(Some(Ended { sessions, tokens }))
}

/// Deletes the account (its sessions and tokens go with it) if it owns no upload any more, in
/// one write transaction with that look, so an upload started meanwhile is never left
/// without its account; `false` if one is still there.
pub async fn delete_if_empty(pool: &Pool, id: &str) -> DbResult<bool> {
    // An upload admitted meanwhile holds the same owner.
    let mut tx = pool
        .writer()
        .begin_holding(&[&format!("account:{id}")])
        .await?;
    let done = sqlx::query(
        "DELETE FROM accounts WHERE id = $1 AND NOT EXISTS \
         (SELECT 1 FROM uploads WHERE owner = 'account:' || $1)",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Ends every session of the account but `keep_session`, and every token, in one
/// transaction: nothing else may act for the account while it is being deleted.
pub async fn end_other_ways_in(
    pool: &Pool,
    id: &str,
    keep_session: Option<&str>,
) -> DbResult<Ended> {
    // Changes nothing itself: it names the account, as an update would.
    let found = sqlx::query_scalar("SELECT id FROM accounts WHERE id = $1").bind(id);
    Ok(update_ending(pool, found, Ending::Tokens { keep_session })
        .await?
        .unwrap_or_default())
}

/// Up to `limit` uploads of `owner`, any status.
pub async fn some_uploads_of(pool: &Pool, owner: &str, limit: i64) -> DbResult<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM uploads WHERE owner = $1 ORDER BY id LIMIT $2")
            .bind(owner)
            .bind(limit)
            .fetch_all(pool)
            .await?,
    )
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

/// A new signed-in session. The guest's uploads, if any, become the account's in the same
/// write transaction, as far as they fit (see [`super::adoption`]); what did not is kept on
/// the session and returned.
pub async fn insert_session(
    pool: &Pool,
    id: &str,
    account_id: &str,
    now: i64,
    adopt_from: Option<super::adoption::Guest<'_>>,
) -> DbResult<super::adoption::Stayed> {
    let account = format!("account:{account_id}");
    // Adoption checks the account's room and empties the guest's: both owners wait for it.
    let mut holds = vec![account.as_str()];
    holds.extend(adopt_from.as_ref().map(|g| g.owner));
    let mut tx = pool.writer().begin_holding(&holds).await?;
    let stayed = match adopt_from {
        Some(guest) => super::adoption::adopt(&mut tx, guest, account_id, now).await?,
        None => super::adoption::Stayed::default(),
    };
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    sqlx::query(
        "INSERT INTO sessions (id, account_id, created_at, last_seen_at, stayed_files, \
         stayed_bytes, stayed_reasons) VALUES ($1, $2, $3, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(account_id)
    .bind(now)
    .bind(count(stayed.files))
    .bind(count(stayed.bytes))
    .bind(stayed.reasons())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(stayed)
}

/// What signing in as session `id` left with the guest.
pub async fn stayed(pool: &Pool, id: &str) -> DbResult<super::adoption::Stayed> {
    let found: Option<(i64, i64, i64)> = sqlx::query_as(
        "SELECT stayed_files, stayed_bytes, stayed_reasons FROM sessions WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(found.map_or_else(Default::default, super::adoption::Stayed::from_row))
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
    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(pool.writer())
        .await?;
    Ok(())
}

pub async fn delete_session(pool: &Pool, id: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM sessions WHERE id = $1")
        .bind(id)
        .execute(pool.writer())
        .await?;
    Ok(())
}

/// Sessions idle since `idle_before` or begun before `begun_before`.
pub async fn delete_stale_sessions(
    pool: &Pool,
    idle_before: i64,
    begun_before: i64,
) -> DbResult<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2")
        .bind(idle_before)
        .bind(begun_before)
        .execute(pool.writer())
        .await?;
    Ok(done.rows_affected())
}

/// A new invitation, known by the hash of its code; `expires_at` in Unix milliseconds.
pub async fn insert_invite(
    pool: &Pool,
    code_hash: &str,
    created_at: i64,
    expires_at: Option<i64>,
) -> DbResult<()> {
    sqlx::query("INSERT INTO invites (code_hash, created_at, expires_at) VALUES ($1, $2, $3)")
        .bind(code_hash)
        .bind(created_at)
        .bind(expires_at)
        .execute(pool.writer())
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
    let mut tx = pool.writer().begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO accounts (id, email, password_hash, quota, disabled, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (email) DO NOTHING",
    )
    .bind(&row.id)
    .bind(&row.email)
    .bind(&row.password_hash)
    .bind(row.quota)
    .bind(i64::from(row.disabled))
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

mod tokens;
pub use tokens::*;
