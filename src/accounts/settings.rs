//! Who may upload and how much they may keep, as settings (variable and default named once,
//! here).

use crate::{model::SignUpMode, parse};
use std::time::Duration;

#[derive(clap::Args, Clone, Debug)]
pub struct AccountSettings {
    /// Browsers without an account may upload (each guest session with its own quota).
    #[arg(long, env = "HOIST_GUEST_UPLOADS", default_value = "true", value_parser = parse::boolean, action = clap::ArgAction::Set)]
    pub guest_uploads: bool,
    /// What one guest session may keep, uploads on their way included.
    #[arg(long, env = "HOIST_GUEST_QUOTA", default_value = "1GiB", value_parser = parse::size)]
    pub guest_quota: u64,
    /// What all guests from one network (an IPv4 address, or an IPv6 /64) may keep together:
    /// a new guest cookie is free to make, a new network is not.
    #[arg(long, env = "HOIST_GUEST_NETWORK_QUOTA", default_value = "10GiB", value_parser = parse::size)]
    pub guest_network_quota: u64,
    /// Who may make an account from the web: `open` (anyone, within `HOIST_SIGN_UP_LIMIT` per
    /// network), `invite` (with a code from `hoist users invite`), `closed` (only the operator,
    /// with `hoist users create`).
    #[arg(long, env = "HOIST_SIGN_UP", default_value = "open", value_enum)]
    pub sign_up: SignUpMode,
    /// What a new account may keep; `hoist users set-quota` changes one account's.
    #[arg(long, env = "HOIST_DEFAULT_QUOTA", default_value = "10GiB", value_parser = parse::size)]
    pub default_quota: u64,
    /// Unfinished uploads one account or guest may have at once.
    #[arg(long, env = "HOIST_MAX_ACTIVE_UPLOADS", default_value = "100", value_parser = parse::number_in(1..=100_000u64))]
    pub max_active_uploads: u64,
    /// Uploads one account or guest may have in all (closed ones count until
    /// HOIST_CLOSED_RETENTION removes them): a copy of content already held costs no quota,
    /// so this is what bounds how many rows one party can make.
    #[arg(long, env = "HOIST_MAX_FILES", default_value = "100000", value_parser = parse::number_in(1..=100_000_000u64))]
    pub max_files: u64,
    /// Uploads all guests from one network may have in all.
    #[arg(long, env = "HOIST_GUEST_NETWORK_MAX_FILES", default_value = "20000", value_parser = parse::number_in(1..=100_000_000u64))]
    pub guest_network_max_files: u64,
    /// A signed-in session unused for this long ends.
    #[arg(long, env = "HOIST_SESSION_IDLE", default_value = "14d", value_parser = parse::duration)]
    pub session_idle: Duration,
    /// A signed-in session ends this long after sign-in, however active.
    #[arg(long, env = "HOIST_SESSION_LIFETIME", default_value = "30d", value_parser = parse::duration)]
    pub session_lifetime: Duration,
}
