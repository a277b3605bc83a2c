//! An anonymous browser session: a random id in an HttpOnly cookie. Uploads belong to the
//! session that started them; another session's upload id answers "not found".

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue},
    middleware::Next,
    response::Response,
};

pub const COOKIE: &str = "hoist_session";
/// A year: the library stays with the browser.
const MAX_AGE_SECS: u32 = 365 * 24 * 3600;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionId(pub String);

/// Whether the cookie may only travel over HTTPS.
#[derive(Clone, Copy)]
pub struct SecureCookie(pub bool);

/// Gives every request a session, creating one (and its cookie) when the browser has none.
pub async fn attach(
    State(secure): State<SecureCookie>,
    mut request: Request,
    next: Next,
) -> Response {
    let existing = read_cookie(request.headers());
    let id = existing
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    request.extensions_mut().insert(SessionId(id.clone()));
    let mut response = next.run(request).await;
    if existing.is_none() {
        let secure = if secure.0 { "; Secure" } else { "" };
        let cookie = format!(
            "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={MAX_AGE_SECS}{secure}"
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// The session id, if the browser sent a well-formed one. Anything else gets a new session
/// rather than an error: the cookie is ours, a mangled one is just lost.
fn read_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .and_then(|(_, value)| uuid::Uuid::parse_str(value).ok())
        .map(|id| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        h
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let id = "6f1c1f5e-8a4e-4f64-9a43-0d3f5b8f2a11";
        assert_eq!(
            read_cookie(&headers(&format!("a=1; {COOKIE}={id}; b=2"))),
            Some(id.to_string())
        );
    }

    #[test]
    fn a_forged_or_missing_cookie_is_ignored() {
        assert_eq!(
            read_cookie(&headers(&format!("{COOKIE}=../../admin"))),
            None
        );
        assert_eq!(read_cookie(&headers("other=1")), None);
        assert_eq!(read_cookie(&HeaderMap::new()), None);
    }
}
