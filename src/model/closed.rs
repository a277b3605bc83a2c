//! Why an upload ended without becoming a file: data its row keeps (as JSON) and the library
//! shows. The words for people are written with the other sentences, in `error::closed`.

use serde::{Deserialize, Serialize};

/// What arrived is not what was announced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rejection {
    SizeMismatch {
        arrived: u64,
        announced: u64,
    },
    StoredType {
        stored: String,
        announced: String,
    },
    /// The first bytes say another type (`found`), or no type at all where one was expected.
    ContentMismatch {
        declared: String,
        found: Option<Detected>,
    },
    PartSize {
        part: u32,
        holds: u64,
        expected: u64,
    },
}

/// A type told from a file's first bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detected {
    pub media_type: String,
    pub extension: String,
}

/// Why an upload was closed, as its row keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClosedBecause {
    Rejected(Rejection),
    Expired {
        idle_secs: u64,
    },
    StoreRefusedStart,
    /// Written as a sentence by a version before reasons were data.
    Earlier(String),
}

impl ClosedBecause {
    /// The form a row keeps.
    pub fn to_stored(&self) -> String {
        // A plain enum of strings and numbers always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_stored(stored: &str) -> Self {
        serde_json::from_str(stored).unwrap_or_else(|_| Self::Earlier(stored.to_string()))
    }
}
