//! Server functions that change an account itself: its password, or its existence. Each asks
//! for the current password again, charged like a sign-in attempt.

use crate::error::{AccountDeleted, ApiError, PasswordChanged};
use leptos::prelude::*;

/// A new password, the current one given. Every API token of the account and every session
/// but this one end (whoever knew the old password may have made them); the answer says how
/// many.
#[server(endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<PasswordChanged, ApiError> {
    use super::account::ssr::{charge_password_attempt, judged};
    let (state, account, session) = ssr::account_caller()?;
    let attempt = charge_password_attempt(&state, &account)?;
    let changed = state
        .accounts
        .change_password(
            &account,
            session.as_deref(),
            &current_password,
            &new_password,
        )
        .await;
    let ended = judged(&state, attempt, changed)?;
    Ok(PasswordChanged {
        other_sessions: ended.sessions,
        tokens: ended.tokens,
    })
}

/// Deletes the account, the password given: first every other session and token ends, then
/// each of its uploads goes the way a delete by hand goes (unfinished ones are aborted, stored
/// objects and thumbnails are removed), then the account row with this session. A failure
/// part-way leaves the account signed in here with what is left, so asking again finishes it.
#[server(endpoint = "delete_account")]
pub async fn delete_account(password: String) -> Result<AccountDeleted, ApiError> {
    use super::account::ssr::{charge_password_attempt, judged, set_cookie};
    use crate::server::session::Subject;
    let (state, account, session) = ssr::account_caller()?;
    let attempt = charge_password_attempt(&state, &account)?;
    let begun = state
        .accounts
        .begin_deleting(&account, session.as_deref(), &password)
        .await;
    judged(&state, attempt, begun)?;
    let files = ssr::delete_every_upload(&state, &account).await?;
    // The session row went with the account; the browser goes on as a new guest.
    let guest = uuid::Uuid::new_v4().to_string();
    set_cookie(&state, &Subject::Guest(guest))?;
    Ok(AccountDeleted { files })
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::ApiError;
    use crate::{
        accounts::{Account, Caller},
        server::state::AppState,
        uploads::UploadError,
    };
    use futures::StreamExt;

    /// Uploads looked up, then deleted, at a time.
    const BATCH: i64 = 100;
    /// Deletes running at once: each is a few store calls.
    const CONCURRENCY: usize = 8;

    /// The state, a signed-in caller's account and its session (`None` for an API token).
    pub fn account_caller() -> Result<(AppState, Account, Option<String>), ApiError> {
        let (state, caller) = crate::api::ssr::context()?;
        match caller {
            Caller::Account { account, session } => Ok((state, account, session)),
            Caller::Guest { .. } => Err(ApiError::NotSignedIn),
        }
    }

    /// Deletes the account's uploads batch by batch, then the account once none is left; how
    /// many went. Stops, saying how many are left, when a whole batch could not be deleted
    /// (the store away, or uploads the reaper holds this instant): each round must make
    /// progress, so this ends.
    pub async fn delete_every_upload(state: &AppState, account: &Account) -> Result<u64, ApiError> {
        use super::super::account::ssr::failed;
        let owner = format!("account:{}", account.id);
        let mut deleted = 0u64;
        loop {
            let ids = state
                .accounts
                .uploads_left(account, BATCH)
                .await
                .map_err(failed)?;
            if ids.is_empty() {
                if state
                    .accounts
                    .finish_deleting(account)
                    .await
                    .map_err(failed)?
                {
                    return Ok(deleted);
                }
                // An upload started in the meantime: take it too.
                continue;
            }
            let batch = ids.len() as u64;
            let results: Vec<Result<(), UploadError>> = futures::stream::iter(ids)
                .map(|id| {
                    let owner = owner.clone();
                    async move { state.uploads.delete(&owner, &id).await }
                })
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            let mut gone = 0;
            for result in results {
                match result {
                    Ok(()) => {
                        deleted += 1;
                        gone += 1;
                    }
                    // Deleted by another request meanwhile: gone all the same.
                    Err(UploadError::NotFound) => gone += 1,
                    Err(e) => tracing::warn!(error = %e, "deleting an account: an upload stayed"),
                }
            }
            if gone == 0 {
                return Err(ApiError::AccountNotEmptied { left: batch });
            }
        }
    }
}
