//! Malware scanning: the object streamed from the store to ClamAV's `clamd` with `INSTREAM`,
//! one ranged GET at a time, never whole in memory. clamd parses the bytes in its own process;
//! this one only passes them on, so the job runs in the worker, like hashing.
//!
//! The protocol is a dozen lines and written here rather than taken from `clamav-client`:
//! when a stream passes clamd's `StreamMaxLength`, clamd answers and closes the connection,
//! and a client must still read that answer after its write failed, or "too large" looks
//! like "scanner down".

use super::{Finished, JobError};
use crate::{
    db::jobs::Findings,
    model::{Scan, ScanMode},
    parse,
    storage::{s3::S3Store, StorageError},
};
use std::{path::PathBuf, time::Duration};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// One ranged GET per this many bytes: a dropped connection costs at most one range again.
const RANGE: u64 = 16 << 20;
/// clamd takes chunks of any size up to its limit; small ones keep its buffer small too.
const CHUNK: usize = 1 << 20;
/// clamd's answer is one short line; a longer one is not clamd.
const MAX_ANSWER: u64 = 4 << 10;
/// Connecting to a live clamd takes a millisecond; one that does not answer in this is down.
const CONNECT: Duration = Duration::from_secs(10);

#[derive(clap::Args, Clone, Debug)]
pub struct ScanSettings {
    /// Whether verified files are scanned for malware by ClamAV: `off`, `best-effort` (a file
    /// the scanner could not scan is treated as any other) or `required` (only a clean file
    /// may be shared, downloaded by others or stored once with its twin).
    #[arg(
        id = "scan",
        long = "scan",
        env = "HOIST_SCAN",
        default_value = "off",
        value_enum
    )]
    pub mode: ScanMode,
    /// The scanner's address: `tcp://host:port`, or the path of its socket (Debian's
    /// `clamav-daemon` listens on the default).
    #[arg(id = "clamd", long = "clamd", env = "HOIST_CLAMD", default_value = "/var/run/clamav/clamd.ctl", value_parser = Clamd::parse)]
    pub clamd: Clamd,
    /// Files larger than this are not sent to the scanner and show "not scanned". clamd's own
    /// `StreamMaxLength` and `MaxFileSize` must be at least this (with `AlertExceedsMax yes`,
    /// clamd reports what it skipped instead of calling it clean).
    #[arg(id = "scan-max-size", long = "scan-max-size", env = "HOIST_SCAN_MAX_SIZE", default_value = "100MiB", value_parser = parse::size)]
    pub max_size: u64,
    /// One scan's time, the transfer from the store included; past it the file shows "not
    /// scanned".
    #[arg(id = "scan-time-limit", long = "scan-time-limit", env = "HOIST_SCAN_TIME_LIMIT", default_value = "10m", value_parser = parse::duration)]
    pub time_limit: Duration,
}

/// Where clamd listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Clamd {
    Tcp(String),
    Socket(PathBuf),
}

impl Clamd {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some(address) = text.strip_prefix("tcp://") {
            match address.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                    Ok(Self::Tcp(address.to_string()))
                }
                _ => Err("a TCP address is tcp://host:port".into()),
            }
        } else if let Some(path) = text.strip_prefix("unix://") {
            Ok(Self::Socket(path.into()))
        } else if text.starts_with('/') {
            Ok(Self::Socket(text.into()))
        } else {
            Err("must be tcp://host:port or the absolute path of clamd's socket".into())
        }
    }
}

/// What clamd said of a stream.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Clean,
    Found(String),
    /// The stream passed `StreamMaxLength`.
    TooLong,
    Error(String),
}

fn answer(said: &[u8]) -> Answer {
    let said = String::from_utf8_lossy(said);
    let said = said.trim_end_matches(['\0', '\n']).trim();
    let said = said.strip_prefix("stream:").unwrap_or(said).trim();
    if said == "OK" {
        Answer::Clean
    } else if let Some(signature) = said.strip_suffix(" FOUND") {
        Answer::Found(signature.trim().to_string())
    } else if said.contains("size limit exceeded") {
        Answer::TooLong
    } else {
        Answer::Error(said.chars().take(200).collect())
    }
}

pub async fn run(
    store: &S3Store,
    key: &str,
    size: u64,
    settings: &ScanSettings,
) -> Result<Finished, JobError> {
    let found = |scan: Scan, detail: String| {
        Ok(Finished::Found(Findings {
            scan: Some((scan, Some(detail))),
            ..Findings::default()
        }))
    };
    if size > settings.max_size {
        return found(
            Scan::Unscanned,
            format!(
                "larger than the scanner's limit of {}",
                crate::format::bytes_short(settings.max_size)
            ),
        );
    }
    let scanned =
        tokio::time::timeout(settings.time_limit, scan(store, key, size, &settings.clamd));
    let verdict = match scanned.await {
        Ok(answer) => answer?,
        Err(_) => {
            return found(
                Scan::Unscanned,
                format!(
                    "the scan took longer than {}",
                    humantime::format_duration(settings.time_limit)
                ),
            )
        }
    };
    match verdict {
        Answer::Clean => Ok(Finished::Found(Findings {
            scan: Some((Scan::Clean, None)),
            ..Findings::default()
        })),
        // clamd's own limits (with AlertExceedsMax): it did not read all of the file.
        Answer::Found(signature) if signature.starts_with("Heuristics.Limits.Exceeded") => found(
            Scan::Unscanned,
            format!("beyond the scanner's limits ({signature})"),
        ),
        Answer::Found(signature) => found(Scan::Infected, signature),
        Answer::TooLong => found(
            Scan::Unscanned,
            "larger than the scanner's StreamMaxLength".into(),
        ),
        Answer::Error(why) => Err(JobError::Scanner(format!("clamd answered {why:?}"))),
    }
}

async fn scan(store: &S3Store, key: &str, size: u64, clamd: &Clamd) -> Result<Answer, JobError> {
    let down = |e: std::io::Error| JobError::Scanner(e.to_string());
    match clamd {
        Clamd::Tcp(address) => {
            let connect = tokio::net::TcpStream::connect(address.as_str());
            let stream = tokio::time::timeout(CONNECT, connect)
                .await
                .map_err(|_| JobError::Scanner(format!("no answer from {address}")))?
                .map_err(down)?;
            stream.set_nodelay(true).map_err(down)?;
            send(stream, store, key, size).await
        }
        Clamd::Socket(path) => {
            let connect = tokio::net::UnixStream::connect(path);
            let stream = tokio::time::timeout(CONNECT, connect)
                .await
                .map_err(|_| JobError::Scanner(format!("no answer from {}", path.display())))?
                .map_err(|e| JobError::Scanner(format!("{}: {e}", path.display())))?;
            send(stream, store, key, size).await
        }
    }
}

/// Streams the object to clamd and reads its answer. A write that fails may mean clamd has
/// stopped reading because of a limit: its answer is read all the same.
async fn send<S: AsyncRead + AsyncWrite + Unpin>(
    mut clamd: S,
    store: &S3Store,
    key: &str,
    size: u64,
) -> Result<Answer, JobError> {
    let sent = match stream_object(&mut clamd, store, key, size).await {
        // The store failed: what clamd would say of half a file means nothing, and clamd,
        // waiting for the rest, would answer only at its own read timeout.
        Err(Sent::Store(e)) => return Err(e),
        Err(Sent::Clamd(e)) => Err(e),
        Ok(()) => Ok(()),
    };
    let mut said = Vec::new();
    let read = (&mut clamd).take(MAX_ANSWER).read_to_end(&mut said).await;
    match (sent, read) {
        (_, Ok(_)) if !said.is_empty() => Ok(answer(&said)),
        (Err(e), _) => Err(JobError::Scanner(e.to_string())),
        (Ok(()), Err(e)) => Err(JobError::Scanner(e.to_string())),
        (Ok(()), Ok(_)) => Err(JobError::Scanner("clamd closed without an answer".into())),
    }
}

enum Sent {
    Store(JobError),
    Clamd(std::io::Error),
}

async fn stream_object<S: AsyncWrite + Unpin>(
    clamd: &mut S,
    store: &S3Store,
    key: &str,
    size: u64,
) -> Result<(), Sent> {
    clamd.write_all(b"zINSTREAM\0").await.map_err(Sent::Clamd)?;
    let mut at = 0;
    while at < size {
        let len = RANGE.min(size - at);
        let mut body = store
            .read_range(key, at, len)
            .await
            .map_err(|e| Sent::Store(e.into()))?
            .ok_or_else(|| {
                Sent::Store(StorageError::Refused(format!("no object at {key}")).into())
            })?;
        let mut got = 0;
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| Sent::Store(StorageError::Unreachable(e.to_string()).into()))?
        {
            got += chunk.len() as u64;
            for piece in chunk.chunks(CHUNK) {
                let length = u32::try_from(piece.len()).unwrap_or(u32::MAX).to_be_bytes();
                clamd.write_all(&length).await.map_err(Sent::Clamd)?;
                clamd.write_all(piece).await.map_err(Sent::Clamd)?;
            }
        }
        if got != len {
            let short = StorageError::Unreachable(format!(
                "the store sent {got} of {len} bytes from offset {at}"
            ));
            return Err(Sent::Store(short.into()));
        }
        at += len;
    }
    clamd
        .write_all(&0u32.to_be_bytes())
        .await
        .map_err(Sent::Clamd)?;
    clamd.flush().await.map_err(Sent::Clamd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamd_answers_are_read_into_verdicts() {
        assert_eq!(answer(b"stream: OK\0"), Answer::Clean);
        assert_eq!(
            answer(b"stream: Hoist.Test.EICAR.UNOFFICIAL FOUND\0"),
            Answer::Found("Hoist.Test.EICAR.UNOFFICIAL".into())
        );
        assert_eq!(
            answer(b"INSTREAM size limit exceeded. ERROR\0"),
            Answer::TooLong
        );
        assert!(matches!(answer(b"UNKNOWN COMMAND\0"), Answer::Error(_)));
    }

    #[test]
    fn the_scanner_address_is_tcp_or_a_socket_path() {
        assert_eq!(
            Clamd::parse("tcp://127.0.0.1:3310"),
            Ok(Clamd::Tcp("127.0.0.1:3310".into()))
        );
        assert_eq!(
            Clamd::parse("/run/clamav/clamd.ctl"),
            Ok(Clamd::Socket("/run/clamav/clamd.ctl".into()))
        );
        for bad in [
            "tcp://host",
            "tcp://:3310",
            "clamd:3310",
            "relative/path",
            "",
        ] {
            assert!(Clamd::parse(bad).is_err(), "{bad}");
        }
    }
}
