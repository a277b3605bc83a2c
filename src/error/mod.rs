//! The one error type that crosses the wire, and every sentence a person reads about a failed
//! request. Each layer below (storage, database, upload service) has its own error enum
//! carrying facts; the API maps them into [`ApiError`], and the words are written here (with
//! [`invalid`] and [`closed`]), never where the error is found.

mod closed;
mod invalid;
mod notices;

pub use invalid::Invalid;
pub use notices::{AccountDeleted, PasswordChanged};

use crate::{
    format,
    model::{Rejection, UploadStatus},
};
use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// On the wire: `{"error": "<variant>", "detail": <its data>, "message": "<the sentence>"}`
/// (see [`ApiError::to_wire`]); the page decodes the data and ignores the sentence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "error", content = "detail")]
pub enum ApiError {
    /// The request itself is unacceptable (name, size, type, part numbers).
    #[error("{0}")]
    Invalid(Invalid),
    /// Unknown id, or an id that belongs to someone else: the two must look the same.
    #[error("This upload does not exist.")]
    NotFound,
    /// `complete_upload` came before every part had arrived.
    #[error("The upload is not finished yet: {} not arrived.", describe_parts(.missing))]
    Incomplete { missing: Vec<u32> },
    /// The request could not be read: a missing or mistyped argument, a body that is not a
    /// form. What went wrong is said; the request is not retried.
    #[error("This request could not be read ({0}).")]
    Malformed(String),
    /// A part the store holds already cannot be signed again for other content.
    #[error("Part {part} has already arrived with other content; it cannot be replaced.")]
    PartAlreadyStored { part: u32 },
    /// A part was sent again while the upload was being completed.
    #[error("A part was sent again while this upload was being completed; complete it again.")]
    PartChanged,
    /// The request came from a page of another site (cross-site request forgery).
    #[error("This request came from another site and was refused.")]
    CrossSite,
    /// The browser sent two session cookies: one may have been planted by another site.
    #[error("This browser sent two Hoist session cookies; clear this site's cookies and reload.")]
    DuplicateSession,
    /// What arrived is not what was announced; the object has been deleted.
    #[error("The file was rejected: {0}")]
    Rejected(Rejection),
    /// The upload was aborted, rejected or expired and cannot be continued.
    #[error("This upload is {0} and cannot continue.")]
    Closed(UploadStatus),
    /// Starting the file would take the caller past its quota (uploads on their way count).
    #[error(
        "This file ({}) does not fit in your storage: {} of {} left.",
        format::bytes_short(*.size),
        format::bytes_short(*.left),
        format::bytes_short(*.quota)
    )]
    OverQuota { size: u64, left: u64, quota: u64 },
    /// Guests of the caller's network together have no room for this file (a fresh guest
    /// cookie is free; a fresh network is not).
    #[error(
        "Guests from your network have no room left for this file ({}): sign up or sign in to upload it.",
        format::bytes_short(*.size)
    )]
    GuestNetworkFull { size: u64 },
    #[error(
        "You have {max} uploads in progress, the most allowed at once; let some finish first."
    )]
    TooManyActive { max: u64 },
    /// The caller's library holds as many uploads (finished, closed or on their way) as one
    /// owner, or all guests of one network, may have.
    #[error("Your library holds as many files as it may; delete some to upload more.")]
    TooManyFiles,
    /// Too many requests in too short a time; the answer carries `Retry-After` too.
    #[error("Too many requests; please try again in {retry_after_secs} s.")]
    RateLimited { retry_after_secs: u64 },
    #[error("Sign in to upload: this server does not take uploads from guests.")]
    SignInRequired,
    /// A Companion client started an upload without the file's size in its metadata.
    #[error("This server needs each file's size before it is sent: add it to the file's metadata (see \"Using Hoist from your own front-end\").")]
    SizeNeeded,
    #[error("Sign in first.")]
    NotSignedIn,
    #[error("This API token is not valid: it may have been revoked or have expired, or its account disabled.")]
    BadToken,
    #[error("Enter an email address like name@example.com.")]
    BadEmail,
    #[error("Choose a password of {min} to {max} characters.")]
    BadPassword { min: usize, max: usize },
    #[error("An account with this email exists already; sign in instead.")]
    EmailTaken,
    /// The same answer for an unknown email and a wrong password.
    #[error("The email or the password is not right.")]
    WrongCredentials,
    /// A signed-in caller's password, asked again before something that changes the account.
    #[error("The password is not right.")]
    WrongPassword,
    #[error("A token may last 1 to {max_days} days, or until it is revoked.")]
    BadTokenExpiry { max_days: u32 },
    #[error("This account has been disabled.")]
    AccountDisabled,
    /// `HOIST_SIGN_UP=closed`.
    #[error("This server does not take sign-ups; ask its operator for an account.")]
    SignUpClosed,
    /// `HOIST_SIGN_UP=invite`, and the code is missing, unknown, used or expired.
    #[error(
        "Signing up here needs an invitation code; this one is missing, unknown, used or expired."
    )]
    BadInvite,
    #[error("Give the token a name of 1 to {max} characters.")]
    BadTokenName { max: usize },
    #[error("This account has {max} tokens, the most allowed; revoke one first.")]
    TooManyTokens { max: u64 },
    /// Deleting an account stopped part-way: its other sessions and tokens have ended, and
    /// asking again goes on where this stopped.
    #[error("Your account is not deleted yet: {left} of its files could not be removed just now. Please try again in a moment.")]
    AccountNotEmptied { left: u64 },
    #[error("This page has {max} live connections open already; close some tabs and reload.")]
    TooManyLiveConnections { max: usize },
    /// `/events` without a session cookie or token: a stranger would get a new guest, for free.
    #[error("Live updates follow a session this browser has already: load the page first (or send an API token).")]
    LiveNeedsSession,
    #[error("Your network has {max} live connections open already; live updates resume when some close.")]
    LiveNetworkFull { max: usize },
    #[error("The server is following as many live connections as it can; live updates resume in a moment.")]
    LiveFull,
    #[error("Give the file a title of 1 to {max} characters.")]
    BadTitle { max: usize },
    #[error("Keep the description under {max} characters.")]
    BadDescription { max: usize },
    /// The malware scanner named a signature in the file; its bytes are deleted.
    #[error("This file was found to be infected ({signature}) and has been deleted; it cannot be opened or shared.")]
    Infected { signature: String },
    /// `HOIST_SCAN=required`: only a file scanned clean may be shared.
    #[error("This file can be shared once it has been scanned clean; {}.", scan_state(*.scan, .detail))]
    NotScannedClean {
        scan: crate::model::Scan,
        detail: Option<String>,
    },
    /// Ours or the store's fault, not the caller's: the sentence names the request (its id,
    /// set where the answer leaves the server), so a person can quote it and we can find it.
    #[error("The storage service cannot be reached right now. Please try again in a moment.{}", quote(.reference))]
    StorageUnavailable {
        #[serde(default)]
        reference: Option<String>,
    },
    #[error("Something went wrong on the server. Please try again.{}", quote(.reference))]
    Internal {
        #[serde(default)]
        reference: Option<String>,
    },
    /// The browser could not talk to Hoist at all.
    #[error("Hoist could not be reached: {0}")]
    Transport(String),
}

impl ApiError {
    /// A caller's text held a character the database cannot keep (a NUL).
    pub fn unstorable() -> Self {
        Self::Malformed("a value holds a NUL character".into())
    }

    /// The HTTP status a server function answers with: 4xx for the client's mistakes, 5xx
    /// only for ours and the store's.
    pub fn status_code(&self) -> u16 {
        match self {
            Self::Invalid(_)
            | Self::Malformed(_)
            | Self::DuplicateSession
            | Self::BadEmail
            | Self::BadPassword { .. }
            | Self::BadTokenName { .. }
            | Self::BadTokenExpiry { .. }
            | Self::BadTitle { .. }
            | Self::BadDescription { .. }
            | Self::SizeNeeded => 400,
            Self::SignInRequired
            | Self::NotSignedIn
            | Self::BadToken
            | Self::WrongCredentials
            | Self::LiveNeedsSession => 401,
            Self::CrossSite
            | Self::AccountDisabled
            | Self::WrongPassword
            | Self::SignUpClosed
            | Self::BadInvite => 403,
            Self::NotFound => 404,
            Self::Incomplete { .. }
            | Self::Closed(_)
            | Self::PartAlreadyStored { .. }
            | Self::PartChanged
            | Self::EmailTaken
            | Self::TooManyActive { .. }
            | Self::TooManyFiles
            | Self::TooManyTokens { .. }
            | Self::NotScannedClean { .. } => 409,
            Self::Infected { .. } => 410,
            Self::OverQuota { .. } | Self::GuestNetworkFull { .. } => 413,
            Self::RateLimited { .. }
            | Self::TooManyLiveConnections { .. }
            | Self::LiveNetworkFull { .. }
            | Self::LiveFull => 429,
            Self::Rejected(_) => 422,
            Self::StorageUnavailable { .. } | Self::AccountNotEmptied { .. } => 503,
            Self::Internal { .. } => 500,
            Self::Transport(_) => 502,
        }
    }

    /// Something went wrong on our side; the request's id is added where it leaves.
    pub const fn internal() -> Self {
        Self::Internal { reference: None }
    }

    pub const fn storage_unavailable() -> Self {
        Self::StorageUnavailable { reference: None }
    }

    /// This error as the request being answered gives it, with that request's id: a
    /// server-side failure names the request in its sentence.
    fn answered(self) -> (Self, Option<String>) {
        let Some(id) = current_request() else {
            return (self, None);
        };
        let error = match self {
            Self::Internal { reference: None } => Self::Internal {
                reference: Some(id.clone()),
            },
            Self::StorageUnavailable { reference: None } => Self::StorageUnavailable {
                reference: Some(id.clone()),
            },
            other => other,
        };
        (error, Some(id))
    }

    /// The JSON body of an error answer: the data, and beside it the sentence, for every client
    /// that is not this page (curl, scripts, a terminal client), and the request's id.
    pub fn to_wire(&self) -> String {
        let (error, request) = self.clone().answered();
        let mut value = serde_json::to_value(&error).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.insert("message".into(), error.to_string().into());
            if let Some(id) = request {
                object.insert("request_id".into(), id.into());
            }
        }
        value.to_string()
    }

    /// The server will not take this file as it is (its name, type or size, or what its bytes
    /// turned out to be): sending it again cannot help.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Invalid(_) | Self::Rejected(_))
    }

    /// Worth asking again after a pause: the network or the store was away for a moment, or
    /// the server asked us to slow down.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Transport(_) | Self::StorageUnavailable { .. } | Self::RateLimited { .. }
        )
    }
}

#[cfg(feature = "ssr")]
tokio::task_local! {
    /// The id of the request a server task is answering, set around each request by the server
    /// (`server::traced`), so that every error it answers can name it.
    pub static REQUEST_ID: String;
}

/// The request being answered, on the server; a page has none.
pub fn current_request() -> Option<String> {
    #[cfg(feature = "ssr")]
    return REQUEST_ID.try_with(Clone::clone).ok();
    #[cfg(not(feature = "ssr"))]
    None
}

fn quote(reference: &Option<String>) -> String {
    match reference {
        Some(id) => format!(" (Request {id}.)"),
        None => String::new(),
    }
}

/// The same sentence and status a server function gives, for plain routes (downloads).
#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        let status = axum::http::StatusCode::from_u16(self.status_code())
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        (status, self.answered().0.to_string()).into_response()
    }
}

/// A decoder's message is echoed to the caller, but never at length.
fn shorten(detail: &str) -> String {
    const MAX_CHARS: usize = 200;
    let detail = detail.trim().trim_end_matches('.');
    match detail.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &detail[..cut]),
        None => detail.to_string(),
    }
}

fn scan_state(scan: crate::model::Scan, detail: &Option<String>) -> String {
    use crate::model::Scan;
    match (scan, detail.as_deref()) {
        (Scan::Pending, _) => "it is being scanned now".into(),
        (Scan::Off, _) => "it arrived while scanning was off".into(),
        (Scan::Unscanned, Some(why)) => format!("it could not be scanned: {}", shorten(why)),
        (_, _) => "it could not be scanned".into(),
    }
}

fn describe_parts(parts: &[u32]) -> String {
    const SHOWN: usize = 10;
    let mut listed: Vec<String> = parts.iter().take(SHOWN).map(u32::to_string).collect();
    if parts.len() > SHOWN {
        listed.push(format!("and {} more", parts.len() - SHOWN));
    }
    match parts.len() {
        1 => format!("part {} has", listed[0]),
        _ => format!("parts {} have", listed.join(", ")),
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(detail) | ServerFnErrorErr::Response(detail) => {
                Self::Transport(detail)
            }
            // The arguments did not decode: the caller's mistake (or an attack), not ours.
            ServerFnErrorErr::Args(detail)
            | ServerFnErrorErr::MissingArg(detail)
            | ServerFnErrorErr::Deserialization(detail)
            | ServerFnErrorErr::UnsupportedRequestMethod(detail) => {
                #[cfg(feature = "ssr")]
                tracing::debug!(%detail, "malformed server function request");
                Self::Malformed(shorten(&detail))
            }
            other => {
                #[cfg(feature = "ssr")]
                tracing::error!(error = %other, "server function failed");
                let _ = other;
                Self::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_travels_as_data_with_its_sentence_beside() {
        for error in [
            ApiError::NotFound,
            ApiError::Closed(UploadStatus::Expired),
            ApiError::Incomplete { missing: vec![2] },
            ApiError::Invalid(Invalid::EmptyFile {
                name: "a.bin".into(),
            }),
        ] {
            let wire = error.to_wire();
            let value: serde_json::Value = serde_json::from_str(&wire).unwrap();
            assert_eq!(value["message"], error.to_string(), "{wire}");
            assert_eq!(serde_json::from_str::<ApiError>(&wire).unwrap(), error);
        }
    }

    #[test]
    fn a_refused_file_says_how_much_room_is_left() {
        const GIB: u64 = 1 << 30;
        let error = ApiError::OverQuota {
            size: 4 * GIB,
            left: GIB + GIB / 5,
            quota: 10 * GIB,
        };
        assert_eq!(
            error.to_string(),
            "This file (4.0 GiB) does not fit in your storage: 1.2 GiB of 10 GiB left."
        );
    }

    #[test]
    fn missing_parts_are_named() {
        let one = ApiError::Incomplete { missing: vec![3] };
        assert_eq!(
            one.to_string(),
            "The upload is not finished yet: part 3 has not arrived."
        );
        let many = ApiError::Incomplete {
            missing: (1..=12).collect(),
        };
        assert!(many.to_string().contains("parts 1, 2, 3"));
        assert!(many.to_string().contains("and 2 more"));
    }
}
