//! Server functions for people: signing up, in and out, what the page shows about the
//! caller, and API tokens for programs.

use crate::{
    error::ApiError,
    model::{Me, NewToken, TokenView},
};
use leptos::prelude::*;

/// Makes an account and signs nothing in: the answer is the same whether or not the email had
/// an account already, so it tells no one who has one. The page signs in next. Charged to the
/// caller's network (`HOIST_SIGN_UP_LIMIT`), before any work.
#[server(endpoint = "sign_up")]
pub async fn sign_up(
    email: String,
    password: String,
    #[server(default)] invite: Option<String>,
) -> Result<(), ApiError> {
    let (state, _) = super::ssr::context()?;
    if state.accounts.settings.sign_up == crate::model::SignUpMode::Closed {
        return Err(ApiError::SignUpClosed);
    }
    let ip = super::ssr::client_ip().ok_or_else(ApiError::internal)?;
    if let Err(wait) = state.limits.sign_up_attempt(ip) {
        return Err(super::ssr::rate_limited(wait));
    }
    state
        .accounts
        .sign_up(&email, &password, invite.as_deref())
        .await
        .map_err(ssr::failed)
}

/// Signs in with a new session id; the guest's uploads become the account's. Only failures
/// count against the email's limits, so a guesser elsewhere cannot lock its owner out.
#[server(endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String) -> Result<Me, ApiError> {
    use crate::accounts::AccountError;
    let (state, caller) = super::ssr::context()?;
    let ip = super::ssr::client_ip().ok_or_else(ApiError::internal)?;
    let attempt = state
        .limits
        .sign_in_attempt(&email, ip)
        .map_err(super::ssr::rate_limited)?;
    let guest = ssr::guest_of(&caller);
    let signed_in = state
        .accounts
        .sign_in(&email, &password, guest.as_deref())
        .await;
    match &signed_in {
        Ok(_) => state.limits.sign_in_succeeded(attempt),
        // The password was checked and was wrong (or right, for a disabled account, which
        // gains nothing by guessing on).
        Err(AccountError::WrongCredentials | AccountError::Disabled) => {
            state.limits.sign_in_failed(attempt)
        }
        Err(_) => state.limits.sign_in_unjudged(attempt),
    }
    let session = signed_in.map_err(ssr::failed)?;
    ssr::begin(&state, &caller, &session).await?;
    ssr::me(&state, &crate::accounts::Caller::from(session)).await
}

/// Ends the session everywhere its cookie is presented; the browser continues as a new guest.
#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<Me, ApiError> {
    use crate::{accounts::Caller, server::session::Subject};
    let (state, caller) = super::ssr::context()?;
    if let Caller::Account {
        session: Some(session),
        ..
    } = &caller
    {
        state
            .accounts
            .sign_out(session)
            .await
            .map_err(ssr::failed)?;
    }
    let id = uuid::Uuid::new_v4().to_string();
    ssr::set_cookie(&state, &Subject::Guest(id.clone()))?;
    ssr::me(&state, &Caller::Guest { session: id }).await
}

#[server(endpoint = "whoami")]
pub async fn whoami() -> Result<Me, ApiError> {
    let (state, caller) = super::ssr::context()?;
    ssr::me(&state, &caller).await
}

/// A new token for programs, made only with the account's password (whoever holds a
/// session cookie for a moment cannot mint a lasting way in); it lasts `expires_in_days` if
/// given, else until revoked. Its secret is in this answer only.
#[server(endpoint = "create_token")]
pub async fn create_token(
    name: String,
    password: String,
    #[server(default)] expires_in_days: Option<u32>,
) -> Result<NewToken, ApiError> {
    let (state, account) = ssr::signed_in()?;
    let attempt = ssr::charge_password_attempt(&state, &account)?;
    let checked = state.accounts.check_password(&account, &password).await;
    ssr::judged(&state, attempt, checked)?;
    let (secret, row) = state
        .accounts
        .create_token(&account, &name, expires_in_days)
        .await
        .map_err(ssr::failed)?;
    Ok(NewToken {
        secret,
        token: TokenView::from(row),
    })
}

#[server(endpoint = "list_tokens")]
pub async fn list_tokens() -> Result<Vec<TokenView>, ApiError> {
    let (state, account) = ssr::signed_in()?;
    let rows = state.accounts.tokens(&account).await.map_err(ssr::failed)?;
    Ok(rows.into_iter().map(TokenView::from).collect())
}

#[server(endpoint = "revoke_token")]
pub async fn revoke_token(token_id: String) -> Result<(), ApiError> {
    let (state, account) = ssr::signed_in()?;
    state
        .accounts
        .revoke_token(&account, &token_id)
        .await
        .map_err(ssr::failed)
}

#[cfg(feature = "ssr")]
pub(super) mod ssr {
    use super::ApiError;
    use crate::{
        accounts::{
            guest_owner, Account, AccountError, Caller, NewSession, MAX_PASSWORD_CHARS,
            MAX_TOKEN_DAYS, MAX_TOKEN_NAME_CHARS, MIN_PASSWORD_CHARS,
        },
        model::{Me, StayedWithGuest},
        server::{session::Subject, state::AppState},
    };
    use leptos::prelude::*;

    /// How long a caller turned away by a full hashing queue is asked to wait: about the time
    /// the queue takes to drain.
    const HASHING_BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

    impl From<NewSession> for Caller {
        fn from(session: NewSession) -> Self {
            Self::Account {
                account: session.account,
                session: Some(session.id),
            }
        }
    }

    /// The uploads a guest made before signing in or up go with it.
    pub fn guest_of(caller: &Caller) -> Option<String> {
        match caller {
            Caller::Guest { session } => Some(guest_owner(session)),
            Caller::Account { .. } => None,
        }
    }

    /// Hands the browser the cookie of its new session; a session it had before ends, so no
    /// copy of the old cookie stays signed in.
    pub async fn begin(
        state: &AppState,
        before: &Caller,
        session: &NewSession,
    ) -> Result<(), ApiError> {
        if let Caller::Account {
            session: Some(old), ..
        } = before
        {
            state.accounts.sign_out(old).await.map_err(failed)?;
        }
        set_cookie(state, &Subject::Signed(session.id.clone()))
    }

    pub fn set_cookie(state: &AppState, subject: &Subject) -> Result<(), ApiError> {
        let response =
            use_context::<leptos_axum::ResponseOptions>().ok_or_else(ApiError::internal)?;
        let value = state
            .cookies
            .set_cookie(subject)
            .ok_or_else(ApiError::internal)?;
        response.append_header(http::header::SET_COOKIE, value);
        Ok(())
    }

    pub async fn me(state: &AppState, caller: &Caller) -> Result<Me, ApiError> {
        let settings = &state.accounts.settings;
        let used = state
            .accounts
            .usage(&caller.owner())
            .await
            .map_err(failed)?;
        let stayed = match caller {
            Caller::Account {
                session: Some(session),
                ..
            } => state
                .accounts
                .stayed_with_guest(session)
                .await
                .map_err(failed)?,
            _ => Default::default(),
        };
        Ok(Me {
            email: caller.account().map(|a| a.email.clone()),
            used,
            quota: caller.quota(settings),
            guest_uploads: settings.guest_uploads,
            stayed_with_guest: (stayed.files > 0).then_some(StayedWithGuest {
                files: stayed.files,
                bytes: stayed.bytes,
                over_quota: stayed.over_quota,
                over_active: stayed.over_active,
            }),
            sign_up: settings.sign_up,
        })
    }

    pub fn signed_in() -> Result<(AppState, Account), ApiError> {
        let (state, caller) = crate::api::ssr::context()?;
        match caller {
            Caller::Account { account, .. } => Ok((state, account)),
            Caller::Guest { .. } => Err(ApiError::NotSignedIn),
        }
    }

    /// Checking a password again costs what a sign-in attempt costs, so a stolen session
    /// cannot be used to guess the password faster than the sign-in form allows.
    pub fn charge_password_attempt(
        state: &AppState,
        account: &Account,
    ) -> Result<crate::server::failures::Attempt, ApiError> {
        let ip = crate::api::ssr::client_ip().unwrap_or(std::net::Ipv4Addr::LOCALHOST.into());
        state
            .limits
            .sign_in_attempt(&account.email, ip)
            .map_err(crate::api::ssr::rate_limited)
    }

    /// Settles an attempt charged by [`charge_password_attempt`] by what the call that checked
    /// the password answered: only a wrong password stays counted as a failure.
    pub fn judged<T>(
        state: &AppState,
        attempt: crate::server::failures::Attempt,
        result: Result<T, AccountError>,
    ) -> Result<T, ApiError> {
        match &result {
            Ok(_) => state.limits.sign_in_succeeded(attempt),
            Err(AccountError::WrongPassword) => state.limits.sign_in_failed(attempt),
            Err(_) => state.limits.sign_in_unjudged(attempt),
        }
        result.map_err(failed)
    }

    /// Logged here, where the cause is known; the caller gets what they can act on.
    pub fn failed(e: AccountError) -> ApiError {
        let answer = match &e {
            AccountError::BadEmail => ApiError::BadEmail,
            AccountError::BadPassword { .. } => ApiError::BadPassword {
                min: MIN_PASSWORD_CHARS,
                max: MAX_PASSWORD_CHARS,
            },
            AccountError::EmailTaken => ApiError::EmailTaken,
            AccountError::WrongCredentials => ApiError::WrongCredentials,
            AccountError::WrongPassword => ApiError::WrongPassword,
            AccountError::BadTokenExpiry(_) => ApiError::BadTokenExpiry {
                max_days: MAX_TOKEN_DAYS,
            },
            AccountError::Disabled => ApiError::AccountDisabled,
            AccountError::NoSuchAccount | AccountError::NoSuchToken => ApiError::NotFound,
            AccountError::BadTokenName { .. } => ApiError::BadTokenName {
                max: MAX_TOKEN_NAME_CHARS,
            },
            AccountError::TooManyTokens(max) => ApiError::TooManyTokens { max: *max },
            AccountError::SignUpClosed => ApiError::SignUpClosed,
            AccountError::BadInvite => ApiError::BadInvite,
            AccountError::Busy => crate::api::ssr::rate_limited(HASHING_BUSY_WAIT),
            AccountError::Db(_) if e.unstorable() => ApiError::unstorable(),
            AccountError::Hashing(_) | AccountError::Db(_) => ApiError::internal(),
        };
        match answer {
            ApiError::Internal { .. } => tracing::error!(error = %e, "account request failed"),
            _ => tracing::debug!(error = %e, "account request refused"),
        }
        answer
    }
}
