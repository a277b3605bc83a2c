//! Server functions called from the terminal: the arguments are the very structs the
//! `#[server]` functions take, form-encoded as the browser encodes them, with the account's
//! token as `Authorization: Bearer`. A busy server (429, 503) is waited for as long as it asks;
//! a network failure or a 5xx is retried with the engine's backoff.

use super::{ClientError, Remote};
use crate::{
    error::ApiError,
    protocol::retry::{self, Attempts, Next},
};
use reqwest::{header, StatusCode};
use serde::{de::DeserializeOwned, Serialize};
use std::time::Duration;

/// Waits a busy server asked for, in a row, before the call is given up.
const MAX_BUSY_WAITS: u32 = 30;

pub struct Api {
    http: reqwest::Client,
    base: url::Url,
    token: String,
}

impl Api {
    pub fn new(remote: &Remote) -> Result<Self, ClientError> {
        let token = token(remote)?;
        if token_in_clear(&remote.server) {
            eprintln!(
                "hoist: warning: {} is plain http to another machine: the token crosses the \
                 network readable by anyone on the way (use https)",
                remote.server
            );
        }
        let http = http_client()?;
        Ok(Self {
            http,
            base: remote.server.clone(),
            token,
        })
    }

    pub fn server(&self) -> &str {
        self.base.as_str()
    }

    pub fn url(&self, path: &str) -> Result<url::Url, ClientError> {
        self.base
            .join(path)
            .map_err(|e| ClientError::Usage(format!("HOIST_SERVER {}: {e}", self.base)))
    }

    /// Calls the server function `name` with `args` (its generated argument struct).
    pub async fn call<A: Serialize, T: DeserializeOwned>(
        &self,
        name: &str,
        args: &A,
    ) -> Result<T, ClientError> {
        let body = serde_qs::to_string(args).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let url = self.url(&format!("api/{name}"))?;
        let response = self
            .send(|| {
                self.http
                    .post(url.clone())
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(body.clone())
            })
            .await?;
        let status = response.status();
        let text = response.text().await.map_err(|e| self.unreachable(&e))?;
        if status.is_success() {
            return serde_json::from_str(&text)
                .map_err(|e| ClientError::Protocol(format!("{name}: {e}")));
        }
        Err(refusal(status, &text))
    }

    /// A GET on a page of the server with the token (no redirect followed: a redirect to the
    /// store must not carry the token along).
    pub async fn get(&self, path: &str) -> Result<reqwest::Response, ClientError> {
        let url = self.url(path)?;
        self.send(|| self.http.get(url.clone())).await
    }

    /// Sends with the token, retrying what a retry can fix; returns any other answer.
    async fn send(
        &self,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ClientError> {
        let mut attempts = Attempts::default();
        let mut busy = 0;
        loop {
            let sent = request().bearer_auth(&self.token).send().await;
            let pause = match sent {
                Ok(response) if busy_for(&response).is_some() && busy < MAX_BUSY_WAITS => {
                    busy += 1;
                    busy_for(&response).unwrap_or_default()
                }
                Ok(response) if response.status().is_server_error() => {
                    match attempts.failed(jitter()) {
                        Next::RetryAfter { pause, .. } => pause,
                        _ => return Ok(response),
                    }
                }
                Ok(response) => return Ok(response),
                Err(e) => match attempts.failed(jitter()) {
                    Next::RetryAfter { pause, .. } => pause,
                    _ => return Err(self.unreachable(&e)),
                },
            };
            tokio::time::sleep(pause).await;
        }
    }

    fn unreachable(&self, e: &reqwest::Error) -> ClientError {
        ClientError::Unreachable {
            server: self.base.to_string(),
            reason: describe(e),
        }
    }
}

/// A token file's first line is a token of ~50 characters: anything past this is not one.
const MAX_TOKEN_FILE: u64 = 4096;

/// The token from `--token`/`HOIST_TOKEN` or from `--token-file`/`HOIST_TOKEN_FILE`.
fn token(remote: &Remote) -> Result<String, ClientError> {
    let given = match (&remote.token, &remote.token_file) {
        (Some(_), Some(_)) => {
            return Err(ClientError::Usage(
                "give the token one way: --token (HOIST_TOKEN) or --token-file \
                 (HOIST_TOKEN_FILE), not both"
                    .into(),
            ))
        }
        (Some(token), None) => Some(token.clone()),
        (None, Some(path)) => Some(read_token_file(path)?),
        (None, None) => None,
    };
    given
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            ClientError::Usage(format!(
                "a token is needed: create one on {} and pass it with HOIST_TOKEN or \
                 --token-file",
                remote
                    .server
                    .join("account")
                    .map_or_else(|_| "the account page".into(), |u| u.to_string())
            ))
        })
}

fn read_token_file(path: &std::path::Path) -> Result<String, ClientError> {
    use std::io::Read;
    let fail = |e: &dyn std::fmt::Display| {
        ClientError::Usage(format!("--token-file {}: {e}", path.display()))
    };
    let file = std::fs::File::open(path).map_err(|e| fail(&e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if file
            .metadata()
            .is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
        {
            eprintln!(
                "hoist: warning: {} can be read by other users of this machine (chmod 600 it)",
                path.display()
            );
        }
    }
    let mut bytes = Vec::new();
    file.take(MAX_TOKEN_FILE)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(&e))?;
    let text = String::from_utf8(bytes).map_err(|_| fail(&"not a token (not UTF-8 text)"))?;
    Ok(text.lines().next().unwrap_or_default().to_string())
}

/// Would a token sent to `server` cross the network readable by anyone on the way: plain
/// http to a host that is not this machine? (Only the literal loopback names count: a name
/// such as `dev.localhost` may still be asked of a DNS server.)
pub fn token_in_clear(server: &url::Url) -> bool {
    if server.scheme() != "http" {
        return false;
    }
    match server.host() {
        Some(url::Host::Ipv4(ip)) => !ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => {
            !(ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()))
        }
        Some(url::Host::Domain(name)) => {
            !name.trim_end_matches('.').eq_ignore_ascii_case("localhost")
        }
        None => true,
    }
}

/// The HTTP client for the server and the store alike: no redirects followed, a bounded wait
/// for a connection, a name in `User-Agent`.
pub fn http_client() -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(15))
        .user_agent(concat!("hoist/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ClientError::Usage(format!("cannot make an HTTP client: {e}")))
}

/// How long a 429 or 503 asks us to wait (`Retry-After` in seconds, else a second), with some
/// jitter; `None` for any other answer.
pub fn busy_for(response: &reqwest::Response) -> Option<Duration> {
    if !matches!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    ) {
        return None;
    }
    let asked = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(1), Duration::from_secs);
    Some(retry::as_asked(
        asked.min(Duration::from_secs(300)),
        jitter(),
    ))
}

/// The server's refusal: its own sentence when the body is one of its errors.
fn refusal(status: StatusCode, body: &str) -> ClientError {
    match serde_json::from_str::<ApiError>(body) {
        Ok(e @ ApiError::BadToken) => ClientError::BadToken(e),
        Ok(e) => ClientError::Refused(e),
        Err(_) => ClientError::Protocol(format!(
            "{status}: {}",
            body.chars().take(200).collect::<String>()
        )),
    }
}

/// A network error with its causes, which `reqwest` keeps in its source chain.
pub fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A random number in [0, 1), for backoff jitter.
pub fn jitter() -> f64 {
    // The low 53 bits of a v4 UUID are random (its version and variant bits are higher up).
    (uuid::Uuid::new_v4().as_u128() & ((1 << 53) - 1)) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::token_in_clear;

    #[test]
    fn a_token_in_clear_is_plain_http_to_another_machine() {
        for server in [
            "http://hoist.example.com",
            "http://192.168.1.20:3000",
            "http://10.0.0.1",
            "http://[2001:db8::1]:3000",
            "http://localhost.example.com",
            "http://dev.localhost",
        ] {
            let url = url::Url::parse(server).expect("a URL");
            assert!(token_in_clear(&url), "{server}");
        }
        for server in [
            "https://hoist.example.com",
            "http://127.0.0.1:3000",
            "http://127.8.9.10",
            "http://localhost:3000",
            "http://LOCALHOST.",
            "http://[::1]:3000",
            "http://[::ffff:127.0.0.1]",
        ] {
            let url = url::Url::parse(server).expect("a URL");
            assert!(!token_in_clear(&url), "{server}");
        }
    }
}
