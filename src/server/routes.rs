//! The whole HTTP surface in one place: pages, server functions, downloads, static files.

use super::{guard, limits, session, state::AppState};
use crate::{
    accounts::Caller,
    api,
    app::{shell, App},
    error::ApiError,
};
use axum::{
    extract::{Path, State},
    http::StatusCode,
    middleware,
    response::Redirect,
    routing::get,
    Extension, Router,
};
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::{limit::RequestBodyLimitLayer, timeout::TimeoutLayer};

/// Server-function arguments are a few fields and at most one batch of part numbers with
/// their checksums; file bytes never come here.
const MAX_REQUEST_BODY: usize = 16 * 1024;

/// Layers run from the bottom up: a request meets the timeout first, then the security
/// headers, the body limit, the cross-site check, the IP's rate limit, the session and the
/// caller's rate limit, before any handler.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    let config = state.config.clone();
    Router::new()
        .route("/files/{id}/download", get(download))
        .route("/healthz", get(|| async { "ok" }))
        .leptos_routes(&state, routes, move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn(guard::server_fn_status))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::limit_caller,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            session::attach,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::limit_ip,
        ))
        .layer(middleware::from_fn_with_state(
            config.clone(),
            guard::same_site_only,
        ))
        .layer(RequestBodyLimitLayer::new(MAX_REQUEST_BODY))
        .layer(middleware::from_fn(guard::security_headers))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.http.request_timeout,
        ))
        .with_state(state)
}

/// A stable link for the library: it signs a fresh, short-lived URL on every click and sends
/// the browser to the store. The bytes never pass through us.
async fn download(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Redirect, ApiError> {
    let url = state
        .uploads
        .download_url(&caller.owner(), &id)
        .await
        .map_err(api::ssr::failed)?;
    Ok(Redirect::to(&url))
}
