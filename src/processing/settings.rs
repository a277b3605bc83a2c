//! The processing queue's settings (environment variable and default named once, here).

use crate::parse;
use std::time::Duration;

#[derive(clap::Args, Clone, Debug)]
pub struct ProcessingSettings {
    /// Jobs run at once by the web server itself; 0 leaves them to `hoist worker`.
    #[arg(long = "workers", env = "HOIST_WORKERS", default_value = "2", value_parser = parse::number_in(0..=64usize))]
    pub workers: usize,
    /// Times a job is tried before its file shows `failed`.
    #[arg(long = "job-attempts", env = "HOIST_JOB_ATTEMPTS", default_value = "5", value_parser = parse::number_in(1..=100u32))]
    pub attempts: u32,
    /// A running job is its worker's for this long, renewed while the worker lives; a worker
    /// that dies lets it lapse and another takes the job over.
    #[arg(long = "job-lease", env = "HOIST_JOB_LEASE", default_value = "30s", value_parser = parse::duration)]
    pub lease: Duration,
    /// A newly queued job waits at most this long while its owner still has uploads on their
    /// way, so that processing does not slow the files still being sent; 0 runs it at once.
    #[arg(long = "job-yield", env = "HOIST_JOB_YIELD", default_value = "30s", value_parser = job_yield)]
    pub yield_to_uploads: Duration,
    /// The wait before a failed job's first retry; it doubles with each further one.
    #[arg(long = "job-backoff", env = "HOIST_JOB_BACKOFF", default_value = "5s", value_parser = parse::duration)]
    pub backoff: Duration,
    /// Images with more pixels than this on a side are not decoded (a decompression bomb
    /// fails cleanly instead of taking the worker's memory).
    #[arg(long = "thumbnail-max-side", env = "HOIST_THUMBNAIL_MAX_SIDE", default_value = "12000", value_parser = parse::number_in(16..=65_535u32))]
    pub max_image_side: u32,
    /// The ffmpeg that makes video posters; without one that job is skipped.
    #[arg(long = "ffmpeg", env = "HOIST_FFMPEG", default_value = "ffmpeg")]
    pub ffmpeg: String,
    /// Threads each ffmpeg decodes with: a poster is one frame, and a crafted video must not
    /// take every core.
    #[arg(long = "ffmpeg-threads", env = "HOIST_FFMPEG_THREADS", default_value = "1", value_parser = parse::number_in(1..=16u32))]
    pub ffmpeg_threads: u32,
    /// ffmpeg's time for one poster; past it ffmpeg is killed and the job fails for good
    /// (trying again would take as long).
    #[arg(long = "ffmpeg-time-limit", env = "HOIST_FFMPEG_TIME_LIMIT", default_value = "60s", value_parser = parse::duration)]
    pub ffmpeg_time_limit: Duration,
    /// The address space an ffmpeg may map (RLIMIT_AS): a crafted video that asks for more
    /// fails inside ffmpeg instead of taking the machine's memory.
    #[arg(long = "ffmpeg-memory", env = "HOIST_FFMPEG_MEMORY", default_value = "1GiB", value_parser = parse::size)]
    pub ffmpeg_memory: u64,
    /// Where files are decoded: `child` (a process of its own per job, with limits and no
    /// credentials) or `inline` (in this process: for debugging only, as a file that crashes
    /// or exhausts a decoder then takes the server with it).
    #[arg(
        long = "process-isolation",
        env = "HOIST_PROCESS_ISOLATION",
        default_value = "child",
        value_enum
    )]
    pub isolation: Isolation,
    /// The address space a decoding child may use; past it the job fails.
    #[arg(long = "decode-memory", env = "HOIST_DECODE_MEMORY", default_value = "1GiB", value_parser = decode_memory)]
    pub decode_memory: u64,
    /// A decoding child that has not answered after this long is killed and its job fails
    /// for good (a file that makes a decoder hang would hang it again).
    #[arg(long = "job-deadline", env = "HOIST_JOB_DEADLINE", default_value = "5m", value_parser = parse::duration)]
    pub deadline: Duration,
    #[command(flatten)]
    pub scanning: super::ScanSettings,
    #[command(flatten)]
    pub transcoding: super::TranscodeSettings,
}

/// 0 (no waiting) up to ten minutes: a thumbnail held longer looks lost.
fn job_yield(text: &str) -> Result<Duration, String> {
    if text.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    let wait = parse::duration(text)?;
    if wait > Duration::from_secs(600) {
        return Err("must be at most 10m".into());
    }
    Ok(wait)
}

/// A size, at least what the decoding child needs to start at all.
fn decode_memory(text: &str) -> Result<u64, String> {
    let bytes = parse::size(text)?;
    if bytes < 64 << 20 {
        return Err("must be at least 64MiB: the decoder itself needs that much".into());
    }
    Ok(bytes)
}

/// Where decoding runs (`HOIST_PROCESS_ISOLATION`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Isolation {
    Child,
    Inline,
}

impl ProcessingSettings {
    /// The wait before retrying a job that failed on its `attempt`-th try (1-based), capped at
    /// ten minutes.
    pub fn backoff_after(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(16);
        self.backoff
            .saturating_mul(1 << doublings)
            .min(Duration::from_secs(600))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        settings: ProcessingSettings,
    }

    #[test]
    fn backoff_doubles_and_stops_at_ten_minutes() {
        let settings = Cli::parse_from(["x", "--job-backoff", "5s"]).settings;
        let waits: Vec<_> = (1..=10)
            .map(|a| settings.backoff_after(a).as_secs())
            .collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 320, 600, 600, 600]);
        assert_eq!(settings.backoff_after(u32::MAX).as_secs(), 600);
    }
}
