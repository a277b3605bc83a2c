//! People: accounts, their sessions and tokens, and who is calling. Uploads belong to an
//! owner — a guest session or an account — and this module says which, and how much that
//! owner may keep.

pub mod admin;
mod email;
mod password;
mod service;
mod settings;

pub use email::normalize_email;
pub use password::{HashError, Lane, Passwords};
pub use service::{Accounts, NewSession};
pub use settings::AccountSettings;

use crate::db::{
    accounts::AccountRow,
    uploads::{Allowance, NetworkAllowance},
    DbError,
};
use std::net::IpAddr;

/// Passwords shorter than this are refused (NIST SP 800-63B's minimum).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Long enough for any pass phrase or generated password.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// Token names are labels for people.
pub const MAX_TOKEN_NAME_CHARS: usize = 100;
/// Tokens one account may hold.
pub const MAX_TOKENS: u64 = 50;
/// The longest a token may be made to last, in days (without an expiry it lasts until
/// revoked).
pub const MAX_TOKEN_DAYS: u32 = 3650;

/// What can go wrong with an account, as facts; [`crate::error`] has the sentences.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("not an email address")]
    BadEmail,
    #[error("password of {chars} characters")]
    BadPassword { chars: usize },
    #[error("email taken")]
    EmailTaken,
    #[error("wrong email or password")]
    WrongCredentials,
    /// A signed-in caller's password, asked again, was wrong.
    #[error("wrong password")]
    WrongPassword,
    #[error("a token lasting {0} days")]
    BadTokenExpiry(u32),
    #[error("account disabled")]
    Disabled,
    #[error("no account with that email")]
    NoSuchAccount,
    #[error("token name of {chars} characters")]
    BadTokenName { chars: usize },
    #[error("{0} tokens already")]
    TooManyTokens(u64),
    #[error("no such token")]
    NoSuchToken,
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// Too many password hashes are waiting: nothing was done; come back shortly.
    #[error("too many password hashes waiting")]
    Busy,
    #[error("sign-up is closed")]
    SignUpClosed,
    #[error("invitation code missing, unknown, used or expired")]
    BadInvite,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<HashError> for AccountError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => Self::Busy,
            HashError::Failed(e) => Self::Hashing(e),
        }
    }
}

impl From<sqlx::Error> for AccountError {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(DbError::from(e))
    }
}

impl AccountError {
    /// The caller's text holds a character the database cannot keep: their mistake.
    pub fn unstorable(&self) -> bool {
        matches!(self, Self::Db(DbError::Unstorable))
    }
}

pub type AccountResult<T> = Result<T, AccountError>;

impl From<crate::db::accounts::TokenRow> for crate::model::TokenView {
    fn from(row: crate::db::accounts::TokenRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            created_at_ms: row.created_at,
            last_used_at_ms: row.last_used_at,
            expires_at_ms: row.expires_at,
        }
    }
}

/// Someone signed in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub quota: u64,
}

impl From<AccountRow> for Account {
    fn from(row: AccountRow) -> Self {
        Self {
            quota: row.quota(),
            id: row.id,
            email: row.email,
        }
    }
}

/// Who sent a request: every request has one, put there by the session middleware.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// A browser without an account: its signed session cookie is all it has.
    Guest { session: String },
    /// An account, through a signed-in session or (`session: None`) an API token.
    Account {
        account: Account,
        session: Option<String>,
    },
}

impl Caller {
    /// Whose uploads these are: the `owner` column.
    pub fn owner(&self) -> String {
        match self {
            Self::Guest { session } => guest_owner(session),
            Self::Account { account, .. } => format!("account:{}", account.id),
        }
    }

    pub fn account(&self) -> Option<&Account> {
        match self {
            Self::Guest { .. } => None,
            Self::Account { account, .. } => Some(account),
        }
    }

    /// The bytes this caller may keep: its account's quota, or a guest's.
    pub fn quota(&self, settings: &AccountSettings) -> u64 {
        self.account().map_or(settings.guest_quota, |a| a.quota)
    }

    /// What this caller, calling from `ip`, may keep and have on its way.
    pub fn allowance(&self, settings: &AccountSettings, ip: IpAddr) -> Allowance {
        Allowance {
            quota: self.quota(settings),
            max_active: settings.max_active_uploads,
            max_files: settings.max_files,
            network: self.account().is_none().then(|| NetworkAllowance {
                key: network_of(ip),
                quota: settings.guest_network_quota,
                max_files: settings.guest_network_max_files,
            }),
        }
    }
}

pub fn guest_owner(session: &str) -> String {
    format!("guest:{session}")
}

/// The network a client calls from, as one party holds it: an IPv4 address, or the /64 an
/// IPv6 host gets (a host can change its address within it at will, so a limit keyed by
/// address would give it 2^64 buckets). An IPv4-mapped IPv6 address is its IPv4 address.
/// Every per-client limit and quota is keyed by this.
pub fn network_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(
                v6.to_bits() & !((1u128 << 64) - 1),
            )),
        },
    }
}

/// [`network_key`] as text, as the `guest_net` column stores it.
pub fn network_of(ip: IpAddr) -> String {
    match network_key(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guests_network_is_its_ipv4_address_or_its_ipv6_64() {
        let key = |text: &str| network_of(text.parse().unwrap());
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff::9"), key("2001:db8:1:2::1"));
        let net = |text: &str| network_key(text.parse().unwrap()).to_string();
        assert_eq!(net("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::");
        assert_eq!(net("::ffff:203.0.113.7"), "203.0.113.7");
        assert_ne!(net("2001:db8:1:3::1"), net("2001:db8:1:2::1"));
    }
}
