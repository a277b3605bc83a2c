//! Start-up: settings, database, object store, routes.

use clap::Parser;
use hoist::{
    db,
    server::{
        config::{Cli, Config},
        routes,
        state::AppState,
    },
    storage::s3::S3Store,
    uploads::UploadService,
};
use std::{process::ExitCode, sync::Arc, time::Duration};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt().with_target(false).init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("hoist: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let config = Config::load(&cli).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("HOIST_DATA_DIR {}: {e}", config.data_dir.display()))?;
    let pool = db::connect(&config.database_url)
        .await
        .map_err(|e| format!("HOIST_DATABASE_URL {}: {e}", config.database_url))?;

    let store = S3Store::new(&config.s3);
    if config.s3.set_cors {
        tokio::spawn(allow_browser_origin(
            store.clone(),
            config.public_url.clone(),
        ));
    }

    let mut leptos_options = leptos::config::get_configuration(None)
        .map_err(|e| format!("Leptos settings: {e}"))?
        .leptos_options;
    leptos_options.site_addr = config.site_addr;

    let uploads = Arc::new(UploadService::new(pool, store, config.rules.clone()));
    let state = AppState {
        leptos_options,
        config: Arc::new(config.clone()),
        uploads,
    };

    let listener = tokio::net::TcpListener::bind(config.site_addr)
        .await
        .map_err(|e| format!("LEPTOS_SITE_ADDR {}: {e}", config.site_addr))?;
    tracing::info!(
        "Hoist listening on http://{} (public URL {})",
        config.site_addr,
        config.public_url
    );
    axum::serve(listener, routes::router(state).into_make_service())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

/// Browsers cannot PUT to the bucket until it allows our origin. The store may still be
/// starting (or briefly away), so keep trying rather than refuse to serve the library.
async fn allow_browser_origin(store: S3Store, origin: String) {
    let mut wait = Duration::from_millis(250);
    loop {
        match store.allow_browser_origin(&origin).await {
            Ok(()) => {
                tracing::info!(bucket = store.bucket(), %origin, "bucket CORS rule set");
                return;
            }
            Err(e) => {
                tracing::warn!(bucket = store.bucket(), error = %e, "cannot set the bucket's CORS rule yet; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
