//! The rules an upload must follow, as settings: each names its environment variable and
//! built-in default once, here (`Leptos.toml` documents them; a test keeps the two in step).

use crate::{
    checksum::ChecksumAlgorithm,
    parse,
    storage::{MAX_PART_SIZE, MIN_PART_SIZE},
};
use std::time::Duration;

/// Browsers open at most 6 connections per host over HTTP/1.1; more than a few dozen parts in
/// flight only adds memory and contention.
pub const MAX_PARALLEL_PARTS: u32 = 32;

#[derive(clap::Args, Clone, Debug)]
pub struct UploadRules {
    #[arg(long, env = "HOIST_MAX_FILE_SIZE", default_value = "50GiB", value_parser = parse::size)]
    pub max_file_size: u64,
    /// Media types, wildcards allowed (`image/*, video/mp4`); empty allows every type.
    #[arg(long, env = "HOIST_ALLOWED_TYPES", default_value = "", value_parser = type_list)]
    pub allowed_types: ::std::vec::Vec<String>,
    /// Files up to this size go in one part; larger ones in parts at least this big.
    #[arg(long, env = "HOIST_PART_SIZE", default_value = "16MiB", value_parser = part_size)]
    pub part_size: u64,
    /// Parts of big files grow up to this size (never below `part_size`).
    #[arg(long, env = "HOIST_MAX_PART_SIZE", default_value = "64MiB", value_parser = part_size)]
    pub max_part_size: u64,
    /// How long a presigned URL stays valid.
    #[arg(long, env = "HOIST_URL_TTL", default_value = "15m", value_parser = parse::duration)]
    pub url_ttl: Duration,
    /// An unfinished upload expires this long after it was last heard of.
    #[arg(long, env = "HOIST_UPLOAD_TTL", default_value = "1h", value_parser = parse::duration)]
    pub upload_ttl: Duration,
    /// The longest an upload may take from start to finish, activity or not: the bucket's
    /// lifecycle rule aborts what is older, so the server stops extending before that.
    #[arg(long, env = "HOIST_MAX_UPLOAD_DURATION", default_value = "7d", value_parser = parse::duration)]
    pub max_upload_duration: Duration,
    /// Every object key starts with this (`hoist/`): the bucket may hold other things.
    #[arg(long = "s3-prefix", env = "HOIST_S3_PREFIX", default_value = "hoist/", value_parser = key_prefix)]
    pub key_prefix: String,
    /// The checksum every part must carry, signed into its URL; `None` to send parts without.
    #[arg(long, env = "HOIST_PART_CHECKSUM", default_value = "crc32c", value_parser = checksum)]
    pub part_checksum: ::std::option::Option<ChecksumAlgorithm>,
    /// Part uploads a browser keeps in flight at once, across all its files.
    #[arg(long, env = "HOIST_PARALLEL_PARTS", default_value = "6", value_parser = parse::number_in(1..=MAX_PARALLEL_PARTS))]
    pub parallel_parts: u32,
    /// A browser reads the SHA-256 of files up to this size before sending them, so content
    /// the account holds already is not sent again (`0`: never). Past it, reading first
    /// would cost more than it could save (docs/benchmarks.md).
    #[arg(long, env = "HOIST_BROWSER_HASH_MAX", default_value = "64MiB", value_parser = parse::size_or_zero)]
    pub browser_hash_max: u64,
}

/// Rules that hold between settings, which no one setting's parser can see.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RulesError {
    /// A URL that outlives its upload would be signed for something the reaper may already
    /// have deleted.
    #[error("HOIST_URL_TTL ({url_ttl:?}) must be shorter than HOIST_UPLOAD_TTL ({upload_ttl:?})")]
    UrlOutlivesUpload {
        url_ttl: Duration,
        upload_ttl: Duration,
    },
    /// An upload that may outlive the lifecycle rule would be cut off by it.
    #[error(
        "HOIST_MAX_UPLOAD_DURATION ({max:?}) must be at least HOIST_UPLOAD_TTL ({upload_ttl:?})"
    )]
    DurationBelowTtl { max: Duration, upload_ttl: Duration },
}

impl UploadRules {
    /// Checks the rules between settings, and lets big parts never be smaller than small ones.
    pub fn checked(mut self) -> Result<Self, RulesError> {
        if self.url_ttl >= self.upload_ttl {
            return Err(RulesError::UrlOutlivesUpload {
                url_ttl: self.url_ttl,
                upload_ttl: self.upload_ttl,
            });
        }
        if self.max_upload_duration < self.upload_ttl {
            return Err(RulesError::DurationBelowTtl {
                max: self.max_upload_duration,
                upload_ttl: self.upload_ttl,
            });
        }
        self.max_part_size = self.max_part_size.max(self.part_size);
        Ok(self)
    }
}

fn part_size(text: &str) -> Result<u64, String> {
    parse::size(text).and_then(|n| {
        if (MIN_PART_SIZE..=MAX_PART_SIZE).contains(&n) {
            Ok(n)
        } else {
            Err("S3 accepts parts from 5MiB to 5GiB".into())
        }
    })
}

fn checksum(text: &str) -> Result<Option<ChecksumAlgorithm>, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "off" | "none" | "false" => Ok(None),
        other => ChecksumAlgorithm::parse(other)
            .map(Some)
            .ok_or_else(|| "expected crc32c, sha256 or off".to_string()),
    }
}

/// `hoist/`: letters, digits and `-_./`, ending in `/`, or `/` for the bucket's root.
fn key_prefix(text: &str) -> Result<String, String> {
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
fn type_list(text: &str) -> Result<Vec<String>, String> {
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
    use proptest::prelude::*;

    #[test]
    fn prefixes_are_plain_folders() {
        assert_eq!(key_prefix("hoist/"), Ok("hoist/".into()));
        assert_eq!(key_prefix("a/b-c_1/"), Ok("a/b-c_1/".into()));
        assert_eq!(key_prefix("/"), Ok(String::new()));
        for bad in ["hoist", "/hoist/", "a//b/", "ü/", "../"] {
            assert!(key_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn allowed_types_accept_wildcards_and_reject_nonsense() {
        assert_eq!(
            type_list(" image/*, Video/MP4 ").unwrap(),
            vec!["image/*", "video/mp4"]
        );
        assert!(type_list("png").is_err());
        assert_eq!(type_list("").unwrap(), Vec::<String>::new());
    }

    proptest! {
        #[test]
        fn no_text_makes_the_parsers_panic(text in any::<String>()) {
            let _ = key_prefix(&text);
            let _ = type_list(&text);
            let _ = checksum(&text);
        }
    }
}
