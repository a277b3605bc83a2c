//! Every request gets an id: it names the request's span (so each log line a request causes
//! carries it), comes back in `X-Request-Id`, and rides in every error the request answers, so
//! the sentence a person quotes leads to the log lines behind it. Server functions are also
//! counted and timed here, by name.

use crate::observe::metrics::{SERVER_FN_REQUESTS, SERVER_FN_SECONDS};
use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};
use std::{collections::HashSet, sync::OnceLock, time::Instant};
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request this task is answering, if it is answering one.
pub fn current() -> Option<String> {
    crate::error::current_request()
}

pub async fn trace(request: Request, next: Next) -> Response {
    // Not taken from the client: a caller could otherwise make its requests' lines look like
    // someone else's. A proxy in front keeps its own id in its own logs.
    let id = new_id();
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let span = tracing::info_span!("request", id = %id, %method, %path);
    let function = server_fn_name(&path);
    let started = Instant::now();
    let mut response = crate::error::REQUEST_ID
        .scope(id.clone(), next.run(request))
        .instrument(span.clone())
        .await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    if let Some(name) = function {
        metrics::histogram!(SERVER_FN_SECONDS, "name" => name).record(elapsed.as_secs_f64());
        metrics::counter!(SERVER_FN_REQUESTS, "name" => name, "status" => status.to_string())
            .increment(1);
    }
    let ms = elapsed.as_secs_f64() * 1000.0;
    // Built files, probes and scrapes would drown the rest.
    if quiet(&path) && status < 400 {
        span.in_scope(|| tracing::debug!(status, ms, "answered"));
    } else {
        span.in_scope(|| tracing::info!(status, ms, "answered"));
    }
    response
}

/// 16 hex digits: enough to tell requests apart in a day's logs, short enough to read out.
fn new_id() -> String {
    let mut id = uuid::Uuid::new_v4().simple().to_string();
    id.truncate(16);
    id
}

fn quiet(path: &str) -> bool {
    path.starts_with("/pkg/") || path == "/healthz" || path == "/metrics" || path == "/favicon.ico"
}

/// The server function a path calls, as a label: only registered names, so a client cannot
/// mint new time series by calling `/api/<anything>`.
fn server_fn_name(path: &str) -> Option<&'static str> {
    static NAMES: OnceLock<HashSet<&'static str>> = OnceLock::new();
    let name = path.strip_prefix("/api/")?;
    let names = NAMES.get_or_init(|| {
        leptos::server_fn::axum::server_fn_paths()
            .filter_map(|(path, _)| path.strip_prefix("/api/"))
            .collect()
    });
    names.get(name).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_short_and_differ() {
        let (a, b) = (new_id(), new_id());
        assert_eq!(a.len(), 16);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn the_current_id_is_known_inside_its_request_only() {
        assert_eq!(current(), None);
        let inside = crate::error::REQUEST_ID
            .scope("abc".into(), async { current() })
            .await;
        assert_eq!(inside.as_deref(), Some("abc"));
    }
}
