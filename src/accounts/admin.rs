//! `hoist users`: the operator's commands, run beside the server on its database.

use super::{normalize_email, AccountError, Accounts, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
use crate::{format, parse};
use clap::Subcommand;
use std::io::{BufRead, IsTerminal};

/// `hoist tokens …`
#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum TokensCommand {
    /// Prints a new token for the account with this email; NAME says what it is for.
    Create { email: String, name: String },
}

/// `hoist users …`
#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum UsersCommand {
    /// Every account: email, storage used, quota, state.
    List,
    /// A new account. The password is read from standard input (one line); with nothing
    /// there, one is generated and printed once.
    Create { email: String },
    /// A new password, read from standard input (one line; with nothing there, one is
    /// generated and printed once). Every session of the account ends.
    SetPassword { email: String },
    /// Changes how much an account may keep (`50GiB`).
    SetQuota {
        email: String,
        #[arg(value_parser = parse::size)]
        size: u64,
    },
    /// Locks an account out: its sessions end and its tokens stop working; its files stay.
    Disable { email: String },
    /// Prints a new invitation code, good for one sign-up (with `HOIST_SIGN_UP=invite`).
    Invite {
        /// The code stops working this long from now (`7d`, `12h`); without it, never.
        #[arg(long, value_parser = parse::duration)]
        expires_in: Option<std::time::Duration>,
    },
}

/// Runs the command and returns what to print.
pub async fn run(accounts: &Accounts, command: UsersCommand) -> Result<String, String> {
    let failed = |e: AccountError| describe(&e);
    match command {
        UsersCommand::List => {
            let mut out = format!("{:<40} {:>10} {:>10}  state\n", "email", "used", "quota");
            for (row, used) in accounts.list().await.map_err(failed)? {
                let state = if row.is_disabled() {
                    "disabled"
                } else {
                    "active"
                };
                out.push_str(&format!(
                    "{:<40} {:>10} {:>10}  {state}\n",
                    row.email,
                    format::bytes_short(used),
                    format::bytes_short(row.quota())
                ));
            }
            Ok(out)
        }
        UsersCommand::Create { email } => {
            let (password, generated) = password()?;
            let account = accounts.create(&email, &password).await.map_err(failed)?;
            let out = format!(
                "created {} with a quota of {}\n",
                account.email,
                format::bytes_short(account.quota)
            );
            Ok(out + &generated)
        }
        UsersCommand::SetPassword { email } => {
            let (password, generated) = password()?;
            let ended = accounts
                .set_password(&email, &password)
                .await
                .map_err(failed)?;
            let out = format!(
                "{} has a new password; its sessions ({}) and its tokens ({}) have ended\n",
                shown(&email),
                ended.sessions,
                ended.tokens
            );
            Ok(out + &generated)
        }
        UsersCommand::SetQuota { email, size } => {
            accounts.set_quota(&email, size).await.map_err(failed)?;
            Ok(format!(
                "{} may now keep {}\n",
                shown(&email),
                format::bytes_short(size)
            ))
        }
        UsersCommand::Invite { expires_in } => {
            // The code alone on the line, for scripts.
            let code = accounts.invite(expires_in).await.map_err(failed)?;
            Ok(format!("{code}\n"))
        }
        UsersCommand::Disable { email } => {
            accounts.disable(&email).await.map_err(failed)?;
            Ok(format!(
                "{} is disabled: its sessions have ended and its tokens no longer work; its files stay\n",
                shown(&email)
            ))
        }
    }
}

/// `hoist tokens`: returns what to print (for `create`, the token alone, for scripts).
pub async fn tokens(accounts: &Accounts, command: TokensCommand) -> Result<String, String> {
    match command {
        TokensCommand::Create { email, name } => accounts
            .create_token_for(&email, &name)
            .await
            .map_err(|e| describe(&e)),
    }
}

/// The password from standard input, or a generated one and the line that shows it.
fn password() -> Result<(String, String), String> {
    Ok(match read_password()? {
        Some(password) => (password, String::new()),
        None => {
            let password = generated_password();
            let shown = format!("password: {password}\n");
            (password, shown)
        }
    })
}

/// The email as the account is stored (the command succeeded, so it normalises).
fn shown(email: &str) -> String {
    normalize_email(email).unwrap_or_else(|_| email.to_string())
}

/// One line from standard input, unless it is a terminal or empty.
fn read_password() -> Result<Option<String>, String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(None);
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    let line = line.trim_end_matches(['\r', '\n']);
    Ok((!line.is_empty()).then(|| line.to_string()))
}

/// 32 hex characters from the system's random generator.
fn generated_password() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn describe(e: &AccountError) -> String {
    match e {
        AccountError::BadEmail => "that is not an email address".into(),
        AccountError::BadPassword { chars } => format!(
            "the password has {chars} characters; it needs {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS}"
        ),
        AccountError::EmailTaken => "an account with this email exists already".into(),
        AccountError::NoSuchAccount => "there is no account with this email".into(),
        other => other.to_string(),
    }
}
