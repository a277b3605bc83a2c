//! A request Hoist cannot accept, as data: what was sent and what the rule is. The sentence a
//! person reads is written here and nowhere else.

use crate::{checksum::ChecksumAlgorithm, format};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Invalid {
    #[error("The file name is empty.")]
    EmptyName,
    #[error("The file name is {bytes} bytes long; at most {max} are accepted.")]
    NameTooLong { bytes: usize, max: usize },
    #[error("{name} is empty; there is nothing to upload.")]
    EmptyFile { name: String },
    #[error("{name} is {}, larger than the {} allowed.", format::bytes(*size), format::bytes(*max))]
    TooLarge { name: String, size: u64, max: u64 },
    /// Even parts of the largest size S3 allows would be more than 10,000.
    #[error("{name} is too large for any S3 upload.")]
    BeyondS3 { name: String },
    #[error("A file type of {bytes} bytes is not a media type (at most {max}).")]
    TypeTooLong { bytes: usize, max: usize },
    #[error("{declared:?} is not a valid file type.")]
    NotAType { declared: String },
    #[error("Files of type {kind} are not accepted here (allowed: {}).", allowed.join(", "))]
    TypeNotAllowed { kind: String, allowed: Vec<String> },
    #[error("Ask for 1 to {max} parts at a time.")]
    BatchSize { asked: usize, max: usize },
    #[error("Send 1 to {max} files at a time.")]
    FileBatchSize { asked: usize, max: usize },
    #[error("That is not a {algorithm} checksum (base64).")]
    NotAChecksum { algorithm: ChecksumAlgorithm },
    #[error("That is not a SHA-256 (64 hexadecimal digits).")]
    NotASha256,
    #[error("Part {part} does not exist; this upload has {parts} parts.")]
    NoSuchPart { part: u32, parts: u32 },
    #[error("Part {part} is asked for twice.")]
    PartTwice { part: u32 },
    #[error("Part {part} needs its {algorithm} checksum (base64) to be signed.")]
    ChecksumNeeded {
        part: u32,
        algorithm: ChecksumAlgorithm,
    },
    /// The file offered to resume an upload is not the one it was started for.
    #[error(
        "This is not the file being uploaded as {name}: that one is {} of type {content_type}, this one {} of type {offered_type}.",
        format::bytes(*size),
        format::bytes(*offered_size)
    )]
    NotTheFile {
        name: String,
        size: u64,
        content_type: String,
        offered_size: u64,
        offered_type: String,
    },
    #[error("This page of the library does not exist.")]
    NoSuchPage,
    #[error("Search for at most {max} characters (this is {chars}).")]
    SearchTooLong { chars: usize, max: usize },
}
