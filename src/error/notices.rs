//! What an account action did besides what was asked, as data, with the sentence a person
//! reads about it.

use crate::{format, model::StayedWithGuest};
use serde::{Deserialize, Serialize};
use std::fmt;

impl fmt::Display for StayedWithGuest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}) uploaded as a guest stayed with the guest session: {}.",
            files_word(self.files),
            format::bytes_short(self.bytes),
            reason(self.over_quota, self.over_active)
        )
    }
}

/// A password changed: every other way into the account has ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error(
    "Your password has been changed. {} signed out and {} ended; sign in there again with the new password.",
    sessions_word(*.other_sessions),
    tokens_word(*.tokens)
)]
pub struct PasswordChanged {
    pub other_sessions: u64,
    pub tokens: u64,
}

/// An account deleted, with what went with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("Your account and its {} have been deleted.", files_word(*.files))]
pub struct AccountDeleted {
    pub files: u64,
}

fn files_word(n: u64) -> String {
    match n {
        1 => "1 file".into(),
        n => format!("{n} files"),
    }
}

fn sessions_word(n: u64) -> String {
    match n {
        0 => "No other session was".into(),
        1 => "1 other session was".into(),
        n => format!("{n} other sessions were"),
    }
}

fn tokens_word(n: u64) -> String {
    match n {
        1 => "1 API token".into(),
        n => format!("{n} API tokens"),
    }
}

fn reason(over_quota: bool, over_active: bool) -> &'static str {
    match (over_quota, over_active) {
        (true, true) => "they did not fit your storage or your limit of unfinished uploads",
        (false, true) => "your limit of unfinished uploads was reached",
        _ => "they did not fit your storage",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_stayed_is_counted_in_words() {
        let one = StayedWithGuest {
            files: 1,
            bytes: 17 << 20,
            over_quota: true,
            over_active: false,
        };
        assert_eq!(
            one.to_string(),
            "1 file (17 MiB) uploaded as a guest stayed with the guest session: they did not fit your storage."
        );
        let changed = PasswordChanged {
            other_sessions: 2,
            tokens: 1,
        };
        assert_eq!(
            changed.to_string(),
            "Your password has been changed. 2 other sessions were signed out and 1 API token ended; sign in there again with the new password."
        );
    }
}
