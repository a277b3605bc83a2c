//! Start-up: settings, database, object store, routes.

use hoist::{
    accounts::{self, Accounts},
    background::{
        self,
        housekeeping::{ClosedUploads, OldEvents, StaleSessions},
        outbox::Outbox,
        reaper::Reaper,
        sweep::OrphanSweep,
    },
    clock, db,
    files::Files,
    live::{feed::Feed, Bell},
    processing::Workers,
    server::{
        config::{Command, Config},
        limits::{IdleBuckets, Limits},
        routes, serve,
        session::{self, Sessions},
        state::AppState,
    },
    storage::s3::S3Store,
    uploads::{Arrival, UploadService},
};
use std::{process::ExitCode, sync::Arc, time::Duration};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // `hoist upload` and its siblings talk to a server; they read none of its settings.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args
        .get(1)
        .and_then(|a| a.to_str())
        .is_some_and(|a| hoist::client::COMMANDS.contains(&a))
    {
        return hoist::client::run(args).await;
    }
    // The decoding child: one job from standard input, with nothing of the server's settings
    // or environment (it is started with neither).
    if args.get(1).and_then(|a| a.to_str()) == Some(hoist::processing::decode::COMMAND) {
        return hoist::processing::decode::main().await;
    }
    let config = match Config::load() {
        Ok(config) => config,
        Err(e) if e.is_answer() => {
            println!("{e}");
            return ExitCode::SUCCESS;
        }
        // Flags clap cannot read are usage errors, in clap's words and with its exit code.
        Err(e @ hoist::server::config::ConfigError::Usage(_)) => {
            eprint!("{e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("hoist: {e}");
            return ExitCode::FAILURE;
        }
    };
    if config.command == Some(Command::ServerFunctions) {
        for (path, method) in leptos::server_fn::axum::server_fn_paths() {
            println!("{path} {method}");
        }
        return ExitCode::SUCCESS;
    }
    hoist::observe::logs::init(config.observe.log_format);
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("hoist: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), String> {
    let database_url = config.database_url();
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("HOIST_DATA_DIR {}: {e}", config.data_dir.display()))?;
    let pool = db::connect(&database_url).await.map_err(|e| {
        let shown = db::without_password(&database_url);
        format!("HOIST_DATABASE_URL {shown}: {e}")
    })?;

    let accounts = Arc::new(
        Accounts::new(pool.clone(), config.accounts.clone())
            .map_err(|e| format!("password hashing: {e}"))?,
    );
    if let Some(Command::Users { command }) = config.command.clone() {
        let answer = accounts::admin::run(&accounts, command).await?;
        print!("{answer}");
        return Ok(());
    }
    if let Some(Command::Tokens { command }) = config.command.clone() {
        let answer = accounts::admin::tokens(&accounts, command).await?;
        println!("{answer}");
        return Ok(());
    }

    let store = S3Store::new(&config.s3);
    let reaper = Reaper::new(
        pool.clone(),
        store.clone(),
        config.rules.upload_ttl,
        config.background.interval,
    );
    let sweep = OrphanSweep::new(
        pool.clone(),
        store.clone(),
        &config.rules.key_prefix,
        config.rules.upload_ttl,
    );
    let outbox_wake = db::outbox::Wake::default();
    let outbox = Outbox::new(pool.clone(), store.clone(), outbox_wake.clone());
    if let Some(Command::Reap { once, orphans }) = config.command {
        return reap(
            (reaper, outbox),
            orphans.then_some(sweep),
            once,
            config.background.interval,
        )
        .await;
    }

    // Commands above answer and exit; what runs on (server, worker) is measured.
    hoist::observe::metrics::install().map_err(|e| format!("metrics: {e}"))?;
    tokio::spawn(hoist::observe::metrics::keep_up());

    let bell = Bell::default();
    let workers = Arc::new(Workers::new(
        pool.clone(),
        store.clone(),
        config.processing.clone(),
        clock::system(),
        Arc::default(),
        bell.clone(),
    ));
    // Every process that dooms objects (a delete here, a fold in any worker) drains them.
    tokio::spawn(outbox.run());
    if config.command == Some(Command::Worker) {
        let count = config.processing.workers.max(1);
        tracing::info!("hoist worker: {count} workers on the processing queue");
        workers.spawn(count);
        shutdown_signal().await;
        workers.stop().await;
        return Ok(());
    }
    workers.spawn(config.processing.workers);

    tokio::spawn(background::every(reaper, config.background.interval));
    if let Some(interval) = config.background.orphan_sweep {
        tokio::spawn(background::every(sweep, interval));
    }
    if config.background.lifecycle_rule {
        // A day more than the longest upload allowed: the rule never cuts one short.
        let days = i32::try_from(config.rules.max_upload_duration.as_secs().div_ceil(86_400) + 1)
            .unwrap_or(i32::MAX);
        let prefix = config.rules.key_prefix.clone();
        tokio::spawn(with_retries("the bucket's lifecycle rule", {
            let store = store.clone();
            move || {
                let (store, prefix) = (store.clone(), prefix.clone());
                async move {
                    match store.ensure_abort_incomplete_rule(&prefix, days).await? {
                        true => tracing::info!(
                            bucket = store.bucket(),
                            %prefix,
                            "lifecycle rule set: incomplete multipart uploads are aborted after {days} days"
                        ),
                        false => tracing::info!(
                            bucket = store.bucket(),
                            "the store has no lifecycle rules; the reaper and the orphan sweep clean up alone"
                        ),
                    }
                    Ok(())
                }
            }
        }));
    }
    if config.s3.set_cors {
        tokio::spawn(allow_browser_origin(
            store.clone(),
            config.public_url().to_string(),
        ));
    }

    let mut leptos_options = leptos::config::get_configuration(None)
        .map_err(|e| format!("Leptos settings: {e}"))?
        .leptos_options;
    leptos_options.site_addr = config.site_addr;

    let secret = session::load_secret(config.session.session_secret.as_deref(), &config.data_dir)
        .map_err(|e| format!("HOIST_SESSION_SECRET: {e}"))?;
    let cookies = Sessions::new(
        &secret,
        config.public_url().starts_with("https://"),
        config.accounts.session_lifetime,
    );
    let live = config
        .live
        .limits(config.http.max_connections)
        .map_err(|live| format!("HOIST_LIVE_MAX {live} is over half of HOIST_MAX_CONNECTIONS"))?;
    let feed = Feed::start(pool.clone(), bell.clone(), live)
        .await
        .map_err(|e| format!("live events: {e}"))?;
    tokio::spawn(background::every(
        OldEvents(pool.clone()),
        Duration::from_secs(3600),
    ));
    tokio::spawn(background::every(
        ClosedUploads {
            db: pool.clone(),
            retention: config.background.closed_retention,
        },
        config.background.interval,
    ));
    let scan = config.processing.scanning.mode;
    let files = Arc::new(Files::new(pool.clone(), store.clone(), clock::system()).scanning(scan));
    let arrival = Arrival {
        job_attempts: config.processing.attempts,
        job_yield: config.processing.yield_to_uploads,
        scan,
        hls: config.processing.transcoding.enabled,
        queued: workers.queued.clone(),
        bell,
        outbox: outbox_wake,
    };
    let uploads =
        Arc::new(UploadService::new(pool, store, config.rules.clone()).with_arrival(arrival));
    let limits = Arc::new(Limits::new(&config.limits));
    tokio::spawn(background::every(
        IdleBuckets(limits.clone()),
        Duration::from_secs(60),
    ));
    tokio::spawn(background::every(
        StaleSessions(accounts.clone()),
        Duration::from_secs(3600),
    ));
    let state = AppState {
        leptos_options,
        config: Arc::new(config.clone()),
        uploads,
        accounts,
        cookies,
        limits,
        files,
        feed,
    };

    let listener = tokio::net::TcpListener::bind(config.site_addr)
        .await
        .map_err(|e| format!("LEPTOS_SITE_ADDR {}: {e}", config.site_addr))?;
    tracing::info!(
        "Hoist listening on http://{} (public URL {})",
        config.site_addr,
        config.public_url()
    );
    // At the signal the workers stop and hand their jobs back while the open requests drain,
    // not after: a drain waits out its open event streams, and a supervisor's grace period
    // (Docker's 10 s) may end before it does.
    let (stopping, mut stopped) = tokio::sync::watch::channel(false);
    let handing_back = tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stopping.send(true);
        workers.stop().await;
    });
    serve::serve(listener, routes::router(state), config.http, async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    })
    .await;
    let _ = handing_back.await;
    Ok(())
}

/// `hoist reap`: death row without the web server.
async fn reap(
    (reaper, outbox): (Reaper<S3Store>, Outbox<S3Store>),
    sweep: Option<OrphanSweep<S3Store>>,
    once: bool,
    interval: Duration,
) -> Result<(), String> {
    loop {
        let report = reaper.run_once().await.map_err(|e| e.to_string())?;
        println!(
            "reaped {} expired uploads ({} failed, {} store calls)",
            report.reaped,
            report.failed,
            report.store_calls()
        );
        let drained = outbox.drain().await.map_err(|e| e.to_string())?;
        println!(
            "outbox: {} doomed objects deleted ({} failed, {} kept: still named)",
            drained.deleted, drained.failed, drained.kept
        );
        if let Some(sweep) = &sweep {
            let swept = sweep.run_once().await.map_err(|e| e.to_string())?;
            println!(
                "orphan sweep: {} in-progress multipart uploads listed, {} aborted, {} failed",
                swept.listed, swept.aborted, swept.failed
            );
        }
        if once {
            return Ok(());
        }
        tokio::time::sleep(interval).await;
    }
}

/// Browsers cannot PUT to the bucket until it allows our origin. The store may still be
/// starting (or briefly away), so keep trying rather than refuse to serve the library.
async fn allow_browser_origin(store: S3Store, origin: String) {
    with_retries("the bucket's CORS rule", move || {
        let store = store.clone();
        let origin = origin.clone();
        async move {
            store.allow_browser_origin(&origin).await?;
            tracing::info!(bucket = store.bucket(), %origin, "bucket CORS rule set");
            Ok(())
        }
    })
    .await
}

/// Start-up chores on the bucket, tried until the store answers (it may still be starting).
async fn with_retries<F, Fut>(what: &str, mut attempt: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), hoist::storage::StorageError>>,
{
    let mut wait = Duration::from_millis(250);
    while let Err(e) = attempt().await {
        tracing::warn!(error = %e, "cannot set {what} yet; retrying");
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(30));
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
