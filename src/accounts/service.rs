//! Accounts, sessions and tokens over the database.

use super::{
    normalize_email, Account, AccountError, AccountResult, AccountSettings, Lane, Passwords,
    MAX_PASSWORD_CHARS, MAX_TOKENS, MAX_TOKEN_DAYS, MAX_TOKEN_NAME_CHARS, MIN_PASSWORD_CHARS,
};
use crate::db::Pool;
use crate::{
    clock::{self, millis, SharedClock},
    db::{
        accounts::{self as db, AccountRow, Ended, Invited, TokenRow},
        adoption::{Guest, Stayed},
    },
    model::SignUpMode,
};
use sha2::{Digest, Sha256};

/// A session's last use is written at most this often (milliseconds), not on every request —
/// and at least four times per idle lifetime, so a session in use never lapses.
const TOUCH_EVERY_MS: i64 = 60_000;
/// Tokens say what they are, so a leaked one is recognised by secret scanners.
const TOKEN_PREFIX: &str = "hoist_";

/// A session begun by signing up or in: its id goes into a fresh cookie.
#[derive(Clone, Debug)]
pub struct NewSession {
    pub id: String,
    pub account: Account,
}

pub struct Accounts {
    db: Pool,
    pub settings: AccountSettings,
    passwords: Passwords,
    clock: SharedClock,
}

impl Accounts {
    pub fn new(db: Pool, settings: AccountSettings) -> Result<Self, String> {
        Ok(Self {
            db,
            settings,
            passwords: Passwords::new()?,
            clock: clock::system(),
        })
    }

    /// Makes an account from the web, as `HOIST_SIGN_UP` allows, and signs nothing in. With
    /// an email that has an account already the answer is the same, after the same work (the
    /// password is hashed either way), and nothing changes: who has an account is not told.
    /// The person then signs in, which works with the password they just chose if the
    /// account is new — or is theirs.
    pub async fn sign_up(
        &self,
        email: &str,
        password: &str,
        invite: Option<&str>,
    ) -> AccountResult<()> {
        let code_hash = match self.settings.sign_up {
            SignUpMode::Closed => return Err(AccountError::SignUpClosed),
            SignUpMode::Open => None,
            SignUpMode::Invite => Some(self.usable_invite(invite).await?),
        };
        let row = self.new_row(email, password, Lane::SignUp).await?;
        let made = match code_hash {
            None => db::insert(&self.db, &row).await?,
            Some(code_hash) => {
                match db::insert_invited(&self.db, &row, &code_hash, self.clock.now_ms()).await? {
                    Invited::Created => true,
                    Invited::Taken => false,
                    Invited::BadCode => return Err(AccountError::BadInvite),
                }
            }
        };
        if !made {
            tracing::debug!("sign-up for an email that has an account: answered as any other");
        }
        Ok(())
    }

    /// The hash of a good invitation code (a cheap look-up, before any password is hashed).
    async fn usable_invite(&self, code: Option<&str>) -> AccountResult<String> {
        let code = code
            .map(str::trim)
            .filter(|c| !c.is_empty() && c.len() <= 200)
            .ok_or(AccountError::BadInvite)?;
        let code_hash = token_hash(code);
        if db::invite_usable(&self.db, &code_hash, self.clock.now_ms()).await? {
            Ok(code_hash)
        } else {
            Err(AccountError::BadInvite)
        }
    }

    /// A new single-use invitation code (`hoist users invite`); only its hash is kept.
    pub async fn invite(&self, expires_in: Option<std::time::Duration>) -> AccountResult<String> {
        let code = uuid::Uuid::new_v4().simple().to_string();
        let now = self.clock.now_ms();
        let expires_at = expires_in.map(|d| now.saturating_add(millis(d)));
        db::insert_invite(&self.db, &token_hash(&code), now, expires_at).await?;
        Ok(code)
    }

    /// Signs in with a new session id (a session id known before sign-in is never promoted,
    /// so one planted in a browser gains nothing); the guest's uploads become the account's.
    /// A wrong email and a wrong password cost the same and get the same answer.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        guest: Option<&str>,
    ) -> AccountResult<NewSession> {
        let found = match normalize_email(email) {
            Ok(email) => db::by_email(&self.db, &email).await?,
            Err(_) => None,
        };
        let stored = found.as_ref().map(|a| a.password_hash.as_str());
        if !self.passwords.verify(password, stored).await? {
            return Err(AccountError::WrongCredentials);
        }
        let Some(row) = found else {
            return Err(AccountError::WrongCredentials);
        };
        if row.is_disabled() {
            return Err(AccountError::Disabled);
        }
        self.begin_session(row.into(), guest).await
    }

    async fn begin_session(
        &self,
        account: Account,
        guest: Option<&str>,
    ) -> AccountResult<NewSession> {
        let id = uuid::Uuid::new_v4().to_string();
        let now = self.clock.now_ms();
        let guest = guest.map(|owner| Guest {
            owner,
            max_active: self.settings.max_active_uploads,
        });
        db::insert_session(&self.db, &id, &account.id, now, guest).await?;
        Ok(NewSession { id, account })
    }

    /// Deletes sessions past their idle or absolute lifetime; how many.
    pub async fn end_stale_sessions(&self) -> AccountResult<u64> {
        let (idle, begun) = self.stale_before(self.clock.now_ms());
        Ok(db::delete_stale_sessions(&self.db, idle, begun).await?)
    }

    /// What signing in as `session` left with the guest (nothing for a session that adopted
    /// everything, or none).
    pub async fn stayed_with_guest(&self, session: &str) -> AccountResult<Stayed> {
        Ok(db::stayed(&self.db, session).await?)
    }

    pub async fn sign_out(&self, session: &str) -> AccountResult<()> {
        db::delete_session(&self.db, session).await?;
        Ok(())
    }

    /// The account of a live session; a session past its idle or absolute lifetime, or of a
    /// disabled account, is ended and gives `None`.
    pub async fn session(&self, id: &str) -> AccountResult<Option<Account>> {
        let Some(row) = db::session(&self.db, id).await? else {
            return Ok(None);
        };
        let now = self.clock.now_ms();
        let (idle, begun) = self.stale_before(now);
        if row.last_seen_at < idle || row.created_at < begun || row.account.is_disabled() {
            db::delete_session(&self.db, id).await?;
            return Ok(None);
        }
        let touch_every = TOUCH_EVERY_MS.min(millis(self.settings.session_idle) / 4);
        if now - row.last_seen_at > touch_every {
            db::touch_session(&self.db, id, now).await?;
        }
        Ok(Some(row.account.into()))
    }

    fn stale_before(&self, now: i64) -> (i64, i64) {
        (
            now - millis(self.settings.session_idle),
            now - millis(self.settings.session_lifetime),
        )
    }

    /// The account a bearer token stands for, if the token is live and the account enabled.
    pub async fn by_token(&self, token: &str) -> AccountResult<Option<Account>> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 200 {
            return Ok(None);
        }
        let found = db::by_token(&self.db, &token_hash(token), self.clock.now_ms()).await?;
        Ok(found.filter(|a| !a.is_disabled()).map(Account::from))
    }

    /// Asks a signed-in caller for the account's password again, before something that
    /// changes what the account is or who may act for it. Costs one Argon2 verification.
    pub async fn check_password(&self, account: &Account, password: &str) -> AccountResult<()> {
        let row = db::by_id(&self.db, &account.id).await?;
        let stored = row.as_ref().map(|r| r.password_hash.as_str());
        if self.passwords.verify(password, stored).await? && row.is_some() {
            Ok(())
        } else {
            Err(AccountError::WrongPassword)
        }
    }

    /// A new token for `account`, refused past [`MAX_TOKENS`]; it lasts `days` if given, else
    /// until revoked. The secret is in the answer and nowhere else.
    pub async fn create_token(
        &self,
        account: &Account,
        name: &str,
        days: Option<u32>,
    ) -> AccountResult<(String, TokenRow)> {
        let name = name.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_TOKEN_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(AccountError::BadTokenName { chars });
        }
        if let Some(days) = days.filter(|d| !(1..=MAX_TOKEN_DAYS).contains(d)) {
            return Err(AccountError::BadTokenExpiry(days));
        }
        let secret = format!(
            "{TOKEN_PREFIX}{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let now = self.clock.now_ms();
        let row = TokenRow {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
            created_at: now,
            last_used_at: None,
            expires_at: days.map(|d| now + i64::from(d) * 86_400_000),
        };
        if !db::insert_token(
            &self.db,
            &account.id,
            &row,
            &token_hash(&secret),
            MAX_TOKENS,
        )
        .await?
        {
            return Err(AccountError::TooManyTokens(MAX_TOKENS));
        }
        Ok((secret, row))
    }

    /// A new password, the current one given: every token of the account and every session
    /// but `keep_session` (the one asking) end.
    pub async fn change_password(
        &self,
        account: &Account,
        keep_session: Option<&str>,
        current: &str,
        new: &str,
    ) -> AccountResult<Ended> {
        self.check_password(account, current).await?;
        let password_hash = self.hash(new, Lane::SignIn).await?;
        db::set_password_by_id(&self.db, &account.id, &password_hash, keep_session)
            .await?
            .ok_or(AccountError::NoSuchAccount)
    }

    /// The first step of deleting an account, the password given: every token and every
    /// session but `keep_session` end, so nothing else acts for it while its files go.
    pub async fn begin_deleting(
        &self,
        account: &Account,
        keep_session: Option<&str>,
        password: &str,
    ) -> AccountResult<()> {
        self.check_password(account, password).await?;
        db::end_other_ways_in(&self.db, &account.id, keep_session).await?;
        Ok(())
    }

    /// Up to `limit` uploads the account still owns, any status.
    pub async fn uploads_left(&self, account: &Account, limit: i64) -> AccountResult<Vec<String>> {
        let owner = format!("account:{}", account.id);
        Ok(db::some_uploads_of(&self.db, &owner, limit).await?)
    }

    /// The last step: the account row goes (its sessions and tokens with it) if it owns no
    /// upload any more; `false` if one is left.
    pub async fn finish_deleting(&self, account: &Account) -> AccountResult<bool> {
        Ok(db::delete_if_empty(&self.db, &account.id).await?)
    }

    pub async fn tokens(&self, account: &Account) -> AccountResult<Vec<TokenRow>> {
        Ok(db::tokens(&self.db, &account.id).await?)
    }

    pub async fn revoke_token(&self, account: &Account, id: &str) -> AccountResult<()> {
        if db::delete_token(&self.db, &account.id, id).await? {
            Ok(())
        } else {
            Err(AccountError::NoSuchToken)
        }
    }

    /// Bytes kept or on their way for `owner`.
    pub async fn usage(&self, owner: &str) -> AccountResult<u64> {
        Ok(db::usage(&self.db, owner).await?)
    }

    // For `hoist users`: the operator at the terminal.

    pub async fn create(&self, email: &str, password: &str) -> AccountResult<Account> {
        let row = self.new_row(email, password, Lane::SignIn).await?;
        if !db::insert(&self.db, &row).await? {
            return Err(AccountError::EmailTaken);
        }
        Ok(row.into())
    }

    /// An account's row, its password hashed in `lane`'s queue.
    async fn new_row(&self, email: &str, password: &str, lane: Lane) -> AccountResult<AccountRow> {
        let email = normalize_email(email)?;
        let password_hash = self.hash(password, lane).await?;
        Ok(AccountRow {
            id: uuid::Uuid::new_v4().to_string(),
            email,
            password_hash,
            quota: i64::try_from(self.settings.default_quota).unwrap_or(i64::MAX),
            disabled: false,
            created_at: self.clock.now_ms(),
        })
    }

    /// A new password; every session and token of the account ends (signed in anywhere, it
    /// must sign in again; a program needs a new token).
    pub async fn set_password(&self, email: &str, password: &str) -> AccountResult<Ended> {
        let email = normalize_email(email)?;
        let password_hash = self.hash(password, Lane::SignIn).await?;
        db::set_password(&self.db, &email, &password_hash)
            .await?
            .ok_or(AccountError::NoSuchAccount)
    }

    async fn hash(&self, password: &str, lane: Lane) -> AccountResult<String> {
        let chars = password.chars().count();
        if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
            return Err(AccountError::BadPassword { chars });
        }
        Ok(self.passwords.hash(password, lane).await?)
    }

    /// Every account with what it keeps.
    pub async fn list(&self) -> AccountResult<Vec<(AccountRow, u64)>> {
        let mut listed = Vec::new();
        for row in db::all(&self.db).await? {
            let used = self.usage(&format!("account:{}", row.id)).await?;
            listed.push((row, used));
        }
        Ok(listed)
    }

    /// A new API token for the account with this email (`hoist tokens create`).
    pub async fn create_token_for(&self, email: &str, name: &str) -> AccountResult<String> {
        let email = normalize_email(email)?;
        let row = db::by_email(&self.db, &email)
            .await?
            .ok_or(AccountError::NoSuchAccount)?;
        let (secret, _) = self.create_token(&row.into(), name, None).await?;
        Ok(secret)
    }

    pub async fn set_quota(&self, email: &str, quota: u64) -> AccountResult<()> {
        let email = normalize_email(email)?;
        let quota = i64::try_from(quota).unwrap_or(i64::MAX);
        if db::set_quota(&self.db, &email, quota).await? {
            Ok(())
        } else {
            Err(AccountError::NoSuchAccount)
        }
    }

    /// Locks the account out: its sessions end at once and its tokens stop working. Its
    /// files stay.
    pub async fn disable(&self, email: &str) -> AccountResult<()> {
        let email = normalize_email(email)?;
        if db::disable(&self.db, &email).await? {
            Ok(())
        } else {
            Err(AccountError::NoSuchAccount)
        }
    }
}

fn token_hash(token: &str) -> String {
    crate::format::hex(&Sha256::digest(token.as_bytes()))
}
