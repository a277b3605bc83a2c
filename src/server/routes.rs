//! The whole HTTP surface in one place: pages, server functions, downloads, static files.

use super::{guard, limits, session, state::AppState, traced};
use crate::{
    accounts::Caller,
    api,
    app::{shell, App},
    db::{self, Pool},
    error::ApiError,
    files::{Door, HlsAnswer, HlsPart},
    model::EventCursor,
    observe::metrics::{
        DB_POOL_CONNECTIONS, DB_POOL_IDLE, DB_POOL_MAX, JOBS_QUEUED, JOBS_RUNNING, LIVE_CLIENTS,
    },
    processing::JobKind,
};
use axum::{
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    middleware,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Extension, Router,
};
use leptos_axum::{generate_route_list, LeptosRoutes};
use serde::Deserialize;
use std::net::IpAddr;
use tower_http::{limit::RequestBodyLimitLayer, timeout::TimeoutLayer};

/// Server-function arguments are a few fields and at most one batch of part numbers with
/// their checksums; file bytes never come here.
const MAX_REQUEST_BODY: usize = 16 * 1024;

/// Layers run from the bottom up: a request gets its id first, then meets the timeout, the
/// security headers, the body limit, the cross-site check, the IP's rate limit, the session
/// and the caller's rate limit, before any handler. `/metrics` is added above the session
/// layers, so only those below it wrap it.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    let config = state.config.clone();
    Router::new()
        .route("/files/{id}/{door}", get(file_door))
        .route("/files/{id}/hls/{name}", get(file_ladder))
        .route("/events", get(events))
        .route("/s3/multipart", post(api::companion::create))
        .route(
            "/s3/multipart/{upload_id}",
            get(api::companion::list).delete(api::companion::abort),
        )
        .route(
            "/s3/multipart/{upload_id}/complete",
            post(api::companion::complete),
        )
        .route(
            "/s3/multipart/{upload_id}/{part}",
            get(api::companion::sign),
        )
        .route("/healthz", get(|| async { "ok" }))
        .leptos_routes(&state, routes, move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn(guard::whole_pages))
        .layer(middleware::from_fn(guard::server_fn_status))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::limit_caller,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            session::attach,
        ))
        // A scraper is no session: its bearer token is the metrics token, not an API token.
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::limit_ip,
        ))
        .layer(middleware::from_fn_with_state(
            config.clone(),
            guard::same_site_only,
        ))
        .layer(RequestBodyLimitLayer::new(MAX_REQUEST_BODY))
        .layer(middleware::from_fn(guard::unread_bodies))
        .layer(middleware::from_fn(guard::security_headers))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.http.request_timeout,
        ))
        .layer(middleware::from_fn(traced::trace))
        .with_state(state)
}

/// `?key=` on a file's links: the share key of a file shared by link.
#[derive(Deserialize)]
struct ShareKey {
    key: Option<String>,
}

/// Stable links for pages (`content`, `download`, `thumbnail`): each signs a fresh, short-lived
/// URL and sends the browser to the store. The bytes never pass through us. A player seeking
/// after its URL lapsed comes back here for a new one.
async fn file_door(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, door)): Path<(String, String)>,
    Query(share): Query<ShareKey>,
) -> Result<Response, ApiError> {
    let door = Door::parse(&door).ok_or(ApiError::NotFound)?;
    let url = state
        .files
        .url(&caller.owner(), &id, share.key.as_deref(), door)
        .await
        .map_err(api::files::ssr::failed)?;
    let mut answer = Redirect::to(&url).into_response();
    if door == Door::Thumbnail {
        // A library of thumbnails is not signed again on every redraw; the URL outlives this.
        answer.headers_mut().insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("private, max-age=600"),
        );
    }
    Ok(answer)
}

/// A video's HLS ladder (`index.m3u8`, `{height}.m3u8`, `{height}.mp4`), for whoever may see
/// the file: playlists are made here (a few KiB), a rendition's bytes are a 303 to a fresh
/// presigned GET, so a player may seek for hours. Anything else is not found.
async fn file_ladder(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, name)): Path<(String, String)>,
    Query(share): Query<ShareKey>,
) -> Result<Response, ApiError> {
    let part = HlsPart::parse(&name).ok_or(ApiError::NotFound)?;
    let answer = state
        .files
        .hls(&caller.owner(), &id, share.key.as_deref(), part)
        .await
        .map_err(api::files::ssr::failed)?;
    Ok(match answer {
        HlsAnswer::Redirect(url) => Redirect::to(&url).into_response(),
        HlsAnswer::Playlist(text) => (
            [
                (
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/vnd.apple.mpegurl"),
                ),
                // A playlist names the viewer's key; the ladder grows as rungs are made.
                (
                    http::header::CACHE_CONTROL,
                    HeaderValue::from_static("private, no-cache"),
                ),
            ],
            text,
        )
            .into_response(),
    })
}

/// `?after=`: the event cursor a page got with its library.
#[derive(Deserialize)]
struct After {
    after: Option<String>,
}

async fn events(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    minted: Option<Extension<session::MintedGuest>>,
    client: Option<Extension<limits::ClientIp>>,
    headers: HeaderMap,
    Query(query): Query<After>,
) -> Response {
    if minted.is_some() {
        return refused(ApiError::LiveNeedsSession);
    }
    // Put there by `limits::limit_ip`, which wraps every route.
    let ip = client.map_or(IpAddr::from([0, 0, 0, 0]), |Extension(c)| c.0);
    // A reconnecting EventSource says where it was; that wins over the page's first cursor.
    let resumed = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<EventCursor>().ok());
    let asked = match query.after.as_deref().map(str::parse::<EventCursor>) {
        Some(Err(())) => {
            return refused(ApiError::Malformed(
                "`after` is not an event cursor: it is the `events_after` of a library page".into(),
            ))
        }
        asked => asked.and_then(Result::ok),
    };
    let after = resumed.or(asked);
    match crate::live::sse::stream(&state.feed, caller.owner(), ip, after).await {
        Ok(stream) => stream.into_response(),
        Err(error) => refused(error),
    }
}

/// A page refused a stream tries again after this.
const LIVE_RETRY_AFTER_SECS: u64 = 10;

/// A stream refused: the sentence, `Retry-After` when it is a matter of room, and the
/// connection closed, so a client turned away holds no connection either.
fn refused(error: ApiError) -> Response {
    let why = match &error {
        ApiError::LiveNeedsSession => "no_session",
        ApiError::TooManyLiveConnections { .. } => "owner",
        ApiError::LiveNetworkFull { .. } => "network",
        ApiError::LiveFull => "full",
        _ => "error",
    };
    metrics::counter!(crate::observe::metrics::LIVE_REFUSED, "why" => why).increment(1);
    let room = error.status_code() == 429;
    let mut response = error.into_response();
    let headers = response.headers_mut();
    headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    if room {
        headers.insert(
            http::header::RETRY_AFTER,
            HeaderValue::from(LIVE_RETRY_AFTER_SECS),
        );
    }
    response
}

/// Metrics for whoever runs the server, in Prometheus's text format. With
/// `HOIST_METRICS_TOKEN` set, only a scraper that sends it as a bearer token is answered;
/// without it, a site whose public URL is https answers no one.
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let https = state.config.public_url().starts_with("https://");
    if !state.config.observe.may_scrape(&headers, https) {
        let sentence = if state.config.observe.metrics_token.is_none() && https {
            "Metrics are closed on a public site until HOIST_METRICS_TOKEN is set."
        } else {
            "Send the metrics token as a bearer token."
        };
        return (StatusCode::UNAUTHORIZED, sentence).into_response();
    }
    read_levels(state.uploads.db(), state.feed.clients()).await;
    (
        [(
            http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::observe::metrics::render(),
    )
        .into_response()
}

/// Levels that live elsewhere (the pool, the job queue in the database, the live connections),
/// read when a scrape comes.
async fn read_levels(db: &Pool, live_clients: usize) {
    metrics::gauge!(DB_POOL_CONNECTIONS).set(db.readers().size() as f64);
    metrics::gauge!(DB_POOL_IDLE).set(db.readers().num_idle() as f64);
    metrics::gauge!(DB_POOL_MAX).set(db.readers().options().get_max_connections() as f64);
    metrics::gauge!(LIVE_CLIENTS).set(live_clients as f64);
    for (state, name) in [("queued", JOBS_QUEUED), ("running", JOBS_RUNNING)] {
        let counts = match db::jobs::count_in(db, state).await {
            Ok(counts) => counts,
            Err(e) => {
                tracing::warn!(error = %e, "metrics: cannot count the job queue");
                continue;
            }
        };
        // A kind that emptied must read 0, not its last count.
        for kind in JobKind::ALL {
            let n = counts
                .iter()
                .find(|(k, _)| k == kind.as_str())
                .map_or(0, |(_, n)| *n);
            metrics::gauge!(name, "kind" => kind.as_str()).set(n as f64);
        }
    }
}
