//! What Hoist knows of a file after it has arrived (processing, what the jobs found, what its
//! owner says of it), and the events that tell a page when that changes.

use serde::{Deserialize, Serialize};

/// Where a file's processing stands. `Queued` shows as plain "uploaded": nothing has started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Processing {
    Queued,
    Processing,
    Ready,
    Failed,
}

impl Processing {
    pub const ALL: [Self; 4] = [Self::Queued, Self::Processing, Self::Ready, Self::Failed];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }

    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == word)
    }
}

/// Who may see a file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Its owner only.
    #[default]
    Private,
    /// Anyone with its link (which carries an unguessable key).
    Link,
    /// Anyone: it is listed on the public page.
    Public,
}

impl Visibility {
    pub const ALL: [Self; 3] = [Self::Private, Self::Link, Self::Public];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::Link => "link",
            Self::Public => "public",
        }
    }

    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == word)
    }

    /// How the owner's menu says it.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Private => "Private: only you",
            Self::Link => "Anyone with the link",
            Self::Public => "Public: listed for everyone",
        }
    }
}

/// What the jobs found and the owner wrote, for a file that has arrived.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    pub processing: Processing,
    /// Why processing failed.
    pub error: Option<String>,
    /// Jobs finished (done or skipped) of all this file's jobs.
    pub jobs_done: u32,
    pub jobs_total: u32,
    pub sha256: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_ms: Option<u64>,
    pub codecs: Option<String>,
    /// Whether `/files/{id}/thumbnail` has a picture to show.
    pub thumbnail: bool,
    pub title: String,
    pub description: String,
    pub visibility: Visibility,
    /// Where its malware scan stands, and the signature found or why it was not scanned.
    #[serde(default)]
    pub scan: super::Scan,
    #[serde(default)]
    pub scan_detail: Option<String>,
    /// How far its running transcode has got, in percent.
    #[serde(default)]
    pub progress: Option<u8>,
    /// Renditions of its HLS ladder ready to play (0: it plays as uploaded).
    #[serde(default)]
    pub rungs: u32,
}

/// One event on `/events`. Its `id:` is the database's, so a client that reconnects with
/// `Last-Event-ID` gets everything after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum UploadEvent {
    /// The upload as it is now: the page redraws its row from this alone.
    Changed {
        upload: Box<super::UploadView>,
    },
    Deleted {
        upload_id: String,
    },
}

/// `/files/{id}`: one file as whoever opened its page may see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePage {
    pub upload: super::UploadView,
    /// The owner sees the controls and the share link; everyone else neither.
    pub mine: bool,
    /// The path that opens the file for others (`/files/{id}?key=…`), for its owner only.
    pub share_path: Option<String>,
    /// Its processing jobs and where each stands, for its owner only.
    #[serde(default)]
    pub jobs: Vec<JobView>,
    /// For its owner: the live feed's cursor when the page was read, to follow from.
    #[serde(default)]
    pub events_after: Option<EventCursor>,
}

/// One processing job of a file, as its owner's page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobView {
    /// The job's kind (`hash`, `thumbnail`, `hls-720`…).
    pub kind: String,
    /// `queued`, `running`, `done`, `skipped` or `failed`.
    pub state: String,
    /// How far a running job has got, in percent, when it says.
    pub progress: Option<u8>,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
}

impl JobView {
    /// What the job does, in words.
    pub fn label(&self) -> String {
        match self.kind.as_str() {
            "hash" => "Checksum (SHA-256)".into(),
            "thumbnail" => "Thumbnail".into(),
            "media" => "Duration, size and codecs".into(),
            "poster" => "Poster".into(),
            "scan" => "Malware scan".into(),
            "hls" => "Playback ladder: top quality".into(),
            other => match other.strip_prefix("hls-") {
                Some(height) => format!("Playback ladder: {height}p"),
                None => other.to_string(),
            },
        }
    }
}

/// The longest title and description an owner may write, in characters.
pub const MAX_TITLE: usize = 200;
pub const MAX_DESCRIPTION: usize = 5_000;

/// A place in the stream of events: a follower has seen everything up to it. Events become
/// final in the order of `(tx, id)`: `tx` is the writing transaction's id on PostgreSQL, where
/// transactions of several instances commit in any order, and 0 on SQLite, whose one writer
/// commits in the order of `id`. Written as `id` when `tx` is 0 and as `tx.id` otherwise: it
/// is the `id:` of each event on `/events`, and the `after` a page asks for with its library.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct EventCursor {
    pub tx: i64,
    pub id: i64,
}

impl std::fmt::Display for EventCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.tx {
            0 => write!(f, "{}", self.id),
            tx => write!(f, "{tx}.{}", self.id),
        }
    }
}

impl std::str::FromStr for EventCursor {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        let number = |t: &str| t.parse::<i64>().ok().filter(|n| *n >= 0).ok_or(());
        match text.trim().split_once('.') {
            None => Ok(Self {
                tx: 0,
                id: number(text.trim())?,
            }),
            Some((tx, id)) => Ok(Self {
                tx: number(tx)?,
                id: number(id)?,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_cursor_reads_back_what_it_writes_and_orders_by_transaction_first() {
        let sqlite = EventCursor { tx: 0, id: 42 };
        let postgres = EventCursor { tx: 9_000, id: 7 };
        assert_eq!(sqlite.to_string(), "42");
        assert_eq!(postgres.to_string(), "9000.7");
        assert_eq!("42".parse(), Ok(sqlite));
        assert_eq!(" 9000.7 ".parse(), Ok(postgres));
        for bad in ["", "-1", "1.", ".1", "1.2.3", "x", "1.-2"] {
            assert_eq!(bad.parse::<EventCursor>(), Err(()), "{bad:?}");
        }
        assert!(EventCursor { tx: 5, id: 100 } < EventCursor { tx: 6, id: 1 });
        assert!(EventCursor { tx: 6, id: 1 } < EventCursor { tx: 6, id: 2 });
    }

    #[test]
    fn words_round_trip() {
        for p in Processing::ALL {
            assert_eq!(Processing::parse(p.as_str()), Some(p));
        }
        for v in Visibility::ALL {
            assert_eq!(Visibility::parse(v.as_str()), Some(v));
        }
        assert_eq!(Visibility::parse("secret"), None);
    }
}
