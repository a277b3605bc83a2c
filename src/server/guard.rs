//! What stands between the internet and the app: requests from other sites are refused,
//! every response carries the headers that keep a browser from misusing it, and server
//! functions answer a client's mistake with a 4xx status, not a 500.

use super::{config::Config, state::AppState};
use crate::error::ApiError;
use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use std::sync::Arc;

/// The header server functions mark their error responses with.
const SERVER_FN_ERROR: &str = "serverfnerror";
/// An error answer from a server function is one small JSON value.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// An error as the client receives it: for a server function, the typed error its client code
/// decodes (JSON, marked as a server-function error); for anything else, the sentence.
pub fn error_response(path: &str, error: &ApiError) -> Response {
    let status = StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::BAD_REQUEST);
    if let Some(name) = path.strip_prefix("/api/") {
        let mut response = (status, error.to_wire()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Ok(value) = HeaderValue::from_str(&format!("/api/{name}")) {
            headers.insert(SERVER_FN_ERROR, value);
        }
        response
    } else {
        error.clone().into_response()
    }
}

/// Refuses state-changing requests sent by pages of other sites (CSRF): a browser says where
/// a request comes from in `Sec-Fetch-Site`, or else in `Origin`. A request with neither did
/// not come from a browser page, so no victim's cookies rode along with it.
pub async fn same_site_only(
    State(config): State<Arc<Config>>,
    request: Request,
    next: Next,
) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) || from_this_site(request.headers(), config.public_url())
    {
        return next.run(request).await;
    }
    tracing::debug!(
        path = request.uri().path(),
        origin = ?request.headers().get(header::ORIGIN),
        "refused a cross-site request"
    );
    error_response(request.uri().path(), &ApiError::CrossSite)
}

fn from_this_site(headers: &HeaderMap, public_url: &str) -> bool {
    let text = |name: HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    match text(HeaderName::from_static("sec-fetch-site")) {
        // "none": typed in the address bar, a bookmark.
        Some("same-origin" | "none") => return true,
        Some(_) => return false,
        None => {}
    }
    let Some(origin) = text(header::ORIGIN) else {
        return true;
    };
    if origin == public_url {
        return true;
    }
    // The site may be reached under another name than its public URL (localhost and
    // 127.0.0.1): the origin's host must then be the host the request was sent to.
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    matches!((origin_host, text(header::HOST)), (Some(o), Some(h)) if o == h)
}

/// Headers for every response: no MIME sniffing, no referrer to other sites, and nothing
/// that shows someone's library kept in a shared cache. Built files under `/pkg` may be cached.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let cacheable = request.uri().path().starts_with("/pkg/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !cacheable && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
    response
}

/// The largest page we render. Our pages are tens of KiB; one past this is a fault, not a page.
const MAX_PAGE: usize = 4 << 20;

/// Renders every HTML page to its end before the first byte goes out. Leptos renders a page as
/// a stream; a client that hangs up before reading it all (or asks with HEAD, whose body is
/// never read) left the rendering half-done and its memory held — some 16 KiB a request, so a
/// stranger looping over `GET /` and closing could grow the server without bound (measured by
/// the attack run: +550 MiB in 10,000 requests). Rendered whole, each page's work ends with
/// its request. Pages are small, so little is lost by not streaming them; the live feed
/// (`text/event-stream`) and static files pass as they are.
pub async fn whole_pages(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    if !is_page {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    match axum::body::to_bytes(body, MAX_PAGE).await {
        Ok(bytes) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            parts.headers.remove(header::TRANSFER_ENCODING);
            Response::from_parts(parts, Body::from(bytes))
        }
        Err(e) => {
            tracing::error!(error = %e, "a page could not be rendered whole");
            (StatusCode::INTERNAL_SERVER_ERROR, "").into_response()
        }
    }
}

/// Leptos answers every server-function error with 500. The error itself says whose fault it
/// was: this sets the status it names, so a client's mistake is a 4xx, and puts its sentence
/// beside its data (Leptos encodes only the data).
pub async fn server_fn_status(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key(SERVER_FN_ERROR)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "").into_response();
    };
    let Ok(error) = serde_json::from_slice::<ApiError>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    parts.status =
        StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // The body changes length: the old one's would be wrong.
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(error.to_wire()))
}

/// Sets the page's Content-Security-Policy: scripts only from this site plus the one inline
/// hydration script Leptos marks with this response's nonce; WebAssembly allowed to compile;
/// requests only to this site and the bucket; never inside a frame. Images may also be
/// `blob:` addresses: the queue's pictures of picked files, made by the page's own script; and
/// media too: the video player feeds its `<video>` through a Media Source (`blob:`).
pub fn content_security_policy() {
    use leptos::prelude::use_context;
    let (Some(response), Some(state)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        use_context::<AppState>(),
    ) else {
        return;
    };
    let nonce = leptos::nonce::use_nonce()
        .map(|n| format!(" 'nonce-{n}'"))
        .unwrap_or_default();
    let store = store_origins(&state.config);
    // `cargo leptos watch` (LEPTOS_ENV=DEV) reloads the page over a WebSocket on its own port.
    let options = &state.leptos_options;
    let reload = match options.env {
        leptos::config::Env::DEV => {
            let port = options.reload_external_port.unwrap_or(options.reload_port);
            format!(" ws://*:{port} wss://*:{port}")
        }
        leptos::config::Env::PROD => String::new(),
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{nonce}; \
         style-src 'self'; img-src 'self' data: blob: {store}; media-src 'self' blob: {store}; \
         connect-src 'self' {store}{reload}; object-src 'none'; base-uri 'self'; \
         form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

/// Where browsers send parts and fetch files: the bucket's origin, path-style or
/// virtual-hosted.
fn store_origins(config: &Config) -> String {
    let endpoint = config.s3.browser_endpoint();
    if config.s3.path_style {
        return endpoint.to_string();
    }
    match endpoint.split_once("://") {
        Some((scheme, host)) => format!("{endpoint} {scheme}://{}.{host}", config.s3.bucket),
        None => endpoint.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    const SITE: &str = "https://uploads.example.com";

    #[test]
    fn requests_from_this_site_pass() {
        assert!(from_this_site(
            &headers(&[("sec-fetch-site", "same-origin")]),
            SITE
        ));
        assert!(from_this_site(&headers(&[("origin", SITE)]), SITE));
        assert!(from_this_site(
            &headers(&[
                ("origin", "http://localhost:3000"),
                ("host", "localhost:3000")
            ]),
            "http://127.0.0.1:3000"
        ));
        // curl, scripts: no browser, no victim.
        assert!(from_this_site(&HeaderMap::new(), SITE));
    }

    #[test]
    fn requests_from_other_sites_are_refused() {
        for h in [
            headers(&[("sec-fetch-site", "cross-site")]),
            // A sibling subdomain is "same-site", and still another site's page.
            headers(&[("sec-fetch-site", "same-site"), ("origin", SITE)]),
            headers(&[("origin", "https://evil.example")]),
            headers(&[("origin", "null")]),
            headers(&[
                ("origin", "https://evil.example"),
                ("host", "uploads.example.com"),
            ]),
        ] {
            assert!(!from_this_site(&h, SITE), "{h:?}");
        }
    }
}

/// Companion's `complete` carries the client's list of parts (up to 10,000 of them, far past
/// the 16 KiB every other request may send), which the server never reads: it asks the store.
/// The body is dropped before the size limit sees it, unread.
pub async fn unread_bodies(mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let complete = request.method() == Method::POST
        && path.starts_with("/s3/multipart/")
        && path.ends_with("/complete");
    if complete {
        *request.body_mut() = Body::empty();
        request.headers_mut().remove(header::CONTENT_LENGTH);
        request.headers_mut().remove(header::TRANSFER_ENCODING);
    }
    next.run(request).await
}
