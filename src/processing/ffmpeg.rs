//! What every ffmpeg and ffprobe Hoist starts shares: the demuxer and protocols it is allowed,
//! the limits it runs under, and how its words become a job's failure. ffmpeg parses whatever a
//! stranger uploaded, so it is never left to guess a format, open another input, keep the
//! server's environment or take more than its share of memory, CPU time or disk.

use super::JobError;
use tokio::{
    io::{AsyncRead, AsyncReadExt},
    process::Command,
};

/// The end of ffmpeg's error output kept for the reason (its last line says why).
const STDERR_TAIL: usize = 4 << 10;

/// The demuxer for a verified media type: ffmpeg is never left to guess from the bytes.
pub fn demuxer(content_type: &str) -> Option<&'static str> {
    Some(match content_type {
        "video/mp4" | "video/quicktime" | "video/x-m4v" | "video/3gpp" | "video/3gpp2" => "mov",
        "video/webm" | "video/x-matroska" | "video/matroska" => "matroska",
        "video/x-msvideo" | "video/avi" => "avi",
        "video/mpeg" => "mpeg",
        "video/mp2t" => "mpegts",
        "video/ogg" => "ogg",
        "video/x-flv" => "flv",
        "video/x-ms-wmv" | "video/x-ms-asf" => "asf",
        _ => return None,
    })
}

/// The protocols ffmpeg may open for `url`: exactly its scheme's stack.
pub fn protocols(url: &str) -> Option<&'static str> {
    if url.starts_with("https://") {
        Some("https,tls,tcp")
    } else if url.starts_with("http://") {
        Some("http,tcp")
    } else {
        None
    }
}

/// ffmpeg says why it failed only in words: trouble reaching the store is worth another try,
/// anything else (a damaged or unsupported video) would fail the same way again.
pub fn judge(why: String) -> JobError {
    const TRANSIENT: [&str; 5] = [
        "Connection refused",
        "Connection reset",
        "timed out",
        "Server returned 5",
        "I/O error",
    ];
    if TRANSIENT.iter().any(|t| why.contains(t)) {
        JobError::Tool(why)
    } else {
        JobError::Unreadable {
            what: "the video",
            why: format!("ffmpeg: {why}"),
        }
    }
}

/// The failure of an ffmpeg or ffprobe that ended with `status`, from the last line of what it
/// said on stderr (`said`), with the presigned `url` (its signature) taken out.
pub fn failed(said: &[u8], status: std::process::ExitStatus, url: &str) -> JobError {
    let said = String::from_utf8_lossy(said);
    let last = said.lines().last().unwrap_or("").replace(url, "<object>");
    judge(format!("{} ({status})", last.trim()))
}

/// Runs `command` (an ffmpeg or ffprobe) with an empty environment but `PATH`, and under
/// rlimits: its address space (`memory`), CPU seconds, the size of any file it writes
/// (`file_bytes`; 0: none) and no core dumps.
pub fn limit(command: &mut Command, memory: u64, cpu_seconds: u64, file_bytes: u64) {
    // The server's environment holds the store's and the database's credentials.
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .kill_on_drop(true);
    let limits = [
        (libc::RLIMIT_AS, memory, memory),
        (libc::RLIMIT_CPU, cpu_seconds, cpu_seconds.saturating_add(1)),
        (libc::RLIMIT_FSIZE, file_bytes, file_bytes),
        (libc::RLIMIT_CORE, 0, 0),
    ];
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe calls are sound: it calls getrlimit and setrlimit (both are) on
    // numbers computed before the fork, allocating nothing.
    unsafe {
        command.pre_exec(move || {
            for (resource, soft, hard) in limits {
                // Never above what this process may have (the decoding child runs under
                // limits of its own): asking for more would fail the spawn.
                let mut current = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                if libc::getrlimit(resource, &mut current) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let hard = (hard as libc::rlim_t).min(current.rlim_max);
                let limit = libc::rlimit {
                    rlim_cur: (soft as libc::rlim_t).min(hard),
                    rlim_max: hard,
                };
                if libc::setrlimit(resource, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// The last [`STDERR_TAIL`] bytes of `from`, read to its end.
pub async fn tail(mut from: impl AsyncRead + Unpin) -> Vec<u8> {
    let mut kept = Vec::with_capacity(2 * STDERR_TAIL);
    let mut chunk = [0u8; 4096];
    while let Ok(n) = from.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&chunk[..n]);
        if kept.len() > 2 * STDERR_TAIL {
            kept.drain(..kept.len() - STDERR_TAIL);
        }
    }
    if kept.len() > STDERR_TAIL {
        kept.drain(..kept.len() - STDERR_TAIL);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demuxer_and_protocols_come_from_what_was_verified() {
        assert_eq!(demuxer("video/mp4"), Some("mov"));
        assert_eq!(demuxer("video/quicktime"), Some("mov"));
        assert_eq!(demuxer("video/webm"), Some("matroska"));
        assert_eq!(demuxer("application/vnd.apple.mpegurl"), None);
        assert_eq!(
            protocols("https://s3.example/k?X-Amz-Signature=1"),
            Some("https,tls,tcp")
        );
        assert_eq!(protocols("http://127.0.0.1:3900/k"), Some("http,tcp"));
        assert_eq!(protocols("file:///etc/passwd"), None);
    }
}
