//! An anonymous browser session: a random id in an HttpOnly cookie. Uploads belong to the
//! session that started them; another session's upload id answers "not found".
//!
//! The cookie carries the id and an HMAC of it under the server's secret, so a client can
//! neither choose an id nor guess one: a cookie planted from a sibling subdomain (or written
//! by hand) is simply not a session. Under https the cookie is `__Host-` prefixed, which a
//! browser accepts only from this exact host, over https, for path `/`. A request bringing two
//! session cookies is refused: one of them was planted to shadow the other.

use crate::error::ApiError;
use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue},
    middleware::Next,
    response::Response,
};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::{path::Path, sync::Arc};

pub const COOKIE: &str = "hoist_session";
/// The name under https: browsers accept it only from this host, with `Secure` and `Path=/`.
pub const HOST_COOKIE: &str = "__Host-hoist_session";
/// A year: the library stays with the browser.
const MAX_AGE_SECS: u32 = 365 * 24 * 3600;
/// A secret shorter than this is refused at start-up.
pub const MIN_SECRET_BYTES: usize = 32;
const KEY_FILE: &str = "session.key";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionId(pub String);

/// Issues and checks session cookies.
#[derive(Clone)]
pub struct Sessions {
    secret: Arc<[u8]>,
    /// The site is served over https: the cookie is `Secure` and `__Host-` prefixed.
    secure: bool,
}

/// What the browser's cookies say about its session.
#[derive(Debug, PartialEq, Eq)]
enum Presented {
    /// No session cookie, or one we did not sign: the browser gets a new session.
    None,
    Valid(String),
    /// Two or more session cookies.
    Several,
}

impl Sessions {
    pub fn new(secret: &[u8], secure: bool) -> Self {
        Self {
            secret: secret.into(),
            secure,
        }
    }

    fn cookie_name(&self) -> &'static str {
        if self.secure {
            HOST_COOKIE
        } else {
            COOKIE
        }
    }

    fn mac(&self, id: &str) -> Hmac<Sha256> {
        // HMAC takes a key of any length; this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .expect("HMAC accepts keys of any length");
        mac.update(id.as_bytes());
        mac
    }

    /// `<id>.<hex HMAC of id>`.
    fn sign(&self, id: &str) -> String {
        let tag = self.mac(id).finalize().into_bytes();
        format!("{id}.{}", hex(&tag))
    }

    /// The id, if the value is one we signed (compared in constant time).
    fn verify(&self, value: &str) -> Option<String> {
        let (id, tag) = value.split_once('.')?;
        let id = uuid::Uuid::parse_str(id).ok()?.to_string();
        let tag = unhex(tag)?;
        self.mac(&id).verify_slice(&tag).ok()?;
        Some(id)
    }

    fn presented(&self, headers: &HeaderMap) -> Presented {
        let name = self.cookie_name();
        let values: Vec<&str> = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v)
            .collect();
        match values.as_slice() {
            [] => Presented::None,
            [one] => self.verify(one).map_or(Presented::None, Presented::Valid),
            _ => Presented::Several,
        }
    }

    fn set_cookie(&self, id: &str) -> Option<HeaderValue> {
        let secure = if self.secure { "; Secure" } else { "" };
        let cookie = format!(
            "{}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={MAX_AGE_SECS}{secure}",
            self.cookie_name(),
            self.sign(id)
        );
        HeaderValue::from_str(&cookie).ok()
    }
}

/// Gives every request a session, creating one (and its cookie) when the browser has none
/// we signed.
pub async fn attach(
    State(sessions): State<Sessions>,
    mut request: Request,
    next: Next,
) -> Response {
    let existing = match sessions.presented(request.headers()) {
        Presented::Valid(id) => Some(id),
        Presented::None => None,
        Presented::Several => {
            tracing::debug!("refused a request with several session cookies");
            return super::guard::error_response(request.uri().path(), &ApiError::DuplicateSession);
        }
    };
    let id = existing
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    request.extensions_mut().insert(SessionId(id.clone()));
    let mut response = next.run(request).await;
    if existing.is_none() {
        if let Some(value) = sessions.set_cookie(&id) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

#[derive(clap::Args, Clone, Debug)]
pub struct SessionSettings {
    /// Signs session cookies; unset: the key kept in the data folder.
    #[arg(long, env = "HOIST_SESSION_SECRET", hide_env_values = true, value_parser = secret)]
    pub session_secret: Option<String>,
}

fn secret(text: &str) -> Result<String, String> {
    if text.len() < MIN_SECRET_BYTES {
        return Err(format!(
            "must be at least {MIN_SECRET_BYTES} characters; leave it unset to use a generated one"
        ));
    }
    Ok(text.to_string())
}

/// The secret sessions are signed with: `HOIST_SESSION_SECRET` if set, else the one kept in
/// the data folder (made on first start, readable by the owner only). Every instance sharing
/// a database must share the secret.
pub fn load_secret(configured: Option<&str>, data_dir: &Path) -> Result<Vec<u8>, String> {
    if let Some(secret) = configured {
        return Ok(secret.as_bytes().to_vec());
    }
    let path = data_dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let key = text.trim();
            if key.len() < MIN_SECRET_BYTES {
                return Err(format!(
                    "{} holds fewer than {MIN_SECRET_BYTES} characters; delete it to make a new one",
                    path.display()
                ));
            }
            Ok(key.as_bytes().to_vec())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Two v4 UUIDs: 244 random bits from the operating system's generator.
            let key = format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            );
            write_private(&path, &key).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(key.into_bytes())
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "6f1c1f5e-8a4e-4f64-9a43-0d3f5b8f2a11";

    fn sessions() -> Sessions {
        Sessions::new(b"a test secret of thirty-two bytes!", false)
    }

    fn headers(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        h
    }

    #[test]
    fn a_signed_session_cookie_is_found_among_others() {
        let s = sessions();
        let cookie = format!("a=1; {COOKIE}={}; b=2", s.sign(ID));
        assert_eq!(s.presented(&headers(&cookie)), Presented::Valid(ID.into()));
    }

    #[test]
    fn a_bare_forged_or_foreign_id_is_not_a_session() {
        let s = sessions();
        let elsewhere = Sessions::new(b"another secret, thirty-two bytes!!", false);
        for value in [
            ID.to_string(),
            format!("{ID}.{}", "0".repeat(64)),
            elsewhere.sign(ID),
            "../../admin".into(),
            format!("{ID}.zz"),
        ] {
            let cookie = format!("{COOKIE}={value}");
            assert_eq!(s.presented(&headers(&cookie)), Presented::None, "{value}");
        }
        assert_eq!(s.presented(&HeaderMap::new()), Presented::None);
    }

    #[test]
    fn two_session_cookies_are_refused() {
        let s = sessions();
        let cookie = format!("{COOKIE}={}; {COOKIE}={}", s.sign(ID), s.sign(ID));
        assert_eq!(s.presented(&headers(&cookie)), Presented::Several);
    }

    #[test]
    fn under_https_only_the_host_prefixed_cookie_counts() {
        let s = Sessions::new(b"a test secret of thirty-two bytes!", true);
        let plain = format!("{COOKIE}={}", s.sign(ID));
        assert_eq!(s.presented(&headers(&plain)), Presented::None);
        let host = format!("{HOST_COOKIE}={}", s.sign(ID));
        assert_eq!(s.presented(&headers(&host)), Presented::Valid(ID.into()));
        let set = s.set_cookie(ID).unwrap();
        let set = set.to_str().unwrap();
        assert!(set.starts_with("__Host-hoist_session=") && set.contains("; Secure"));
    }
}
