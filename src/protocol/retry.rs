//! What to do when a part PUT (or a call to the server) fails: the page and the terminal client
//! follow the same verdicts.
//!
//! Four answers: an expired URL is signed again and retried at once (not a failure: long
//! uploads outlive their URLs by design); bytes the store found different from their signed
//! checksum are read again from the file (corrupted on the way, or the file changed); a
//! network error, timeout, 5xx, 408 or 429 waits with exponential backoff and jitter, then
//! retries; anything else (a 4xx that a retry cannot fix) stops the file with a sentence that
//! says why.

use std::time::Duration;

/// Attempts per part for failures that count (offline waiting and re-signing do not): with
/// the backoff below, about a minute of trying before the file says it failed.
pub const MAX_ATTEMPTS: u32 = 8;
/// Expired URLs re-signed in a row before we suspect something else (a clock far off, say).
pub const MAX_RESIGNS: u32 = 5;
const BASE: Duration = Duration::from_millis(500);
const CAP: Duration = Duration::from_secs(30);

/// How one PUT ended badly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutError {
    /// No answer: offline, connection reset, CORS refusal.
    Network,
    /// No answer in time.
    Timeout,
    /// Nothing sent and nothing heard for a long while: we gave up on the request.
    Stalled,
    /// We stopped it (pause or cancel).
    Aborted,
    /// The store answered with an error status and this body.
    Status(u16, String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Resign,
    /// The store refused the bytes: they do not match the checksum signed into the URL.
    Reread,
    Retry,
    Fatal(String),
}

pub fn judge(error: &PutError) -> Verdict {
    match error {
        PutError::Network | PutError::Timeout | PutError::Stalled => Verdict::Retry,
        PutError::Aborted => Verdict::Fatal("The upload was stopped.".into()),
        PutError::Status(code, body) if url_expired(*code, body) => Verdict::Resign,
        PutError::Status(400, body) if digest_mismatch(body) => Verdict::Reread,
        PutError::Status(code, _) if *code >= 500 || matches!(code, 408 | 429) => Verdict::Retry,
        PutError::Status(code, body) => Verdict::Fatal(format!(
            "Upload failed: the storage service refused a part ({code} {}).",
            error_code(body).unwrap_or("error")
        )),
    }
}

/// AWS answers 403 "Request has expired"; Garage answers 400 "Date is too old"; others say
/// "expired" somewhere. Bodies are short XML documents.
fn url_expired(code: u16, body: &str) -> bool {
    let body = body.to_ascii_lowercase();
    matches!(code, 400 | 403)
        && (body.contains("expired") || body.contains("too old") || body.contains("expiresin"))
}

/// AWS says BadDigest (or XAmzContentChecksumMismatch), Garage InvalidDigest.
fn digest_mismatch(body: &str) -> bool {
    matches!(
        error_code(body),
        Some("BadDigest" | "InvalidDigest" | "XAmzContentChecksumMismatch")
    )
}

/// The `<Code>` of an S3 error document.
pub fn error_code(body: &str) -> Option<&str> {
    body.split("<Code>").nth(1)?.split("</Code>").next()
}

/// The pause before retry number `attempt` (1-based): exponential, capped, with "equal
/// jitter" — between half and all of the exponential step — so that parts failing together
/// do not all come back at the same instant. `unit` is a random number in [0, 1).
pub fn backoff(attempt: u32, unit: f64) -> Duration {
    let step = BASE
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
        .min(CAP);
    step.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
}

/// How long to wait when the server said how long (`Retry-After` on a 429): that long, plus
/// up to a quarter more so that calls refused together do not return together. Such waits are
/// not failures: the server is busy with us, not broken, and says when to come back.
pub fn as_asked(wait: Duration, unit: f64) -> Duration {
    wait.mul_f64(1.0 + 0.25 * unit.clamp(0.0, 1.0))
}

/// One part's (or one server call's) tally of failures, and what to do after the next one.
/// Waiting offline is not counted by the callers: a laptop closed for an hour resumes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Attempts {
    failures: u32,
    resigns: u32,
}

/// What to do after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try again after this pause (attempt `attempt` of [`MAX_ATTEMPTS`] comes next).
    RetryAfter {
        pause: Duration,
        attempt: u32,
    },
    /// The URL expired: sign a new one and send at once.
    ResignNow,
    GiveUp,
}

impl Attempts {
    /// A failure that counts (network, store busy, damaged bytes). `unit` is a random number
    /// in [0, 1) for the jitter.
    pub fn failed(&mut self, unit: f64) -> Next {
        self.failures += 1;
        if self.failures >= MAX_ATTEMPTS {
            return Next::GiveUp;
        }
        Next::RetryAfter {
            pause: backoff(self.failures, unit),
            attempt: self.failures + 1,
        }
    }

    /// The URL had expired: a new one is signed, which is not a failure — unless it keeps
    /// happening (a clock far off, say).
    pub fn expired(&mut self) -> Next {
        self.resigns += 1;
        if self.resigns > MAX_RESIGNS {
            Next::GiveUp
        } else {
            Next::ResignNow
        }
    }
}

impl std::fmt::Display for PutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Network => f.write_str("the storage service could not be reached"),
            Self::Timeout => f.write_str("the storage service did not answer in time"),
            Self::Stalled => f.write_str("the storage service stopped answering"),
            Self::Aborted => f.write_str("the upload was stopped"),
            Self::Status(code, body) => write!(
                f,
                "the storage service answered {code} ({})",
                error_code(body).unwrap_or("error")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_that_stalled_or_timed_out_is_tried_again() {
        assert_eq!(judge(&PutError::Stalled), Verdict::Retry);
        assert_eq!(judge(&PutError::Timeout), Verdict::Retry);
        assert_eq!(
            judge(&PutError::Aborted),
            Verdict::Fatal("The upload was stopped.".into())
        );
    }

    #[test]
    fn expired_urls_are_signed_again_on_aws_and_garage() {
        let aws = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>";
        let garage = "<Error><Code>InvalidRequest</Code><Message>Bad request: Date is too old</Message></Error>";
        assert_eq!(judge(&PutError::Status(403, aws.into())), Verdict::Resign);
        assert_eq!(
            judge(&PutError::Status(400, garage.into())),
            Verdict::Resign
        );
    }

    #[test]
    fn bytes_that_fail_their_checksum_are_read_again() {
        // Garage's answer, as seen in tests/checksums.rs; AWS says BadDigest.
        let garage = "<Error><Code>InvalidDigest</Code><Message>Invalid digest: Failed to validate checksum</Message></Error>";
        let aws = "<Error><Code>BadDigest</Code><Message>The CRC32C you specified did not match the calculated checksum.</Message></Error>";
        assert_eq!(
            judge(&PutError::Status(400, garage.into())),
            Verdict::Reread
        );
        assert_eq!(judge(&PutError::Status(400, aws.into())), Verdict::Reread);
    }

    #[test]
    fn network_trouble_and_busy_stores_are_retried() {
        for e in [
            PutError::Network,
            PutError::Timeout,
            PutError::Status(500, String::new()),
            PutError::Status(503, "<Code>SlowDown</Code>".into()),
            PutError::Status(429, String::new()),
            PutError::Status(408, String::new()),
        ] {
            assert_eq!(judge(&e), Verdict::Retry, "{e:?}");
        }
    }

    #[test]
    fn a_refusal_that_retrying_cannot_fix_stops_the_file_with_its_reason() {
        let body = "<Error><Code>SignatureDoesNotMatch</Code></Error>";
        match judge(&PutError::Status(403, body.into())) {
            Verdict::Fatal(message) => assert!(message.contains("403 SignatureDoesNotMatch")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            judge(&PutError::Status(404, "<Code>NoSuchUpload</Code>".into())),
            Verdict::Fatal(_)
        ));
    }

    #[test]
    fn attempts_back_off_then_give_up_and_resigning_is_counted_apart() {
        let mut attempts = Attempts::default();
        let mut pauses = Vec::new();
        loop {
            match attempts.failed(0.0) {
                Next::RetryAfter { pause, attempt } => pauses.push((pause, attempt)),
                Next::GiveUp => break,
                Next::ResignNow => panic!("a failure never re-signs"),
            }
        }
        assert_eq!(pauses.len() as u32, MAX_ATTEMPTS - 1);
        assert_eq!(pauses[0], (Duration::from_millis(250), 2));
        assert!(pauses.windows(2).all(|w| w[0].0 <= w[1].0));

        let mut attempts = Attempts::default();
        for _ in 0..MAX_RESIGNS {
            assert_eq!(attempts.expired(), Next::ResignNow);
        }
        assert_eq!(attempts.expired(), Next::GiveUp);
        // Re-signing used none of the failures.
        assert!(matches!(
            attempts.failed(0.0),
            Next::RetryAfter { attempt: 2, .. }
        ));
    }

    #[test]
    fn a_server_that_says_when_is_waited_for_that_long_at_least() {
        let asked = Duration::from_secs(4);
        assert_eq!(as_asked(asked, 0.0), asked);
        assert_eq!(as_asked(asked, 0.999_999).as_secs(), 4);
        assert!(as_asked(asked, 0.999_999) <= Duration::from_secs(5));
    }

    #[test]
    fn backoff_doubles_within_jitter_bounds_and_is_capped() {
        for attempt in 1..=12 {
            let step = (0.5 * 2f64.powi(attempt as i32 - 1)).min(30.0);
            let low = backoff(attempt, 0.0).as_secs_f64();
            let high = backoff(attempt, 0.999_999).as_secs_f64();
            assert!((low - step / 2.0).abs() < 1e-6, "attempt {attempt}: {low}");
            assert!(
                high <= step + 1e-6 && high > step * 0.99,
                "attempt {attempt}: {high}"
            );
        }
        assert_eq!(backoff(1, 0.0), Duration::from_millis(250));
        assert_eq!(backoff(100, 0.999_999).as_secs(), 29);
        // Out-of-range randomness cannot push the pause past its bounds.
        assert_eq!(backoff(2, 7.0), Duration::from_secs(1));
    }
}
