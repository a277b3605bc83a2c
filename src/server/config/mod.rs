//! Hoist's settings, assembled. Each module owns its settings (`uploads::UploadRules`,
//! `storage::S3Settings`, `background::BackgroundSettings`, `serve::HttpSettings`,
//! `session::SessionSettings`): there each one names its environment variable, its built-in
//! default and its parser, once. This module layers the sources — a command-line flag, then
//! the environment, then the `[hoist]` table of `Leptos.toml`, then the default — and turns a
//! bad value into a sentence that says which setting, from where.

pub use crate::parse;

use crate::{
    accounts::{
        admin::{TokensCommand, UsersCommand},
        AccountSettings,
    },
    background::BackgroundSettings,
    live::LiveSettings,
    observe::ObserveSettings,
    processing::ProcessingSettings,
    server::{limits::LimitSettings, serve::HttpSettings, session::SessionSettings},
    storage::S3Settings,
    uploads::{RulesError, UploadRules},
};
use clap::{error::ContextKind, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::{collections::BTreeMap, ffi::OsString, net::SocketAddr, path::PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not valid: {reason} (got {value:?} from {from})")]
    Invalid {
        name: String,
        value: String,
        reason: String,
        from: Source,
    },
    #[error("cannot read settings file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("{name} in {path} is not a setting Hoist knows")]
    Unknown { name: String, path: PathBuf },
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error(
        "HOIST_LIVE_MAX ({live}) must be at most half of HOIST_MAX_CONNECTIONS ({connections}), \
         so that live streams leave room for pages and uploads"
    )]
    LiveOverConnections { live: usize, connections: usize },
    /// Help, the version, a missing credential, an unknown flag: clap's own words.
    #[error("{0}")]
    Usage(#[from] clap::Error),
}

impl ConfigError {
    /// `--help` and `--version` are answers, not failures.
    pub fn is_answer(&self) -> bool {
        matches!(self, Self::Usage(e) if !e.use_stderr())
    }
}

/// Where a setting's value came from, as a person would look for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Flag,
    Environment,
    File(PathBuf),
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Flag => f.write_str("the command line"),
            Self::Environment => f.write_str("the environment"),
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Default => f.write_str("the built-in default"),
        }
    }
}

/// Every setting, flattened from the modules that own them.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "hoist",
    version,
    about = "Hoist: browser uploads straight into S3-compatible storage",
    after_help = "The terminal client: hoist upload, hoist ls, hoist download, hoist rm \
                  (each with --help)."
)]
pub struct Config {
    /// Settings file with a [hoist] table of defaults.
    #[arg(long, env = "HOIST_CONFIG", default_value = "Leptos.toml")]
    pub config: PathBuf,
    /// Where the app listens.
    #[arg(long, env = "LEPTOS_SITE_ADDR", default_value = "127.0.0.1:3000")]
    pub site_addr: SocketAddr,
    /// The site's origin as browsers see it; default `http://` + the site address.
    #[arg(long, env = "HOIST_PUBLIC_URL", value_parser = parse::origin)]
    pub public_url: Option<String>,
    /// Folder for the SQLite database and the session key.
    #[arg(long, env = "HOIST_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Default: `sqlite://` + the data folder + `/hoist.db`.
    #[arg(long, env = "HOIST_DATABASE_URL")]
    pub database_url: Option<String>,
    #[command(flatten)]
    pub s3: S3Settings,
    #[command(flatten)]
    pub rules: UploadRules,
    #[command(flatten)]
    pub background: BackgroundSettings,
    #[command(flatten)]
    pub http: HttpSettings,
    #[command(flatten)]
    pub live: LiveSettings,
    #[command(flatten)]
    pub session: SessionSettings,
    #[command(flatten)]
    pub accounts: AccountSettings,
    #[command(flatten)]
    pub limits: LimitSettings,
    #[command(flatten)]
    pub processing: ProcessingSettings,
    #[command(flatten)]
    pub observe: ObserveSettings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to run instead of the web server.
#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Delete expired uploads (abort their multipart uploads, delete their objects), then
    /// keep doing so every HOIST_REAPER_INTERVAL, without serving the site.
    Reap {
        /// One pass over everything expired now, then exit (for cron or a deploy hook).
        #[arg(long)]
        once: bool,
        /// Also sweep the bucket's in-progress multipart uploads for orphans no upload knows.
        #[arg(long)]
        orphans: bool,
    },
    /// Run processing jobs (hash, thumbnails, media metadata, posters) from the queue in the
    /// database, without serving the site: HOIST_WORKERS of them (at least one).
    Worker,
    /// Manage accounts, on the database this server uses.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// API tokens for programs (`hoist upload`, scripts), on the database this server uses.
    Tokens {
        #[command(subcommand)]
        command: TokensCommand,
    },
    /// Prints the path and method of every server function this build registers, one a line
    /// (what a fuzzer or a firewall rule needs to know), and exits.
    #[command(hide = true)]
    ServerFunctions,
}

impl Config {
    /// Reads the process's arguments and environment.
    pub fn load() -> Result<Self, ConfigError> {
        Self::load_from(std::env::args_os(), |name| std::env::var(name).ok())
    }

    /// `args` as on a command line (the program's name first); `env` looks a variable up.
    pub fn load_from(
        args: impl IntoIterator<Item = impl Into<OsString>>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let path = settings_path(&args, &env);
        let file = read_settings_file(&path)?;
        let command = layered(Self::command(), &file, &path, &env)?;
        let matches = command
            .try_get_matches_from(&args)
            .map_err(|e| explain(e, &args, &env, &file, &path))?;
        let mut config = Self::from_arg_matches(&matches)?;
        config.rules = config.rules.checked()?;
        let connections = config.http.max_connections;
        if let Err(live) = config.live.limits(connections) {
            return Err(ConfigError::LiveOverConnections { live, connections });
        }
        // Worked out once: every cross-site check reads it.
        let site_addr = config.site_addr;
        config
            .public_url
            .get_or_insert_with(|| format!("http://{site_addr}"));
        Ok(config)
    }

    /// The site's origin as browsers see it (set by [`Config::load_from`]).
    pub fn public_url(&self) -> &str {
        self.public_url.as_deref().unwrap_or_default()
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("hoist.db").display()))
    }
}

/// Every setting's name (its environment variable) and built-in default, for the test that
/// keeps `Leptos.toml` in step.
pub fn documented_defaults() -> Vec<(String, Option<String>)> {
    Config::command()
        .get_arguments()
        .filter_map(|arg| {
            let name = arg.get_env()?.to_string_lossy().into_owned();
            let default = arg
                .get_default_values()
                .first()
                .map(|v| v.to_string_lossy().into_owned());
            Some((name, default))
        })
        .collect()
}

/// The settings file named by `--config` or `HOIST_CONFIG`, before anything else is parsed.
fn settings_path(args: &[OsString], env: &impl Fn(&str) -> Option<String>) -> PathBuf {
    let mut flag = None;
    let mut rest = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(arg) = rest.next() {
        if arg == "--config" {
            flag = rest.next().map(|v| v.into_owned());
        } else if let Some(value) = arg.strip_prefix("--config=") {
            flag = Some(value.to_string());
        }
    }
    flag.or_else(|| env("HOIST_CONFIG").filter(|v| !v.trim().is_empty()))
        .map_or_else(|| PathBuf::from("Leptos.toml"), PathBuf::from)
}

/// Layers the sources: the environment's value, else the file's, else the built-in one,
/// becomes the setting's default, which only a flag overrides. (clap would read the process's
/// environment itself; doing it here lets a test hand in its own, and tell the sources apart
/// in errors.) An empty variable counts as unset. Every setting's value name is its variable's,
/// so clap's messages use the names people set.
fn layered(
    command: clap::Command,
    file: &BTreeMap<String, String>,
    path: &std::path::Path,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<clap::Command, ConfigError> {
    let known: Vec<String> = command
        .get_arguments()
        .filter_map(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()))
        .collect();
    if let Some(name) = file.keys().find(|k| !known.contains(k)) {
        return Err(ConfigError::Unknown {
            name: name.clone(),
            path: path.to_path_buf(),
        });
    }
    Ok(command.mut_args(|arg| {
        let Some(name) = arg.get_env().map(|e| e.to_string_lossy().into_owned()) else {
            return arg;
        };
        let secret = arg.is_hide_env_values_set();
        let arg = arg
            .value_name(name.clone())
            .env(None::<&str>)
            .hide_default_value(secret);
        match env(&name)
            .filter(|v| !v.trim().is_empty())
            .or_else(|| file.get(&name).cloned())
        {
            Some(value) => arg.default_value(value).required(false),
            None => arg,
        }
    }))
}

/// A bad value is named with where it came from; every other error is clap's.
fn explain(
    error: clap::Error,
    args: &[OsString],
    env: &impl Fn(&str) -> Option<String>,
    file: &BTreeMap<String, String>,
    path: &std::path::Path,
) -> ConfigError {
    if error.kind() != clap::error::ErrorKind::ValueValidation {
        return ConfigError::Usage(error);
    }
    let context = |kind| error.get(kind).map(ToString::to_string).unwrap_or_default();
    let arg = context(ContextKind::InvalidArg);
    // `--max-file-size <HOIST_MAX_FILE_SIZE>`: the flag, then the setting's name.
    let (flag, name) = match arg.split_once(" <") {
        Some((flag, name)) => (flag.to_string(), name.trim_end_matches('>').to_string()),
        None => (arg.clone(), arg.clone()),
    };
    let given_as_flag = args.iter().any(|a| {
        let a = a.to_string_lossy();
        a == flag || a.starts_with(&format!("{flag}="))
    });
    let source = if given_as_flag {
        Source::Flag
    } else if env(&name).is_some_and(|v| !v.trim().is_empty()) {
        Source::Environment
    } else if file.contains_key(&name) {
        Source::File(path.to_path_buf())
    } else {
        Source::Default
    };
    let secret = name.contains("SECRET");
    ConfigError::Invalid {
        reason: std::error::Error::source(&error)
            .map(ToString::to_string)
            .unwrap_or_default(),
        value: if secret {
            "(hidden)".into()
        } else {
            context(ContextKind::InvalidValue)
        },
        name,
        from: source,
    }
}

/// Reads the `[hoist]` table. A missing file is fine (the built-in defaults apply): the binary
/// may run far from the source tree.
fn read_settings_file(path: &std::path::Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => {
            return Err(ConfigError::File {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
        }
    };
    parse_settings_table(&text).map_err(|reason| ConfigError::File {
        path: path.to_path_buf(),
        reason,
    })
}

pub fn parse_settings_table(text: &str) -> Result<BTreeMap<String, String>, String> {
    #[derive(serde::Deserialize)]
    struct File {
        #[serde(default)]
        hoist: BTreeMap<String, toml::Value>,
    }
    let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
    file.hoist
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                toml::Value::String(s) => s,
                toml::Value::Integer(n) => n.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                _ => return Err(format!("{k} must be a string, a number or true/false")),
            };
            Ok((k, v))
        })
        .collect()
}

#[cfg(test)]
mod tests;
