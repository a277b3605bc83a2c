//! `hoist decode`: the decoding child. It reads one request on standard input, decodes the
//! object it names through a presigned GET, and writes one answer on standard output: a JSON
//! line, then the thumbnail's JPEG bytes if it made one. It holds no database connection and
//! no store credentials (its environment is emptied by the server), and writes nothing to the
//! store: the server checks and stores what it hands back.

use super::{media, poster, reader::ObjectReader, thumbnail, Finished, JobError, JobKind};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::{process::ExitCode, time::Duration};

/// The subcommand's name: `hoist decode`.
pub const COMMAND: &str = "decode";
/// A request is a few URLs and numbers; anything longer is not the server's.
const MAX_REQUEST: u64 = 64 << 10;
/// The answer's JSON line (the JPEG's bytes follow it).
pub(super) const MAX_ANSWER_LINE: usize = 16 << 10;
/// A thumbnail is a few dozen KiB; this bounds what the server reads from a child.
pub(super) const MAX_JPEG: usize = 4 << 20;
/// A read from the store that stalls this long ends the job's attempt (and the job's deadline
/// ends the job).
const READ_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What one job needs, and nothing else.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Request {
    /// `thumbnail`, `media` or `poster`.
    pub kind: String,
    /// A presigned GET of the object, valid a little longer than the job's deadline.
    pub url: String,
    pub size: u64,
    /// The type the server verified: it picks ffmpeg's demuxer.
    pub content_type: String,
    pub max_image_side: u32,
    /// The ffmpeg to run, and how it is fenced in.
    pub fence: poster::Fence,
}

/// The child's findings, or why it found nothing.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Answer {
    Found {
        width: Option<u32>,
        height: Option<u32>,
        duration_ms: Option<u64>,
        codecs: Option<String>,
        /// The length of the JPEG that follows the line, if the job made a thumbnail.
        jpeg: Option<usize>,
        /// Bytes read from the store.
        fetched: Option<u64>,
    },
    Skipped {
        why: String,
    },
    Failed {
        why: String,
        /// Trying again cannot help (a damaged file, a bomb).
        permanent: bool,
    },
}

/// Runs `hoist decode` to its end.
pub async fn main() -> ExitCode {
    // A few hundred bytes, read before anything else runs: blocking is fine here.
    let mut text = Vec::new();
    if let Err(e) = std::io::stdin().take(MAX_REQUEST).read_to_end(&mut text) {
        eprintln!("hoist decode: cannot read the request: {e}");
        return ExitCode::FAILURE;
    }
    let request: Request = match serde_json::from_slice(&text) {
        Ok(request) => request,
        Err(e) => {
            eprintln!("hoist decode: the request is not one: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (answer, jpeg) = match decode(&request).await {
        Ok(found) => found,
        Err(e) => (
            Answer::Failed {
                why: e.to_string(),
                permanent: e.is_permanent(),
            },
            Vec::new(),
        ),
    };
    let mut out = serde_json::to_vec(&answer).unwrap_or_default();
    out.push(b'\n');
    out.extend_from_slice(&jpeg);
    let mut stdout = std::io::stdout().lock();
    if stdout.write_all(&out).is_err() || stdout.flush().is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

async fn decode(request: &Request) -> Result<(Answer, Vec<u8>), JobError> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .build()
        .map_err(|e| JobError::Thread(format!("no HTTP client: {e}")))?;
    let reader = |window| {
        ObjectReader::from_url(
            http.clone(),
            request.url.clone(),
            request.size,
            window,
            tokio::runtime::Handle::current(),
        )
    };
    let found = |width, height, jpeg: &Vec<u8>| Answer::Found {
        width,
        height,
        duration_ms: None,
        codecs: None,
        jpeg: Some(jpeg.len()),
        fetched: None,
    };
    match JobKind::parse(&request.kind) {
        Some(JobKind::Thumbnail) => {
            let reader = reader(thumbnail::WINDOW);
            let (jpeg, w, h) =
                thumbnail::thumbnail_of(reader, request.size, request.max_image_side).await?;
            Ok((found(Some(w), Some(h), &jpeg), jpeg))
        }
        Some(JobKind::Media) => {
            let mut fetcher = media::Fetcher::new(media::Source::Url {
                http: &http,
                url: &request.url,
            });
            let findings = media::facts(&mut fetcher, request.size).await?;
            let answer = Answer::Found {
                width: findings.width,
                height: findings.height,
                duration_ms: findings.duration_ms,
                codecs: findings.codecs,
                jpeg: None,
                fetched: Some(fetcher.fetched),
            };
            Ok((answer, Vec::new()))
        }
        Some(JobKind::Poster) => {
            match poster::poster_of(&request.fence, &request.content_type, &request.url).await? {
                poster::Poster::Jpeg(jpeg) => Ok((found(None, None, &jpeg), jpeg)),
                poster::Poster::Skipped(why) => Ok((Answer::Skipped { why }, Vec::new())),
            }
        }
        Some(JobKind::Hash | JobKind::Scan | JobKind::Hls | JobKind::Hls720 | JobKind::Hls360)
        | None => Err(JobError::Unreadable {
            what: "the job",
            why: format!("the decoder runs no job {:?}", request.kind),
        }),
    }
}

/// The child's answer as a job's end: its findings (the thumbnail's key filled in by the
/// server, which stores the JPEG) or its failure.
impl Answer {
    pub(super) fn into_finished(self, thumbnail_key: Option<String>) -> Result<Finished, JobError> {
        match self {
            Answer::Found {
                width,
                height,
                duration_ms,
                codecs,
                ..
            } => Ok(Finished::Found(crate::db::jobs::Findings {
                width,
                height,
                duration_ms,
                codecs,
                thumbnail_key,
                ..Default::default()
            })),
            Answer::Skipped { why } => Ok(Finished::Skipped(why)),
            Answer::Failed { why, permanent } => Err(JobError::Decoded { why, permanent }),
        }
    }
}
