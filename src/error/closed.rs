//! Why an upload ended without becoming a file: kept on its row as data (JSON) and shown in
//! the library, in words written here.

use crate::format;
use serde::{Deserialize, Serialize};

/// What arrived is not what was announced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Rejection {
    #[error("{} arrived, but {} was announced.", format::bytes(*arrived), format::bytes(*announced))]
    SizeMismatch { arrived: u64, announced: u64 },
    #[error("it was stored as {stored:?}, but {announced} was announced.")]
    StoredType { stored: String, announced: String },
    /// The first bytes say another type (`found`), or no type at all where one was expected.
    #[error("{}", content_mismatch(declared, found.as_ref()))]
    ContentMismatch {
        declared: String,
        found: Option<Detected>,
    },
    #[error(
        "part {part} holds {}, but {} was expected.",
        format::bytes(*holds),
        format::bytes(*expected)
    )]
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

fn content_mismatch(declared: &str, found: Option<&Detected>) -> String {
    match found {
        Some(found) => format!(
            "its content is {} (.{}), not {declared} as announced.",
            found.media_type, found.extension
        ),
        None => format!("its content is not {declared} as announced."),
    }
}

/// Why an upload was closed, as its row keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ClosedBecause {
    #[error("{0}")]
    Rejected(Rejection),
    #[error(
        "It expired: nothing more arrived for {}, so what had arrived was deleted.",
        format::duration(*idle_secs as f64)
    )]
    Expired { idle_secs: u64 },
    #[error("The storage service could not start the upload.")]
    StoreRefusedStart,
    /// Written as a sentence by a version before reasons were data.
    #[error("{0}")]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_survives_the_row_and_old_sentences_are_kept() {
        let reason = ClosedBecause::Rejected(Rejection::ContentMismatch {
            declared: "image/png".into(),
            found: Some(Detected {
                media_type: "application/x-executable".into(),
                extension: "elf".into(),
            }),
        });
        assert_eq!(ClosedBecause::from_stored(&reason.to_stored()), reason);
        assert_eq!(
            reason.to_string(),
            "its content is application/x-executable (.elf), not image/png as announced."
        );
        let old = "It expired a while ago.";
        assert_eq!(
            ClosedBecause::from_stored(old),
            ClosedBecause::Earlier(old.into())
        );
    }
}
