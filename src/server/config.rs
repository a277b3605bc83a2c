//! Hoist's settings. Each one is read, in order of precedence, from a command-line flag, an
//! environment variable of the same name, the `[hoist]` table of `Leptos.toml`, or the
//! built-in default (which `Leptos.toml` documents). A value that does not parse stops
//! start-up with a message naming the setting.

use crate::checksum::ChecksumAlgorithm;
use clap::{Parser, Subcommand};
use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf, time::Duration};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not valid: {reason} (got {value:?})")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
    #[error("{name} must be set: {hint}")]
    Missing {
        name: &'static str,
        hint: &'static str,
    },
    #[error("cannot read settings file {path}: {reason}")]
    File { path: PathBuf, reason: String },
}

/// Command-line flags. Every flag can also come from the environment variable it names.
#[derive(Parser, Debug, Default)]
#[command(
    name = "hoist",
    version,
    about = "Hoist: browser uploads straight into S3-compatible storage"
)]
pub struct Cli {
    /// Settings file with a [hoist] table of defaults.
    #[arg(long, env = "HOIST_CONFIG", default_value = "Leptos.toml")]
    pub config: PathBuf,
    #[arg(long, env = "LEPTOS_SITE_ADDR")]
    pub site_addr: Option<String>,
    #[arg(long, env = "HOIST_PUBLIC_URL")]
    pub public_url: Option<String>,
    #[arg(long, env = "HOIST_DATA_DIR")]
    pub data_dir: Option<String>,
    #[arg(long, env = "HOIST_DATABASE_URL")]
    pub database_url: Option<String>,
    #[arg(long, env = "HOIST_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    #[arg(long, env = "HOIST_S3_PUBLIC_ENDPOINT")]
    pub s3_public_endpoint: Option<String>,
    #[arg(long, env = "HOIST_S3_REGION")]
    pub s3_region: Option<String>,
    #[arg(long, env = "HOIST_S3_BUCKET")]
    pub s3_bucket: Option<String>,
    #[arg(long, env = "HOIST_S3_PATH_STYLE")]
    pub s3_path_style: Option<String>,
    #[arg(long, env = "HOIST_S3_SET_CORS")]
    pub s3_set_cors: Option<String>,
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    pub access_key_id: Option<String>,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub secret_access_key: Option<String>,
    #[arg(long, env = "HOIST_MAX_FILE_SIZE")]
    pub max_file_size: Option<String>,
    #[arg(long, env = "HOIST_ALLOWED_TYPES")]
    pub allowed_types: Option<String>,
    #[arg(long, env = "HOIST_PART_SIZE")]
    pub part_size: Option<String>,
    #[arg(long, env = "HOIST_MAX_PART_SIZE")]
    pub max_part_size: Option<String>,
    #[arg(long, env = "HOIST_URL_TTL")]
    pub url_ttl: Option<String>,
    #[arg(long, env = "HOIST_UPLOAD_TTL")]
    pub upload_ttl: Option<String>,
    #[arg(long, env = "HOIST_PARALLEL_PARTS")]
    pub parallel_parts: Option<String>,
    #[arg(long, env = "HOIST_PART_CHECKSUM")]
    pub part_checksum: Option<String>,
    #[arg(long, env = "HOIST_REAPER_INTERVAL")]
    pub reaper_interval: Option<String>,
    #[arg(long, env = "HOIST_ORPHAN_SWEEP_INTERVAL")]
    pub orphan_sweep_interval: Option<String>,
    #[arg(long, env = "HOIST_S3_LIFECYCLE_RULE")]
    pub s3_lifecycle_rule: Option<String>,
    #[arg(long, env = "HOIST_S3_PREFIX")]
    pub s3_prefix: Option<String>,
    #[arg(long, env = "HOIST_MAX_UPLOAD_DURATION")]
    pub max_upload_duration: Option<String>,
    #[arg(long, env = "HOIST_SESSION_SECRET", hide_env_values = true)]
    pub session_secret: Option<String>,
    #[arg(long, env = "HOIST_HEADER_TIMEOUT")]
    pub header_timeout: Option<String>,
    #[arg(long, env = "HOIST_REQUEST_TIMEOUT")]
    pub request_timeout: Option<String>,
    #[arg(long, env = "HOIST_MAX_CONNECTIONS")]
    pub max_connections: Option<String>,
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
}

#[derive(Clone, Debug)]
pub struct S3Settings {
    pub endpoint: String,
    pub public_endpoint: String,
    pub region: String,
    pub bucket: String,
    pub path_style: bool,
    pub set_cors: bool,
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// The rules an upload must follow.
#[derive(Clone, Debug)]
pub struct UploadRules {
    pub max_file_size: u64,
    pub allowed_types: Vec<String>,
    /// Files up to this size go in one part; larger ones in parts at least this big.
    pub part_size: u64,
    /// Parts of big files grow up to this size (never below `part_size`).
    pub max_part_size: u64,
    pub url_ttl: Duration,
    pub upload_ttl: Duration,
    /// The longest an upload may take from start to finish, activity or not: the bucket's
    /// lifecycle rule aborts what is older, so the server stops extending before that.
    pub max_upload_duration: Duration,
    /// Every object key starts with this (`hoist/`): the bucket may hold other things.
    pub key_prefix: String,
    /// The checksum every part must carry, signed into its URL; `None` to send parts without.
    pub part_checksum: Option<ChecksumAlgorithm>,
}

/// Death row's schedule.
#[derive(Clone, Debug)]
pub struct ReaperSettings {
    /// How often expired uploads are looked for.
    pub interval: Duration,
    /// How often the bucket's in-progress multipart uploads are checked for orphans; `None`:
    /// never.
    pub orphan_sweep: Option<Duration>,
    /// Put an AbortIncompleteMultipartUpload lifecycle rule on the bucket at start-up.
    pub lifecycle_rule: bool,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub site_addr: SocketAddr,
    pub public_url: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub s3: S3Settings,
    pub rules: UploadRules,
    /// Part uploads a browser keeps in flight at once, across all its files.
    pub parallel_parts: u32,
    pub reaper: ReaperSettings,
    pub http: HttpSettings,
    /// Signs session cookies; `None`: the key kept in the data folder.
    pub session_secret: Option<String>,
}

/// How long and how many: what keeps slow or numerous clients from holding the server.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// A connection must send a request's headers within this.
    pub header_timeout: Duration,
    /// A request must be answered within this (the server never carries file bytes).
    pub request_timeout: Duration,
    pub max_connections: usize,
}

/// S3 refuses parts smaller than this (except the last one) when the upload is completed.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// S3's largest part.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// Browsers open at most 6 connections per host over HTTP/1.1; more than a few dozen parts in
/// flight only adds memory and contention.
pub const MAX_PARALLEL_PARTS: u32 = 32;

/// Built-in defaults, documented in `Leptos.toml`; a test keeps the two in step.
pub const DEFAULTS: &[(&str, &str)] = &[
    ("LEPTOS_SITE_ADDR", "127.0.0.1:3000"),
    ("HOIST_DATA_DIR", "./data"),
    ("HOIST_S3_ENDPOINT", "http://127.0.0.1:3900"),
    ("HOIST_S3_REGION", "us-east-1"),
    ("HOIST_S3_BUCKET", "hoist"),
    ("HOIST_S3_PATH_STYLE", "true"),
    ("HOIST_S3_SET_CORS", "true"),
    ("HOIST_MAX_FILE_SIZE", "50GiB"),
    ("HOIST_ALLOWED_TYPES", ""),
    ("HOIST_PART_SIZE", "16MiB"),
    ("HOIST_MAX_PART_SIZE", "64MiB"),
    ("HOIST_URL_TTL", "15m"),
    ("HOIST_UPLOAD_TTL", "1h"),
    ("HOIST_PARALLEL_PARTS", "6"),
    ("HOIST_PART_CHECKSUM", "crc32c"),
    ("HOIST_REAPER_INTERVAL", "60s"),
    ("HOIST_ORPHAN_SWEEP_INTERVAL", "1h"),
    ("HOIST_S3_LIFECYCLE_RULE", "true"),
    ("HOIST_S3_PREFIX", "hoist/"),
    ("HOIST_MAX_UPLOAD_DURATION", "7d"),
    ("HOIST_HEADER_TIMEOUT", "10s"),
    ("HOIST_REQUEST_TIMEOUT", "60s"),
    ("HOIST_MAX_CONNECTIONS", "4096"),
];

struct Sources<'a> {
    file: BTreeMap<String, String>,
    cli: &'a Cli,
}

impl Sources<'_> {
    fn get(&self, name: &'static str, flag: &Option<String>) -> Option<String> {
        flag.clone()
            .or_else(|| self.file.get(name).cloned())
            .or_else(|| {
                DEFAULTS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            })
            .filter(|v| !v.trim().is_empty())
            .map(|v| v.trim().to_string())
    }

    fn required(
        &self,
        name: &'static str,
        flag: &Option<String>,
        hint: &'static str,
    ) -> Result<String, ConfigError> {
        self.get(name, flag)
            .ok_or(ConfigError::Missing { name, hint })
    }

    fn parsed<T>(
        &self,
        name: &'static str,
        flag: &Option<String>,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let value = self.required(name, flag, "it has a built-in default; do not set it empty")?;
        parse(&value).map_err(|reason| ConfigError::Invalid {
            name,
            value,
            reason,
        })
    }
}

impl Config {
    pub fn load(cli: &Cli) -> Result<Self, ConfigError> {
        let src = Sources {
            file: read_settings_file(&cli.config)?,
            cli,
        };
        let c = src.cli;

        let site_addr = src.parsed("LEPTOS_SITE_ADDR", &c.site_addr, |v| {
            v.parse::<SocketAddr>().map_err(|e| e.to_string())
        })?;
        let public_url = match src.get("HOIST_PUBLIC_URL", &c.public_url) {
            Some(url) => parse_origin("HOIST_PUBLIC_URL", &url)?,
            None => format!("http://{site_addr}"),
        };
        let data_dir = PathBuf::from(src.required("HOIST_DATA_DIR", &c.data_dir, "a folder")?);
        let database_url = src
            .get("HOIST_DATABASE_URL", &c.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("hoist.db").display()));

        let endpoint = src.parsed("HOIST_S3_ENDPOINT", &c.s3_endpoint, parse_url)?;
        let public_endpoint = match src.get("HOIST_S3_PUBLIC_ENDPOINT", &c.s3_public_endpoint) {
            Some(v) => parse_url(&v).map_err(|reason| ConfigError::Invalid {
                name: "HOIST_S3_PUBLIC_ENDPOINT",
                value: v,
                reason,
            })?,
            None => endpoint.clone(),
        };
        let s3 = S3Settings {
            endpoint,
            public_endpoint,
            region: src.required("HOIST_S3_REGION", &c.s3_region, "the bucket's region")?,
            bucket: src.required("HOIST_S3_BUCKET", &c.s3_bucket, "the bucket's name")?,
            path_style: src.parsed("HOIST_S3_PATH_STYLE", &c.s3_path_style, parse_bool)?,
            set_cors: src.parsed("HOIST_S3_SET_CORS", &c.s3_set_cors, parse_bool)?,
            access_key_id: src.required(
                "AWS_ACCESS_KEY_ID",
                &c.access_key_id,
                "the S3 access key (scripts/dev.sh sets it for the local store)",
            )?,
            secret_access_key: src.required(
                "AWS_SECRET_ACCESS_KEY",
                &c.secret_access_key,
                "the S3 secret key (scripts/dev.sh sets it for the local store)",
            )?,
        };

        let part_size = src.parsed("HOIST_PART_SIZE", &c.part_size, parse_part_size)?;
        let max_part_size = src.parsed("HOIST_MAX_PART_SIZE", &c.max_part_size, parse_part_size)?;
        let rules = UploadRules {
            max_file_size: src.parsed("HOIST_MAX_FILE_SIZE", &c.max_file_size, parse_size)?,
            allowed_types: src
                .get("HOIST_ALLOWED_TYPES", &c.allowed_types)
                .map(|v| parse_type_list(&v))
                .transpose()
                .map_err(|reason| ConfigError::Invalid {
                    name: "HOIST_ALLOWED_TYPES",
                    value: c.allowed_types.clone().unwrap_or_default(),
                    reason,
                })?
                .unwrap_or_default(),
            part_size,
            max_part_size: max_part_size.max(part_size),
            url_ttl: src.parsed("HOIST_URL_TTL", &c.url_ttl, parse_duration)?,
            upload_ttl: src.parsed("HOIST_UPLOAD_TTL", &c.upload_ttl, parse_duration)?,
            max_upload_duration: src.parsed(
                "HOIST_MAX_UPLOAD_DURATION",
                &c.max_upload_duration,
                parse_duration,
            )?,
            key_prefix: src.parsed("HOIST_S3_PREFIX", &c.s3_prefix, parse_prefix)?,
            part_checksum: src.parsed("HOIST_PART_CHECKSUM", &c.part_checksum, |v| {
                match v.to_ascii_lowercase().as_str() {
                    "off" | "none" | "false" => Ok(None),
                    other => ChecksumAlgorithm::parse(other)
                        .map(Some)
                        .ok_or_else(|| "expected crc32c, sha256 or off".to_string()),
                }
            })?,
        };
        let reaper = ReaperSettings {
            interval: src.parsed("HOIST_REAPER_INTERVAL", &c.reaper_interval, parse_duration)?,
            orphan_sweep: src.parsed(
                "HOIST_ORPHAN_SWEEP_INTERVAL",
                &c.orphan_sweep_interval,
                |v| match v.to_ascii_lowercase().as_str() {
                    "off" | "never" | "false" => Ok(None),
                    _ => parse_duration(v).map(Some),
                },
            )?,
            lifecycle_rule: src.parsed(
                "HOIST_S3_LIFECYCLE_RULE",
                &c.s3_lifecycle_rule,
                parse_bool,
            )?,
        };

        // A URL that outlives its upload would be signed for something the reaper may already
        // have deleted; an upload that may outlive the lifecycle rule would be cut off by it.
        if rules.url_ttl >= rules.upload_ttl {
            return Err(ConfigError::Invalid {
                name: "HOIST_URL_TTL",
                value: format!("{:?}", rules.url_ttl),
                reason: format!(
                    "must be shorter than HOIST_UPLOAD_TTL ({:?})",
                    rules.upload_ttl
                ),
            });
        }
        if rules.max_upload_duration < rules.upload_ttl {
            return Err(ConfigError::Invalid {
                name: "HOIST_MAX_UPLOAD_DURATION",
                value: format!("{:?}", rules.max_upload_duration),
                reason: format!("must be at least HOIST_UPLOAD_TTL ({:?})", rules.upload_ttl),
            });
        }
        let http = HttpSettings {
            header_timeout: src.parsed(
                "HOIST_HEADER_TIMEOUT",
                &c.header_timeout,
                parse_duration,
            )?,
            request_timeout: src.parsed(
                "HOIST_REQUEST_TIMEOUT",
                &c.request_timeout,
                parse_duration,
            )?,
            max_connections: src.parsed("HOIST_MAX_CONNECTIONS", &c.max_connections, |v| {
                v.parse::<usize>()
                    .ok()
                    .filter(|n| *n >= 16)
                    .ok_or_else(|| "expected a whole number of at least 16".to_string())
            })?,
        };
        let session_secret = src.get("HOIST_SESSION_SECRET", &c.session_secret);
        if let Some(secret) = &session_secret {
            if secret.len() < super::session::MIN_SECRET_BYTES {
                return Err(ConfigError::Invalid {
                    name: "HOIST_SESSION_SECRET",
                    value: "(hidden)".into(),
                    reason: format!(
                        "must be at least {} characters; leave it unset to use a generated one",
                        super::session::MIN_SECRET_BYTES
                    ),
                });
            }
        }

        let parallel_parts = src.parsed("HOIST_PARALLEL_PARTS", &c.parallel_parts, |v| {
            v.parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_PARALLEL_PARTS).contains(n))
                .ok_or_else(|| format!("expected a whole number from 1 to {MAX_PARALLEL_PARTS}"))
        })?;

        Ok(Self {
            site_addr,
            public_url,
            data_dir,
            database_url,
            s3,
            rules,
            parallel_parts,
            reaper,
            http,
            session_secret,
        })
    }
}

/// Reads the `[hoist]` table. A missing file is fine (the built-in defaults apply): the binary
/// may run far from the source tree.
fn read_settings_file(path: &PathBuf) -> Result<BTreeMap<String, String>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => {
            return Err(ConfigError::File {
                path: path.clone(),
                reason: e.to_string(),
            })
        }
    };
    parse_settings_table(&text).map_err(|reason| ConfigError::File {
        path: path.clone(),
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

/// `16 MiB` → (16, "MiB"): leading digits, then an optional unit.
fn number_and_unit<'a>(text: &'a str, expected: &str) -> Result<(u64, &'a str), String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number = digits.parse().map_err(|_| expected.to_string())?;
    Ok((number, unit.trim()))
}

/// `1048576`, `16MiB`, `5 GB`, `50GiB`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let (number, unit) = number_and_unit(text, "expected a number of bytes such as 16MiB")?;
    let factor: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "tib" | "t" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        other => {
            return Err(format!(
                "unknown unit {other:?}; use B, KiB, MiB, GiB or TiB"
            ))
        }
    };
    number
        .checked_mul(factor)
        .filter(|n| *n > 0)
        .ok_or_else(|| "must be more than 0 and less than 16EiB".to_string())
}

fn parse_part_size(text: &str) -> Result<u64, String> {
    parse_size(text).and_then(|n| {
        if (MIN_PART_SIZE..=MAX_PART_SIZE).contains(&n) {
            Ok(n)
        } else {
            Err("S3 accepts parts from 5MiB to 5GiB".into())
        }
    })
}

/// `90` (seconds), `90s`, `15m`, `1h`, `2d`, `500ms`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = number_and_unit(text, "expected a duration such as 90s, 15m or 1h")?;
    let seconds = |factor: u64| {
        number
            .checked_mul(factor)
            .map(Duration::from_secs)
            .ok_or_else(|| "is too long".to_string())
    };
    let duration = match unit {
        "ms" => Duration::from_millis(number),
        "" | "s" => Duration::from_secs(number),
        "m" => seconds(60)?,
        "h" => seconds(3600)?,
        "d" => seconds(86_400)?,
        other => return Err(format!("unknown unit {other:?}; use ms, s, m, h or d")),
    };
    if duration.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(duration)
}

fn parse_bool(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

fn parse_url(text: &str) -> Result<String, String> {
    let trimmed = text.trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"))
        .ok_or("expected a URL starting with http:// or https://")?;
    if rest.is_empty() {
        return Err("the URL has no host".into());
    }
    Ok(trimmed.to_string())
}

/// An origin as browsers send it in the `Origin` header: scheme, host and port, no path.
fn parse_origin(name: &'static str, text: &str) -> Result<String, ConfigError> {
    let url = parse_url(text).map_err(|reason| ConfigError::Invalid {
        name,
        value: text.into(),
        reason,
    })?;
    let after_scheme = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    if after_scheme.contains('/') {
        return Err(ConfigError::Invalid {
            name,
            value: text.into(),
            reason: "expected an origin such as https://uploads.example.com, without a path".into(),
        });
    }
    Ok(url)
}

/// `hoist/`: letters, digits and `-_./`, ending in `/`, or empty for the bucket's root.
fn parse_prefix(text: &str) -> Result<String, String> {
    let ok = text.len() <= 64
        && !text.starts_with('/')
        && text.ends_with('/')
        && text
            .split('/')
            .all(|segment| segment != "." && segment != "..")
        && !text.contains("//")
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
    if ok || text == "/" {
        Ok(text.trim_start_matches('/').to_string())
    } else {
        Err("expected a key prefix such as hoist/ (letters, digits, -_. and /, ending in /)".into())
    }
}

/// `image/*, video/mp4, application/pdf`. An empty list allows every type.
fn parse_type_list(text: &str) -> Result<Vec<String>, String> {
    text.split(',')
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .map(|t| match t.split_once('/') {
            Some((a, b)) if !a.is_empty() && !b.is_empty() && a != "*" => Ok(t),
            _ => Err(format!(
                "{t:?} is not a media type such as image/png or image/*"
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("50 GiB"), Ok(50 << 30));
        assert_eq!(parse_size("5MB"), Ok(5_000_000));
        assert!(parse_size("0").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        const SIZE_UNITS: [(&str, u64); 6] = [
            ("", 1),
            ("KiB", 1 << 10),
            ("MiB", 1 << 20),
            ("GiB", 1 << 30),
            ("TiB", 1 << 40),
            ("MB", 1_000_000),
        ];
        const DURATION_UNITS: [(&str, u64); 4] = [("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)];

        proptest! {
            #[test]
            fn sizes_are_exact_or_refused(n in any::<u64>(), unit in 0..SIZE_UNITS.len(), space in any::<bool>()) {
                let (name, factor) = SIZE_UNITS[unit];
                let text = format!("{n}{}{name}", if space { " " } else { "" });
                match n.checked_mul(factor).filter(|b| *b > 0) {
                    Some(bytes) => prop_assert_eq!(parse_size(&text), Ok(bytes)),
                    None => prop_assert!(parse_size(&text).is_err()),
                }
            }

            #[test]
            fn durations_are_exact_or_refused(n in any::<u64>(), unit in 0..DURATION_UNITS.len()) {
                let (name, factor) = DURATION_UNITS[unit];
                let text = format!("{n}{name}");
                match n.checked_mul(factor).filter(|s| *s > 0) {
                    Some(secs) => prop_assert_eq!(parse_duration(&text), Ok(Duration::from_secs(secs))),
                    None => prop_assert!(parse_duration(&text).is_err()),
                }
            }

            #[test]
            fn no_text_makes_the_parsers_panic(text in any::<String>()) {
                let _ = parse_size(&text);
                let _ = parse_duration(&text);
                let _ = parse_prefix(&text);
            }
        }
    }

    #[test]
    fn urls_must_die_before_their_uploads() {
        let cli = Cli {
            config: PathBuf::from("/nonexistent/Leptos.toml"),
            access_key_id: Some("k".into()),
            secret_access_key: Some("s".into()),
            url_ttl: Some("2h".into()),
            ..Cli::default()
        };
        let err = Config::load(&cli).unwrap_err().to_string();
        assert!(
            err.contains("HOIST_URL_TTL") && err.contains("HOIST_UPLOAD_TTL"),
            "{err}"
        );
    }

    #[test]
    fn prefixes_are_plain_folders() {
        assert_eq!(parse_prefix("hoist/"), Ok("hoist/".into()));
        assert_eq!(parse_prefix("a/b-c_1/"), Ok("a/b-c_1/".into()));
        assert_eq!(parse_prefix("/"), Ok(String::new()));
        for bad in ["hoist", "/hoist/", "a//b/", "ü/", "../"] {
            assert!(parse_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn leptos_toml_documents_the_built_in_defaults() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Leptos.toml")).unwrap();
        let table = parse_settings_table(&text).unwrap();
        for (name, default) in DEFAULTS {
            assert_eq!(
                table.get(*name).map(String::as_str),
                Some(*default),
                "Leptos.toml entry for {name}"
            );
        }
    }

    #[test]
    fn a_bad_setting_is_named_in_the_error() {
        let cli = Cli {
            config: PathBuf::from("/nonexistent/Leptos.toml"),
            access_key_id: Some("k".into()),
            secret_access_key: Some("s".into()),
            max_file_size: Some("huge".into()),
            ..Cli::default()
        };
        let err = Config::load(&cli).unwrap_err().to_string();
        assert!(err.contains("HOIST_MAX_FILE_SIZE"), "{err}");
    }

    #[test]
    fn missing_credentials_are_named() {
        let cli = Cli {
            config: PathBuf::from("/nonexistent/Leptos.toml"),
            ..Cli::default()
        };
        let err = Config::load(&cli).unwrap_err().to_string();
        assert!(err.contains("AWS_ACCESS_KEY_ID"), "{err}");
    }

    #[test]
    fn allowed_types_accept_wildcards_and_reject_nonsense() {
        assert_eq!(
            parse_type_list(" image/*, Video/MP4 ").unwrap(),
            vec!["image/*", "video/mp4"]
        );
        assert!(parse_type_list("png").is_err());
        assert_eq!(parse_type_list("").unwrap(), Vec::<String>::new());
    }
}
