//! The session cookie, and who each request comes from. A browser is a guest (a random id in
//! the cookie and nowhere else) until it signs in; then the cookie names a session kept in
//! the database, which signing out, disabling the account or its lifetime ends. A program
//! sends `Authorization: Bearer <token>` instead and has no cookie.
//!
//! The cookie carries `g:` or `a:` and an id, with an HMAC of both under the server's secret,
//! so a client can neither choose an id nor guess one nor turn a guest id into a session id:
//! a cookie planted from a sibling subdomain (or written by hand) is simply not a session. Under https the cookie is `__Host-` prefixed, which a
//! browser accepts only from this exact host, over https, for path `/`. A request bringing two
//! session cookies is refused: one of them was planted to shadow the other.

use super::state::AppState;
use crate::format::hex;
use crate::{accounts::Caller, error::ApiError};
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
/// A year: a guest's library stays with the browser.
const GUEST_MAX_AGE_SECS: u64 = 365 * 24 * 3600;
/// A secret shorter than this is refused at start-up.
pub const MIN_SECRET_BYTES: usize = 32;
const KEY_FILE: &str = "session.key";

/// What a session cookie names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    Guest(String),
    /// A row in `sessions`, live or not.
    Signed(String),
}

impl Subject {
    fn text(&self) -> String {
        match self {
            Self::Guest(id) => format!("g:{id}"),
            Self::Signed(id) => format!("a:{id}"),
        }
    }
}

/// Issues and checks session cookies.
#[derive(Clone)]
pub struct Sessions {
    secret: Arc<[u8]>,
    /// The site is served over https: the cookie is `Secure` and `__Host-` prefixed.
    secure: bool,
    /// How long a signed-in session's cookie is kept (its absolute lifetime).
    signed_max_age: u64,
}

/// What the browser's cookies say about its session.
#[derive(Debug, PartialEq, Eq)]
enum Presented {
    /// No session cookie, or one we did not sign: the browser gets a new session.
    None,
    Valid(Subject),
    /// Two or more session cookies.
    Several,
}

impl Sessions {
    pub fn new(secret: &[u8], secure: bool, signed_lifetime: std::time::Duration) -> Self {
        Self {
            secret: secret.into(),
            secure,
            signed_max_age: signed_lifetime.as_secs(),
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

    /// `<g|a>:<id>.<hex HMAC of what precedes the dot>`.
    fn sign(&self, subject: &Subject) -> String {
        let text = subject.text();
        let tag = self.mac(&text).finalize().into_bytes();
        format!("{text}.{}", hex(&tag))
    }

    /// The subject, if the value is one we signed (compared in constant time). A bare
    /// `<id>.<tag>` is a guest cookie from before accounts existed.
    fn verify(&self, value: &str) -> Option<Subject> {
        let (text, tag) = value.split_once('.')?;
        let (kind, id) = match text.split_once(':') {
            Some((kind, id)) => (Some(kind), id),
            None => (None, text),
        };
        let id = uuid::Uuid::parse_str(id).ok()?.to_string();
        let (signed, subject) = match kind {
            None => (id.clone(), Subject::Guest(id)),
            Some("g") => (format!("g:{id}"), Subject::Guest(id)),
            Some("a") => (format!("a:{id}"), Subject::Signed(id)),
            Some(_) => return None,
        };
        let tag = unhex(tag)?;
        self.mac(&signed).verify_slice(&tag).ok()?;
        Some(subject)
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

    /// The `Set-Cookie` value that makes the browser present `subject`.
    pub fn set_cookie(&self, subject: &Subject) -> Option<HeaderValue> {
        let secure = if self.secure { "; Secure" } else { "" };
        let max_age = match subject {
            Subject::Guest(_) => GUEST_MAX_AGE_SECS,
            Subject::Signed(_) => self.signed_max_age,
        };
        let cookie = format!(
            "{}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
            self.cookie_name(),
            self.sign(subject)
        );
        HeaderValue::from_str(&cookie).ok()
    }
}

/// On a request whose caller is a guest made for it (no session was presented): such a
/// caller costs a stranger nothing, so what must be counted per person (`/events`) refuses it.
#[derive(Clone, Copy, Debug)]
pub struct MintedGuest;

/// Names the caller of every request. A bearer token must be live, or the request is refused;
/// a cookie naming a session that has ended (signed out, expired, account disabled) is
/// replaced by a new guest cookie, so the old one opens nothing.
pub async fn attach(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if let Some(auth) = request.headers().get(header::AUTHORIZATION) {
        let token = auth.to_str().ok().and_then(|v| v.strip_prefix("Bearer "));
        let account = match token {
            Some(token) => state.accounts.by_token(token.trim()).await,
            None => Ok(None),
        };
        return match account {
            Ok(Some(account)) => {
                request.extensions_mut().insert(Caller::Account {
                    account,
                    session: None,
                });
                next.run(request).await
            }
            Ok(None) => super::guard::error_response(&path, &ApiError::BadToken),
            Err(e) => {
                tracing::error!(error = %e, "cannot look up a token");
                super::guard::error_response(&path, &ApiError::internal())
            }
        };
    }
    let sessions = &state.cookies;
    let presented = match sessions.presented(request.headers()) {
        Presented::Valid(subject) => Some(subject),
        Presented::None => None,
        Presented::Several => {
            tracing::debug!("refused a request with several session cookies");
            return super::guard::error_response(&path, &ApiError::DuplicateSession);
        }
    };
    let caller = match &presented {
        Some(Subject::Guest(id)) => Some(Caller::Guest {
            session: id.clone(),
        }),
        Some(Subject::Signed(id)) => match state.accounts.session(id).await {
            Ok(account) => account.map(|account| Caller::Account {
                account,
                session: Some(id.clone()),
            }),
            Err(e) => {
                tracing::error!(error = %e, "cannot look up a session");
                return super::guard::error_response(&path, &ApiError::internal());
            }
        },
        None => None,
    };
    let (caller, new_cookie) = match caller {
        Some(caller) => (caller, None),
        None => {
            let id = uuid::Uuid::new_v4().to_string();
            let caller = Caller::Guest {
                session: id.clone(),
            };
            (caller, Some(Subject::Guest(id)))
        }
    };
    request.extensions_mut().insert(caller);
    if new_cookie.is_some() {
        request.extensions_mut().insert(MintedGuest);
    }
    let mut response = next.run(request).await;
    // A server function that signed in or out has set its own cookie: that one stands.
    let own_cookie = response.headers().contains_key(header::SET_COOKIE);
    if let (Some(subject), false) = (new_cookie, own_cookie) {
        if let Some(value) = sessions.set_cookie(&subject) {
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

    const LIFETIME: std::time::Duration = std::time::Duration::from_secs(3600);

    fn sessions() -> Sessions {
        Sessions::new(b"a test secret of thirty-two bytes!", false, LIFETIME)
    }

    fn guest() -> Subject {
        Subject::Guest(ID.into())
    }

    fn headers(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        h
    }

    #[test]
    fn a_signed_session_cookie_is_found_among_others() {
        let s = sessions();
        let cookie = format!("a=1; {COOKIE}={}; b=2", s.sign(&guest()));
        assert_eq!(s.presented(&headers(&cookie)), Presented::Valid(guest()));
        let signed = Subject::Signed(ID.into());
        let cookie = format!("{COOKIE}={}", s.sign(&signed));
        assert_eq!(s.presented(&headers(&cookie)), Presented::Valid(signed));
    }

    #[test]
    fn a_guest_cookie_cannot_be_turned_into_a_signed_in_one() {
        let s = sessions();
        let value = s.sign(&guest());
        let forged = value.replacen("g:", "a:", 1);
        let cookie = format!("{COOKIE}={forged}");
        assert_eq!(s.presented(&headers(&cookie)), Presented::None);
        // A guest cookie from before accounts: the bare id, signed.
        let tag = hex(&s.mac(ID).finalize().into_bytes());
        let cookie = format!("{COOKIE}={ID}.{tag}");
        assert_eq!(s.presented(&headers(&cookie)), Presented::Valid(guest()));
    }

    #[test]
    fn a_bare_forged_or_foreign_id_is_not_a_session() {
        let s = sessions();
        let elsewhere = Sessions::new(b"another secret, thirty-two bytes!!", false, LIFETIME);
        for value in [
            ID.to_string(),
            format!("{ID}.{}", "0".repeat(64)),
            elsewhere.sign(&guest()),
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
        let cookie = format!(
            "{COOKIE}={}; {COOKIE}={}",
            s.sign(&guest()),
            s.sign(&guest())
        );
        assert_eq!(s.presented(&headers(&cookie)), Presented::Several);
    }

    #[test]
    fn under_https_only_the_host_prefixed_cookie_counts() {
        let s = Sessions::new(b"a test secret of thirty-two bytes!", true, LIFETIME);
        let plain = format!("{COOKIE}={}", s.sign(&guest()));
        assert_eq!(s.presented(&headers(&plain)), Presented::None);
        let host = format!("{HOST_COOKIE}={}", s.sign(&guest()));
        assert_eq!(s.presented(&headers(&host)), Presented::Valid(guest()));
        let set = s.set_cookie(&guest()).unwrap();
        let set = set.to_str().unwrap();
        assert!(set.starts_with("__Host-hoist_session=") && set.contains("; Secure"));
    }
}
