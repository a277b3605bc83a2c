//! Queries on `api_tokens`: a token is kept as its hash, and finds its account while the
//! account is enabled and the token unexpired.

use super::*;

/// `false` (and nothing written) when the account holds `max` tokens already. The count and
/// the insert are one statement in a transaction holding the account, so concurrent
/// creations are serialised and never pass `max` together.
pub async fn insert_token(
    pool: &Pool,
    account_id: &str,
    token: &TokenRow,
    token_hash: &str,
    max: u64,
) -> DbResult<bool> {
    let mut tx = pool
        .writer()
        .begin_holding(&[&format!("account:{account_id}")])
        .await?;
    let done = sqlx::query(
        "INSERT INTO api_tokens (id, account_id, name, token_hash, created_at, expires_at) \
         SELECT $1, $2, $3, $4, $5, $6 \
         WHERE (SELECT COUNT(*) FROM api_tokens WHERE account_id = $2) < $7",
    )
    .bind(&token.id)
    .bind(account_id)
    .bind(&token.name)
    .bind(token_hash)
    .bind(token.created_at)
    .bind(token.expires_at)
    .bind(i64::try_from(max).unwrap_or(i64::MAX))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

pub async fn tokens(pool: &Pool, account_id: &str) -> DbResult<Vec<TokenRow>> {
    Ok(sqlx::query_as(
        "SELECT id, name, created_at, last_used_at, expires_at FROM api_tokens
         WHERE account_id = $1 ORDER BY created_at, id",
    )
    .bind(account_id)
    .fetch_all(pool)
    .await?)
}

/// `false` when the account has no such token.
pub async fn delete_token(pool: &Pool, account_id: &str, id: &str) -> DbResult<bool> {
    let done = sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND account_id = $2")
        .bind(id)
        .bind(account_id)
        .execute(pool.writer())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The account a token belongs to, unless the token has expired. Its last use is written at
/// most once a minute, so a program calling often does not write on every request.
pub async fn by_token(pool: &Pool, token_hash: &str, now: i64) -> DbResult<Option<AccountRow>> {
    let sql = concat!(
        "SELECT t.id AS token_id, t.last_used_at, ",
        account!(),
        " FROM api_tokens t JOIN accounts a ON a.id = t.account_id \
         WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2)"
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
        .bind(now)
        .fetch_optional(pool)
        .await?;
    let Some(found) = found else {
        return Ok(None);
    };
    if found.last_used_at.is_none_or(|at| now - at > 60_000) {
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&found.token_id)
            .execute(pool.writer())
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
