//! The server's side of `hoist decode`: each decoding job runs in a child process started for
//! it, with an empty environment (no store keys, no database URL), limits on its memory, CPU
//! time, open files and file writes, its own process group, and a deadline. What it hands
//! back on its standard output is read up to a bound; the server stores the thumbnail itself.
//! A child the kernel kills fails its job with the reason; the worker carries on.

use super::{
    decode::{self, Answer},
    poster, thumbnail_key, Finished, JobError, JobKind, ProcessingSettings,
};
use crate::storage::s3::S3Store;
use std::{
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWriteExt},
    process::Command,
};

/// Kept of a child's standard error: enough for a panic's message or ffmpeg's last lines.
const MAX_STDERR: usize = 16 << 10;
/// Descriptors a decoder needs: its pipes, a few sockets, ffmpeg's.
const MAX_FILES: u64 = 256;
/// Rust's words when an allocation fails (the child then aborts).
const ALLOCATION_FAILED: &str = "memory allocation of";

/// What bounds one child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// RLIMIT_AS, bytes.
    pub memory: u64,
    /// The wall-clock deadline; CPU time is bounded by it too.
    pub deadline: Duration,
}

/// How a child ended without an answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Death {
    #[error("it ran out of memory (its limit is {} MiB)", .limit >> 20)]
    OutOfMemory { limit: u64 },
    #[error("it was killed by signal {0} (out of memory, or stopped by the system)")]
    Killed(i32),
    #[error("it used up its CPU time")]
    CpuTime,
    #[error("it stopped ({0}) without an answer")]
    Exited(String),
    #[error("its answer could not be read: {0}")]
    Garbled(String),
}

impl Death {
    /// A child that used up its CPU time would use it up again.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::CpuTime)
    }
}

/// The child's command: the same binary as `hoist decode`, nothing of the server's
/// environment but `PATH` (to find ffmpeg), and the limits applied in the child before it
/// runs a line of ours.
pub fn command(program: &Path, limits: &Limits) -> Command {
    let mut command = Command::new(program);
    command
        .arg(decode::COMMAND)
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own group, so that a deadline kills ffmpeg with it.
        .process_group(0);
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    let memory = limits.memory as libc::rlim_t;
    let cpu = limits.deadline.as_secs().saturating_add(1) as libc::rlim_t;
    // SAFETY: between fork and exec only async-signal-safe calls (setrlimit, prctl), no
    // allocation.
    unsafe {
        command.pre_exec(move || {
            let set = |resource, soft: libc::rlim_t, hard: libc::rlim_t| {
                let limit = libc::rlimit {
                    rlim_cur: soft,
                    rlim_max: hard,
                };
                if libc::setrlimit(resource, &limit) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            };
            set(libc::RLIMIT_AS, memory, memory)?;
            // SIGXCPU at the soft limit, SIGKILL at the hard one.
            set(libc::RLIMIT_CPU, cpu, cpu.saturating_add(5))?;
            set(libc::RLIMIT_NOFILE, MAX_FILES, MAX_FILES)?;
            // It writes pipes only; no files, and no core dump of a bomb.
            set(libc::RLIMIT_FSIZE, 0, 0)?;
            set(libc::RLIMIT_CORE, 0, 0)?;
            // A server that dies takes its decoders with it.
            #[cfg(target_os = "linux")]
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    command
}

/// Runs decoding jobs in children.
#[derive(Clone, Debug)]
pub struct Isolated {
    program: PathBuf,
    limits: Limits,
    max_image_side: u32,
    fence: poster::Fence,
}

impl Isolated {
    pub fn new(settings: &ProcessingSettings) -> Self {
        // The running binary, even if an upgrade has replaced the file since.
        let program = if cfg!(target_os = "linux") {
            PathBuf::from("/proc/self/exe")
        } else {
            std::env::current_exe().unwrap_or_else(|_| PathBuf::from("hoist"))
        };
        Self {
            program,
            limits: Limits {
                memory: settings.decode_memory,
                deadline: settings.deadline,
            },
            max_image_side: settings.max_image_side,
            fence: poster::Fence::of(settings),
        }
    }

    /// Runs `kind` on the object at `key` in a child; stores the thumbnail it hands back.
    pub async fn run(
        &self,
        store: &S3Store,
        kind: JobKind,
        key: &str,
        size: u64,
        content_type: &str,
    ) -> Result<Finished, JobError> {
        // The URL outlives the deadline a little: the child never holds a longer one.
        let url = store
            .presign_internal_get(key, self.limits.deadline + Duration::from_secs(30))
            .await?;
        let request = decode::Request {
            kind: kind.as_str().to_owned(),
            url,
            size,
            content_type: content_type.to_owned(),
            max_image_side: self.max_image_side,
            fence: self.fence.clone(),
        };
        let (answer, jpeg) = self.ask(&request).await?;
        if let (JobKind::Media, Answer::Found { fetched, .. }) = (kind, &answer) {
            tracing::info!(key, size, fetched, "media: read the container's boxes");
        }
        let thumbnail = match jpeg {
            Some(jpeg) => {
                let thumbnail = thumbnail_key(key);
                store.put_small(&thumbnail, jpeg, "image/jpeg").await?;
                Some(thumbnail)
            }
            None => None,
        };
        answer.into_finished(thumbnail)
    }

    /// Starts a child, hands it `request`, and reads its answer within the deadline.
    async fn ask(&self, request: &decode::Request) -> Result<(Answer, Option<Vec<u8>>), JobError> {
        let started = std::time::Instant::now();
        let mut child = command(&self.program, &self.limits)
            .spawn()
            .map_err(|e| JobError::Thread(format!("cannot start the decoder: {e}")))?;
        // Whatever way this ends (a deadline, a lost lease dropping the job), the child's
        // group goes: ffmpeg too, which `kill_on_drop` alone would leave behind.
        let mut group = Group(child.id());
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(JobError::Thread("the decoder has no pipes".into()));
        };
        let body = serde_json::to_vec(request).map_err(|e| JobError::Thread(e.to_string()))?;
        let run = async {
            // A child that dies before reading its request closes the pipe: its status says why.
            let _ = stdin.write_all(&body).await;
            drop(stdin);
            let limit = decode::MAX_ANSWER_LINE + decode::MAX_JPEG + 1;
            let (out, err, status) = tokio::join!(
                bounded(stdout, limit),
                bounded(stderr, MAX_STDERR),
                child.wait()
            );
            (out, err, status)
        };
        let Ok((out, err, status)) = tokio::time::timeout(self.limits.deadline, run).await else {
            return Err(JobError::Deadline(self.limits.deadline));
        };
        let status = status.map_err(|e| JobError::Thread(format!("the decoder: {e}")))?;
        tracing::debug!(
            kind = %request.kind,
            ms = started.elapsed().as_millis() as u64,
            %status,
            "decoder: child ended"
        );
        ended(status, &err, self.limits.memory).map_err(JobError::Died)?;
        // It ended by itself, having waited for what it started.
        group.0 = None;
        read_answer(&out).map_err(JobError::Died)
    }
}

/// How the child's status reads: `Err` if it did not end by itself.
fn ended(status: ExitStatus, stderr: &[u8], memory: u64) -> Result<(), Death> {
    use std::os::unix::process::ExitStatusExt;
    let said = String::from_utf8_lossy(stderr);
    if said.contains(ALLOCATION_FAILED) {
        return Err(Death::OutOfMemory { limit: memory });
    }
    match status.signal() {
        Some(libc::SIGXCPU) => Err(Death::CpuTime),
        Some(signal) => Err(Death::Killed(signal)),
        None if status.success() => Ok(()),
        None => {
            let last = said.lines().last().unwrap_or("").trim();
            let last: String = last.chars().take(300).collect();
            Err(Death::Exited(format!("{status}: {last}")))
        }
    }
}

/// The answer line and the JPEG after it.
fn read_answer(out: &[u8]) -> Result<(Answer, Option<Vec<u8>>), Death> {
    let Some(end) = out.iter().position(|b| *b == b'\n') else {
        return Err(Death::Garbled("no answer line".into()));
    };
    if end > decode::MAX_ANSWER_LINE {
        return Err(Death::Garbled(format!("an answer of {end} bytes")));
    }
    let answer: Answer =
        serde_json::from_slice(&out[..end]).map_err(|e| Death::Garbled(e.to_string()))?;
    let rest = &out[end + 1..];
    let jpeg = match &answer {
        Answer::Found {
            jpeg: Some(len), ..
        } => {
            // A JPEG starts with SOI: the server stores nothing else as a thumbnail.
            if *len != rest.len() || *len > decode::MAX_JPEG || !rest.starts_with(&[0xFF, 0xD8]) {
                return Err(Death::Garbled(format!(
                    "a thumbnail of {} bytes announced as {len}",
                    rest.len()
                )));
            }
            Some(rest.to_vec())
        }
        _ if !rest.is_empty() => {
            return Err(Death::Garbled("bytes after the answer".into()));
        }
        _ => None,
    };
    Ok((answer, jpeg))
}

/// Reads `from` to its end, keeping the first `limit` bytes: the rest is read and dropped, so
/// a chatty child never blocks on a full pipe nor fills the server's memory.
async fn bounded(mut from: impl AsyncRead + Unpin, limit: usize) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = vec![0u8; 16 << 10];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = limit.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

/// A child's process group (its id is the child's pid), sent SIGKILL when dropped: the child
/// and whatever it started. Dropped before the child is reaped or just after, so the id is
/// not someone else's yet.
struct Group(Option<u32>);

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(pid) = self.0.and_then(|p| libc::pid_t::try_from(p).ok()) {
            // SAFETY: a plain system call; a group that is gone answers ESRCH.
            unsafe {
                libc::killpg(pid, libc::SIGKILL);
            }
        }
    }
}

#[cfg(test)]
mod tests;
