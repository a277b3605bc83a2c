//! The words for why an upload ended without becoming a file (the data is
//! `model::ClosedBecause`, kept on its row and shown in the library).

use crate::{
    format,
    model::{ClosedBecause, Detected, Rejection},
};
use std::fmt;

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SizeMismatch { arrived, announced } => write!(
                f,
                "{} arrived, but {} was announced.",
                format::bytes(*arrived),
                format::bytes(*announced)
            ),
            Self::StoredType { stored, announced } => {
                write!(
                    f,
                    "it was stored as {stored:?}, but {announced} was announced."
                )
            }
            Self::ContentMismatch { declared, found } => {
                f.write_str(&content_mismatch(declared, found.as_ref()))
            }
            Self::PartSize {
                part,
                holds,
                expected,
            } => write!(
                f,
                "part {part} holds {}, but {} was expected.",
                format::bytes(*holds),
                format::bytes(*expected)
            ),
        }
    }
}

impl std::error::Error for Rejection {}

fn content_mismatch(declared: &str, found: Option<&Detected>) -> String {
    match found {
        Some(found) => format!(
            "its content is {} (.{}), not {declared} as announced.",
            found.media_type, found.extension
        ),
        None => format!("its content is not {declared} as announced."),
    }
}

impl fmt::Display for ClosedBecause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected(rejection) => rejection.fmt(f),
            Self::Expired { idle_secs } => write!(
                f,
                "It expired: nothing more arrived for {}, so what had arrived was deleted.",
                format::duration(*idle_secs as f64)
            ),
            Self::StoreRefusedStart => {
                f.write_str("The storage service could not start the upload.")
            }
            Self::Earlier(sentence) => f.write_str(sentence),
        }
    }
}

impl std::error::Error for ClosedBecause {}

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
        assert_eq!(ClosedBecause::from_stored(old).to_string(), old);
    }
}
