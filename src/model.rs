//! Data shared by the server and the browser: what crosses the wire, and the rules both sides
//! must agree on (how a file is cut into parts, which words describe an upload's state).

mod closed;
mod files;
mod scan;

pub use closed::{ClosedBecause, Detected, Rejection};
pub use files::{
    EventCursor, FileInfo, FilePage, JobView, Processing, UploadEvent, Visibility, MAX_DESCRIPTION,
    MAX_TITLE,
};
pub use scan::{Scan, ScanMode};

use crate::checksum::ChecksumAlgorithm;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where an upload stands. The words returned by [`UploadStatus::as_str`] are the ones people
/// see and the ones stored in the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UploadStatus {
    Uploading,
    Uploaded,
    Rejected,
    Aborted,
    Expired,
}

impl UploadStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Uploading => "uploading",
            Self::Uploaded => "uploaded",
            Self::Rejected => "rejected",
            Self::Aborted => "aborted",
            Self::Expired => "expired",
        }
    }

    pub fn parse(word: &str) -> Option<Self> {
        [
            Self::Uploading,
            Self::Uploaded,
            Self::Rejected,
            Self::Aborted,
            Self::Expired,
        ]
        .into_iter()
        .find(|s| s.as_str() == word)
    }
}

impl fmt::Display for UploadStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a file of `size` bytes is cut into parts: every part is `part_size` bytes except the
/// last, which holds the rest. A small file is the plan with one part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartPlan {
    pub size: u64,
    pub part_size: u64,
}

impl PartPlan {
    pub fn new(size: u64, part_size: u64) -> Self {
        debug_assert!(part_size > 0);
        Self { size, part_size }
    }

    pub fn part_count(&self) -> u32 {
        let count = self.size.div_ceil(self.part_size).max(1);
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    /// Byte range `[start, end)` of a 1-based part number, as S3 numbers parts.
    pub fn range(&self, part_number: u32) -> Option<(u64, u64)> {
        if part_number == 0 || part_number > self.part_count() {
            return None;
        }
        let start = u64::from(part_number - 1) * self.part_size;
        let end = (start + self.part_size).min(self.size);
        Some((start, end))
    }

    pub fn part_len(&self, part_number: u32) -> Option<u64> {
        self.range(part_number).map(|(s, e)| e - s)
    }
}

/// A request the browser must send exactly as given: the URL carries the signature and the
/// headers were signed with it, so dropping or changing one makes the store refuse it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// How long the URL stays valid from the moment it was signed. The browser counts it on
    /// its own clock, so a skewed clock between browser and server does not matter.
    pub valid_for_secs: u64,
}

/// A presigned URL for one part of a multipart upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedPart {
    pub part_number: u32,
    pub request: SignedRequest,
}

/// A part the browser wants a URL for, with its checksum when the upload requires one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartToSign {
    pub part_number: u32,
    /// Base64 digest, as the `x-amz-checksum-*` header carries it.
    pub checksum: Option<String>,
}

impl PartToSign {
    pub fn plain(part_number: u32) -> Self {
        Self {
            part_number,
            checksum: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartedUpload {
    pub upload_id: String,
    /// The name as stored, after sanitising.
    pub name: String,
    /// Every file is a multipart upload, even a one-part one: its part URLs die when the
    /// upload is completed or aborted, so nothing signed for it can change it afterwards.
    pub plan: PartPlan,
    /// The checksum each part's URL must be signed with, if the server requires one.
    pub checksum: Option<ChecksumAlgorithm>,
    /// Parts signed in the same answer: the only part of a small file whose checksum came
    /// with the request.
    pub signed: Vec<SignedPart>,
    /// The caller already holds this content (its SHA-256 came with the request): the upload
    /// is `uploaded` at once, sharing the stored object, and no byte needs sending.
    #[serde(default)]
    pub already_stored: bool,
}

/// One file of a `start_uploads` batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileToStart {
    pub name: String,
    pub size: u64,
    pub content_type: String,
    /// For a file that fits in one part, its checksum (base64, the server's algorithm): the
    /// part's URL then comes with the answer.
    pub checksum: Option<String>,
    /// The whole file's SHA-256 (64 lowercase hex digits), when the client read it first: if
    /// the caller holds that content already, nothing is sent (see
    /// [`StartedUpload::already_stored`]).
    #[serde(default)]
    pub sha256: Option<String>,
}

/// Where an unfinished upload stands, as the store reports it: what `resume_upload` answers
/// before the browser sends the rest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeState {
    pub upload_id: String,
    pub name: String,
    pub plan: PartPlan,
    /// Parts the store already holds, complete and of the planned size, in order.
    pub done: Vec<u32>,
    pub checksum: Option<ChecksumAlgorithm>,
}

/// At most this many files per `start_uploads` call.
pub const MAX_START_BATCH: usize = 50;
/// At most this many uploads per `complete_uploads` call.
pub const MAX_COMPLETE_BATCH: usize = 100;
/// At most this many uploads per `delete_uploads` call.
pub const MAX_DELETE_BATCH: usize = 100;

/// At most this many part URLs per `sign_parts` call: URLs are signed shortly before use.
pub const MAX_SIGN_BATCH: usize = 100;

/// What the browser's upload engine needs to know from the server's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineSettings {
    /// Part uploads in flight at once, across all files.
    pub parallel_parts: u32,
    /// An upload expires this long after the server last heard of it; the engine keeps one
    /// whose parts are still on their way alive well within it.
    pub upload_ttl_secs: u64,
    /// Files up to this size are one part: their checksum can go with `start_uploads`.
    pub part_size: u64,
    /// Parts of big files grow up to this size (the terminal client cuts files as the
    /// server will, so it reads each file once).
    #[serde(default)]
    pub max_part_size: u64,
    /// The checksum every part carries, if the server requires one.
    pub checksum: Option<ChecksumAlgorithm>,
    /// Files up to this size have their SHA-256 read before they start, so content the
    /// account holds already is not sent (0: none).
    #[serde(default)]
    pub hash_first_max: u64,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            parallel_parts: 6,
            upload_ttl_secs: 3600,
            // Unknown until the server says: no file is taken for one part meanwhile.
            part_size: 0,
            max_part_size: 0,
            checksum: None,
            hash_first_max: 0,
        }
    }
}

/// The order of the library.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LibrarySort {
    #[default]
    Newest,
    Oldest,
    /// By name, A to Z, ignoring case (ASCII letters).
    Name,
    Largest,
}

impl LibrarySort {
    pub const ALL: [Self; 4] = [Self::Newest, Self::Oldest, Self::Name, Self::Largest];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Newest => "newest",
            Self::Oldest => "oldest",
            Self::Name => "name",
            Self::Largest => "largest",
        }
    }

    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == word)
    }

    pub const fn label(self) -> &'static str {
        match self {
            Self::Newest => "Newest first",
            Self::Oldest => "Oldest first",
            Self::Name => "Name, A to Z",
            Self::Largest => "Largest first",
        }
    }

    /// Whether `a` comes before `b` in this order (ties by id, as the server breaks them).
    pub fn before(self, a: &UploadView, b: &UploadView) -> bool {
        let key = |u: &UploadView| (u.created_at_ms, u.size, u.name.to_ascii_lowercase());
        let ((ta, sa, na), (tb, sb, nb)) = (key(a), key(b));
        let order = match self {
            Self::Newest => tb.cmp(&ta),
            Self::Oldest => ta.cmp(&tb),
            Self::Name => na.cmp(&nb),
            Self::Largest => sb.cmp(&sa),
        };
        order.then_with(|| a.id.cmp(&b.id)).is_lt()
    }
}

/// The longest search of the library, in characters: enough to pick out any name, short
/// enough that matching it against every name of a large library stays cheap.
pub const MAX_SEARCH: usize = 100;

/// Whether `name` holds `search` (ASCII letters in either case), as the server's search does.
pub fn name_matches(name: &str, search: &str) -> bool {
    search.is_empty()
        || name
            .to_ascii_lowercase()
            .contains(&search.to_ascii_lowercase())
}

/// One page of the library, in the order asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LibraryPage {
    pub uploads: Vec<UploadView>,
    /// Where the next page starts (for `list_uploads`), if there is one.
    pub next: Option<String>,
    /// With the first page: the bytes the caller keeps and has on their way, so the storage
    /// meter follows the library without a call of its own.
    #[serde(default)]
    pub used: Option<u64>,
    /// With the first page: the last event written before it was read, where the page's
    /// live updates start (see [`UploadEvent`]).
    #[serde(default)]
    pub events_after: Option<EventCursor>,
}

/// One row of the library, as the browser shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadView {
    pub id: String,
    pub name: String,
    pub size: u64,
    pub content_type: String,
    pub status: UploadStatus,
    /// Why an upload was closed (rejected, expired…); its `Display` is the sentence shown.
    pub reason: Option<ClosedBecause>,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    pub completed_at_ms: Option<i64>,
    /// Once the upload has arrived: processing and what it found.
    #[serde(default)]
    pub file: Option<FileInfo>,
}

impl UploadView {
    /// What someone other than the owner may know of an arrived file (a public or link
    /// viewer): its name, size, type, title, description and media facts. Not its hash (which
    /// says whether someone holds the same bytes), why anything failed, nor when its owner
    /// began sending it.
    pub fn for_viewer(mut self) -> Self {
        self.reason = None;
        self.created_at_ms = self.completed_at_ms.unwrap_or_default();
        if let Some(file) = &mut self.file {
            file.sha256 = None;
            file.error = None;
            // Why a scan did not run is the server's business, not a visitor's.
            file.scan_detail = None;
        }
        self
    }

    /// The word the library shows: an arrived file's processing state once it has started,
    /// or "infected" once the scanner found malware in it.
    pub fn status_word(&self) -> &'static str {
        match (&self.status, &self.file) {
            (UploadStatus::Uploaded, Some(file)) if file.scan == Scan::Infected => "infected",
            (UploadStatus::Uploaded, Some(file)) if file.processing != Processing::Queued => {
                file.processing.as_str()
            }
            (status, _) => status.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_file_exactly_once() {
        let plan = PartPlan::new(3 * 5 + 2, 5);
        assert_eq!(plan.part_count(), 4);
        let ranges: Vec<_> = (1..=4).map(|n| plan.range(n).unwrap()).collect();
        assert_eq!(ranges, vec![(0, 5), (5, 10), (10, 15), (15, 17)]);
        assert_eq!(plan.range(0), None);
        assert_eq!(plan.range(5), None);
    }

    #[test]
    fn a_file_that_fits_one_part_has_one_part() {
        assert_eq!(PartPlan::new(1, 5).part_count(), 1);
        assert_eq!(PartPlan::new(5, 5).part_count(), 1);
        assert_eq!(PartPlan::new(5, 5).part_len(1), Some(5));
    }

    #[test]
    fn status_words_round_trip() {
        for word in ["uploading", "uploaded", "rejected", "aborted", "expired"] {
            assert_eq!(UploadStatus::parse(word).unwrap().as_str(), word);
        }
        assert_eq!(UploadStatus::parse("done"), None);
    }
}

/// Who the page is talking for, and their storage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    /// `None` for a guest.
    pub email: Option<String>,
    /// Bytes kept and on their way.
    pub used: u64,
    pub quota: u64,
    /// Whether a guest may upload here.
    pub guest_uploads: bool,
    /// For a session begun by signing in as a guest with uploads: those that did not become
    /// the account's.
    #[serde(default)]
    pub stayed_with_guest: Option<StayedWithGuest>,
    /// Who may make an account here, so the page offers only what will work.
    #[serde(default)]
    pub sign_up: SignUpMode,
}

/// Who may make an account from the web (`HOIST_SIGN_UP`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum SignUpMode {
    /// Anyone, within the per-network sign-up limit.
    #[default]
    Open,
    /// Only with an invitation code from `hoist users invite`, each good for one account.
    Invite,
    /// No one: the operator makes accounts with `hoist users create`.
    Closed,
}

/// An API token as its owner sees it (never the secret, except once in [`NewToken`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub created_at_ms: i64,
    pub last_used_at_ms: Option<i64>,
    /// `None`: until revoked.
    #[serde(default)]
    pub expires_at_ms: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    /// Shown once: only its hash is kept.
    pub secret: String,
    pub token: TokenView,
}

/// Uploads a guest made that did not become the account's at sign-in, because taking them
/// would have passed the account's quota or its limit of unfinished uploads (its sentence is
/// in `error::notices`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StayedWithGuest {
    pub files: u64,
    pub bytes: u64,
    /// Some would have passed the quota.
    pub over_quota: bool,
    /// Some would have passed the limit of unfinished uploads.
    pub over_active: bool,
}
