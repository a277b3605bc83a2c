//! The terminal client: `hoist upload`, `hoist ls`, `hoist download`, `hoist rm`. It speaks
//! the browser's protocol to a Hoist server (start, sign in batches, PUT parts straight to the
//! store, complete), so the server never carries the bytes here either. [`api`] calls server
//! functions, [`transfer`] sends one file, [`download`] fetches one, [`local`] finds files and
//! reads them, [`state`] remembers unfinished uploads between runs, [`report`] draws progress,
//! [`library`] is the rest.

pub mod api;
mod download;
mod library;
mod local;
mod report;
mod state;
mod transfer;

use crate::error::ApiError;
use clap::{Args, Parser, Subcommand};
use std::{ffi::OsString, path::PathBuf, process::ExitCode};

/// The words that select the client rather than the server's command line.
pub const COMMANDS: &[&str] = &["upload", "ls", "download", "rm"];

#[derive(Parser, Debug)]
#[command(name = "hoist", about = "Hoist's terminal client", version)]
struct Cli {
    #[command(subcommand)]
    command: ClientCommand,
}

/// Which server, as whom.
#[derive(Args, Debug, Clone)]
pub struct Remote {
    /// The Hoist server's address.
    #[arg(long, env = "HOIST_SERVER", default_value = "http://127.0.0.1:3000")]
    pub server: url::Url,
    /// An API token (create one on the account page, or with `hoist tokens create`). Given as
    /// `--token` it shows in the process list and the shell's history, where other users of
    /// the machine may read it: prefer HOIST_TOKEN or --token-file.
    #[arg(long, env = "HOIST_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A file holding the API token (its first line), readable by you alone.
    #[arg(long, env = "HOIST_TOKEN_FILE", value_name = "PATH")]
    pub token_file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum ClientCommand {
    /// Upload files and folders (recursively). Running the same command again after an
    /// interruption continues every unfinished file, sending only the missing parts.
    Upload {
        #[command(flatten)]
        remote: Remote,
        /// Parts sent at once, across all files.
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
        parallel: u16,
        /// One JSON line per finished file on standard output, instead of bars or lines.
        #[arg(long)]
        json: bool,
        /// Send every file without hashing it first (content you hold already is then sent
        /// again, and stored once only after it arrives).
        #[arg(long)]
        no_dedup: bool,
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Your library, newest first.
    Ls {
        #[command(flatten)]
        remote: Remote,
        /// One JSON line per upload.
        #[arg(long)]
        json: bool,
    },
    /// Download a file by its id. An existing file is never replaced without --force.
    Download {
        #[command(flatten)]
        remote: Remote,
        id: String,
        /// Where to write it: a file, or a folder to write it into under its name (default:
        /// its name, in the current folder).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Delete files by their ids.
    Rm {
        #[command(flatten)]
        remote: Remote,
        #[arg(required = true)]
        ids: Vec<String>,
    },
}

/// What went wrong, as facts; [`ClientError::exit_code`] says which exit status it means.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Usage(String),
    #[error("the server refused the token: {0}")]
    BadToken(ApiError),
    #[error("{server} cannot be reached: {reason}")]
    Unreachable { server: String, reason: String },
    #[error("{0}")]
    Refused(ApiError),
    #[error("{0}")]
    Store(String),
    #[error("{path}: {reason}")]
    Local { path: PathBuf, reason: String },
    #[error("the server answered something unexpected ({0})")]
    Protocol(String),
    #[error(
        "the server names the file {name:?}, which is not a safe file name here; \
         choose one with --output"
    )]
    UnsafeName { name: String },
    #[error("{} exists already; --force replaces it", .path.display())]
    Exists { path: PathBuf },
}

impl ClientError {
    /// 2 for a command that cannot work as given (flags, token); 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) | Self::BadToken(_) => 2,
            _ => 1,
        }
    }

    pub(crate) fn local(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        Self::Local {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    }
}

/// Runs a client command (`args` as on the command line, the program's name first).
pub async fn run(args: Vec<OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let outcome = match cli.command {
        ClientCommand::Upload {
            remote,
            parallel,
            json,
            no_dedup,
            paths,
        } => {
            let options = transfer::Options {
                parallel: usize::from(parallel),
                json,
                dedup: !no_dedup,
            };
            transfer::upload_all(&remote, options, &paths).await
        }
        ClientCommand::Ls { remote, json } => library::list(&remote, json).await,
        ClientCommand::Download {
            remote,
            id,
            output,
            force,
        } => download::download(&remote, &id, output, force).await,
        ClientCommand::Rm { remote, ids } => library::remove(&remote, &ids).await,
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hoist: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
